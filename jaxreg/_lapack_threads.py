"""One BLAS thread under the LAPACK calls of JAX's CPU linear algebra, by default.

On CPU, ``jnp.linalg`` and ``jax.scipy.linalg`` (Cholesky, LU, eigh, ...)
run LAPACK from the OpenBLAS that ships inside SciPy. OpenBLAS's worker
threads wait for each other by spinning: when the cores are busy (another
process, or XLA's own threads), a call waits for a thread that is not
scheduled. Measured on a 2-core machine with one other busy process, a
128 × 128 Cholesky took 120 ms with the default 2 threads and 0.15 ms with
one; a 100-α lasso path, which factors such matrices in its Newton steps,
ran 4× slower. The matrices jaxreg's solvers factor are small (up to about
a thousand rows), where one thread is as fast as several.

So on ``import jaxreg``, :func:`limit` sets SciPy's bundled BLAS (and only
it: NumPy's own BLAS is left alone) to one thread, through threadpoolctl.
It does nothing when

* the user chose a thread count: ``OPENBLAS_NUM_THREADS``,
  ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS`` or ``BLIS_NUM_THREADS`` is set;
* ``JAXREG_LAPACK_THREADS=0``; ``JAXREG_LAPACK_THREADS=N`` (N ≥ 1) sets N
  threads instead of 1;
* SciPy's BLAS is not a separate library (a conda environment where NumPy
  and SciPy share one BLAS): changing it would change NumPy's too;
* threadpoolctl or SciPy cannot be imported.

To undo it after import: ``threadpoolctl.threadpool_limits(None)`` or
``JAXREG_LAPACK_THREADS=0``.
"""

import os

ENV = "JAXREG_LAPACK_THREADS"
USER_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")


def requested():
  """The thread count to set: an int ≥ 1, or None to leave the BLAS alone.

  Raises:
    ValueError: ``JAXREG_LAPACK_THREADS`` is not a non-negative integer.
  """
  value = os.environ.get(ENV)
  if value is None or not value.strip():
    return None if any(os.environ.get(v) for v in USER_VARS) else 1
  try:
    n = int(value)
  except ValueError:
    n = -1
  if n < 0:
    raise ValueError(f"{ENV} must be a non-negative integer (0: leave the BLAS threads alone), "
                     f"got {value!r}.")
  return n or None


def scipy_blas():
  """threadpoolctl's controllers of the BLAS libraries inside SciPy's package."""
  import scipy.linalg.cython_lapack  # noqa: F401 — loads the BLAS that jax's LAPACK calls
  import threadpoolctl

  def inside_scipy(path):
    parts = os.path.normpath(path).split(os.sep)
    return any(part in ("scipy", "scipy.libs") for part in parts)

  return [c for c in threadpoolctl.ThreadpoolController().lib_controllers
          if c.user_api == "blas" and inside_scipy(c.filepath)]


def limit():
  """Sets SciPy's BLAS to :func:`requested` threads.

  Returns:
    The thread count set, or None when nothing was changed.
  """
  n = requested()
  if n is None:
    return None
  try:
    libs = scipy_blas()
    for lib in libs:
      lib.set_num_threads(n)
  except Exception:  # noqa: BLE001 — a speed setting: never fail the import over it.
    return None
  return n if libs else None
