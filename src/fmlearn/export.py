"""Export a fitted FM to ONNX, so that it predicts outside Python (onnxruntime, ONNX-serving
stacks in Java, C++, C#, JavaScript) without fmlearn: ``FMRegressor`` and ``FMClassifier``
(binary, multiclass, degree 3–5, MCMC samples) and the field-aware ``FFMRegressor``,
``FFMClassifier``, ``FwFMRegressor`` and ``FwFMClassifier``. Other estimators (ordinal,
ranking, a Pipeline) are refused with a TypeError.

The graph takes each row as its stored features, padded to a common width ``W``:

* ``indices`` int64 [N, W]: feature columns, 0 … n_features − 1. They are not checked
  by the graph: onnxruntime refuses an index ≥ n_features, but a negative one wraps
  around (ONNX Gather) to a real feature, so validate them where the rows are built;
* ``values`` float32 [N, W] (float64 if exported with ``dtype=np.float64``): their values,
  0 in the padding (a padding slot may hold any valid index, 0 by :func:`padded`; its
  value 0 makes it contribute nothing).

``N`` and ``W`` are free: one graph serves any batch and any row width. It computes the
FM by Rendle's identity, ``ŷ = w0 + Σ w_i x_i + ½ Σ_f [(Σ_i v_if x_i)² − Σ_i v_if² x_i²]``,
as Gather → Mul → ReduceSum, in O(N · W · k): the same formula as ``kernels/predict.py``.
A model with MCMC samples (``keep_samples=True``) is exported with all of them, averaged
on the task's scale as ``predict`` does; its intermediates are [S, N, W, k] for S samples,
so feed such a graph smaller batches (S = 100, W = 39, k = 16 in float32: 250 kB a row).
Outputs:

* FMRegressor: ``predictions`` [N], clipped to ``[y_min_, y_max_]`` when
  ``clip_predictions`` is set (as ``predict``);
* FMClassifier: ``probabilities`` [N, 2] (``predict_proba``, columns in ``classes_``
  order; the labels themselves stay with the caller, who has ``classes_``, also in the
  graph's metadata) and ``decision`` [N] (``decision_function``; positive means
  ``classes_[1]``), except for an MCMC model with several kept samples, whose decision is
  Φ⁻¹ of the averaged probability, which ONNX has no operator for: compare the
  probability with ½ instead;
* multiclass FMClassifier (softmax): ``decision`` [N, C] (the class scores,
  ``decision_function``) and ``probabilities`` [N, C] (their softmax, ``predict_proba``).

A model fitted with relation blocks takes each row's flat features — its own, then its
block rows' (:func:`fmlearn.relations.flatten`); ``n_features`` in the metadata counts
them all.

A higher-order FM (``degree`` 3–5) has the outputs above; its order-m terms are computed
from power sums by Newton's identities (``_anova_nodes``), the kernel's polynomial with
its own rounding (float32 within 1e-5 of ``predict``, also with large factors).

The field-aware models take the same inputs and give the same outputs as the FM's
regressor and binary classifier (``predict`` clipped as above; ``decision`` is the logit,
``probabilities`` its sigmoid). Their feature → field map ``fields_`` is a constant of the
graph, gathered by index; a feature whose field is −1 keeps its linear term and takes part
in no pair, as in the kernels (its value is zeroed for the pair term). The pair term is
the kernels' pair loop as [N, W, W] tensors, masked to the slots a < b (a mask built from
the batch's W) — no identity, so float32 has no cancellation:

* FFM (``kernels/ffm.py``): ``ŷ = w0 + Σ_a w_{i_a} x_a + Σ_{a<b} <V[i_a, f(i_b)],
  V[i_b, f(i_a)]> x_a x_b``. ``V`` (n, F, k) is stored as (n · F, k) and gathered at
  ``i_a · F + f(i_b)`` into [N, W, W, k]; that tensor times its transpose (a ↔ b), summed
  over k, gives the dots. O(N · W² · k) work and memory, as the kernel's O(W² k) a row:
  with W = 39 and k = 4 in float32 each [N, W, W, k] intermediate takes 24 kB a row, so
  feed such rows in batches of ~1,000 (10,000 at once ran ~6× slower per row).
* FwFM (``kernels/fwfm.py``): ``ŷ = w0 + Σ_a w_{i_a} x_a + Σ_{a<b} R[f(i_a), f(i_b)]
  <v_{i_a}, v_{i_b}> x_a x_b`` (R symmetric, as fitted and loaded; the graph holds
  ``(R_ + R_ᵀ) / 2``, which is what the kernel's sum over both orders computes; the
  diagonal weighs pairs within a field): the dots by one batched MatMul [N, W, k] ×
  [N, k, W], R gathered at ``f(i_a) · F + f(i_b)``. O(N · W² · k), where the kernel's
  per-field sums cost O(W k + F_x² k).

Their metadata adds ``n_fields``. The graph sums the kernels' products in another order:
float32 within ~1e-6 of ``predict`` in the tests (held to 1e-5), float64 to ~1e-15.

Float32 (the default) is what serving stacks expect and halves the graph; predictions
then differ from fmlearn's float64 accumulation by rounding, ~1e-6 relative (the tests
hold it to 1e-5 on 10,000 rows). ``dtype=np.float64`` agrees to ~1e-12 (probit
probabilities to ~1e-7: onnxruntime's Erf is float32 only); for a float32 model such a
graph first rounds the values to float32, as ``predict`` does.

:func:`save_onnx` writes the weights to a side file ``<path>.data`` (ONNX external data)
when they exceed 1 GiB, since one ONNX file cannot exceed 2 GiB.

Needs the optional extra: ``pip install "fmlearn[onnx]"`` (onnx; onnxruntime to run it).
"""

from __future__ import annotations

import os

import numpy as np
import scipy.sparse as sp

from fmlearn._utils import atomic_write, import_optional
from fmlearn._version import __version__

#: The ONNX operator set the graph is written for (Gather, ReduceSum with axes as an
#: input, Clip with min/max inputs, Erf: all present since 13; the field-aware graphs'
#: GreaterOrEqual, Where, Range, Less and MatMul since 12 or earlier).
OPSET = 13

#: Protobuf's 2 GiB, less room for the graph: the most weight an in-memory model holds.
_IN_MEMORY_LIMIT = 2**31 - 2**24

#: Weights above this many bytes go to a side file (ONNX external data): a protobuf
#: message, and so a self-contained ``.onnx`` file, cannot exceed 2 GiB.
EXTERNAL_DATA_BYTES = 1 << 30


def padded(X, *, width: int | None = None, dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """``(indices, values)``: the graph's inputs for the rows of ``X`` (sparse or dense).

    Each row's stored entries, left-aligned and padded with index 0 and value 0 up to
    ``width`` (default: the longest row; at least 1). A row longer than ``width`` is an
    error, not a truncation.
    """
    X = sp.csr_matrix(X)
    if not X.has_canonical_format:
        X = X.copy()  # sum_duplicates works in place: leave the caller's matrix alone
        X.sum_duplicates()
    lengths = np.diff(X.indptr)
    longest = int(lengths.max()) if lengths.size else 0
    if width is None:
        width = max(longest, 1)
    elif longest > width:
        row = int(np.argmax(lengths))
        raise ValueError(f"row {row} has {longest} stored values; width={width} is too small.")
    n = X.shape[0]
    indices = np.zeros((n, width), dtype=np.int64)
    values = np.zeros((n, width), dtype=dtype)
    rows = np.repeat(np.arange(n), lengths)
    cols = np.arange(X.nnz) - np.repeat(X.indptr[:-1], lengths)
    indices[rows, cols] = X.indices
    values[rows, cols] = X.data
    return indices, values


def to_onnx(model, *, dtype=np.float32):
    """The fitted ``FMRegressor``, ``FMClassifier`` or field-aware estimator (``FFM…``,
    ``FwFM…``) as an ``onnx.ModelProto`` (see the module docstring for its inputs and
    outputs); ``save_onnx`` writes it to a file.

    An in-memory ONNX model holds at most 2 GiB: for larger weights use ``save_onnx``,
    which keeps them in a side file.

    Examples
    --------
    ``fmlearn.export.padded`` turns sparse rows into the graph's two inputs:

    >>> import onnxruntime
    >>> from fmlearn import FMRegressor
    >>> from fmlearn.datasets import make_recommendation
    >>> from fmlearn.export import padded, to_onnx
    >>> X, y, _ = make_recommendation(n_samples=500, n_users=50, n_items=20, random_state=0)
    >>> model = FMRegressor(n_factors=4, max_iter=5, random_state=0).fit(X, y)
    >>> session = onnxruntime.InferenceSession(to_onnx(model).SerializeToString())
    >>> indices, values = padded(X[:5])  # int64 and float32, shape (5, 3): 3 features a row
    >>> (predictions,) = session.run(None, {"indices": indices, "values": values})
    >>> bool(abs(predictions - model.predict(X[:5])).max() < 1e-4)  # float32 rounding
    True
    """
    return _graph(model, dtype, None)


class _ExternalData:
    """Where ``_graph`` puts the large tensors of a graph saved with external data: their
    arrays and offsets in the side file ``location`` (each aligned to 4 KiB, as onnx's
    own writer does, so that a reader may map them). With a ``threshold`` (bytes), only
    weights larger than that go there; below it the graph keeps them."""

    def __init__(self, location: str, threshold: int | None = None):
        self.location = location
        self.threshold = threshold
        self.arrays: list[tuple[int, np.ndarray]] = []
        self.size = 0

    def tensor(self, name: str, array: np.ndarray):
        from onnx import TensorProto, helper

        offset = self.size + (-self.size % 4096)
        self.arrays.append((offset, array))
        self.size = offset + array.nbytes
        tensor = TensorProto(name=name, dims=array.shape)
        tensor.data_type = helper.np_dtype_to_tensor_dtype(array.dtype)
        tensor.data_location = TensorProto.EXTERNAL
        for key, value in (("location", self.location), ("offset", offset),
                           ("length", array.nbytes)):  # fmt: skip
            entry = tensor.external_data.add()
            entry.key, entry.value = key, str(value)
        return tensor

    def write(self, fh) -> None:
        position = 0
        for offset, array in self.arrays:
            fh.write(bytes(offset - position))
            fh.write(array.data)
            position = offset + array.nbytes


def _graph(model, dtype, external: _ExternalData | None):
    """``to_onnx``'s graph; with ``external``, tensors of 1 KiB or more are stored there."""
    import_optional("onnx", extra="onnx", needed_by="fmlearn.export.to_onnx")
    from onnx import TensorProto, helper
    from sklearn.utils.validation import check_is_fitted

    from fmlearn.classification import FMClassifier
    from fmlearn.models import FFM, FM, FwFM
    from fmlearn.regression import FMRegressor

    # the field-aware estimators subclass these two with another model (FFM, FwFM): the
    # graph follows the model, and ordinal or ranking models have none of these
    kind = model._model_class if isinstance(model, FMRegressor | FMClassifier) else None
    if kind not in (FM, FFM, FwFM):
        raise TypeError(
            "to_onnx exports FMRegressor, FMClassifier and the field-aware FFMRegressor, "
            f"FFMClassifier, FwFMRegressor, FwFMClassifier; got {type(model).__name__} "
            "(ordinal and ranking models: not yet)."
        )
    check_is_fitted(model, "history_")
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64; got {dtype}.")
    elem = TensorProto.FLOAT if dtype == np.float32 else TensorProto.DOUBLE
    if kind is not FM:
        return _field_aware_graph(model, kind is FFM, dtype, elem, external)

    samples = list(getattr(model, "samples_", None) or [])
    multiclass = getattr(model, "link_", None) == "softmax"
    if multiclass:  # one parameter set (the SGD family), weights per class
        w0, w, V = (a.astype(dtype, copy=False) for a in (model.w0_, model.w_, model.V_))
    elif samples:
        w0 = np.array([float(p.w0[0]) for p in samples], dtype=dtype)
        w = np.stack([p.w for p in samples]).astype(dtype)
        V = np.stack([p.V for p in samples]).astype(dtype)
    else:
        w0 = np.array([model.w0_], dtype=dtype)
        w = model.w_[None, :].astype(dtype, copy=False)
        V = model.V_[None, :, :].astype(dtype, copy=False)
    n_samples = w0.shape[0]

    const, external = _constants(external, w.nbytes + V.nbytes)
    inits = [
        const("w0", w0 if multiclass else w0[:, None]),  # [C] or [S, 1]
        const("w", w),  # [n, C] or [S, n]
        const("V", V),  # [n, k], [n, C, k] or [S, n, k]
        const("half", np.array(0.5, dtype=dtype)),
        const("axis_width", np.array([1 if multiclass else 2], dtype=np.int64)),  # W
        const("axis_last", np.array([-1], dtype=np.int64)),
    ]
    node = helper.make_node
    nodes, values = _input_values(model, dtype)
    n_in = _inputs(elem)
    if multiclass:
        nodes += _softmax_nodes(model, values, inits, const, dtype)
        outputs = [helper.make_tensor_value_info("decision", elem, ["N", "C"]),
                   helper.make_tensor_value_info("probabilities", elem, ["N", "C"])]  # fmt: skip
        return _finish(model, nodes, n_in, outputs, inits, V.shape[-1], 1, external)
    if V.ndim == 4:  # a higher-order FM: V [1, n, d − 1, k]
        nodes += _anova_nodes(V.shape[2] + 1, values, inits, const, dtype)
    else:
        nodes += [
            # per sample s, row r, slot j: v_{s, idx[r, j]} · x[r, j]
            node("Gather", ["V", "indices"], ["V_rows"], axis=1),  # [S, N, W, k]
            node("Unsqueeze", [values, "axis_last"], ["x"]),  # [N, W, 1]
            node("Mul", ["V_rows", "x"], ["vx"]),
            node("ReduceSum", ["vx", "axis_width"], ["q"], keepdims=0),  # [S, N, k]
            node("Mul", ["vx", "vx"], ["vx2"]),
            node("ReduceSum", ["vx2", "axis_width"], ["squares"], keepdims=0),
            node("Mul", ["q", "q"], ["q2"]),
            node("Sub", ["q2", "squares"], ["pair_f"]),
            node("ReduceSum", ["pair_f", "axis_last"], ["pair2"], keepdims=0),  # [S, N]
            node("Mul", ["pair2", "half"], ["pair"]),
        ]
    nodes += [
        node("Gather", ["w", "indices"], ["w_rows"], axis=1),  # [S, N, W]
        node("Mul", ["w_rows", values], ["wx"]),
        node("ReduceSum", ["wx", "axis_last"], ["linear"], keepdims=0),  # [S, N]
        node("Add", ["linear", "pair"], ["terms"]),
        node("Add", ["terms", "w0"], ["raw"]),  # [S, N]
    ]
    outputs = _outputs(model, nodes, inits, const, dtype, elem, n_samples)
    return _finish(model, nodes, n_in, outputs, inits, V.shape[2], n_samples, external)


def _constants(external: _ExternalData | None, weight_bytes: int):
    """``(const, external)``: a maker of initialisers (to ``external`` when it takes the
    weights, else in the graph), after checking an in-memory graph can hold them."""
    from onnx import numpy_helper

    if external is not None and external.threshold is not None:
        if weight_bytes <= external.threshold:
            external = None
    if external is None and weight_bytes >= _IN_MEMORY_LIMIT:
        raise ValueError(
            f"The weights take {weight_bytes / 2**30:.1f} GiB; an ONNX model in "
            "memory holds at most 2 GiB. Write it with save_onnx(model, path), which "
            "stores them in path + '.data'."
        )

    def const(name, array):
        array = np.ascontiguousarray(array)
        if external is not None and array.nbytes >= 1024:
            return external.tensor(name, array)
        return numpy_helper.from_array(array, name)

    return const, external


def _inputs(elem) -> list:
    from onnx import TensorProto, helper

    return [
        helper.make_tensor_value_info("indices", TensorProto.INT64, ["N", "W"]),
        helper.make_tensor_value_info("values", elem, ["N", "W"]),
    ]


def _input_values(model, dtype) -> tuple[list, str]:
    """The nodes that prepare the values, and the name of the values the graph uses: a
    float32 model's ``predict`` rounds X to float32 first, and so does a float64 graph."""
    from onnx import TensorProto
    from onnx.helper import make_node as node

    if dtype == np.float64 and model.V_.dtype == np.float32:
        return [
            node("Cast", ["values"], ["values_f32"], to=TensorProto.FLOAT),
            node("Cast", ["values_f32"], ["values_rounded"], to=TensorProto.DOUBLE),
        ], "values_rounded"
    return [], "values"


def _outputs(model, nodes, inits, const, dtype, elem, n_samples) -> list:
    """The regressor's or binary classifier's outputs from ``raw`` [S, N]: nodes and
    initialisers appended to ``nodes`` and ``inits``; returns the outputs' value infos."""
    from onnx import helper
    from onnx.helper import make_node as node

    from fmlearn.regression import FMRegressor

    if isinstance(model, FMRegressor):
        # the posterior predictive mean is the mean of the samples' predictions
        nodes.append(node("ReduceMean", ["raw"], ["mean"], axes=[0], keepdims=0))
        if model.clip_predictions:
            inits.append(const("lo", np.array(model.y_min_, dtype)))
            inits.append(const("hi", np.array(model.y_max_, dtype)))
            nodes.append(node("Clip", ["mean", "lo", "hi"], ["predictions"]))
        else:
            nodes.append(node("Identity", ["mean"], ["predictions"]))
        return [helper.make_tensor_value_info("predictions", elem, ["N"])]
    names = _classifier_tail(model, nodes, inits, const, dtype, n_samples)
    shapes = {"decision": ["N"], "probabilities": ["N", 2]}
    return [helper.make_tensor_value_info(n, elem, shapes[n]) for n in names]


def _field_aware_graph(model, ffm: bool, dtype, elem, external):
    """The graph of an FFM (``ffm``) or FwFM estimator: the kernels' pair loops over the
    row's slots as [N, W, W] tensors (module docstring), masked to the pairs a < b of
    slots whose features have a field."""
    from onnx.helper import make_node as node

    V = model.V_.astype(dtype, copy=False)
    w = model.w_.astype(dtype, copy=False)
    fields = model.fields_.astype(np.int64)
    if ffm:
        n_fields = V.shape[1]
        strengths = None
    else:
        # R_ is symmetric (fitted and loaded so); the kernel sums both R[f, g] and R[g, f]
        # over its field pairs, so a graph reading one triangle uses their mean
        R = np.asarray(model.R_, dtype=np.float64)
        strengths = ((R + R.T) / 2).astype(dtype)
        n_fields = R.shape[0]
    weights = [w, V, fields] + ([] if strengths is None else [strengths])
    const, external = _constants(external, sum(a.nbytes for a in weights))
    inits = [
        const("w0", np.array([model.w0_], dtype=dtype)),  # [1]
        const("w", w),  # [n]
        const("axis_first", np.array([0], dtype=np.int64)),
        const("axis_last", np.array([-1], dtype=np.int64)),
    ]
    nodes, values = _input_values(model, dtype)
    nodes += [
        node("Gather", ["w", "indices"], ["w_rows"], axis=0),  # [N, W]
        node("Mul", ["w_rows", values], ["wx"]),
        node("ReduceSum", ["wx", "axis_last"], ["linear"], keepdims=0),  # [N]
    ]
    if n_fields == 0:  # no feature has a field: no pair
        nodes.append(node("Identity", ["linear"], ["terms"]))
    else:
        inits += [
            const("fields", fields),  # [n], −1: no field
            const("zero", np.array(0.0, dtype=dtype)),
            const("zero_i", np.array(0, dtype=np.int64)),
            const("one_i", np.array(1, dtype=np.int64)),
            const("n_fields", np.array(n_fields, dtype=np.int64)),
            const("axis_slot", np.array([1], dtype=np.int64)),
            const("axis_partner", np.array([2], dtype=np.int64)),
            const("axis_pairs", np.array([1, 2], dtype=np.int64)),
        ]
        nodes += [
            # the slots' fields; a feature without one (−1) pairs with nothing: its value
            # is zeroed for the pairs, and its field read as 0 (any valid one) meanwhile
            node("Gather", ["fields", "indices"], ["f_rows"], axis=0),  # [N, W]
            node("GreaterOrEqual", ["f_rows", "zero_i"], ["has_field"]),
            node("Where", ["has_field", values, "zero"], ["x_pair"]),
            node("Where", ["has_field", "f_rows", "zero_i"], ["f_valid"]),
            # upper[a, b] = a < b, for the row width W of this batch
            node("Shape", [values], ["shape"]),
            node("Gather", ["shape", "one_i"], ["width"], axis=0),
            node("Range", ["zero_i", "width", "one_i"], ["slots"]),  # [W]
            node("Unsqueeze", ["slots", "axis_slot"], ["slot_a"]),  # [W, 1]
            node("Unsqueeze", ["slots", "axis_first"], ["slot_b"]),  # [1, W]
            node("Less", ["slot_a", "slot_b"], ["upper"]),  # [W, W]
        ]
        if ffm:
            k = V.shape[2]
            inits.append(const("V", V.reshape(-1, k)))  # V[i, f] is row i · F + f
            nodes += [
                # block[n, a, b] = V[i_a, f(i_b)]: slot a's vector for slot b's field
                node("Mul", ["indices", "n_fields"], ["block_base"]),  # i_a · F
                node("Unsqueeze", ["block_base", "axis_partner"], ["block_a"]),  # [N, W, 1]
                node("Unsqueeze", ["f_valid", "axis_slot"], ["block_f"]),  # [N, 1, W]
                node("Add", ["block_a", "block_f"], ["block"]),  # [N, W, W]
                node("Gather", ["V", "block"], ["V_pairs"], axis=0),  # [N, W, W, k]
                # <V[i_a, f(i_b)], V[i_b, f(i_a)]>: the block and its transpose
                node("Transpose", ["V_pairs"], ["V_pairs_t"], perm=[0, 2, 1, 3]),
                node("Mul", ["V_pairs", "V_pairs_t"], ["V_prod"]),
                node("ReduceSum", ["V_prod", "axis_last"], ["dots"], keepdims=0),
            ]
        else:
            inits += [const("V", V), const("R", strengths.reshape(-1))]  # R[f, g]: f · F + g
            nodes += [
                node("Gather", ["V", "indices"], ["V_rows"], axis=0),  # [N, W, k]
                node("Transpose", ["V_rows"], ["V_rows_t"], perm=[0, 2, 1]),
                node("MatMul", ["V_rows", "V_rows_t"], ["v_dots"]),  # [N, W, W]
                node("Mul", ["f_valid", "n_fields"], ["pair_base"]),  # f(i_a) · F
                node("Unsqueeze", ["pair_base", "axis_partner"], ["pair_a"]),  # [N, W, 1]
                node("Unsqueeze", ["f_valid", "axis_slot"], ["pair_b"]),  # [N, 1, W]
                node("Add", ["pair_a", "pair_b"], ["field_pair"]),  # [N, W, W]
                node("Gather", ["R", "field_pair"], ["strength"], axis=0),
                node("Mul", ["v_dots", "strength"], ["dots"]),
            ]
        nodes += [
            # dot · x_a · x_b, as the kernels, for the pairs a < b
            node("Unsqueeze", ["x_pair", "axis_partner"], ["x_a"]),  # [N, W, 1]
            node("Unsqueeze", ["x_pair", "axis_slot"], ["x_b"]),  # [N, 1, W]
            node("Mul", ["dots", "x_a"], ["dots_a"]),
            node("Mul", ["dots_a", "x_b"], ["pairs_all"]),
            node("Where", ["upper", "pairs_all", "zero"], ["pairs"]),
            node("ReduceSum", ["pairs", "axis_pairs"], ["pair"], keepdims=0),  # [N]
            node("Add", ["linear", "pair"], ["terms"]),
        ]
    nodes += [
        node("Add", ["terms", "w0"], ["raw_n"]),
        node("Unsqueeze", ["raw_n", "axis_first"], ["raw"]),  # [1, N]: one parameter set
    ]
    outputs = _outputs(model, nodes, inits, const, dtype, elem, 1)
    return _finish(model, nodes, _inputs(elem), outputs, inits, V.shape[-1], 1, external,
                   {"n_fields": str(n_fields)})  # fmt: skip


def _finish(model, nodes, n_in, outputs, inits, n_factors, n_samples, external, extra=None):
    """The model around the graph's nodes, with fmlearn's metadata (and ``extra``);
    checked unless its weights are external (save_onnx checks the files)."""
    import onnx
    from onnx import helper

    from fmlearn.classification import FMClassifier

    graph = helper.make_graph(nodes, f"fmlearn_{type(model).__name__}", n_in, outputs, inits)
    proto = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="fmlearn",
        producer_version=__version__,
    )
    proto.ir_version = min(proto.ir_version, 8)  # readable by onnxruntime ≥ 1.10
    meta = {"n_features": str(len(model.w_)), "n_factors": str(n_factors),
            "n_samples": str(n_samples), "estimator": type(model).__name__}  # fmt: skip
    meta.update(extra or {})
    if isinstance(model, FMClassifier):
        meta["classes"] = repr(list(model.classes_.tolist()))
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    if external is None:  # with external data the checker needs the files: save_onnx's
        onnx.checker.check_model(proto)
    return proto


def _anova_nodes(degree: int, values, inits, const, dtype) -> list:
    """``pair`` [1, N]: the interaction terms of a higher-order FM, Σ_{m=2..d} Σ_f
    e_m(a_f) with ``a = V[:, m − 2, f] · x`` over the row's slots. ONNX has no loop that
    fits the kernel's recursion, so e_m comes from the power sums p_t = Σ a^t by Newton's
    identities, ``e_m = (1/m) Σ_{t=1..m} (−1)^{t−1} e_{m−t} p_t``: the same polynomial,
    with rounding that grows with the order (float32 agrees with predict to ~1e-6 on
    trained models of degree 5; tests/test_export.py)."""
    from onnx.helper import make_node as node

    inits.append(const("axis_pair", np.array([-1, -2], dtype=np.int64)))
    nodes = [
        node("Gather", ["V", "indices"], ["V_rows"], axis=1),  # [1, N, W, d − 1, k]
        node("Unsqueeze", [values, "axis_pair"], ["x"]),  # [N, W, 1, 1]
        node("Mul", ["V_rows", "x"], ["ho_a1"]),
        node("ReduceSum", ["ho_a1", "axis_width"], ["ho_p1"], keepdims=0),  # [1, N, d − 1, k]
    ]
    for t in range(2, degree + 1):  # the power sums p_t
        nodes += [
            node("Mul", [f"ho_a{t - 1}", "ho_a1"], [f"ho_a{t}"]),
            node("ReduceSum", [f"ho_a{t}", "axis_width"], [f"ho_p{t}"], keepdims=0),
        ]
    nodes.append(node("Identity", ["ho_p1"], ["ho_e1"]))
    for m in range(2, degree + 1):  # e_m by Newton's identities (e_0 = 1)
        total = None
        for t in range(1, m + 1):
            term = f"ho_p{t}"
            if t < m:
                term = f"ho_e{m}_t{t}"
                nodes.append(node("Mul", [f"ho_e{m - t}", f"ho_p{t}"], [term]))
            if total is None:
                total = term
                continue
            nodes.append(node("Sub" if t % 2 == 0 else "Add", [total, term], [f"ho_e{m}_s{t}"]))
            total = f"ho_e{m}_s{t}"
        inits.append(const(f"inv{m}", np.array(1.0 / m, dtype=dtype)))
        nodes.append(node("Mul", [total, f"inv{m}"], [f"ho_e{m}"]))
    parts = []
    for m in range(2, degree + 1):  # the order-m term uses order m's factors: slot m − 2
        inits.append(const(f"slot{m}", np.array([m - 2], dtype=np.int64)))
        nodes += [
            # [1, N, 1, k] (a constant is stored with one dimension at least)
            node("Gather", [f"ho_e{m}", f"slot{m}"], [f"ho_e{m}_own"], axis=2),
            node("ReduceSum", [f"ho_e{m}_own", "axis_pair"], [f"order{m}"], keepdims=0),
        ]
        parts.append(f"order{m}")
    total = parts[0]
    for part in parts[1:]:
        nodes.append(node("Add", [total, part], [f"{part}_sum"]))
        total = f"{part}_sum"
    nodes.append(node("Identity", [total], ["pair"]))
    return nodes


def _softmax_nodes(model, values, inits, const, dtype) -> list:
    """Class scores ``decision`` [N, C] and ``probabilities`` (their softmax) of a
    multiclass FMClassifier, by kernels/softmax.py's formulas: shared factors weighed by
    the class projections ``P_``, or each class its own factors."""
    from onnx.helper import make_node as node

    shared = model.V_.ndim == 2
    if shared:
        inits.append(const("P_t", np.ascontiguousarray(model.P_.T.astype(dtype))))  # [k, C]
    last = ["axis_last"] if shared else ["axis_pair"]
    if not shared:
        inits.append(const("axis_pair", np.array([-1, -2], dtype=np.int64)))
    nodes = [
        node("Gather", ["V", "indices"], ["V_rows"], axis=0),  # [N, W, k] or [N, W, C, k]
        node("Unsqueeze", [values, last[0]], ["x"]),  # [N, W, 1] or [N, W, 1, 1]
        node("Mul", ["V_rows", "x"], ["vx"]),
        node("ReduceSum", ["vx", "axis_width"], ["q"], keepdims=0),  # [N, k] or [N, C, k]
        node("Mul", ["vx", "vx"], ["vx2"]),
        node("ReduceSum", ["vx2", "axis_width"], ["squares"], keepdims=0),
        node("Mul", ["q", "q"], ["q2"]),
        node("Sub", ["q2", "squares"], ["pair_f2"]),
        node("Mul", ["pair_f2", "half"], ["pair_f"]),  # the pairwise components
    ]
    if shared:
        nodes.append(node("MatMul", ["pair_f", "P_t"], ["pair"]))  # [N, C]
    else:
        nodes.append(node("ReduceSum", ["pair_f", "axis_last"], ["pair"], keepdims=0))
    nodes += [
        node("Gather", ["w", "indices"], ["w_rows"], axis=0),  # [N, W, C]
        node("Unsqueeze", [values, "axis_last"], ["x_w"]),  # [N, W, 1]
        node("Mul", ["w_rows", "x_w"], ["wx"]),
        node("ReduceSum", ["wx", "axis_width"], ["linear"], keepdims=0),  # [N, C]
        node("Add", ["linear", "pair"], ["terms"]),
        node("Add", ["terms", "w0"], ["decision"]),
        node("Softmax", ["decision"], ["probabilities"], axis=-1),
    ]
    return nodes


def _classifier_tail(model, nodes, inits, const, dtype, n_samples) -> list[str]:
    """``probabilities`` (and ``decision`` where the graph can give it exactly) from
    ``raw`` [S, N], as ``predict_proba`` / ``decision_function``; returns the outputs."""
    from onnx.helper import make_node as node

    inits += [const("one", np.array(1.0, dtype)), const("axis_cols", np.array([1], np.int64))]
    if model.link_ == "probit":
        # Φ(x) = ½(1 + erf(x/√2)) per sample, averaged over the samples (MCMC)
        inits.append(const("inv_sqrt2", np.array(1 / np.sqrt(2.0), dtype)))
        nodes += [
            node("Mul", ["raw", "inv_sqrt2"], ["z"]),
            *_erf("z", "erf", dtype),
            node("Add", ["erf", "one"], ["erf1"]),
            node("Mul", ["erf1", "half"], ["p_s"]),
            node("ReduceMean", ["p_s"], ["p1"], axes=[0], keepdims=0),  # [N]
        ]
        # decision_function is Φ⁻¹(mean p) for several samples: not an ONNX operator, so
        # only one sample's graph has it (raw itself); compare p with ½ otherwise
        decision = ["decision"] if n_samples == 1 else []
    else:
        # logit link: one parameter set (kept samples exist only for MCMC, probit)
        nodes.append(node("Sigmoid", ["raw"], ["p_s"]))
        nodes.append(node("ReduceMean", ["p_s"], ["p1"], axes=[0], keepdims=0))
        decision = ["decision"]
    if decision:
        nodes.append(node("ReduceMean", ["raw"], ["decision"], axes=[0], keepdims=0))
    nodes += [
        node("Sub", ["one", "p1"], ["p0"]),
        node("Unsqueeze", ["p0", "axis_cols"], ["p0c"]),
        node("Unsqueeze", ["p1", "axis_cols"], ["p1c"]),
        node("Concat", ["p0c", "p1c"], ["probabilities"], axis=1),
    ]
    return [*decision, "probabilities"]


def _erf(source: str, target: str, dtype) -> list:
    """Erf nodes; in float32 even for a float64 graph, as onnxruntime has Erf for float
    only (a probit probability is then exact to ~1e-7, not to float64 rounding)."""
    from onnx import TensorProto
    from onnx.helper import make_node as node

    if dtype == np.float32:
        return [node("Erf", [source], [target])]
    return [
        node("Cast", [source], [source + "_f32"], to=TensorProto.FLOAT),
        node("Erf", [source + "_f32"], [target + "_f32"]),
        node("Cast", [target + "_f32"], [target], to=TensorProto.DOUBLE),
    ]


def save_onnx(
    model, path: str | os.PathLike, *, dtype=np.float32, external_data: bool | None = None
) -> None:
    """Write ``to_onnx(model, dtype=dtype)`` to ``path``, each file atomically.

    ``external_data``: store the weights in ``<path>.data`` beside the graph (ONNX's
    external data; onnxruntime finds the file next to the model). ``None`` (default) does
    so only when they exceed ``EXTERNAL_DATA_BYTES`` (1 GiB), so that models past the 2 GiB
    limit of one ONNX file export too. The data file is written first; keep both files
    together when moving them.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import onnxruntime
    >>> from fmlearn import FMClassifier
    >>> from fmlearn.datasets import make_ctr
    >>> from fmlearn.export import save_onnx
    >>> X, y, _ = make_ctr(500, n_fields=5, n_features=100, random_state=0)
    >>> clf = FMClassifier(n_factors=4, max_iter=5, random_state=0).fit(X, y)
    >>> path = Path(tempfile.mkdtemp()) / "clf.onnx"
    >>> save_onnx(clf, path)
    >>> session = onnxruntime.InferenceSession(str(path))
    >>> [o.name for o in session.get_outputs()]  # see to_onnx for running it
    ['decision', 'probabilities']
    """
    path = os.fspath(path)
    external = None
    if external_data is not False:
        threshold = None if external_data else EXTERNAL_DATA_BYTES
        external = _ExternalData(os.path.basename(path) + ".data", threshold)
    proto = _graph(model, dtype, external)
    if external is not None and external.arrays:
        folder = os.path.dirname(os.path.abspath(path))
        atomic_write(os.path.join(folder, external.location), external.write)
    graph = proto.SerializeToString()
    atomic_write(path, lambda fh: fh.write(graph))
    if external is not None and external.arrays:
        import onnx

        onnx.checker.check_model(path)  # finds the side file beside the graph
