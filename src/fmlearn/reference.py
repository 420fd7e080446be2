"""The factorization machine in plain numpy, written to be read: the model, its gradient, SGD.

fmlearn's estimators run compiled kernels (numba): fast, but not where one learns the model.
This module computes the same things the obvious way, with numpy alone, each function
commented with the equation it implements (Rendle, "Factorization Machines", ICDM 2010). It
is also the oracle the kernel tests compare against, so it cannot drift from what the
estimators do. The user guide's page "The model in 40 lines of numpy" walks through it.

A matrix ``X`` is a dense 2-D array or a CSR matrix (only its ``indptr``, ``indices`` and
``data`` are read, so scipy is not needed here and sparse rows are never densified). A row
is handled as ``(idx, x)``: the indices of its non-zero features and their values, each
feature at most once.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "ReferenceFM",
    "gradient",
    "loss_gradient",
    "predict",
    "predict_naive",
    "predict_row",
    "rows",
    "sgd_epoch",
]


def rows(X):
    """Each row of ``X`` as ``(idx, x)``: its non-zero features and their values."""
    if hasattr(X, "indptr"):  # CSR: the row's slice of indices and data
        for r in range(X.shape[0]):
            lo, hi = X.indptr[r], X.indptr[r + 1]
            yield np.asarray(X.indices[lo:hi]), np.asarray(X.data[lo:hi], dtype=np.float64)
    else:
        for x in np.atleast_2d(np.asarray(X, dtype=np.float64)):
            idx = np.flatnonzero(x)
            yield idx, x[idx]


def predict_row(idx, x, w0, w, V) -> float:
    """``ŷ = w0 + Σ_i w_i x_i + ½ Σ_f [(Σ_i v_if x_i)² − Σ_i v_if² x_i²]``, in O(k · nnz).

    Rendle's lemma 3.1: the pairwise term ``Σ_{i<j} <v_i, v_j> x_i x_j`` is half of the full
    double sum over all (i, j) minus its diagonal, and the full sum factorises per factor f
    into ``(Σ_i v_if x_i)²``.
    """
    vx = V[idx] * x[:, None]  # v_if x_i, one row per non-zero feature
    q = vx.sum(axis=0)  # q_f = Σ_i v_if x_i
    return float(w0 + w[idx] @ x + 0.5 * (q @ q - (vx * vx).sum()))


def predict(X, w0, w, V) -> np.ndarray:
    """``ŷ`` for every row of ``X`` by :func:`predict_row` (lemma 3.1)."""
    return np.array([predict_row(idx, x, w0, w, V) for idx, x in rows(X)])


def predict_naive(X, w0, w, V) -> np.ndarray:
    """``ŷ = w0 + Σ_i w_i x_i + Σ_{i<j} <v_i, v_j> x_i x_j`` (eq. 1), by the double sum.

    O(k · nnz²) per row: the definition, to check :func:`predict` against. Pairs with a zero
    ``x_i`` or ``x_j`` add nothing, so only the non-zero features are paired.
    """
    out = []
    for idx, x in rows(X):
        y = w0 + w[idx] @ x
        for a in range(len(idx)):
            for b in range(a + 1, len(idx)):
                y += (V[idx[a]] @ V[idx[b]]) * x[a] * x[b]
        out.append(y)
    return np.array(out, dtype=np.float64)


def gradient(idx, x, V):
    """``(∂ŷ/∂w0, ∂ŷ/∂w_i, ∂ŷ/∂v_if)`` for the row's features (eq. 4).

    ``∂ŷ/∂w0 = 1``, ``∂ŷ/∂w_i = x_i``, ``∂ŷ/∂v_if = x_i (Σ_j v_jf x_j − v_if x_i)``: the
    same sums ``q_f`` as the prediction, so a gradient step costs O(k · nnz) too.
    """
    q = x @ V[idx]
    return 1.0, x, x[:, None] * (q[None, :] - V[idx] * x[:, None])


def loss_gradient(p, y, loss: str):
    """The loss of prediction ``p`` for target ``y`` and its derivative ``∂ℓ/∂ŷ`` (scalars or
    arrays).

    ``"squared"``: ``½ (ŷ − y)²`` and ``ŷ − y``. ``"logistic"`` (``y`` in {−1, +1}):
    ``log(1 + e^{−y ŷ})`` and ``−y σ(−y ŷ)``, written to stay finite for any ``ŷ``.
    """
    if loss == "squared":
        return 0.5 * (p - y) ** 2, p - y
    if loss != "logistic":
        raise ValueError(f"loss must be 'squared' or 'logistic', got {loss!r}")
    z = -y * p  # log(1 + e^z) and σ(z) = e^{−log(1 + e^{−z})} by logaddexp: no overflow
    return np.logaddexp(0.0, z), -y * np.exp(-np.logaddexp(0.0, -z))


def sgd_epoch(
    X, y, w0, w, V, order=None, *, learning_rate=0.01, reg=(0.0, 0.0, 0.1), loss="squared"
):
    """One pass of stochastic gradient descent; returns new ``(w0, w, V, mean loss)``.

    For each row, in ``order``: ``θ ← θ − η (∂ℓ/∂ŷ · ∂ŷ/∂θ + λ_θ θ)`` for ``w0`` and for the
    ``w_i``, ``v_i`` of the row's features only, all from the same ``ŷ`` (lazy L2, as libFM:
    a weight is shrunk when its feature is seen). ``reg = (λ_w0, λ_w, λ_V)``.
    """
    w, V = np.array(w, dtype=np.float64), np.array(V, dtype=np.float64)
    data = list(rows(X))
    order = np.arange(len(data)) if order is None else order
    total = 0.0
    for r in order:
        idx, x = data[r]
        value, g = loss_gradient(predict_row(idx, x, w0, w, V), y[r], loss)
        _, dw, dV = gradient(idx, x, V)
        w0 = w0 - learning_rate * (g + reg[0] * w0)
        w[idx] -= learning_rate * (g * dw + reg[1] * w[idx])
        V[idx] -= learning_rate * (g * dV + reg[2] * V[idx])
        total += value
    return w0, w, V, total / max(len(order), 1)


class ReferenceFM:
    """A factorization machine trained by plain SGD in numpy: ``FMRegressor(solver="sgd")``'s
    twin, for reading and for checking.

    It draws from ``numpy.random.default_rng(random_state)`` what the estimators draw: first
    ``V ~ N(0, init_std²)``, then one permutation of the rows per epoch. Given the same
    ``random_state``, ``init_std``, ``learning_rate`` and ``reg``, it therefore fits the same
    model as ``FMRegressor(solver="sgd", tol=None, shuffle=True)`` (or ``FMClassifier``
    for ``loss="logistic"``), up to rounding — thousands of times slower. (The estimators'
    default ``shuffle="grouped"`` visits the rows in another order, one that stays in the
    caches: the same algorithm, other draws.)

    Parameters
    ----------
    n_factors : int, default=8
        k, the length of each feature's latent vector.
    loss : {"squared", "logistic"}, default="squared"
        Regression, or binary classification with labels {0, 1} or {−1, +1}.
    learning_rate : float, default=0.01
    max_iter : int, default=100
        Epochs.
    reg : tuple of 3 floats, default=(0, 0, 0.1)
        L2 strengths ``(λ_w0, λ_w, λ_V)``: the estimators' ``reg_bias``, ``reg_linear``,
        ``reg_factors``.
    init_std : float, default=0.1
    random_state : int or None, default=None

    Attributes
    ----------
    w0_ : float
    w_ : ndarray of shape (n_features,)
    V_ : ndarray of shape (n_features, n_factors)
    history_ : list of float
        The mean training loss of each epoch.

    Examples
    --------
    >>> import numpy as np
    >>> from fmlearn.reference import ReferenceFM
    >>> X = np.eye(6)[[0, 1, 2, 0, 1, 2]] + np.eye(6)[[3, 4, 5, 4, 5, 3]]  # user + item
    >>> y = np.array([5.0, 3.0, 4.0, 4.0, 2.0, 5.0])
    >>> model = ReferenceFM(n_factors=2, learning_rate=0.1, max_iter=200, random_state=0)
    >>> bool(np.abs(model.fit(X, y).predict(X) - y).max() < 0.5)
    True
    """

    def __init__(
        self,
        n_factors=8,
        *,
        loss="squared",
        learning_rate=0.01,
        max_iter=100,
        reg=(0.0, 0.0, 0.1),
        init_std=0.1,
        random_state=None,
    ):
        self.n_factors = n_factors
        self.loss = loss
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.reg = reg
        self.init_std = init_std
        self.random_state = random_state

    def fit(self, X, y):
        """Start from ``w0 = 0, w = 0, V ~ N(0, init_std²)`` and run ``max_iter`` epochs."""
        if self.loss not in ("squared", "logistic"):
            raise ValueError(f"loss must be 'squared' or 'logistic', got {self.loss!r}")
        y = np.asarray(y, dtype=np.float64)
        if self.loss == "logistic":  # labels {0, 1} or {−1, +1} → {−1, +1}
            y = np.where(y > 0, 1.0, -1.0)
        n_rows, n_features = X.shape
        rng = np.random.default_rng(self.random_state)
        w0, w = 0.0, np.zeros(n_features)
        V = rng.normal(0.0, self.init_std, size=(n_features, self.n_factors))
        self.history_ = []
        for _ in range(self.max_iter):
            order = rng.permutation(n_rows)
            w0, w, V, mean_loss = sgd_epoch(
                X, y, w0, w, V, order, learning_rate=self.learning_rate, reg=self.reg,
                loss=self.loss,
            )  # fmt: skip
            self.history_.append(mean_loss)
        self.w0_, self.w_, self.V_ = w0, w, V
        return self

    def decision_function(self, X) -> np.ndarray:
        """``ŷ(x)`` for every row: the model's raw output."""
        return predict(X, self.w0_, self.w_, self.V_)

    def predict(self, X) -> np.ndarray:
        """``ŷ`` for the squared loss; for the logistic loss, ``P(y = 1) = σ(ŷ)``."""
        raw = self.decision_function(X)
        return raw if self.loss == "squared" else 1.0 / (1.0 + np.exp(-raw))
