"""jaxreg sets SciPy's BLAS (under JAX's CPU LAPACK calls) to one thread at import, unless told not to."""

import os
import subprocess
import sys

import pytest

# Prints the thread counts of SciPy's and NumPy's BLAS, after importing jaxreg or not.
_COUNTS = """
import sys, threadpoolctl, scipy.linalg.cython_lapack, numpy
if sys.argv[1] == "jaxreg":
    import jaxreg
for info in threadpoolctl.threadpool_info():
    if info["user_api"] == "blas":
        where = "scipy" if "scipy.libs" in info["filepath"] or "/scipy/" in info["filepath"] else "numpy"
        print(where, info["num_threads"])
"""


def _counts(with_jaxreg, **env_overrides):
  env = {k: v for k, v in os.environ.items()
         if k not in ("JAXREG_LAPACK_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                      "MKL_NUM_THREADS", "BLIS_NUM_THREADS")}
  env["JAX_PLATFORMS"] = "cpu"
  env.update(env_overrides)
  out = subprocess.run([sys.executable, "-c", _COUNTS, "jaxreg" if with_jaxreg else "plain"],
                       env=env, capture_output=True, text=True, timeout=300)
  if out.returncode:
    raise RuntimeError(out.stderr)
  return dict(line.split() for line in out.stdout.strip().splitlines())


@pytest.fixture(scope="module")
def separate_scipy_blas():
  counts = _counts(False)
  if "scipy" not in counts or "numpy" not in counts:
    pytest.skip("SciPy and NumPy share one BLAS here: jaxreg leaves it alone by design.")
  return counts


def test_import_sets_scipys_blas_to_one_thread_and_leaves_numpys(separate_scipy_blas):
  after = _counts(True)
  assert after["scipy"] == "1"
  assert after["numpy"] == separate_scipy_blas["numpy"]


@pytest.fixture(scope="module")
def several_threads(separate_scipy_blas):
  # OpenBLAS caps its count at the number of cores: with one, 1 is all there is.
  if separate_scipy_blas["scipy"] == "1":
    pytest.skip("one core: no thread count other than 1 to tell apart.")
  return separate_scipy_blas


def test_users_thread_count_is_kept(several_threads):
  assert _counts(True, OPENBLAS_NUM_THREADS="2")["scipy"] == "2"


def test_env_var_sets_the_count_or_leaves_it(several_threads):
  assert _counts(True, JAXREG_LAPACK_THREADS="2")["scipy"] == "2"
  assert _counts(True, JAXREG_LAPACK_THREADS="0")["scipy"] == several_threads["scipy"]


def test_bad_env_value_is_named():
  with pytest.raises(RuntimeError, match="JAXREG_LAPACK_THREADS must be a non-negative integer"):
    _counts(True, JAXREG_LAPACK_THREADS="many")
