"""One BLAS thread while the emulator runs.

`mm` hands each tile to float64 BLAS (numpy matmul). Tiles are small (tens of rows, a few hundred
of k), and a multi-threaded OpenBLAS on a busy 2-core machine spends far longer waking and
synchronising its threads than multiplying: an 80 x 448 x 48 tile measured 7.7 ms with two
threads and 0.08 - 0.3 ms with one. Results do not depend on the thread count (every partial sum
is an exact integer), only the wall time does.

The limit comes from threadpoolctl (installed with scikit-learn). Its controller is made once,
when this module is imported: it finds numpy's BLAS among the loaded libraries (a scan of every
loaded library, 3 to 20 ms depending on how many a process has loaded), so a run only sets and
restores the thread count. Without threadpoolctl the run is the same, only slower where BLAS
threads contend.
"""

import contextlib

import numpy  # noqa: F401  (its BLAS must be loaded before the controller looks for it)

try:
    from threadpoolctl import ThreadpoolController
except ImportError:  # the emulator still runs, with whatever threads BLAS starts
    ThreadpoolController = None

_CONTROLLER = ThreadpoolController() if ThreadpoolController is not None else None


def single_threaded_blas() -> contextlib.AbstractContextManager:
    """A context in which BLAS calls use one thread (restored on exit)."""
    if _CONTROLLER is None:
        return contextlib.nullcontext()
    return _CONTROLLER.limit(limits=1, user_api="blas")
