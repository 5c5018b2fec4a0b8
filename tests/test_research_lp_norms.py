"""Tests for research.lp_norms: the Lp geometry claims at small settings, and its oracles."""

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import minimize_scalar

import jaxreg as jr
from research import lp_norms


@pytest.fixture(scope="module")
def result(tmp_path_factory):
  return lp_norms.run(seed=0, out_dir=tmp_path_factory.mktemp("lp"), **lp_norms.TEST_SETTINGS)


def test_unplanted_run_passes_every_verdict(result):
  assert result.name == "lp_norms" and result.plant is None
  assert result.passed, [(v.key, v.comparison) for v in result.verdicts if not v.passed]
  assert len(result.figures) == 3 and all(f.exists() for f in result.figures)
  assert result.data["n_capped"] == 0


def test_midpoints_leave_the_ball_only_below_one(result):
  assert result.data["midpoint_violation_fraction_p0.5_d2"] > 0.01
  for p in ("1", "2", "inf"):
    assert result.data[f"midpoint_violation_fraction_p{p}_d2"] == 0.0


def test_worked_midpoint_example():
  # a = (1, 0), b = (0, 1): the midpoint (½, ½) has Σ|mⱼ|^½ = √2 and Σ|mⱼ| = 1.
  m = np.array([0.5, 0.5])
  np.testing.assert_allclose(lp_norms.lp_value(m, 0.5), np.sqrt(2.0), rtol=1e-12)
  np.testing.assert_allclose(lp_norms.lp_value(m, 1.0), 1.0, rtol=1e-12)


def test_zeros_exactly_for_p_at_most_one(result):
  for p, row in zip(result.data["ps"], result.data["zero_fraction"]):
    assert np.all(row > 0) if p <= 1 else np.all(row == 0), (p, row)


def test_half_reaches_several_fixed_points_one_reaches_one(result):
  assert result.data["n_distinct_p1"] == 1
  assert result.data["n_distinct_p05"] >= 2
  assert np.max(result.data["fixed_point_residual"]) <= lp_norms.DEFAULTS["stop_tol"]


def test_scalar_prox_oracle_against_the_half_thresholding_formula(x64):
  # ½(z − x)² + 2c√|z|: a non-zero minimiser z = u² solves u² + c/u = x on
  # the branch u ≥ (c/2)^(1/3) (where u² + c/u is increasing), and it beats
  # z = 0 exactly above Xu et al.'s jump threshold, here (3/2)(2c)^(2/3).
  c = 0.8
  threshold = 1.5 * (2 * c) ** (2 / 3)
  for x in (0.3, 1.0, 1.9, threshold - 1e-3, threshold + 1e-3, 3.7):
    z, _ = lp_norms.scalar_prox_oracle(x, c, 0.5)
    if x < threshold:
      assert z == 0.0, x
    else:
      lo = (c / 2) ** (1 / 3)
      u = minimize_scalar(lambda u: (u * u + c / u - x) ** 2, bounds=(lo, np.sqrt(x)),
                          method="bounded", options={"xatol": 1e-14}).x
      np.testing.assert_allclose(z, u * u, rtol=1e-7)
    np.testing.assert_allclose(jr.Lp(c, 0.5).prox(jnp.array([x]), 1.0)[0], z, atol=1e-7)


def test_brute_force_finds_the_global_minimum_of_a_separable_problem(x64):
  # X = √n·I on two features: F separates into two scalar Lp prox problems
  # at x = Xᵀy/n, whose minima the half-thresholding formula gives.
  n = 2
  X = np.sqrt(n) * np.eye(2)
  y = np.array([2.0, 0.6]) * np.sqrt(n)
  alpha = 0.5
  w, f = lp_norms.brute_force_minimum(X, y, alpha, 0.5, 401)
  expect = np.asarray(jr.Lp(alpha, 0.5).prox(jnp.asarray(X.T @ y / n), 1.0))
  np.testing.assert_allclose(w, expect, atol=1e-6)
  np.testing.assert_allclose(f, lp_norms.objective(expect, X, y, alpha, 0.5), rtol=1e-10)


def test_lasso_gap_is_zero_at_the_solution_and_positive_elsewhere(x64):
  rng = np.random.default_rng(0)
  X, y, _ = lp_norms.make_regression(rng, 40, 5, 2, 0.3, 0.5)
  from sklearn.linear_model import Lasso
  w = Lasso(alpha=0.1, fit_intercept=False, tol=1e-14, max_iter=100000).fit(X, y).coef_
  gap, primal = lp_norms.lasso_gap(X, y, w, 0.1)
  assert abs(gap) < 1e-12 * primal
  assert lp_norms.lasso_gap(X, y, w + 0.05, 0.1)[0] > 1e-4


def test_count_distinct():
  pts = np.array([[0.0, 1.0], [0.0, 1.0 + 1e-9], [1.0, 0.0]])
  n, reps, labels = lp_norms.count_distinct(pts, 1e-6)
  assert n == 2 and list(labels) == [0, 0, 1]


def test_fixed_point_map_is_ista_step(x64):
  X = jnp.eye(3)
  y = jnp.array([3.0, 0.5, -2.0])
  pen = jr.L1(0.3)
  # With X = I and n = 3, f(w) = ‖y − w‖²/6: from w = 0 one step of length 3
  # lands on y, then soft-thresholds at 3·0.3.
  t = lp_norms.prox_grad_map(pen, X, y, jnp.zeros(3), 3.0)
  np.testing.assert_allclose(t, [2.1, 0.0, -1.1], atol=1e-12)
