"""Shared fixtures: float64 on demand, small datasets from scikit-learn."""

import os

os.environ.setdefault("JAXREG_NO_COMPILATION_CACHE", "1")  # tests compile afresh: reproducible runs

import hypothesis
import jax
import pytest

# Property tests draw the same examples on every run (a red CI run must be
# reproducible); HYPOTHESIS_PROFILE=explore draws new ones.
hypothesis.settings.register_profile("jaxreg", derandomize=True, deadline=None)
hypothesis.settings.register_profile("explore", derandomize=False, deadline=None)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "jaxreg"))


@pytest.fixture
def x64():
  """Runs the test with 64-bit floats (scoped, so other tests keep float32)."""
  with jax.enable_x64(True):
    yield


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
  """Drops every compiled program once a test module is done.

  Each XLA:CPU executable keeps its own memory mappings; the whole suite in
  one process compiles thousands of programs, and past the kernel's limit on
  mappings per process (vm.max_map_count, 65530 by default) the next
  compilation dies with a segmentation fault.
  """
  yield
  jax.clear_caches()
