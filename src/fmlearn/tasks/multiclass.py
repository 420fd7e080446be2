"""Multiclass classification: C > 2 labels, softmax over per-class scores, cross-entropy.

Only the SGD family fits it (the multiclass model's own epoch kernel, kernels/softmax.py):
ALS and MCMC sample latent Gaussian targets for a probit link, and a multinomial probit
is out of scope; ``FMClassifier`` says so and points to one-vs-rest.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.utils.multiclass import check_classification_targets

from fmlearn._utils import preview
from fmlearn.kernels import losses
from fmlearn.tasks.base import MetricsFn, Task, weighted_mean
from fmlearn.tasks.binary import known_labels


class MulticlassClassification(Task):
    """C ≥ 3 labels of any type, ``classes_`` sorted; y is encoded as the class index."""

    name: ClassVar[str] = "multiclass"
    sgd_loss: ClassVar[int] = losses.SOFTMAX
    fitted_attributes: ClassVar[tuple[str, ...]] = ("classes_", "link_")
    # the binary task's. benchmarks/multiclass.py: MovieLens-100K ratings as 5 classes
    # prefer it (separate layout, test log-loss 1.2739; 0.01: 1.2777); generated softmax
    # data prefers 0.003 (C = 20: 2.060 against 2.153)
    default_regularization: ClassVar[dict] = {"sgd": (0.0, 0.0, 0.03)}

    @property
    def link(self) -> str:
        return "softmax"

    def learn_target(self, y, previous: dict | None = None, classes=None) -> dict:
        check_classification_targets(y)
        if previous is None:
            found = np.unique(y) if classes is None else np.unique(np.asarray(classes))
            if found.size < 3:
                raise ValueError(f"{self.owner}: multiclass needs 3 or more classes.")
            unknown = ~np.isin(np.asarray(y).ravel(), found)
            if unknown.any():
                raise ValueError(
                    f"y contains labels {preview(np.unique(np.asarray(y).ravel()[unknown]))} "
                    f"that are not in classes={preview(found)}."
                )
            return {"classes_": found, "link_": "softmax"}
        known = previous["classes_"]
        if classes is not None and not np.array_equal(np.unique(classes), known):
            raise ValueError(
                f"classes={preview(np.unique(classes))} differs from the classes of the first "
                f"call to partial_fit ({preview(known)})."
            )
        return {"classes_": known, "link_": "softmax"}

    def encode(self, y) -> np.ndarray:
        classes = self.target["classes_"]
        return np.searchsorted(classes, known_labels(y, classes)).astype(np.float64)

    def metrics(self) -> MetricsFn:
        def logloss_accuracy(raw, y, sample_weight):
            """Cross-entropy (watched by early stopping) and accuracy of class scores."""
            if sample_weight.sum() <= 0:
                return {"logloss": float("nan"), "accuracy": float("nan")}
            label = y.astype(np.intp)
            top = raw.max(axis=1)
            log_z = top + np.log(np.exp(raw - top[:, None]).sum(axis=1))
            nll = log_z - raw[np.arange(raw.shape[0]), label]
            hit = (raw.argmax(axis=1) == label).astype(np.float64)
            return {
                "logloss": weighted_mean(nll, sample_weight),
                "accuracy": weighted_mean(hit, sample_weight),
            }

        return logloss_accuracy

    def stratify(self, y: np.ndarray) -> np.ndarray | None:
        return y


def softmax(raw: np.ndarray) -> np.ndarray:
    """Row-wise softmax of class scores, without overflow."""
    e = np.exp(raw - raw.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def log_softmax(raw: np.ndarray) -> np.ndarray:
    shifted = raw - raw.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
