"""Tests for research.bias_penalty: what penalising the bias costs, predicted and measured."""

import numpy as np
import pytest

import jaxreg as jr
from research import bias_penalty, workbench


@pytest.fixture(scope="module")
def result(tmp_path_factory):
  return bias_penalty.run(out_dir=tmp_path_factory.mktemp("bias_penalty"),
                          **bias_penalty.TEST_SETTINGS)


def test_result_shape(result):
  assert isinstance(result, workbench.Result)
  assert result.name == "bias_penalty" and result.plant is None
  assert len(result.figures) == 1 and all(p.exists() for p in result.figures)
  assert result.summary and result.tables
  assert {v.key for v in result.verdicts} == {
      "penalised_bias_closed_form", "unpenalised_bias_is_mean", "weights_match_ridge",
      "bias_penalty_cost"}


def test_every_verdict_passes_unplanted(result):
  failed = [(v.key, v.comparison) for v in result.verdicts if not v.passed]
  assert not failed, failed


def test_cost_grows_with_alpha_and_is_stated(result):
  lin = result.data["linear"]
  cost = lin["cost_meas"]
  assert cost[-1] > 10 * cost[len(cost) // 2] > 0
  assert f"{cost[-1]:.3g}" in result.summary


def test_intercept_closed_form_by_brute_force():
  # Minimise (1/2n)‖y − Xw − b‖² + (α/2)(‖w‖² + b²) by its full normal equations
  # in NumPy, with X centred: the intercept is ȳ/(1 + α), the weights ridge's.
  rng = np.random.default_rng(0)
  n, p, alpha = 40, 3, 0.37
  x = rng.standard_normal((n, p)) + 4.0
  x -= x.mean(0)
  y = 7.0 + x @ rng.standard_normal(p) + rng.standard_normal(n)
  a = np.hstack([x, np.ones((n, 1))])
  theta = np.linalg.solve(a.T @ a / n + alpha * np.eye(p + 1), a.T @ y / n)
  assert theta[-1] == pytest.approx(bias_penalty.penalised_intercept(y.mean(), alpha), rel=1e-12)
  w_ridge = np.linalg.solve(x.T @ x / n + alpha * np.eye(p), x.T @ y / n)
  np.testing.assert_allclose(theta[:p], w_ridge, rtol=1e-12)


def test_predicted_cost_is_the_mse_shift():
  # Shifting every prediction down by d changes the MSE by d² + 2d·mean(r).
  rng = np.random.default_rng(1)
  r = rng.standard_normal(1000) + 0.1
  y_mean, alpha = 6.0, 0.5
  d = y_mean - bias_penalty.penalised_intercept(y_mean, alpha)
  shift = np.mean((r + d) ** 2) - np.mean(r ** 2)
  assert bias_penalty.predicted_cost(y_mean, alpha, r.mean()) == pytest.approx(shift, rel=1e-12)


@pytest.mark.parametrize("mask", [None, jr.masks.weights_only,
                                  bias_penalty._inverted_weights_only])
def test_fit_linear_against_numpy(x64, mask):
  import jax.numpy as jnp

  rng = np.random.default_rng(2)
  n, p, alpha = 30, 4, 0.2
  x = rng.standard_normal((n, p))
  y = 3.0 + x @ rng.standard_normal(p) + 0.5 * rng.standard_normal(n)
  params = bias_penalty._fit_linear(jr.L2(jnp.asarray(alpha), mask=mask), jnp.asarray(x),
                                    jnp.asarray(y))
  on_w = mask is None or mask is jr.masks.weights_only
  on_b = mask is None or mask is bias_penalty._inverted_weights_only
  a = np.hstack([x, np.ones((n, 1))])
  d = np.diag([alpha * on_w] * p + [alpha * on_b])
  theta = np.linalg.solve(a.T @ a / n + d, a.T @ y / n)
  np.testing.assert_allclose(np.asarray(params["kernel"])[:, 0], theta[:p], rtol=1e-10)
  assert float(params["bias"][0]) == pytest.approx(theta[p], rel=1e-10)


def test_network_measurement_runs(tmp_path):
  res = bias_penalty.run(out_dir=tmp_path, n_test=2000, net_splits=2, net_alphas=(0.3,),
                         net_steps=100, net_n_test=200)
  net = res.data["network"]
  assert net is not None and net["cost"].shape == (1,) and np.isfinite(net["cost"]).all()
  assert len(res.tables) == 2 and "**A network**" in res.summary


def test_unknown_plant_is_refused():
  with pytest.raises(ValueError, match="unknown plant"):
    bias_penalty.run(plant="bias_doubled", **bias_penalty.TEST_SETTINGS)
