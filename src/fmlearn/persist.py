"""Save and load fitted estimators: a zip of ``.npy`` arrays plus JSON metadata.

File layout (format version 1)::

    metadata.json      {"format": "fmlearn-model", "format_version": 1,
                        "fmlearn_version", "estimator", "params", "fitted", "history",
                        "optimizer": {"n_updates"}}
    w0_.npy, w_.npy, V_.npy            the model, in its training dtype
    classes_.npy                        classifier labels (numbers or unicode strings)
    feature_names_in_.npy               for models fitted on DataFrames
    optimizer_<j>.npy                   AdaGrad/Adam state, to continue training
    chain_<name>.npy                    MCMC: hyper-parameters, current sample and
                                        float64 posterior means, to continue the chain
    sample_<j>_<w0|w|V>.npy             MCMC kept samples (keep_samples=True)

No pickle anywhere: arrays are read with ``allow_pickle=False`` and the estimator class
is looked up in a fixed table, so loading a file never executes code. Every entry is
CRC-checked by zip; a damaged, truncated, foreign or newer-format file raises
``ValueError`` naming the file. Saving writes a temporary file beside the target and
renames it, so an interrupted save never leaves a half-written model.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from sklearn.utils.validation import check_is_fitted

from fmlearn._params import FitHistory, FMParams
from fmlearn._validation import FLOAT_DTYPES, validate_params
from fmlearn.solvers.coordinate import ChainState
from fmlearn.solvers.sgd import OptimizerState

FORMAT_NAME = "fmlearn-model"
FORMAT_VERSION = 1
_N_OPTIMIZER_ARRAYS = 6
_CHAIN_HYPER = ("alpha", "mu_w", "lam_w", "mu_v", "lam_v", "cut", "step")
_PARAM_NAMES = ("w0", "w", "V")


def _estimator_classes() -> dict:
    from fmlearn.classification import FMClassifier
    from fmlearn.ordinal import FMOrdinalRegressor
    from fmlearn.regression import FMRegressor

    return {
        "FMRegressor": FMRegressor,
        "FMClassifier": FMClassifier,
        "FMOrdinalRegressor": FMOrdinalRegressor,
    }


def save(estimator, path: str | os.PathLike) -> None:
    """Write ``estimator`` (fitted) to ``path`` atomically."""
    check_is_fitted(estimator, "V_")
    from fmlearn import __version__

    name = type(estimator).__name__
    if name not in _estimator_classes():
        raise TypeError(f"Cannot save a {name}; fmlearn saves {sorted(_estimator_classes())}.")
    arrays = {
        "w0_": np.array([estimator.w0_], dtype=estimator.V_.dtype),
        "w_": estimator.w_,
        "V_": estimator.V_,
    }
    if hasattr(estimator, "classes_"):
        arrays["classes_"] = _plain_array(estimator.classes_, "classes_")
    if hasattr(estimator, "feature_names_in_"):
        arrays["feature_names_in_"] = _plain_array(estimator.feature_names_in_, "feature names")
    state = getattr(estimator, "_optimizer_state", None)
    if state is not None:
        for j, a in enumerate(state.arrays):
            arrays[f"optimizer_{j}"] = a
    fitted = {"n_iter_": int(estimator.n_iter_), "n_features_in_": int(estimator.n_features_in_)}
    for attr in ("y_min_", "y_max_"):
        if hasattr(estimator, attr):
            fitted[attr] = float(getattr(estimator, attr))
    if hasattr(estimator, "link_"):
        fitted["link_"] = str(estimator.link_)
    chain = getattr(estimator, "_chain", None)
    chain_meta = None
    if chain is not None:
        chain_meta = {"n_averaged": int(chain.n_averaged), "n_samples": len(chain.samples)}
        for key, a in zip(_CHAIN_HYPER, chain.hyper(), strict=True):
            arrays[f"chain_{key}"] = a
        for key, a in zip(_PARAM_NAMES, estimator._chain_params.as_tuple(), strict=True):
            arrays[f"chain_{key}"] = a
        for key, a in zip(_PARAM_NAMES, chain.mean.as_tuple(), strict=True):
            arrays[f"chain_mean_{key}"] = a
        arrays["chain_sample_alpha"] = np.asarray(chain.sample_alpha, dtype=np.float64)
        arrays["chain_mean_cut"] = chain.mean_cut
        arrays["chain_sample_cut"] = np.asarray(chain.sample_cut, dtype=np.float64).reshape(
            len(chain.samples), chain.cut.shape[0]
        )
        for j, sample in enumerate(chain.samples):
            for key, a in zip(_PARAM_NAMES, sample.as_tuple(), strict=True):
                arrays[f"sample_{j}_{key}"] = a
    metadata = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "fmlearn_version": __version__,
        "estimator": name,
        "params": _json_params(estimator.get_params()),
        "fitted": fitted,
        "history": estimator.history_.to_dict(),
        "optimizer": {"n_updates": int(state.n_updates) if state is not None else 0},
        "chain": chain_meta,
    }
    _write_atomic(Path(path), metadata, arrays)


def load(path: str | os.PathLike):
    """Load a model saved by :func:`save`; it predicts bit-for-bit like the original."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as zf:
            metadata = _read_metadata(zf, path)
            arrays = {n[:-4]: _read_array(zf, n, path) for n in zf.namelist() if n.endswith(".npy")}
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such model file.") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as exc:
        raise ValueError(f"{path}: not a readable fmlearn model file ({exc}).") from None
    return _build(metadata, arrays, path)


# ---------------------------------------------------------------------------- writing
def _write_atomic(path: Path, metadata: dict, arrays: dict) -> None:
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED) as zf:
                zf.writestr("metadata.json", json.dumps(metadata, indent=1))
                for name, array in arrays.items():
                    buf = io.BytesIO()
                    np.lib.format.write_array(buf, np.ascontiguousarray(array), allow_pickle=False)
                    zf.writestr(f"{name}.npy", buf.getvalue())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _plain_array(values, what: str) -> np.ndarray:
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


def _json_params(params: dict) -> dict:
    out = {}
    for key, value in params.items():
        if key == "dtype":
            value = np.dtype(value).name
        elif key == "random_state" and not (value is None or isinstance(value, int)):
            value = None  # a RandomState/Generator object has no portable form
        elif isinstance(value, np.generic):
            value = value.item()
        out[key] = value
    return out


# ---------------------------------------------------------------------------- reading
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


def _build(metadata: dict, arrays: dict, path: Path):
    def corrupt(reason: str) -> ValueError:
        return ValueError(f"{path}: corrupt or inconsistent model file: {reason}.")

    classes = _estimator_classes()
    cls = classes.get(metadata.get("estimator"))
    if cls is None:
        raise corrupt(f"unknown estimator {metadata.get('estimator')!r}")
    try:
        estimator = cls(**metadata["params"])
        validate_params(estimator, estimator._parameter_constraints)
        fitted = metadata["fitted"]
        history = FitHistory.from_dict(metadata["history"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise corrupt(str(exc)) from None
    for name in ("w0_", "w_", "V_"):
        if name not in arrays:
            raise corrupt(f"missing array {name}")
    w0, w, V = arrays["w0_"], arrays["w_"], arrays["V_"]
    if V.dtype.name not in FLOAT_DTYPES or w.dtype != V.dtype or w0.dtype != V.dtype:
        raise corrupt(f"parameter dtypes {w0.dtype}, {w.dtype}, {V.dtype}")
    if V.ndim != 2 or w.shape != (V.shape[0],) or w0.shape != (1,):
        raise corrupt(f"parameter shapes {w0.shape}, {w.shape}, {V.shape}")
    if V.shape[0] != fitted.get("n_features_in_"):
        raise corrupt(f"V_ has {V.shape[0]} rows but n_features_in_={fitted.get('n_features_in_')}")
    if not (np.all(np.isfinite(V)) and np.all(np.isfinite(w)) and np.isfinite(w0[0])):
        raise corrupt("parameters contain NaN or infinity")
    estimator.w0_ = float(w0[0])
    estimator.w_, estimator.V_ = w, V
    estimator.history_ = history
    for attr, value in fitted.items():
        setattr(estimator, attr, value)
    if cls.__name__ == "FMClassifier":
        if "classes_" not in arrays or arrays["classes_"].shape != (2,):
            raise corrupt("a classifier needs classes_ with 2 labels")
        estimator.classes_ = arrays["classes_"]
    elif "classes_" in arrays:
        estimator.classes_ = arrays["classes_"]
    if "feature_names_in_" in arrays:
        estimator.feature_names_in_ = arrays["feature_names_in_"].astype(object)
    state = [arrays.get(f"optimizer_{j}") for j in range(_N_OPTIMIZER_ARRAYS)]
    if all(a is not None for a in state):
        n_updates = int(metadata.get("optimizer", {}).get("n_updates", 0))
        estimator._optimizer_state = OptimizerState(tuple(state), n_updates)
    if cls.__name__ == "FMClassifier" and not hasattr(estimator, "link_"):
        estimator.link_ = "logit"
    chain_meta = metadata.get("chain")
    if chain_meta:
        try:
            _load_chain(estimator, chain_meta, arrays)
        except (KeyError, TypeError, ValueError) as exc:
            raise corrupt(f"MCMC chain: {exc}") from None
    else:
        estimator._chain = None
        estimator._chain_params = None
    return estimator


def _load_chain(estimator, meta: dict, arrays: dict) -> None:
    def params(prefix: str) -> FMParams:
        w0, w, V = (arrays[f"{prefix}{name}"] for name in _PARAM_NAMES)
        if V.shape != estimator.V_.shape or w.shape != estimator.w_.shape or w0.shape != (1,):
            raise ValueError(f"{prefix} arrays have shapes {w0.shape}, {w.shape}, {V.shape}")
        return FMParams(w0, w, V)

    hyper = [arrays[f"chain_{name}"] for name in _CHAIN_HYPER]
    n_samples = int(meta["n_samples"])
    samples = [params(f"sample_{j}_") for j in range(n_samples)]
    sample_alpha = arrays["chain_sample_alpha"]
    if sample_alpha.shape != (int(meta["n_averaged"]),):
        raise ValueError(f"chain_sample_alpha has shape {sample_alpha.shape}")
    estimator._chain = ChainState(
        *hyper,
        n_averaged=int(meta["n_averaged"]),
        mean=params("chain_mean_"),
        samples=samples,
        sample_alpha=list(sample_alpha.tolist()),
        sample_cut=list(arrays["chain_sample_cut"].reshape(n_samples, hyper[5].shape[0])),
        mean_cut=arrays["chain_mean_cut"],
    )
    estimator._chain_params = params("chain_")
