"""One BLAS thread while the emulator runs.

`mm` hands each tile to float64 BLAS (numpy matmul). Tiles are small (tens of rows, a few hundred
of k), and a multi-threaded OpenBLAS on a busy 2-core machine spends far longer waking and
synchronising its threads than multiplying: an 80 x 448 x 48 tile measured 7.7 ms with two
threads and 0.08 - 0.3 ms with one. Results do not depend on the thread count (every partial sum
is an exact integer), only the wall time does.

The limit comes from threadpoolctl (installed with scikit-learn). Without it the run is the same,
only slower where BLAS threads contend.
"""

import contextlib

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # the emulator still runs, with whatever threads BLAS starts
    threadpool_limits = None


def single_threaded_blas() -> contextlib.AbstractContextManager:
    """A context in which BLAS calls use one thread (restored on exit)."""
    if threadpool_limits is None:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")
