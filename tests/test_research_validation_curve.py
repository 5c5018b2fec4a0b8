"""Tests for research.validation_curve: ridge's validation curve against bias² + variance."""

import numpy as np
import pytest

from research import validation_curve, workbench


@pytest.fixture(scope="module")
def result(tmp_path_factory):
  return validation_curve.run(out_dir=tmp_path_factory.mktemp("validation_curve"),
                              **validation_curve.TEST_SETTINGS)


def test_result_shape(result):
  assert isinstance(result, workbench.Result)
  assert result.name == "validation_curve" and result.plant is None
  assert len(result.figures) == 1 and all(p.exists() for p in result.figures)
  assert result.summary and len(result.tables) == 2
  assert {v.key for v in result.verdicts} == {
      "training_error_monotone", "validation_matches_risk", "argmin_matches_risk",
      "minimum_inside_grid"}


def test_every_verdict_passes_unplanted(result):
  failed = [(v.key, v.comparison) for v in result.verdicts if not v.passed]
  assert not failed, failed


def test_summary_states_the_measured_numbers(result):
  near, far = result.data["p ≈ n"], result.data["n ≫ p"]
  assert f"α̂ = {near['alphas'][near['i_hat']]:.3g}" in result.summary
  assert f"{100 * far['rel_small']:+.2f}%" in result.summary
  # p ≈ n overfits at the small end far more than n ≫ p.
  assert near["rel_small"] > 10 * abs(far["rel_small"])


def test_predicted_risk_against_monte_carlo():
  # Brute force: refit ridge on many noise draws with a NumPy solve and average
  # the exact excess risk (w − w*)ᵀΣ(w − w*) of each fit.
  rng = np.random.default_rng(3)
  n, p, sigma = 12, 6, 0.7
  cov = np.diag(np.linspace(1.0, 0.2, p))
  w_star = rng.standard_normal(p)
  x = rng.standard_normal((n, p)) * np.sqrt(np.diag(cov))
  s = x.T @ x / n
  alphas = np.array([1e-3, 0.1, 1.0, 10.0])
  pred = validation_curve.predicted_risk(s, cov, w_star, sigma, n, alphas)
  draws = 40000
  y = x @ w_star + sigma * rng.standard_normal((draws, n))
  for k, a in enumerate(alphas):
    w = np.linalg.solve(s + a * np.eye(p), x.T @ y.T / n).T
    e = w - w_star
    risk = sigma ** 2 + np.einsum("ri,ij,rj->r", e, cov, e)
    se = risk.std() / np.sqrt(draws)
    assert abs(risk.mean() - pred["risk"][k]) < 5 * se, (a, risk.mean(), pred["risk"][k], se)


def test_predicted_risk_limits():
  rng = np.random.default_rng(0)
  n, p, sigma = 30, 8, 1.3
  cov = np.diag(rng.uniform(0.5, 2.0, p))
  w_star = rng.standard_normal(p)
  x = rng.standard_normal((n, p)) * np.sqrt(np.diag(cov))
  s = x.T @ x / n
  pred = validation_curve.predicted_risk(s, cov, w_star, sigma, n, np.array([0.0, 1e12]))
  # α = 0: no bias, the least-squares variance (σ²/n) tr(Σ S⁻¹).
  assert pred["bias2"][0] == pytest.approx(0.0, abs=1e-24)
  assert pred["variance"][0] == pytest.approx(sigma ** 2 / n * np.trace(cov @ np.linalg.inv(s)))
  # α → ∞: w = 0, the risk of predicting nothing.
  assert pred["risk"][1] == pytest.approx(sigma ** 2 + w_star @ cov @ w_star, rel=1e-9)
  dropped = validation_curve.predicted_risk(s, cov, w_star, sigma, n, np.array([0.0]),
                                            with_variance=False)
  assert dropped["risk"][0] == pytest.approx(sigma ** 2)


def test_curves_against_scikit_learn(x64):
  # One repetition of the measurement against scikit-learn's Ridge(alpha=n·α).
  import jax.numpy as jnp
  from sklearn.linear_model import Ridge

  rng = np.random.default_rng(1)
  n, p, m = 20, 5, 7
  x = rng.standard_normal((n, p))
  w_star = rng.standard_normal(p)
  draw = (rng.standard_normal(n), rng.standard_normal((m, p)), rng.standard_normal(m))
  alphas = np.array([0.01, 0.1, 1.0])
  val, train = validation_curve._curves(tuple(map(jnp.asarray, draw)), jnp.asarray(x),
                                        jnp.asarray(w_star), jnp.asarray(alphas),
                                        np.float64(1.0), np.bool_(False))
  y = x @ w_star + draw[0]
  y_val = draw[1] @ w_star + draw[2]
  for k, a in enumerate(alphas):
    model = Ridge(alpha=n * a, fit_intercept=False, solver="cholesky").fit(x, y)
    assert float(val[k]) == pytest.approx(np.mean((y_val - model.predict(draw[1])) ** 2), rel=1e-10)
    assert float(train[k]) == pytest.approx(np.mean((y - model.predict(x)) ** 2), rel=1e-10)


def test_alpha_grid_spans_the_spectrum():
  s = np.diag([0.5, 2.0, 4.0])
  grid = validation_curve.alpha_grid(s, 9)
  assert grid[0] == pytest.approx(0.05) and grid[-1] == pytest.approx(40.0)
  assert np.all(np.diff(np.log(grid)) > 0)


def test_unknown_plant_is_refused():
  with pytest.raises(ValueError, match="unknown plant"):
    validation_curve.run(plant="alpha_doubled", **validation_curve.TEST_SETTINGS)
