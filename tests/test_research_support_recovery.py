"""Tests for research.support_recovery: irrepresentability, Wainwright's threshold, lasso df."""

import numpy as np
import pytest

from research import support_recovery as sr, workbench


@pytest.fixture(scope="module")
def result(tmp_path_factory):
  return sr.run(out_dir=tmp_path_factory.mktemp("support_recovery"), **sr.TEST_SETTINGS)


def test_result_shape(result):
  assert isinstance(result, workbench.Result)
  assert result.name == "support_recovery" and result.plant is None
  assert len(result.figures) == 1 and all(p.exists() for p in result.figures)
  assert result.summary and len(result.tables) == 3
  assert {v.key for v in result.verdicts} == {
      "irrepresentable_holds_recovers", "irrepresentable_fails_stays_low",
      "wainwright_fails_below", "wainwright_succeeds_above", "wainwright_matches_finite_size",
      "wainwright_crossing_near_one", "df_equals_expected_support"}


def test_every_verdict_passes_unplanted(result):
  failed = [(v.key, v.comparison) for v in result.verdicts if not v.passed]
  assert not failed, failed


def test_summary_states_the_papers_and_the_measured_numbers(result):
  for paper in ("Zhao & Yu (2006)", "Wainwright (2009)", "Zou, Hastie & Tibshirani (2007)"):
    assert paper in result.summary
  wt = result.data["wainwright"]
  assert f"**{wt['theta_hat']:.3f}**" in result.summary
  # The solver converged on every problem of every part.
  assert result.data["irrepresentable"]["converged"] == 1.0 and wt["converged"] == 1.0
  assert all(o["converged"] == 1.0 for o in result.data["df"]["rows"])


# --- oracles independent of the module's measurement -------------------------------------

def _direct_norm(cov, support, signs):
  rest = [j for j in range(cov.shape[0]) if j not in set(support)]
  inv = np.linalg.inv(cov[np.ix_(support, support)])
  return np.max(np.abs(cov[np.ix_(rest, support)] @ inv @ signs))


def test_irrepresentable_norm_against_numpy():
  rng = np.random.default_rng(0)
  for _ in range(5):
    a = rng.standard_normal((12, 12))
    cov = a @ a.T / 12 + 0.3 * np.eye(12)
    support = rng.choice(12, 4, replace=False)
    signs = rng.choice([-1.0, 1.0], 4)
    assert sr.irrepresentable_norm(cov, support, signs) == pytest.approx(
        _direct_norm(cov, support, signs), rel=1e-10)
  # The two designs: 2ρ/(1 + ρ²) for the Toeplitz one, s·c for the bad feature.
  s = np.array([0, 2, 4])
  for rho in (0.3, 0.5, 0.7):
    assert sr.irrepresentable_norm(sr.toeplitz_cov(16, rho), s, np.ones(3)) == pytest.approx(
        2 * rho / (1 + rho ** 2))
  assert sr.irrepresentable_norm(sr.bad_feature_cov(16, s, 15, 0.5), s, np.ones(3)) == \
      pytest.approx(1.5)
  # The planted norm (no Σ_SS⁻¹) calls the Toeplitz design a violation: ρ + ρ + ρ³ > 1.
  planted = sr.irrepresentable_norm(sr.toeplitz_cov(16, 0.5), s, np.ones(3), with_inverse=False)
  assert planted == pytest.approx(1.125) and planted > 1


def test_supports_against_scikit_learn(x64):
  from sklearn.linear_model import Lasso

  rng = np.random.default_rng(1)
  # The p × p square-root form (claim 1, claim 3) against Lasso on the original data.
  n, p = 90, 16
  x = rng.standard_normal((3, n, p)) @ np.linalg.cholesky(sr.toeplitz_cov(p, 0.5)).T
  w = np.zeros(p)
  w[[0, 2, 4]] = 1.0
  y = x @ w + 0.5 * rng.standard_normal((3, n))
  xs, ys = sr.sqrt_form(x, y)
  alphas = np.array([0.3, 0.05, 0.01])
  coefs, conv = sr._fit(xs, ys, alphas)
  assert conv.all()
  for b in range(3):
    ref = Lasso(alpha=alphas[b], fit_intercept=False, tol=1e-12, max_iter=100000).fit(x[b], y[b])
    np.testing.assert_array_equal(np.sign(coefs[b]), np.sign(ref.coef_))
    np.testing.assert_allclose(coefs[b], ref.coef_, atol=1e-7)
  # Zero-row padding with α·n/n_max (claim 2) against Lasso on the unpadded data, p > n.
  n_max, p = 60, 80
  ns = np.array([25, 40, 60])
  xp = np.zeros((3, n_max, p))
  yp = np.zeros((3, n_max))
  raw = []
  for b, m in enumerate(ns):
    xb = rng.standard_normal((m, p))
    yb = xb[:, :3] @ np.array([1.0, -1.0, 1.0]) + 0.05 * rng.standard_normal(m)
    xp[b, :m], yp[b, :m] = xb, yb
    raw.append((xb, yb))
  alphas = np.array([0.08, 0.05, 0.04])
  coefs, conv = sr._fit(xp, yp, alphas * ns / n_max)
  assert conv.all()
  for b, (xb, yb) in enumerate(raw):
    ref = Lasso(alpha=alphas[b], fit_intercept=False, tol=1e-12, max_iter=100000).fit(xb, yb)
    np.testing.assert_array_equal(np.sign(coefs[b]), np.sign(ref.coef_))
    np.testing.assert_allclose(coefs[b], ref.coef_, atol=1e-6)


def _exact_alpha_interval(x, y, support, signs):
  """The set of α with sign(ŵ(α)) = signs on S and 0 off it, from the KKT conditions."""
  n, p = x.shape
  s_hat, b = x.T @ x / n, x.T @ y / n
  rest = np.setdiff1d(np.arange(p), support)
  inv = np.linalg.inv(s_hat[np.ix_(support, support)])
  a_vec, b_vec = inv @ b[support], inv @ signs               # ŵ_S(α) = a − αb
  lo, hi = 0.0, np.inf
  for a_i, b_i, z in zip(a_vec, b_vec, signs):               # z(a − αb) > 0
    c, d = z * a_i, z * b_i
    if d > 0:
      hi = min(hi, c / d)
    elif c <= 0:
      return None
  g = s_hat[np.ix_(rest, support)]
  c0 = b[rest] - g @ a_vec                                   # dual: c0 + α·g b, |·| < α
  c1 = g @ b_vec
  for u, v in zip(c0, c1):
    for sgn in (1.0, -1.0):                                   # sgn(u + αv) < α
      k = 1 - sgn * v                                         # sgn·u < α·k
      if k > 0:
        lo = max(lo, sgn * u / k)
      elif sgn * u >= 0:
        return None
      elif k < 0:
        hi = min(hi, sgn * u / k)
  return (lo, hi) if lo < hi else None


def test_path_grid_recovery_matches_the_exact_alpha_interval(x64):
  # For the bad design, recovery on the grid implies an exact interval of α exists, and
  # the grid misses few of the draws that have one.
  rng = np.random.default_rng(2)
  p, n, reps, k = 16, 160, 120, 40
  support = np.array([0, 2, 4])
  w = np.zeros(p)
  w[support] = 1.0
  chol = np.linalg.cholesky(sr.bad_feature_cov(p, support, p - 1, 0.5))
  x = rng.standard_normal((reps, n, p)) @ chol.T
  y = x @ w + 0.5 * rng.standard_normal((reps, n))
  xs, ys = sr.sqrt_form(x, y)
  amax = np.max(np.abs(np.einsum("rnp,rn->rp", x, y)), axis=1) / n
  rel = np.logspace(0, -sr._PATH_DECADES, k + 1)[1:]
  coefs, _ = sr._fit(np.repeat(xs, k, 0), np.repeat(ys, k, 0), (amax[:, None] * rel).ravel())
  grid = sr.recovered(coefs.reshape(reps, k, p), w).any(-1)
  exact = np.array([_exact_alpha_interval(x[r], y[r], support, np.ones(3)) is not None
                    and _exact_alpha_interval(x[r], y[r], support, np.ones(3))[0]
                    > amax[r] * rel[-1] for r in range(reps)])
  assert not np.any(grid & ~exact)
  assert grid.sum() >= exact.sum() - max(2, exact.sum() // 4)
  assert exact.mean() < 0.5                                  # the theory's limit


def test_covariance_df_against_ridge_and_ols_trace():
  # Linear smoothers ŷ = Hy have df = tr(H); the Monte Carlo estimator finds it.
  rng = np.random.default_rng(3)
  n, p, sigma, reps = 40, 12, 0.7, 20000
  x = rng.standard_normal((n, p))
  mu = x @ rng.standard_normal(p)
  y = mu + sigma * rng.standard_normal((reps, n))
  for lam in (0.0, 0.5, 5.0):                                 # OLS, then ridge
    h = x @ np.linalg.solve(x.T @ x / n + lam * np.eye(p), x.T / n)
    d = sr.covariance_df(y @ h.T, y, mu, sigma)
    se = d.std(ddof=1) / np.sqrt(reps)
    assert abs(d.mean() - np.trace(h)) < 5 * se, (lam, d.mean(), np.trace(h), se)
    planted = sr.covariance_df(y @ h.T, y, mu, sigma, plant="df_over_sigma")
    assert abs(planted.mean() - sigma * np.trace(h)) < 5 * sigma * se   # σ·df, not df


def test_finite_size_law_against_simulated_kkt_conditions():
  # Simulate the dual variables X_jᵀ[X_S(X_SᵀX_S)⁻¹z + (I − P_S)ε σ/(nα)] directly.
  rng = np.random.default_rng(4)
  p, s, kappa, sigma, reps = 64, 3, 25.0, 1.0, 3000
  for theta in (0.6, 1.0):
    n = int(sr.wainwright_n(theta, p, s))
    alpha = float(sr.wainwright_alpha(sigma, p, s, n, kappa))
    ok = 0
    for _ in range(reps):
      xs_ = rng.standard_normal((n, s))
      z = rng.choice([-1.0, 1.0], s)
      eps = sigma * rng.standard_normal(n)
      q, _ = np.linalg.qr(xs_)
      u = xs_ @ np.linalg.solve(xs_.T @ xs_, z) + (eps - q @ (q.T @ eps)) / (n * alpha)
      dual = rng.standard_normal((p - s, n)) @ u
      ok += np.all(np.abs(dual) < 1)
    pred = sr.wainwright_prediction([theta], p, s, kappa)[0]
    se = np.sqrt(pred * (1 - pred) / reps)
    assert abs(ok / reps - pred) < 5 * se, (theta, ok / reps, pred)


def test_wainwright_conventions():
  assert sr.wainwright_n(1.0, 128, 4) == round(8 * np.log(124))
  assert sr.wainwright_n(1.0, 128, 4, plant="theta_without_two") == round(4 * np.log(124))
  a = sr.wainwright_alpha(0.5, 128, 4, 50, 2.0)
  assert a == pytest.approx(0.5 * np.sqrt(4 * np.log(124) / 50))
  assert sr.wainwright_alpha(0.5, 128, 4, 50, 2.0, plant="alpha_scaled_by_n") == \
      pytest.approx(50 * a)
  # The law rises through ½ and its 50% point moves toward κ/(κ − 1) as p grows.
  thetas = np.exp(np.linspace(np.log(0.3), np.log(3), 40))
  c_small = sr.crossing(thetas, sr.wainwright_prediction(thetas, 128, 4, 25.0, draws=20000))
  c_large = sr.crossing(thetas, sr.wainwright_prediction(thetas, 10 ** 6, 4, 25.0, draws=20000))
  assert c_small < c_large < 25 / 24 + 0.05


def test_recovered_and_crossing_helpers():
  w = np.array([1.0, 0.0, -2.0, 0.0])
  cases = np.array([[0.5, 0.0, -1.0, 0.0],                  # exact
                    [0.5, 0.1, -1.0, 0.0],                  # a false positive
                    [0.5, 0.0, 1.0, 0.0],                   # a flipped sign
                    [0.0, 0.0, -1.0, 0.0]])                 # a missed feature
  np.testing.assert_array_equal(sr.recovered(cases, w), [True, False, False, False])
  np.testing.assert_array_equal(sr.recovered(cases, w, screening=True), [True, True, False, False])
  assert sr.crossing([1.0, 2.0], [0.0, 1.0]) == pytest.approx(np.sqrt(2))
  assert np.isnan(sr.crossing([1.0, 2.0], [0.0, 0.4]))
  z = sr.binomial_z(np.array([50, 90, 0]), 100, np.array([0.5, 0.5, 0.0]))
  assert z[0] < 0.2 and z[1] > 6 and z[2] == pytest.approx(0.0)


def test_unknown_plant_is_refused():
  with pytest.raises(ValueError, match="unknown plant"):
    sr.run(plant="alpha_squared", **sr.TEST_SETTINGS)
