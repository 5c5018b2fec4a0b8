"""Tests for research.lp_norms: the Lp geometry claims on tiny settings."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxreg as jr
from research import lp_norms

TINY = dict(n_pairs=2000, dims=(2,), ball_ps=(0.5, 1.0, 2.0, float("inf")),
            ps=(0.5, 1.0, 1.5, 2.0), steps=1500, n_starts=12)


@pytest.fixture(scope="module")
def result(tmp_path_factory):
  return lp_norms.run(seed=0, out_dir=tmp_path_factory.mktemp("lp"), **TINY)


def test_all_claims_pass(result):
  assert result.name == "lp_norms"
  assert result.passed, [(v.claim, v.error) for v in result.verdicts if not v.passed]
  assert len(result.figures) == 3 and all(f.exists() for f in result.figures)


def test_midpoints_leave_the_ball_only_below_one(result):
  assert result.data["midpoint_violation_fraction_p0.5_d2"] > 0.01
  for p in ("1", "2", "inf"):
    assert result.data[f"midpoint_violation_fraction_p{p}_d2"] == 0.0


def test_worked_midpoint_example():
  # a = (1, 0), b = (0, 1): the midpoint (½, ½) has Σ|mⱼ|^½ = √2 and Σ|mⱼ| = 1.
  m = jnp.array([0.5, 0.5])
  np.testing.assert_allclose(lp_norms.lp_value(m, 0.5), np.sqrt(2.0), rtol=1e-6)
  np.testing.assert_allclose(lp_norms.lp_value(m, 1.0), 1.0, rtol=1e-6)


def test_zeros_exactly_for_p_at_most_one(result):
  fracs = result.data["zero_fraction"]
  for p, row in zip(result.data["ps"], fracs):
    if p <= 1:
      assert np.all(row > 0), (p, row)
    else:
      assert np.all(row == 0), (p, row)


def test_half_reaches_several_fixed_points_one_reaches_one(result):
  assert result.data["n_distinct_p1"] == 1
  assert result.data["n_distinct_p05"] >= 2
  assert np.max(result.data["fixed_point_residual_p05"]) <= 1e-9


def test_wrong_prediction_fails(monkeypatch, tmp_path):
  # Claiming the corner (and zeros) starts only below p = 1 contradicts the lasso.
  monkeypatch.setattr(lp_norms, "has_exact_zeros", lambda p: p < 1)
  monkeypatch.setattr(lp_norms, "ball_is_convex", lambda p: p > 1)
  r = lp_norms.run(seed=0, out_dir=tmp_path, **dict(TINY, n_starts=4, steps=500))
  assert not r.verdict("Proximal-gradient Lp solutions have exact zeros").passed
  assert not r.verdict("The Lp unit ball is non-convex").passed


def test_count_distinct():
  pts = np.array([[0.0, 1.0], [0.0, 1.0 + 1e-9], [1.0, 0.0]])
  n, reps, labels = lp_norms.count_distinct(pts, 1e-6)
  assert n == 2 and list(labels) == [0, 0, 1]


def test_fixed_point_map_is_ista_step():
  with jax.enable_x64(True):
    X = jnp.eye(3)
    y = jnp.array([3.0, 0.5, -2.0])
    pen = jr.L1(0.3)
    # With X = I and n = 3, f(w) = ‖y − w‖²/6: from w = 0 one step of length 3
    # lands on y, then soft-thresholds at 3·0.3.
    t = lp_norms.prox_grad_map(pen, X, y, jnp.zeros(3), 3.0)
    np.testing.assert_allclose(t, [2.1, 0.0, -1.1], atol=1e-12)
