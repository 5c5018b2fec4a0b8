"""Hessian shrinkage: the closed forms against independent oracles, and the run's verdicts."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from research import shrinkage, workbench

KEYS = {"l2_random_quadratics", "l2_diabetes", "l1_soft_threshold", "l1_exact_zeros",
        "net_first_order", "net_formula_beats_linearisation"}


@pytest.fixture(scope="module")
def small(tmp_path_factory):
  workbench.set_quiet(True)
  yield shrinkage.run(seed=0, out_dir=tmp_path_factory.mktemp("shrinkage"),
                      **shrinkage.TEST_SETTINGS)
  workbench.set_quiet(False)


def test_the_unplanted_run_passes_every_verdict(small):
  assert small.plant is None
  assert {v.key for v in small.verdicts} == KEYS
  for v in small.verdicts:
    assert v.passed, (v.key, v.statistic, v.comparison, v.detail)
    assert v.threshold_from
  assert [f.name for f in small.figures] == [
      "shrinkage_l2.png", "shrinkage_l1.png", "shrinkage_l1_breaks.png", "shrinkage_network.png"]
  assert all(f.stat().st_size > 0 for f in small.figures)


def test_l2_minimum_solves_the_normal_equations_and_matches_sklearn_ridge(small):
  """Independent of the eigen-decomposition: (H + αI) ŵ = H w*, and sklearn's Ridge on diabetes."""
  from sklearn.linear_model import Ridge

  d = small.data
  for H, w_star, alphas, measured in zip(d["l2_hessians"], d["l2_w_stars"], d["l2_alphas"],
                                         d["l2_measured"]):
    for a, w in zip(alphas, measured):
      expected = np.linalg.solve(H + a * np.eye(len(H)), H @ w_star)
      np.testing.assert_allclose(w, expected, rtol=1e-8, atol=1e-10 * np.linalg.norm(w_star))
  X, y = shrinkage._diabetes()
  n = len(X)
  for a, w in zip(d["l2_alphas"][-1], d["l2_measured"][-1]):
    # sklearn's Ridge minimises ‖y − Xw‖² + a‖w‖²: jaxreg's L2(a/n).
    ridge = Ridge(alpha=n * a, fit_intercept=False, solver="svd").fit(X, y)
    np.testing.assert_allclose(w, ridge.coef_, rtol=1e-8, atol=1e-12)


def test_l1_on_whitened_diabetes_matches_sklearn_lasso(small):
  from sklearn.linear_model import Lasso

  d = small.data
  for a, w in zip(d["l1_alphas"][-1], d["l1_measured"][-1]):
    lasso = Lasso(alpha=a, fit_intercept=False, tol=1e-14, max_iter=100000).fit(d["l1_ls_X"],
                                                                               d["l1_ls_y"])
    np.testing.assert_allclose(w, lasso.coef_, atol=1e-9)
    np.testing.assert_array_equal(w == 0, lasso.coef_ == 0)


def test_predictions_match_brute_force():
  rng = np.random.default_rng(1)
  A = rng.standard_normal((5, 5))
  H, w_star = A @ A.T + 0.1 * np.eye(5), rng.standard_normal(5)
  np.testing.assert_allclose(shrinkage.predict_l2(H, w_star, 0.7),
                             np.linalg.solve(H + 0.7 * np.eye(5), H @ w_star), rtol=1e-10)
  alphas = np.array([0.1, 1.0, 10.0])
  np.testing.assert_allclose(shrinkage.predict_l2(H, w_star, alphas)[2],
                             shrinkage.predict_l2(H, w_star, 10.0), rtol=1e-12)
  np.testing.assert_allclose(shrinkage.predict_l2_linearised(H, w_star, 0.7),
                             w_star - 0.7 * np.linalg.solve(H, w_star), rtol=1e-10)
  # The two agree to first order: their difference shrinks like α².
  gaps = [np.linalg.norm(shrinkage.predict_l2(H, w_star, a)
                         - shrinkage.predict_l2_linearised(H, w_star, a)) for a in (1e-4, 1e-3)]
  assert 80 < gaps[1] / gaps[0] < 120
  # Scalar problem ½h(w − w*)² + α|w| minimised on a fine grid.
  grid = np.linspace(-4, 4, 800001)
  for h, ws, a in [(2.0, 1.5, 1.0), (0.5, -1.0, 1.0), (3.0, -2.0, 0.3)]:
    brute = grid[np.argmin(0.5 * h * (grid - ws) ** 2 + a * np.abs(grid))]
    pred = float(shrinkage.predict_l1_diagonal(np.array(h), np.array(ws), a))
    assert abs(pred - brute) < 1e-4


def test_the_diagonal_l1_formula_is_exact_without_correlation_and_breaks_with_it(small):
  d = small.data
  err = d["breaks_error"].mean(axis=1)
  assert err[0] < 1e-12 and err[-1] > 0.05  # exact at ρ = 0, measurably wrong at ρ = 0.9.
  assert d["breaks_converged"].all()


def test_network_minimum_is_a_converged_minimum(small, x64):
  """Re-checked through flax's own apply on the parameter pytree, not the flat objective."""
  import flax.linen as nn
  from jax.flatten_util import ravel_pytree

  d = small.data
  assert d["net_converged"]
  assert d["net_eigenvalues"].min() > 0  # H at w* is positive definite: a minimum.
  hidden = shrinkage.TEST_SETTINGS["net_hidden"]

  class MLP(nn.Module):
    @nn.compact
    def __call__(self, x):
      h = jnp.tanh(nn.Dense(hidden, name="hidden")(x))
      return nn.Dense(1, name="out")(h)[..., 0]

  X, y = shrinkage._diabetes()
  model = MLP()
  _, unravel = ravel_pytree(jax.tree_util.tree_map(
      lambda a: jnp.zeros(a.shape, jnp.float64), model.init(jax.random.PRNGKey(0), X[:1])))
  base = shrinkage.DEFAULTS["net_base_alpha"]

  def objective(w, alpha):
    p = unravel(w)
    leaves = jax.tree_util.tree_leaves(p)
    return (0.5 * jnp.mean((model.apply(p, X) - y) ** 2)
            + 0.5 * alpha * sum(jnp.sum(l ** 2) for l in leaves))

  grad = jax.jit(jax.grad(objective))
  assert np.linalg.norm(grad(d["net_w_star"], base)) < 1e-10
  for a, w in zip(d["net_alphas"], d["net_measured"]):
    assert np.linalg.norm(grad(w, base + a)) < 1e-10


def test_the_summary_states_what_the_data_show(small):
  d = dict(small.data)
  text = shrinkage._summary(d)
  assert f"slope {d['net_slope']:.2f}" in text
  # Conditional wording: an error that never reaches 10 % is said to stay below it.
  d["net_error"] = 1e-3 * d["net_moved"]
  assert "stayed below 10 %" in shrinkage._summary(d)
  d["net_error"] = 0.5 * d["net_moved"]
  assert "first exceeded 10 %" in shrinkage._summary(d)


def test_unknown_plants_and_settings_are_rejected():
  with pytest.raises(ValueError, match="unknown plant"):
    shrinkage.run(plant="no_such_mistake")
  with pytest.raises(TypeError, match="unknown settings"):
    shrinkage.run(l3_alphas=3)


def test_the_weak_decay_measurement_reports_where_the_quadratic_model_holds(x64):
  cfg = dict(shrinkage.DEFAULTS, **shrinkage.TEST_SETTINGS)
  cfg.update(net_weak_alpha=1e-2, net_weak_grid=(1e-2, 1e2, 3))
  _, unravel, evaluate = shrinkage._mlp(cfg["net_hidden"])
  X, y = shrinkage._diabetes()
  p = cfg["net_hidden"] * (X.shape[1] + 2) + 1
  w0 = np.random.default_rng(0).standard_normal(p) / np.sqrt(10)
  at = lambda a: (lambda w: evaluate(X, y, w, np.float64(a))[:3])
  table, data = shrinkage._weak_decay(at, w0, cfg)
  assert len(table.rows) == 3 and data["weak_converged"].all()
  # To first order the formula is exact: at α = λ_min/100 its error is a small part of the move.
  assert data["weak_rel_error"][0] < 0.1
  assert "weak base decay" in shrinkage._summary(data)
