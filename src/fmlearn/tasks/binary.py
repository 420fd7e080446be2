"""Binary classification: labels mapped to ±1, logistic loss (SGD) or probit (ALS/MCMC)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy.special import log_ndtr, ndtr, ndtri
from sklearn.utils.multiclass import check_classification_targets

from fmlearn._metrics import roc_auc
from fmlearn._utils import preview
from fmlearn.kernels import coordinate, losses
from fmlearn.tasks.base import MetricsFn, Task, weighted_mean


class BinaryClassification(Task):
    """Two labels of any type; ``classes_[1]`` is the positive class (ŷ > 0).

    The SGD family descends the logistic loss (``P = σ(ŷ)``); ALS and MCMC use the probit
    link (``P = Φ(ŷ)``, latent Gaussian targets, as libFM): ``link`` says which.
    """

    name: ClassVar[str] = "binary"
    sgd_loss: ClassVar[int] = losses.LOGISTIC
    likelihood: ClassVar[int] = coordinate.PROBIT
    fitted_attributes: ClassVar[tuple[str, ...]] = ("classes_", "link_")

    @classmethod
    def check_target(cls, target: dict) -> None:
        """Two classes with link logit or probit, or more (an FMClassifier's softmax FM)
        with link softmax."""
        classes, link = np.asarray(target["classes_"]), target["link_"]
        if classes.ndim != 1 or classes.size < 2 or np.unique(classes).size != classes.size:
            raise ValueError(f"classes_ must hold two or more distinct labels, got {classes!r}")
        links = ("logit", "probit") if classes.size == 2 else ("softmax",)
        if link not in links:
            raise ValueError(f"link_ of {classes.size} classes must be in {links}, got {link!r}")

    # tuned on Frappe: the logistic loss has smaller gradients than squared error on
    # ratings, so it needs less shrinkage (0.1 underfits, 0.01 overfits)
    default_regularization: ClassVar[dict] = {"sgd": (0.0, 0.0, 0.03), "als": (0.0, 5.0, 3.0)}

    @property
    def link(self) -> str:
        """``link_`` of the fitted model, else the family's: logit for SGD, probit else."""
        return self.target.get("link_") or self._family_link()

    def learn_target(self, y, previous: dict | None = None, classes=None) -> dict:
        check_classification_targets(y)
        if previous is None:
            found = np.unique(y) if classes is None else np.unique(np.asarray(classes))
            if found.size < 2:
                raise ValueError(
                    f"{self.owner} needs two or more classes in y, got {found.size} class "
                    f"({preview(found)})."
                )
            if found.size != 2:
                raise ValueError(
                    f"Only binary classification is supported by {self.owner}: y must have "
                    f"exactly 2 classes, got {found.size} class"
                    f"{'es' if found.size != 1 else ''} ({preview(found)})."
                )
            return {"classes_": found, "link_": self._family_link()}
        known = previous["classes_"]
        if classes is not None and not np.array_equal(np.unique(classes), known):
            raise ValueError(
                f"classes={preview(np.unique(classes))} differs from the classes of the first "
                f"call to partial_fit ({preview(known)})."
            )
        return {"classes_": known, "link_": self._family_link()}

    def _family_link(self) -> str:
        return "logit" if self.family in ("sgd", "sgda") else "probit"

    def encode(self, y) -> np.ndarray:
        classes = self.target["classes_"]
        y = known_labels(y, classes)
        return np.where(y == classes[1], 1.0, -1.0)

    def metrics(self) -> MetricsFn:
        probit = self.target.get("link_") == "probit"

        def logloss_auc(raw, y, sample_weight):
            """Log-loss (watched by early stopping) and AUC of raw scores against ±1."""
            if sample_weight.sum() <= 0:
                return {"logloss": float("nan"), "auc": float("nan")}
            nll = -log_ndtr(y * raw) if probit else np.logaddexp(0.0, -y * raw)
            return {
                "logloss": weighted_mean(nll, sample_weight),
                "auc": roc_auc(y > 0, raw, sample_weight),
            }

        return logloss_auc

    def to_mean_scale(self, raw, link_params):
        return ndtr(raw) if self.link == "probit" else raw

    def from_mean_scale(self, mean):
        return probit_inverse(mean) if self.link == "probit" else mean

    def stratify(self, y: np.ndarray) -> np.ndarray | None:
        return y if np.unique(y).size == 2 else None


def known_labels(y, classes: np.ndarray) -> np.ndarray:
    """``y`` as a flat array; ``ValueError`` naming the labels that are not ``classes``."""
    y = np.asarray(y).ravel()
    unknown = ~np.isin(y, classes)
    if unknown.any():
        raise ValueError(
            f"y contains labels {preview(np.unique(y[unknown]))} that are not among the "
            f"classes {preview(classes)}."
        )
    return y


def probit_inverse(p: np.ndarray) -> np.ndarray:
    """Φ⁻¹ of averaged probabilities, kept finite (|ŷ| ≤ ~8.3) at 0 and 1."""
    return ndtri(np.clip(p, 1e-16, 1.0 - 1e-16))


def sigmoid(z: np.ndarray) -> np.ndarray:
    """σ(z) without overflow warnings for large |z|."""
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    e = np.exp(z[~pos])
    out[~pos] = e / (1.0 + e)
    return out
