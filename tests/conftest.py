"""Shared fixtures: the planted ratings data most estimator tests fit."""

from __future__ import annotations

import pytest

from fmlearn.datasets import make_recommendation


@pytest.fixture(scope="session")
def ratings():
    """25,000 train / 5,000 test rows of user | item | context one-hots, noise 0.5."""
    X, y, truth = make_recommendation(
        n_samples=30_000, n_users=300, n_items=200, n_contexts=6, noise=0.5, random_state=1
    )
    return X[:25_000], y[:25_000], X[25_000:], y[25_000:], truth
