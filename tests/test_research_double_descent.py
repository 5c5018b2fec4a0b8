"""Tests for research.double_descent: min-norm risk against γ, tuned ridge, negative α."""

import math

import numpy as np
import pytest

from research import double_descent, workbench


@pytest.fixture(scope="module")
def result(tmp_path_factory):
  return double_descent.run(out_dir=tmp_path_factory.mktemp("double_descent"),
                            **double_descent.TEST_SETTINGS)


def test_result_shape(result):
  assert isinstance(result, workbench.Result)
  assert result.name == "double_descent" and result.plant is None
  assert len(result.figures) == 2 and all(p.exists() for p in result.figures)
  assert result.summary and len(result.tables) == 2
  assert {v.key for v in result.verdicts} == {
      "minnorm_matches_exact", "minnorm_matches_limit", "peak_at_interpolation",
      "tuned_alpha_optimal", "tuned_risk_monotone", "tuned_below_minnorm",
      "spiked_optimum_negative", "isotropic_optimum_positive"}


def test_every_verdict_passes_unplanted(result):
  failed = [(v.key, v.comparison) for v in result.verdicts if not v.passed]
  assert not failed, failed


def test_summary_states_the_measured_numbers(result):
  c = result.data["curves"]
  n = c["n"]
  assert f"The measured peak is at p = {n}" in result.summary
  assert f"α̂ = {result.data['spiked_alpha_hat']:.3g}" in result.summary
  for paper in ("Hastie, Montanari, Rosset & Tibshirani (2022)", "Dobriban & Wager (2018)",
                "Kobak, Lomond & Sanchez (2020)"):
    assert paper in result.summary
  # The grid points inside the infinite-mean band are never compared with a formula.
  band = np.abs(c["ps"] - n) <= 1
  assert band.sum() == 3 and not c["compared"][band].any()
  assert result.data["spiked_alpha_hat"] < 0 < result.data["isotropic_alpha_hat"]


# --- the formulas, against brute force ----------------------------------------------

def test_exact_risk_against_monte_carlo():
  # Minimum-norm least squares by NumPy's pinv on fresh Gaussian designs, excess risk
  # ‖w − w*‖² averaged: the inverse-Wishart formula within 5 standard errors.
  rng = np.random.default_rng(11)
  n, sigma, r, draws = 20, 0.7, 1.3, 4000
  for p in (8, 14, 27, 45):
    w = rng.standard_normal(p)
    w *= r / np.linalg.norm(w)
    x = rng.standard_normal((draws, n, p))
    y = x @ w + sigma * rng.standard_normal((draws, n))
    w_hat = np.einsum("dpn,dn->dp", np.linalg.pinv(x), y)
    risk = np.sum((w_hat - w) ** 2, axis=1)
    se = risk.std() / np.sqrt(draws)
    expected = double_descent.minnorm_risk_exact(n, p, sigma, r)
    assert abs(risk.mean() - expected) < 5 * se, (p, risk.mean(), expected, se)


def test_limit_and_correction_algebra():
  n, sigma, r = 50, 0.6, 1.4
  for p in (10, 30, 47, 53, 80, 200):
    exact = double_descent.minnorm_risk_exact(n, p, sigma, r)
    limit = double_descent.minnorm_risk_limit(p / n, sigma, r)
    corr = double_descent.finite_n_correction(n, p, sigma)
    assert exact - limit == pytest.approx(corr, rel=1e-12)
  assert double_descent.minnorm_risk_limit(0.5, sigma, r) == pytest.approx(sigma ** 2)
  assert double_descent.minnorm_risk_limit(2.0, sigma, r) == pytest.approx(r * r / 2 + sigma ** 2)
  for p in (n - 1, n, n + 1):
    assert math.isinf(double_descent.minnorm_risk_exact(n, p, sigma, r))
    assert math.isinf(double_descent.finite_n_correction(n, p, sigma))
  assert math.isinf(double_descent.minnorm_risk_limit(1.0, sigma, r))
  # The planted variants differ from the truth where they should.
  assert double_descent.minnorm_risk_limit(1.5, sigma, r, variance_below_one=True) < 0
  assert double_descent.minnorm_risk_exact(n, 10, sigma, r, with_variance=False) == 0.0


def test_nested_designs_peak_at_n():
  # tr((X_pᵀX_p)⁺) over the first p columns of one design rises to p = n and falls after.
  rng = np.random.default_rng(2)
  n = 12
  x = rng.standard_normal((n, 30))
  tr = [np.trace(np.linalg.pinv(x[:, :p].T @ x[:, :p])) for p in range(1, 31)]
  assert int(np.argmax(tr)) + 1 == n
  assert np.all(np.diff(tr[:n]) > 0) and np.all(np.diff(tr[n - 1:]) < 0)


def test_optimal_alpha_minimises_rotation_averaged_risk():
  # For any fixed X, E over w* uniform on the sphere of (w_α − w*)ᵀ(w_α − w*) is
  # Σᵢ (α²r²/p + σ²λᵢ/n)/(λᵢ + α)², λᵢ the eigenvalues of XᵀX/n: its argmin on a fine grid
  # is γσ²/r² whatever X is, with p < n and p > n.
  rng = np.random.default_rng(4)
  sigma, r = 0.5, 1.2
  for n, p in ((40, 15), (30, 70)):
    x = rng.standard_normal((n, p))
    lam = np.linalg.eigvalsh(x.T @ x / n)
    alphas = np.geomspace(1e-3, 1e2, 100001)
    risk = np.sum((alphas[:, None] ** 2 * r * r / p + sigma ** 2 * np.clip(lam, 0, None) / n)
                  / (np.clip(lam, 0, None) + alphas[:, None]) ** 2, axis=1)
    best = alphas[np.argmin(risk)]
    assert best == pytest.approx(double_descent.optimal_alpha(p / n, sigma, r), rel=1e-3)


def test_stieltjes_and_tuned_limit_against_large_wishart():
  rng = np.random.default_rng(5)
  n, sigma, r = 600, 0.5, 1.0
  for gamma in (0.5, 2.0):
    p = int(gamma * n)
    x = rng.standard_normal((n, p))
    s = np.linalg.eigvalsh(x.T @ x / n) if p <= n else np.r_[
        np.linalg.eigvalsh(x @ x.T / n), np.zeros(p - n)]
    a = double_descent.optimal_alpha(gamma, sigma, r)
    m_emp = np.mean(1 / (np.clip(s, 0, None) + a))
    # One design of this size: the empirical transform fluctuates around the law's by
    # O(1/p) (about 0.3% here); 2.5% still tells σ from σ² (a factor 2 in α*).
    assert m_emp == pytest.approx(float(double_descent.mp_stieltjes(gamma, a)), rel=2.5e-2)
    assert sigma ** 2 * gamma * m_emp == pytest.approx(
        double_descent.tuned_risk_limit(gamma, sigma, r), rel=2.5e-2)
    wrong = np.mean(1 / (np.clip(s, 0, None) + double_descent.optimal_alpha(
        gamma, sigma, r, noise_power=1)))
    assert abs(wrong / float(double_descent.mp_stieltjes(gamma, a)) - 1) > 0.1


def test_spiked_leading_order_sign():
  # The implicit ridge τ/n: a small bulk leaves the optimum positive, a large one negative.
  small = double_descent.spiked_leading_order(64, 1000, 0.5, 1.0, 0.5, 1.0)
  large = double_descent.spiked_leading_order(64, 1000, 32.0, 1.0, 0.5, 1.0)
  assert small["alpha"] > 0 > large["alpha"]
  assert large["risk_min"] < large["risk_zero"]
  assert double_descent.spiked_edge(64, 1000, 32.0) == pytest.approx(
      32.0 / 64 * (1 - math.sqrt(64 / 999)) ** 2)


# --- the fits, against NumPy and scikit-learn -----------------------------------------

@pytest.mark.parametrize("p", [7, 20, 33])
def test_isotropic_fit_against_lstsq_and_scikit_learn(x64, p):
  import jax.numpy as jnp
  from sklearn.linear_model import Ridge

  rng = np.random.default_rng(p)
  n = 20
  x = rng.standard_normal((n, p))
  noise = 0.3 * rng.standard_normal(n)
  w = rng.standard_normal(p)
  alphas = np.array([0.5, 0.05, 0.0])
  risk = np.asarray(double_descent._isotropic_fit(
      (jnp.asarray(x), jnp.asarray(noise)), jnp.asarray(w), jnp.asarray(alphas),
      np.float64(1.0), False))
  y = x @ w + noise
  # α = 0: the minimum-norm least-squares solution (lstsq and pinv agree).
  w0 = np.linalg.lstsq(x, y, rcond=None)[0]
  np.testing.assert_allclose(w0, np.linalg.pinv(x) @ y, rtol=1e-9, atol=1e-12)
  assert risk[-1] == pytest.approx(np.sum((w0 - w) ** 2), rel=1e-8)
  for k, a in enumerate(alphas[:-1]):
    coef = Ridge(alpha=n * a, fit_intercept=False, solver="svd").fit(x, y).coef_
    assert risk[k] == pytest.approx(np.sum((coef - w) ** 2), rel=1e-9)


def test_spectral_fit_against_primal_solve_and_scikit_learn(x64):
  # α ≥ 0 from ridge_path against scikit-learn; α < 0 from the dual solve against the
  # primal (XᵀX/n + αI)⁻¹Xᵀy/n (equal by the push-through identity while both exist).
  import jax.numpy as jnp
  from sklearn.linear_model import Ridge

  rng = np.random.default_rng(8)
  n, p = 15, 60
  scale = np.r_[1.0, np.full(p - 1, 0.2)]
  z = rng.standard_normal((n, p))
  noise = 0.4 * rng.standard_normal(n)
  w = np.zeros(p)
  w[0] = 1.0
  x = z * scale
  y = x @ w + noise
  lam_min = np.linalg.eigvalsh(x @ x.T / n)[0]
  pos = np.array([0.3, 0.01, 0.0])
  neg = np.array([-0.2, -0.7]) * lam_min
  weight = scale ** 2
  risk, lmin = double_descent._spectral_fit(
      (jnp.asarray(z), jnp.asarray(noise)), jnp.asarray(w), jnp.asarray(scale),
      jnp.asarray(weight), jnp.asarray(pos), jnp.asarray(neg), np.float64(1.0), np.bool_(False))
  risk = np.asarray(risk)
  assert float(lmin) == pytest.approx(lam_min, rel=1e-10)
  w0 = np.linalg.pinv(x) @ y
  assert risk[2] == pytest.approx(np.sum(weight * (w0 - w) ** 2), rel=1e-8)
  for k, a in enumerate(pos[:2]):
    coef = Ridge(alpha=n * a, fit_intercept=False, solver="svd").fit(x, y).coef_
    assert risk[k] == pytest.approx(np.sum(weight * (coef - w) ** 2), rel=1e-9)
  for k, a in enumerate(neg):
    coef = np.linalg.solve(x.T @ x / n + a * np.eye(p), x.T @ y / n)
    assert risk[len(pos) + k] == pytest.approx(np.sum(weight * (coef - w) ** 2), rel=1e-7)
  # Below −λ_min the dual solve is not a ridge: reported as NaN, never as a number.
  bad, _ = double_descent._spectral_fit(
      (jnp.asarray(z), jnp.asarray(noise)), jnp.asarray(w), jnp.asarray(scale),
      jnp.asarray(weight), jnp.asarray(pos), jnp.asarray(np.array([-1.5 * lam_min])),
      np.float64(1.0), np.bool_(False))
  assert np.isnan(np.asarray(bad)[-1])


def test_unknown_plant_is_refused():
  with pytest.raises(ValueError, match="unknown plant"):
    double_descent.run(plant="alpha_doubled", **double_descent.TEST_SETTINGS)
