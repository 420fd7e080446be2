"""Software prefetch for numba kernels (numba has no builtin for it).

``prefetch(a, j, o)`` emits LLVM's ``llvm.prefetch`` for the address of byte ``o`` from
``a.flat[j]`` (read, data cache). ``a`` must be C-contiguous: the index is an element
offset from the data pointer, unchecked. A prefetch is only a hint: it never
faults, so an address past the end is harmless, and the results of a kernel do not
depend on it. The intrinsic is lowered when the calling kernel is compiled, so it is
stored in numba's on-disk cache with the caller (``cache=True`` works).
"""

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

#: Rows between the one whose parameters are prefetched and the one being computed (1 and
#: 2 measured within 10 % of each other in prediction; 2 leaves more time for a slow
#: memory). The row pipelines of the SGD, FFM and FwFM kernels load its CSR entries 2× and
#: its offsets 3× as far ahead.
PREFETCH_AHEAD = 2
#: Below this many bytes of factors prediction and the per-row SGD epoch do not prefetch
#: (the FFM, FwFM and ranking kernels, whose rows are heavier, always do): such a model
#: stays in the caches, and the hints are only instructions (ML-100K's 0.2 MB model predicted
#: 142 → 98 M rows/s on two threads with them; 1 M CTR features, 64 MB, 2 → 6 M).
PREFETCH_MIN_BYTES = 4 << 20


def _prefetch_intrinsic(locality):
    @intrinsic
    def prefetch(typingctx, arr, j, byte_offset):
        if not isinstance(arr, types.Array) or not isinstance(j, types.Integer):
            return None

        def codegen(context, builder, signature, args):
            aryty, jty, oty = signature.args
            ary = context.make_array(aryty)(context, builder, args[0])
            itemsize = context.get_abi_sizeof(context.get_data_type(aryty.dtype))
            j = context.cast(builder, args[1], jty, types.intp)
            offset = context.cast(builder, args[2], oty, types.intp)
            byte = builder.add(builder.mul(j, ir.Constant(j.type, itemsize)), offset)
            i8, i32 = ir.IntType(8), ir.IntType(32)
            if getattr(ary.data.type, "is_opaque", False):  # opaque pointers (newer llvmlite)
                address = builder.gep(ary.data, [byte], source_etype=i8)
                name = "llvm.prefetch.p0"
            else:  # typed pointers (older llvmlite)
                address = builder.gep(builder.bitcast(ary.data, i8.as_pointer()), [byte])
                name = "llvm.prefetch.p0i8"
            fnty = ir.FunctionType(ir.VoidType(), [address.type, i32, i32, i32])
            fn = cgutils.get_or_insert_function(builder.module, fnty, name)
            # rw = 0 (read), locality 0-3, cache type = 1 (data)
            builder.call(fn, [address, i32(0), i32(locality), i32(1)])
            return context.get_dummy_value()

        return types.void(arr, j, byte_offset), codegen

    return prefetch


#: ``prefetch(a, j, o)``: prefetch the cache line holding byte ``o`` counted from
#: ``a.flat[j]``, into every cache level (x86 prefetcht0).
prefetch = _prefetch_intrinsic(3)
#: The same, locality 2 (x86 prefetcht1: L2 and outwards, not L1).
prefetch_l2 = _prefetch_intrinsic(2)


@njit(cache=True, nogil=True, inline="always")
def prefetch_range(arr, start, stop):
    """Prefetch every cache line of ``arr.flat[start:stop]`` (C-contiguous ``arr``)."""
    # byte steps of one 64-byte line: a constant stride, no division for the trip count
    for offset in range(0, (stop - start) * arr.itemsize, 64):
        prefetch(arr, start, offset)
    if stop > start:  # the last line, when the range does not start on a line
        prefetch(arr, stop - 1, 0)


@njit(cache=True, nogil=True, inline="always")
def prefetch_range_l2(arr, start, stop):
    """``prefetch_range`` with ``prefetch_l2``."""
    for offset in range(0, (stop - start) * arr.itemsize, 64):
        prefetch_l2(arr, start, offset)
    if stop > start:
        prefetch_l2(arr, stop - 1, 0)


@njit(cache=True, nogil=True, inline="always")
def prefetch_row_blocks(indptr, indices, row, A, block):
    """Prefetch the blocks ``A.flat[i*block:(i+1)*block]`` of CSR ``row``'s features i: a
    kernel calls it for the next row, so that its parameters arrive while this one runs."""
    for j in range(indptr[row], indptr[row + 1]):
        i = np.int64(indices[j])
        prefetch_range(A, i * block, (i + 1) * block)


@njit(cache=True, nogil=True, inline="always")
def prefetch_row_params(indptr, indices, row, vec, mat):
    """Prefetch ``vec[i]`` and the row ``mat[i, :]`` of each of CSR ``row``'s features i
    (a model's ``w`` and ``V``, or an optimiser's state for them); no-op for an empty
    ``mat``. Called for a row a few rows ahead of the one being computed.

    For kernels with heavy rows (FFM, FwFM): numba reference-counts the arrays handed to
    an inlined function, ~100 ns a row here, which a two-feature row of a small model
    cannot afford (kernels/predict.py and kernels/sgd.py write the loop out instead)."""
    if mat.shape[0] == 0:
        return
    k = mat.shape[1]
    row_bytes = k * mat.itemsize
    for j in range(indptr[row], indptr[row + 1]):
        i = np.int64(indices[j])
        prefetch(vec, i, 0)
        for offset in range(0, row_bytes, 64):
            prefetch(mat, i * k, offset)
        prefetch(mat, i * k + k - 1, 0)  # the last line, when the row does not start on one


@njit(cache=True, nogil=True, inline="always")
def prefetch_rows_ahead(order, pos, stop, indptr, indices, data, y, sw, ahead):
    """The first stages of a prefetch pipeline over the rows ``order`` (shuffled): the CSR
    offsets of the row ``3·ahead`` on, then the indices and values of the row ``2·ahead``
    on, then the label (and weight: ``sw`` empty when there are none) of the row
    ``ahead`` on. When the caller prefetches the parameters of that row, reading its
    indices then does not wait on memory (on shuffled rows it did: SGD's AdaGrad epoch
    went 0.62 → 0.93 M rows/s on one thread from the CSR stages alone), nor does its
    label (the grouped-shuffled epoch 1.07–1.10× → 1.04× an in-order one, issue 22)."""
    if pos + 3 * ahead < stop:
        prefetch(indptr, order[pos + 3 * ahead], 0)
    if pos + 2 * ahead < stop:
        far = order[pos + 2 * ahead]
        prefetch_range(indices, indptr[far], indptr[far + 1])
        prefetch_range(data, indptr[far], indptr[far + 1])
    if pos + ahead < stop:
        near = order[pos + ahead]
        prefetch(y, near, 0)
        if sw.shape[0] > 0:
            prefetch(sw, near, 0)
