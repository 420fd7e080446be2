"""Save and load fitted objects without pickle: a zip of ``.npy`` arrays plus JSON.

``fmlearn.save(obj, path)`` / ``fmlearn.load(path)`` work for every fmlearn estimator,
for :class:`~fmlearn.FMEncoder` and for a scikit-learn ``Pipeline`` of them. File
layout (format version 2)::

    metadata.json   {"format": "fmlearn-model", "format_version": 2, "fmlearn_version",
                     "estimator": <registered class name>, …what that class writes}
    <name>.npy      the arrays that class writes (an FM: w0_, w_, V_, classes_ …,
                    state/… for the solver state); a Pipeline's steps under steps/<i>/

Classes take part by registering (:func:`register`) and implementing ``_to_file(self)
-> (metadata, arrays)`` and the classmethod ``_from_file(metadata, arrays)``: each class
owns its format, and this module imports none of them. Loading only builds registered
classes and reads arrays with ``allow_pickle=False``, so a model file never executes
code. Every entry is CRC-checked by zip; a damaged, truncated, foreign or newer-format
file raises ``ValueError`` naming the file. Saving is atomic (:func:`fmlearn._utils.
atomic_write`). Files written by fmlearn 0.1 (format version 1) are read as well.
"""

from __future__ import annotations

import importlib
import io
import json
import numbers
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.pipeline import Pipeline

from fmlearn._utils import atomic_write
from fmlearn._version import __version__

__all__ = ["load", "register", "save"]

FORMAT_NAME = "fmlearn-model"
FORMAT_VERSION = 2


@dataclass(frozen=True)
class _Entry:
    cls: type
    to_file: object  # obj -> (meta, arrays)
    from_file: object  # (meta, arrays) -> obj


_REGISTRY: dict[str, _Entry] = {}


def register(cls: type, *, name: str | None = None, to_file=None, from_file=None) -> type:
    """Let :func:`save`/:func:`load` handle ``cls`` (called by fmlearn's base classes).

    ``name`` is what files record: the class name for fmlearn's own classes,
    ``module.QualName`` for others, so two libraries' classes of one name cannot be
    confused. ``to_file``/``from_file`` default to the class's ``_to_file`` and
    ``_from_file``.
    """
    if name is None:
        own = cls.__module__.split(".")[0] == "fmlearn"
        name = cls.__name__ if own else f"{cls.__module__}.{cls.__qualname__}"
    _REGISTRY[name] = _Entry(
        cls,
        to_file or (lambda obj: obj._to_file()),
        from_file or cls._from_file,
    )
    return cls


def registered_name(obj) -> str:
    for name, entry in _REGISTRY.items():
        if type(obj) is entry.cls:
            return name
    known = sorted(_REGISTRY)
    raise TypeError(f"Cannot save a {type(obj).__name__}; fmlearn saves {known}.")


def save(obj, path: str | os.PathLike) -> None:
    """Write the fitted ``obj`` to ``path`` atomically (see the module docstring).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import fmlearn
    >>> from fmlearn.datasets import make_recommendation
    >>> X, y, _ = make_recommendation(n_samples=500, n_users=50, n_items=20, random_state=0)
    >>> model = fmlearn.FMRegressor(n_factors=4, max_iter=5, random_state=0).fit(X, y)
    >>> path = Path(tempfile.mkdtemp()) / "model.fmlearn"
    >>> fmlearn.save(model, path)  # a zip of .npy arrays and JSON: no pickle
    >>> bool((fmlearn.load(path).predict(X) == model.predict(X)).all())
    True
    """
    meta, arrays = _encode(obj)
    header = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "fmlearn_version": __version__,
    }
    _write(Path(path), {**header, **meta}, arrays)


def load(path: str | os.PathLike):
    """Load what :func:`save` wrote; it predicts bit-for-bit like the original.

    Examples
    --------
    An estimator saved with its ``save`` method; an ``FMEncoder``, or a ``Pipeline`` of
    fmlearn objects, loads the same way:

    >>> import tempfile
    >>> from pathlib import Path
    >>> import fmlearn
    >>> from fmlearn.datasets import make_ctr
    >>> X, y, _ = make_ctr(500, n_fields=5, n_features=100, random_state=0)
    >>> clf = fmlearn.FMClassifier(n_factors=4, max_iter=5, random_state=0).fit(X, y)
    >>> path = Path(tempfile.mkdtemp()) / "clf.fmlearn"
    >>> clf.save(path)  # the same as fmlearn.save(clf, path)
    >>> loaded = fmlearn.load(path)
    >>> type(loaded).__name__, bool((loaded.predict_proba(X) == clf.predict_proba(X)).all())
    ('FMClassifier', True)
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as zf:
            meta = _read_metadata(zf, path)
            arrays = {n[:-4]: _read_array(zf, n, path) for n in zf.namelist() if n.endswith(".npy")}
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such model file.") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as exc:
        raise ValueError(f"{path}: not a readable fmlearn model file ({exc}).") from None
    try:
        if meta["format_version"] == 1:
            meta, arrays = _upgrade_v1(meta, arrays)
        return _decode(meta, arrays)
    except _Corrupt as exc:
        raise ValueError(f"{path}: corrupt or inconsistent model file: {exc}.") from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        reason = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
        raise ValueError(f"{path}: corrupt or inconsistent model file: {reason}.") from None


# ------------------------------------------------------------------------ nesting
class _Corrupt(ValueError):
    pass


def _encode(obj) -> tuple[dict, dict]:
    name = registered_name(obj)
    meta, arrays = _REGISTRY[name].to_file(obj)
    return {"estimator": name, **meta}, arrays


# fmlearn's own classes register when their modules are imported, which ``import fmlearn``
# no longer does by itself; a file may be loaded first (``from fmlearn.persist import load``
# in a fresh process). Their modules are named here, as strings: this module still imports
# none of them until a file asks for one.
_BUILTIN_MODULES = {
    "FMRegressor": "fmlearn.regression",
    "FMClassifier": "fmlearn.classification",
    "FMOrdinalRegressor": "fmlearn.ordinal",
    "FFMRegressor": "fmlearn.ffm",
    "FFMClassifier": "fmlearn.ffm",
    "FwFMRegressor": "fmlearn.ffm",
    "FwFMClassifier": "fmlearn.ffm",
    "FMRecommender": "fmlearn.recommender",
    "FMEncoder": "fmlearn.io.encoder",
}


def _decode(meta: dict, arrays: dict):
    name = meta.get("estimator")
    if name not in _REGISTRY and name in _BUILTIN_MODULES:
        importlib.import_module(_BUILTIN_MODULES[name])
    entry = _REGISTRY.get(name)
    if entry is None:
        raise _Corrupt(f"unknown estimator {meta.get('estimator')!r}")
    return entry.from_file(meta, arrays)


def prefixed(prefix: str, arrays: dict) -> dict:
    """``arrays`` with every name under ``prefix`` (a nested object's entries)."""
    return {prefix + name: a for name, a in arrays.items()}


def unprefixed(prefix: str, arrays: dict) -> dict:
    """The entries under ``prefix``, with the prefix removed."""
    return {name[len(prefix) :]: a for name, a in arrays.items() if name.startswith(prefix)}


def _pipeline_to_file(pipe: Pipeline) -> tuple[dict, dict]:
    if pipe.memory is not None:
        raise TypeError("Cannot save a Pipeline with memory= set; save it without caching.")
    steps, arrays = [], {}
    for j, (step_name, step) in enumerate(pipe.steps):
        if step is None or step == "passthrough":
            steps.append({"name": step_name, "estimator": "passthrough"})
            continue
        meta, step_arrays = _encode(step)
        steps.append({"name": step_name, **meta})
        arrays.update(prefixed(f"steps/{j}/", step_arrays))
    return {"params": {"verbose": bool(pipe.verbose)}, "steps": steps}, arrays


def _pipeline_from_file(meta: dict, arrays: dict) -> Pipeline:
    steps = []
    for j, step in enumerate(meta["steps"]):
        name = step["name"]
        if step["estimator"] == "passthrough":
            steps.append((name, "passthrough"))
        else:
            steps.append((name, _decode(step, unprefixed(f"steps/{j}/", arrays))))
    return Pipeline(steps, verbose=bool(meta["params"]["verbose"]))


register(Pipeline, name="Pipeline", to_file=_pipeline_to_file, from_file=_pipeline_from_file)


# ---------------------------------------------------------------------------- files
def _write(path: Path, metadata: dict, arrays: dict) -> None:
    def write(fh) -> None:
        with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED) as zf:
            zf.writestr("metadata.json", json.dumps(metadata, indent=1))
            for name, array in arrays.items():
                buf = io.BytesIO()
                np.lib.format.write_array(buf, np.ascontiguousarray(array), allow_pickle=False)
                zf.writestr(f"{name}.npy", buf.getvalue())

    atomic_write(path, write)


def _read_metadata(zf: zipfile.ZipFile, path: Path) -> dict:
    try:
        metadata = json.loads(zf.read("metadata.json").decode("utf-8"))
    except KeyError:
        raise ValueError(f"{path}: not an fmlearn model file (no metadata.json).") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: corrupt model metadata ({exc}).") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT_NAME:
        raise ValueError(f"{path}: not an fmlearn model file (format is not {FORMAT_NAME!r}).")
    version = metadata.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise ValueError(f"{path}: corrupt model metadata (format_version={version!r}).")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{path}: written by fmlearn {metadata.get('fmlearn_version', '?')} in model format "
            f"version {version}; this fmlearn reads versions up to {FORMAT_VERSION}. "
            "Upgrade fmlearn to load it."
        )
    return metadata


def _read_array(zf: zipfile.ZipFile, name: str, path: Path) -> np.ndarray:
    try:
        with zf.open(name) as fh:
            return np.lib.format.read_array(io.BytesIO(fh.read()), allow_pickle=False)
    except ValueError as exc:
        raise ValueError(f"{path}: corrupt array {name} ({exc}).") from None


def json_params(params: dict) -> dict:
    """Constructor parameters as JSON values (dtypes by name; no RNG objects)."""
    out = {}
    for key, value in params.items():
        if key == "dtype":
            value = np.dtype(value).name
        elif key == "random_state" and isinstance(value, numbers.Integral):
            value = int(value)  # numpy integers too
        elif key == "random_state" and value is not None:
            value = None  # a RandomState/Generator object has no portable form
        elif isinstance(value, np.generic):
            value = value.item()
        elif isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, dict):  # e.g. class_weight: keep int/bool label keys as such
            value = {"__items__": [[_plain(k), _plain(v)] for k, v in value.items()]}
        out[key] = value
    return out


def params_from_json(params: dict) -> dict:
    """The inverse of :func:`json_params` for what JSON cannot hold directly."""
    return {
        key: {k: v for k, v in value["__items__"]}
        if isinstance(value, dict) and set(value) == {"__items__"}
        else value
        for key, value in params.items()
    }


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def plain_array(values, what: str) -> np.ndarray:
    """An array numpy can store without pickle (numbers, bools or unicode strings)."""
    values = np.asarray(values)
    if values.dtype.kind != "O":
        return values
    items = values.tolist()
    if all(isinstance(v, str) for v in items):
        return np.array(items, dtype=str)
    converted = np.array(items)
    if converted.dtype.kind == "O":
        raise TypeError(f"Cannot save {what} of mixed types without pickle: {items[:5]!r}.")
    return converted


# ------------------------------------------------------------------ format version 1
_V1_CHAIN = {
    "chain_alpha": "alpha",
    "chain_mu_w": "mu_w",
    "chain_lam_w": "lam_w",
    "chain_mu_v": "mu_v",
    "chain_lam_v": "lam_v",
    "chain_cut": "cut",
    "chain_step": "step",
    "chain_mean_cut": "mean_cut",
    "chain_sample_alpha": "sample_alpha",
    "chain_sample_cut": "sample_cut",
}
_V1_PARAMS = ("w0", "w", "V")


def _upgrade_v1(meta: dict, arrays: dict) -> tuple[dict, dict]:
    """Format 1 (fmlearn 0.1) → 2: the optimiser and chain arrays become ``state/…``."""
    meta = dict(meta)
    chain, optimizer = meta.pop("chain", None), meta.pop("optimizer", None) or {}
    out = {k: a for k, a in arrays.items() if not k.startswith(("optimizer_", "chain_", "sample_"))}
    meta["state"] = None
    if chain:
        meta["state"] = {"solver": "mcmc", **chain}
        for old, new in _V1_CHAIN.items():
            if old in arrays:
                out[f"state/{new}"] = arrays[old]
        for p in _V1_PARAMS:
            for old, new in ((f"chain_{p}", "position/"), (f"chain_mean_{p}", "mean/")):
                if old in arrays:
                    out[f"state/{new}{p}_"] = arrays[old]
            for j in range(int(chain.get("n_samples", 0))):
                if f"sample_{j}_{p}" in arrays:
                    out[f"state/samples/{j}/{p}_"] = arrays[f"sample_{j}_{p}"]
    elif all(f"optimizer_{j}" in arrays for j in range(6)):
        # The optimiser that made the slots, not ``solver``: 0.1 saved the state of the
        # last fit even after set_params(solver=…). Empty slots: plain SGD's (none).
        n_slots = sum(arrays[f"optimizer_{j}"].size > 0 for j in (4, 5))
        solver = ("sgd", "adagrad", "adam")[n_slots]
        meta["state"] = {"solver": solver, "n_updates": int(optimizer.get("n_updates", 0))}
        for j in range(6):
            out[f"state/slot{j % 2 + 1}_{j // 2}"] = arrays[f"optimizer_{j}"]
    return meta, out
