"""Tests for research/bayes.py: Gaussian prior = L2, Laplace prior = L1 at the mode."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from research import bayes


def _gaussian_data(n=40, p=5, tau=1.0, sigma=1.0, seed=0):
  rng = np.random.default_rng(seed)
  X = rng.standard_normal((n, p))
  y = X @ (tau * rng.standard_normal(p)) + sigma * rng.standard_normal(n)
  return jnp.asarray(X), jnp.asarray(y)


def _laplace_data(n=50, p=8, sigma=0.5, b=0.01, seed=0):
  rng = np.random.default_rng(seed)
  X = bayes.orthogonal_design(rng, n, p)
  w = bayes.laplace_truth(p, sigma ** 2 / (n * b))
  return jnp.asarray(X), jnp.asarray(X @ w + sigma * rng.standard_normal(n))


def test_prior_penalty_is_the_design_mapping_and_the_plants_are_the_mistakes(x64):
  n, tau, b, s2 = 50, 0.1, 0.01, 0.25
  alpha = lambda plant, prior="gaussian", scale=tau: float(
      bayes.prior_penalty(scale, prior, n=n, sigma2=s2, plant=plant).alpha)
  assert alpha(None) == pytest.approx(s2 / (n * tau ** 2), rel=1e-12)
  assert alpha("tf_half_l2_convention") == pytest.approx(s2 / (2 * n * tau ** 2), rel=1e-12)
  assert alpha("prior_variance_as_scale") == pytest.approx(s2 / (n * tau ** 4), rel=1e-12)
  assert alpha("noise_sd_as_variance") == pytest.approx(0.5 / (n * tau ** 2), rel=1e-12)
  assert alpha(None, "laplace", b) == pytest.approx(s2 / (n * b), rel=1e-12)
  assert alpha("laplace_half_alpha", "laplace", b) == pytest.approx(s2 / (2 * n * b), rel=1e-12)
  assert alpha("tf_half_l2_convention", "laplace", b) == pytest.approx(s2 / (n * b), rel=1e-12)


def test_l2_fit_is_the_closed_form_posterior_mean(x64):
  X, y = _gaussian_data(tau=0.7, sigma=0.5)
  c = bayes.gaussian_claim(X, y, tau=0.7, sigma=0.5)
  Xn, yn = np.asarray(X), np.asarray(y)
  mu = np.linalg.solve(Xn.T @ Xn / 0.25 + np.eye(5) / 0.49, Xn.T @ yn / 0.25)
  np.testing.assert_allclose(c["mu"], mu, rtol=1e-12)
  assert c["alpha"] == pytest.approx(0.25 / (40 * 0.49), rel=1e-12)
  assert not c["capped"] and c["rel"] <= c["tol"] < 1e-10
  # scikit-learn's Ridge (summed loss, alpha = nα) is an independent oracle.
  from sklearn.linear_model import Ridge
  sk = Ridge(alpha=40 * c["alpha"], fit_intercept=False, solver="cholesky").fit(Xn, yn).coef_
  np.testing.assert_allclose(c["w"], sk, rtol=1e-9)
  planted = bayes.gaussian_claim(X, y, tau=0.7, sigma=0.5, plant="tf_half_l2_convention")
  assert planted["rel"] > 1e3 * planted["tol"]


def test_l1_fit_is_numpyros_laplace_mode(x64):
  from sklearn.linear_model import Lasso

  X, y = _laplace_data()
  c = bayes.laplace_map_certificate(X, y, b=0.01, sigma=0.5, n_dirs=50)
  assert c["alpha"] == pytest.approx(0.25 / (50 * 0.01))
  assert 0 < int(np.sum(c["w"] == 0.0)) < 8          # exact zeros and an active set
  assert c["rel_dist"] <= c["tol"] < 1e-9
  assert c["n_uncertified"] == 0 and c["n_increase"] == 0
  # Orthogonal design: the lasso is soft thresholding of z = Xᵀy/n.
  z = np.asarray(X.T @ y) / 50
  np.testing.assert_allclose(c["w"], np.sign(z) * np.maximum(np.abs(z) - c["alpha"], 0),
                             rtol=1e-10, atol=1e-13)
  sk = Lasso(alpha=c["alpha"], fit_intercept=False, tol=1e-14, max_iter=10 ** 6).fit(
      np.asarray(X), np.asarray(y)).coef_
  np.testing.assert_allclose(c["w"], sk, rtol=1e-6, atol=1e-9)
  # Off the support the likelihood gradient is strictly inside the prior's slope bound 1/b.
  off = ~c["support"]
  assert np.all(np.abs(c["g"][off]) < 100.0)
  np.testing.assert_allclose(c["bound"], 100.0, rtol=1e-9)


@pytest.mark.parametrize("plant", ["laplace_half_alpha", "noise_sd_as_variance"])
def test_a_wrong_laplace_alpha_is_refuted_by_the_certificate(x64, plant):
  X, y = _laplace_data()
  c = bayes.laplace_map_certificate(X, y, b=0.01, sigma=0.5, plant=plant, n_dirs=50)
  assert c["rel_dist"] > 1e6 * c["tol"]
  assert c["n_uncertified"] > 0 and c["n_increase"] > 0


def test_laplace_posterior_moments_match_quadrature():
  from scipy.integrate import quad

  s, a = 0.07, 0.5
  for z in [-1.2, -0.4, 0.0, 0.2, 0.375, 0.45, 0.75, 1.5]:
    # Normalised by the exponent's minimum (z² at 0, or 2a|z| − a² off it) against underflow.
    low = z * z if abs(z) <= a else 2 * a * abs(z) - a * a
    dens = lambda w: math.exp(-((w - z) ** 2 + 2 * a * abs(w) - low) / (2 * s * s))
    lo, hi = min(z, 0) - 12 * s - a, max(z, 0) + 12 * s + a
    m0 = quad(dens, lo, hi, points=[0.0], epsabs=1e-15, epsrel=1e-12, limit=200)[0]
    m1 = quad(lambda w: w * dens(w), lo, hi, points=[0.0], epsabs=1e-15, epsrel=1e-12, limit=200)[0]
    m2 = quad(lambda w: w * w * dens(w), lo, hi, points=[0.0], epsabs=1e-15, epsrel=1e-12,
              limit=200)[0]
    mean, sd = bayes.laplace_posterior_moments(z, s, a)
    assert float(mean) == pytest.approx(m1 / m0, rel=1e-7, abs=1e-12)
    assert float(sd) == pytest.approx(math.sqrt(m2 / m0 - (m1 / m0) ** 2), rel=1e-6)


def test_evidence_profile_maximises_the_dense_evidence(x64):
  import numpyro.distributions as dist

  X, y = _gaussian_data(n=30, p=4, tau=0.8, sigma=0.6, seed=3)
  lt, ls = math.log(0.8), math.log(0.6)
  log_evidence = jax.jit(bayes.log_evidence)  # one program for its ten evaluations
  dense = float(log_evidence(lt, ls, X, y))
  # Bayes' rule: log p(y) = log p(y|w) + log p(w) − log p(w|y), at any w.
  prec = X.T @ X / 0.36 + jnp.eye(4) / 0.64
  mu = jnp.linalg.solve(prec, X.T @ y / 0.36)
  w = jnp.ones(4) * 0.3
  ident = (dist.Normal(X @ w, 0.6).log_prob(y).sum() + dist.Normal(0.0, 0.8).log_prob(w).sum()
           - dist.MultivariateNormal(mu, precision_matrix=prec).log_prob(w))
  assert dense == pytest.approx(float(ident), rel=1e-10)
  # The profiled maximiser is a stationary point of the dense definition.
  ev = bayes._evidence_tasks(X[None], y[None], jnp.asarray(bayes.EVIDENCE_GRID))
  assert bool(ev["converged"][0])
  t, s = 0.5 * math.log(float(ev["tau2"][0])), 0.5 * math.log(float(ev["sigma2"][0]))
  g = jax.jit(jax.grad(bayes.log_evidence, (0, 1)))(t, s, X, y)
  assert max(abs(float(g[0])), abs(float(g[1]))) < 1e-6
  assert float(ev["log_alpha"][0]) == pytest.approx(2 * s - 2 * t - math.log(30), abs=1e-9)
  for dt, ds in [(0.05, 0), (-0.05, 0), (0, 0.05), (0, -0.05)]:
    assert float(log_evidence(t + dt, s + ds, X, y)) < float(log_evidence(t, s, X, y))


def test_cv_ridge_matches_a_direct_solve():
  rng = np.random.default_rng(0)
  X, y, alphas = rng.standard_normal((2, 50, 5)), rng.standard_normal((2, 50)), np.array([1e-2, 1.0])
  train, test = (np.asarray(i) for i in bayes._folds(50, 5))
  ref = np.zeros((2, 2))
  for t in range(2):
    for i, a in enumerate(alphas):
      for tr, te in zip(train, test):
        w = np.linalg.solve(X[t, tr].T @ X[t, tr] / 40 + a * np.eye(5), X[t, tr].T @ y[t, tr] / 40)
        ref[t, i] += np.mean((y[t, te] - X[t, te] @ w) ** 2) / 5
  np.testing.assert_allclose(bayes._cv_ridge(X, y, alphas, 5), ref, rtol=1e-10)


@pytest.fixture(scope="module")
def tiny_result(tmp_path_factory):
  return bayes.run(seed=0, out_dir=tmp_path_factory.mktemp("bayes"), **bayes.TEST_SETTINGS)


def test_unplanted_run_passes_every_verdict(tiny_result):
  r = tiny_result
  assert r.name == "bayes" and r.plant is None
  failed = [f"{v.key}: {v.comparison}" for v in r.verdicts if not v.passed]
  assert not failed, failed
  assert {v.key for v in r.verdicts} == {k for p in bayes.PLANTS for k in p.fails}
  assert all(v.threshold_from for v in r.verdicts)
  assert len(r.figures) == 5 and all(f.exists() for f in r.figures)
  assert "σ²/(nτ²)" in r.summary and "σ²/(nb)" in r.summary


def test_laplace_posterior_mean_is_not_the_lasso(tiny_result):
  d = tiny_result.data
  zeroed = d["laplace_l1_fit"] == 0.0
  assert zeroed.any()
  # Where the lasso is exactly 0 the closed-form posterior mean is not, and NUTS sees it.
  assert np.all(d["laplace_closed_form_mean"][zeroed] != 0.0)
  z = np.abs(d["laplace_posterior_mean"][zeroed]) / d["laplace_mcse"][zeroed]
  assert z.max() > d["laplace_mcse_bound"]


def test_unknown_setting_is_rejected():
  with pytest.raises(TypeError, match="unknown settings"):
    bayes.run(num_sample=10)


def test_batch_means_mcse_gives_student_t_coverage():
  # Independent normal draws: (mean − 0)/MCSE is Student t with B − 1 degrees of freedom, so the
  # two-sided 5 % quantile is exceeded 5 % of the time (binomial SE 0.5 % over 2000 replicates).
  from scipy import stats

  rng = np.random.default_rng(0)
  reps, chains, n = 2000, 2, 200
  draws = rng.standard_normal((reps, chains, n, 1))
  out = []
  for d in draws:
    mean, _, _, mcse, dof = bayes._mean_and_mcse(d)
    out.append(abs(mean[0]) / mcse[0])
  q = stats.t.isf(0.025, dof)
  assert dof == chains * bayes.MCSE_BATCHES - 1
  assert abs(np.mean(np.asarray(out) > q) - 0.05) < 4 * np.sqrt(0.05 * 0.95 / reps)
  assert bayes.mcse_bound(20, dof) > stats.norm.isf(bayes.MCSE_FAMILY / 40)
