"""The scikit-learn estimator contract, for every estimator."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from fmlearn import FMClassifier, FMRegressor

# A stochastic solver that shuffles rows is not equivalent to repeating rows, so the
# exact sample-weight equivalence checks cannot hold (scikit-learn's own SGDClassifier and
# SGDRegressor are marked the same way). Weights are tested in tests/kernels/test_sgd.py.
WEIGHT_EQUIVALENCE = {
    "check_sample_weight_equivalence_on_dense_data": "stochastic solver: shuffled order",
    "check_sample_weight_equivalence_on_sparse_data": "stochastic solver: shuffled order",
}


@parametrize_with_checks(
    [FMRegressor(random_state=0), FMClassifier(random_state=0)],
    expected_failed_checks=lambda est: WEIGHT_EQUIVALENCE,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
