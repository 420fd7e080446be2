"""Numba kernels: numpy arrays in, numbers out. No validation, no I/O, no scikit-learn.

Every kernel takes the CSR triplet ``(indptr, indices, data)`` explicitly, never a scipy
object, so that callers can coerce inputs once at the boundary and numba never sees a
type it was not written for.
"""

#: fastmath flags for inner loops: reassociation, contraction, reciprocal and fast
#: functions, but *not* nnan/ninf, so NaN and infinity still propagate and divergence is
#: still detected.
FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}
