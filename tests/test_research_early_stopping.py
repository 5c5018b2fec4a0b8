"""Tests for research.early_stopping: gradient descent's filter and risk against ridge's."""

import numpy as np
import pytest
import scipy.linalg
from scipy.optimize import minimize_scalar

from research import early_stopping, workbench


@pytest.fixture(scope="module")
def result(tmp_path_factory):
  return early_stopping.run(out_dir=tmp_path_factory.mktemp("early_stopping"),
                            **early_stopping.TEST_SETTINGS)


def test_result_shape(result):
  assert isinstance(result, workbench.Result)
  assert result.name == "early_stopping" and result.plant is None
  assert len(result.figures) == 1 and all(p.exists() for p in result.figures)
  assert result.summary and len(result.tables) == 3
  assert {v.key for v in result.verdicts} == {
      "gd_filter_matches", "gd_ridge_sandwich", "risk_matches_monte_carlo",
      "gf_estimation_risk_bound", "gf_bayes_prediction_risk_bound"}


def test_every_verdict_passes_unplanted(result):
  failed = [(v.key, v.comparison) for v in result.verdicts if not v.passed]
  assert not failed, failed


def test_summary_states_the_paper_and_the_measured_numbers(result):
  rows, adv = result.data["ratios"], result.data["adversarial"]
  assert "Ali, Kolter & Tibshirani (2019)" in result.summary and "1.6862" in result.summary
  assert f"**{max(r['est'] for r in rows):.4f}**" in result.summary
  assert f"**{max(r['bayes'] for r in rows):.4f}**" in result.summary
  assert f"**{max(d['ratio'] for d in adv):.3g}**" in result.summary
  # The measured maxima stay below the supremum 1.68591… of the per-direction ratio.
  assert max(r["est"] for r in rows) < 1.68592


def test_filter_tolerance_is_far_below_the_planted_errors(result):
  fl = result.data["filters"]
  # The unplanted deviation uses a small part of the rounding budget, and the budget
  # itself is far below a one-step shift of the filter (the off-by-one plant).
  assert np.max(fl["z_filter"]) < 0.1
  shift = np.abs(early_stopping.gd_filter(fl["lam"], fl["eta"], fl["steps"] + 1) - fl["phi_pred"])
  assert np.max(shift / (fl["tol_gd"] * 1e3)) > 1


# --- oracles independent of the module's measurement -------------------------------------

def _design(rng, n, p, decades=2.0):
  cov = np.logspace(0, -decades, p)
  return rng.standard_normal((n, p)) * np.sqrt(cov), cov


def test_gd_filter_against_a_numpy_gradient_descent_loop():
  rng = np.random.default_rng(5)
  n, p = 30, 8
  x, _ = _design(rng, n, p)
  y = rng.standard_normal(n)
  s, b = x.T @ x / n, x.T @ y / n
  lam, v = np.linalg.eigh(s)
  eta = 0.8 / lam.max()
  w = np.zeros(p)
  steps = [1, 2, 5, 40, 300]
  for t in range(1, steps[-1] + 1):
    w = w - eta * (x.T @ (x @ w - y) / n)                  # the explicit loop
    if t in steps:
      measured = lam * (v.T @ w) / (v.T @ b)
      predicted = early_stopping.gd_filter(lam, eta, [t])[0]
      np.testing.assert_allclose(measured, predicted, rtol=1e-9, atol=1e-12)


def test_optax_iterates_equal_the_numpy_loop(x64):
  import jax
  import jax.numpy as jnp

  rng = np.random.default_rng(6)
  n, p = 25, 40                                            # p > n: a null space too
  x, _ = _design(rng, n, p)
  y = rng.standard_normal(n)
  eta = 0.9 / np.linalg.eigvalsh(x.T @ x / n).max()
  checkpoints = np.array([1, 3, 10, 50])
  segments = np.diff(np.concatenate([[0], checkpoints])).astype(np.int32)
  ws, wmax = jax.jit(early_stopping._gd_iterates)(jnp.asarray(x), jnp.asarray(y), eta, 1.0,
                                                   jnp.asarray(segments))
  w, expected, peak = np.zeros(p), [], np.zeros(p)
  for t in range(1, checkpoints[-1] + 1):
    w = w - eta * (x.T @ (x @ w - y) / n)
    peak = np.maximum(peak, np.abs(w))
    if t in checkpoints:
      expected.append(w.copy())
  np.testing.assert_allclose(np.asarray(ws), np.array(expected), rtol=1e-10, atol=1e-13)
  np.testing.assert_allclose(np.asarray(wmax), peak, rtol=1e-10)


def test_ridge_filter_against_scikit_learn(x64):
  import jax.numpy as jnp
  from sklearn.linear_model import Ridge

  rng = np.random.default_rng(7)
  n, p = 40, 6
  x, _ = _design(rng, n, p)
  ys = rng.standard_normal((3, n))
  alphas = np.array([2.0, 0.3, 0.01])                      # decreasing: ridge_path's order
  coefs = np.asarray(early_stopping._ridge_over_targets(jnp.asarray(x), jnp.asarray(ys),
                                                        jnp.asarray(alphas)))
  lam, v = np.linalg.eigh(x.T @ x / n)
  for r, y in enumerate(ys):
    b = x.T @ y / n
    for k, a in enumerate(alphas):
      w = Ridge(alpha=n * a, fit_intercept=False, solver="cholesky").fit(x, y).coef_
      np.testing.assert_allclose(coefs[r, k], w, rtol=1e-9, atol=1e-12)
      filt = lam * (v.T @ w) / (v.T @ b)
      np.testing.assert_allclose(filt, early_stopping.ridge_filter(lam, [a])[0], rtol=1e-8)


def test_gradient_flow_risk_against_matrix_exponential():
  # Gradient flow w(t) = (I − e^{−tS}) S⁺ b written with scipy's expm and pinv; its
  # bias and covariance give the risks without any eigen-filter.
  rng = np.random.default_rng(8)
  for n, p in ((30, 12), (15, 25)):
    x, cov = _design(rng, n, p)
    w_star = rng.standard_normal(p)
    sigma = 0.7
    s = x.T @ x / n
    lam, v = np.linalg.eigh(s)
    lam = np.where(lam > lam.max() * 1e-12, lam, 0.0)
    for t in (0.3, 4.0, 60.0):
      a = (np.eye(p) - scipy.linalg.expm(-t * s)) @ np.linalg.pinv(s)   # w = a·Xᵀy/n
      bias = a @ s @ w_star - w_star
      c = sigma ** 2 / n * a @ s @ a.T
      est = bias @ bias + np.trace(c)
      pred = bias @ (cov * bias) + np.trace(cov[:, None] * c)
      bayes = np.trace((a @ s - np.eye(p)).T @ (cov[:, None] * (a @ s - np.eye(p)))) / p \
          + np.trace(cov[:, None] * c)
      out = early_stopping.filter_risk(lam, early_stopping.gf_filter(lam, [t]), v.T @ w_star,
                                       sigma, n, m_diag=np.einsum("ij,i,ij->j", v, cov, v),
                                       prior_r2=1.0, m=(v * cov[:, None]).T @ v)
      assert out["estimation"][0] == pytest.approx(est, rel=1e-8)
      assert out["prediction"][0] == pytest.approx(pred, rel=1e-8)
      assert out["bayes_prediction"][0] == pytest.approx(bayes, rel=1e-8)


def test_closed_form_risks_against_monte_carlo():
  # NumPy gradient descent and ridge on many noise draws (and prior draws of w*).
  rng = np.random.default_rng(9)
  n, p, sigma, draws = 20, 30, 0.8, 20000
  x, cov = _design(rng, n, p, decades=1.0)
  w_star = rng.standard_normal(p) / np.sqrt(p)
  s = x.T @ x / n
  lam, v = np.linalg.eigh(s)
  lam = np.where(lam > lam.max() * 1e-12, lam, 0.0)
  eta, steps = 0.7 / lam.max(), 25
  alpha = 1.0 / (eta * steps)
  for prior in (False, True):
    truth = (rng.standard_normal((draws, p)) / np.sqrt(p) if prior
             else np.broadcast_to(w_star, (draws, p)))
    y = truth @ x.T + sigma * rng.standard_normal((draws, n))
    b = y @ x / n
    w = np.zeros((draws, p))
    for _ in range(steps):
      w = w - eta * (w @ s - b)
    w_ridge = np.linalg.solve(s + alpha * np.eye(p), b.T).T
    common = dict(lam=lam, u=v.T @ w_star, noise=sigma, n=n,
                  m_diag=np.einsum("ij,i,ij->j", v, cov, v), prior_r2=1.0)
    for fit, phi in ((w, early_stopping.gd_filter(lam, eta, [steps])),
                     (w_ridge, early_stopping.ridge_filter(lam, [alpha]))):
      err = fit - truth
      risk = (np.einsum("rp,p,rp->r", err, cov, err) if prior else np.sum(err ** 2, axis=1))
      closed = early_stopping.filter_risk(phi=phi, **common)
      expected = closed["bayes_prediction" if prior else "estimation"][0]
      se = risk.std() / np.sqrt(draws)
      assert abs(risk.mean() - expected) < 5 * se, (prior, risk.mean(), expected, se)
      dropped = early_stopping.filter_risk(phi=phi, with_variance=False, **common)
      assert abs(risk.mean() - dropped["bayes_prediction" if prior else "estimation"][0]) > 5 * se


def test_filter_risk_limits():
  rng = np.random.default_rng(10)
  n, p, sigma = 50, 6, 1.3
  x, cov = _design(rng, n, p)
  w_star = rng.standard_normal(p)
  lam, v = np.linalg.eigh(x.T @ x / n)
  m = (v * cov[:, None]).T @ v
  args = dict(lam=lam, u=v.T @ w_star, noise=sigma, n=n, m_diag=np.diag(m).copy(), m=m)
  none = early_stopping.filter_risk(phi=np.zeros((1, p)), **args)
  assert none["estimation"][0] == pytest.approx(w_star @ w_star)
  assert none["prediction"][0] == pytest.approx(w_star @ (cov * w_star))
  ols = early_stopping.filter_risk(phi=np.ones((1, p)), **args)
  s_inv = np.linalg.inv(x.T @ x / n)
  assert ols["estimation"][0] == pytest.approx(sigma ** 2 / n * np.trace(s_inv))
  assert ols["prediction"][0] == pytest.approx(sigma ** 2 / n * np.trace(np.diag(cov) @ s_inv))


def test_sandwich_bound_holds_and_is_tight_at_one_step():
  x = np.logspace(-4, 0, 60)                               # ηλ in (0, 1]
  steps = np.unique(np.round(np.logspace(0, 5, 80)))
  g = 1 - np.power(1 - x[None, :], steps[:, None])
  y = steps[:, None] * x[None, :]
  r = y / (1 + y)
  gap = g - r
  assert np.all(gap >= -1e-15)
  assert np.all(gap <= early_stopping.sandwich_bound(y) + 1e-15)
  np.testing.assert_allclose(gap[0], early_stopping.sandwich_bound(y[0]), rtol=1e-6, atol=1e-15)


def test_gd_filter_formula_in_every_regime():
  lam = np.array([1e-9, 0.3, 1.0, 1.6, 2.5])
  for t in (1, 2, 7, 30):
    direct = 1 - (1 - lam) ** t
    got = early_stopping.gd_filter(lam, 1.0, [t])[0]
    np.testing.assert_allclose(got[1:], direct[1:], rtol=1e-12)
    assert got[0] == pytest.approx(t * 1e-9, rel=1e-6)    # no cancellation for tiny ηλ


def test_paper_constant_is_the_rounded_supremum():
  res = minimize_scalar(lambda z: -((1 - np.exp(-z)) * (1 + z) / z) ** 2, bounds=(0.1, 10),
                        method="bounded", options=dict(xatol=1e-10))
  assert -res.fun == pytest.approx(1.685909, abs=1e-6)
  assert -res.fun <= early_stopping.PAPER_CONSTANT < -res.fun + 5e-4
  # Discrete steps approach it from above as the step shrinks.
  sups = [early_stopping.discrete_variance_sup(z) for z in (0.9, 0.1, 0.01, 0.001)]
  assert sups[0] == pytest.approx(3.61) and np.all(np.diff(sups) < 0) and sups[-1] > -res.fun


def test_unknown_plant_is_refused():
  with pytest.raises(ValueError, match="unknown plant"):
    early_stopping.run(plant="alpha_squared", **early_stopping.TEST_SETTINGS)
