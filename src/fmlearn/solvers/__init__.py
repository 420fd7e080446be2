"""Solvers: the epoch loop around a kernel — schedules, early stopping, history.

Each solver module offers ``solve(...) -> (FMParams, state, FitHistory)`` and never
touches an estimator; estimators build the config and keep the results.
"""
