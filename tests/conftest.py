"""Shared fixtures: float64 on demand, small datasets from scikit-learn."""

import jax
import pytest


@pytest.fixture
def x64():
  """Runs the test with 64-bit floats (scoped, so other tests keep float32)."""
  with jax.enable_x64(True):
    yield
