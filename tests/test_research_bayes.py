"""Tests for research/bayes.py: Gaussian prior = L2, Laplace prior = L1 at the mode."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from research import bayes


def _gaussian_data(n=40, p=5, tau=1.0, sigma=1.0, seed=0):
  kx, kw, ke = jax.random.split(jax.random.PRNGKey(seed), 3)
  X = jax.random.normal(kx, (n, p))
  y = X @ (tau * jax.random.normal(kw, (p,))) + sigma * jax.random.normal(ke, (n,))
  return X, y


def _sparse_data(n=50, p=5, sigma=1.0, seed=0):
  kx, ke = jax.random.split(jax.random.PRNGKey(seed))
  X = jax.random.normal(kx, (n, p))
  w = jnp.zeros(p).at[0].set(1.5).at[1].set(-1.0)
  return X, X @ w + sigma * jax.random.normal(ke, (n,))


def test_l2_fit_is_the_closed_form_posterior_mean(x64):
  X, y = _gaussian_data(tau=0.7, sigma=0.5)
  c = bayes.gaussian_claim(X, y, tau=0.7, sigma=0.5)
  Xn, yn = np.asarray(X), np.asarray(y)
  mu = np.linalg.solve(Xn.T @ Xn / 0.25 + np.eye(5) / 0.49, Xn.T @ yn / 0.25)
  assert c["alpha"] == pytest.approx(0.25 / (40 * 0.49), rel=1e-12)
  np.testing.assert_allclose(c["mu"], mu, rtol=1e-10)
  np.testing.assert_allclose(c["w_chain"], mu, rtol=1e-6)
  np.testing.assert_allclose(c["w_solve"], mu, rtol=1e-10)
  assert c["rel_chain"] <= bayes.TOL_GAUSSIAN_MAP


def test_l1_fit_is_numpyros_laplace_mode(x64):
  from sklearn.linear_model import Lasso

  X, y = _sparse_data()
  c = bayes.laplace_map_certificate(X, y, b=0.1, sigma=1.0, n_dirs=50)
  assert c["alpha"] == pytest.approx(1.0 / (50 * 0.1))
  assert 0 < int(np.sum(c["w"] == 0.0)) < 5          # exact zeros and an active set
  assert c["rel_dist"] <= bayes.TOL_LAPLACE_MAP
  assert c["n_uncertified"] == 0 and c["n_increase"] == 0
  # Off the support the likelihood gradient is strictly inside the prior's slope bound 1/b.
  off = ~c["support"]
  assert np.all(np.abs(c["g"][off]) < 10.0)
  np.testing.assert_allclose(c["bound"], 10.0, rtol=1e-9)
  np.testing.assert_allclose(np.abs(c["g"][~off]), 10.0, rtol=1e-8)
  sk = Lasso(alpha=c["alpha"], fit_intercept=False, tol=1e-14, max_iter=10**6).fit(
      np.asarray(X), np.asarray(y)).coef_
  np.testing.assert_allclose(c["w"], sk, rtol=1e-5, atol=1e-9)
  # A smooth optimiser gets close but never lands on an exact zero.
  w_smooth = bayes.smooth_map(c["log_post_fn"], 5)
  assert np.all(w_smooth[off] != 0.0)
  np.testing.assert_allclose(w_smooth, c["w"], atol=1e-3)


def test_a_wrong_alpha_fails_claims_1_and_2(x64):
  X, y = _gaussian_data()
  assert bayes.gaussian_claim(X, y, tau=1.0, sigma=1.0, alpha_scale=1.01)["rel_chain"] \
      > bayes.TOL_GAUSSIAN_MAP
  X, y = _sparse_data()
  c = bayes.laplace_map_certificate(X, y, b=0.1, sigma=1.0, alpha_scale=1.01, n_dirs=50)
  assert c["rel_dist"] > bayes.TOL_LAPLACE_MAP
  assert c["n_increase"] > 0


def test_evidence_matches_bayes_rule_with_numpyro(x64):
  import numpyro.distributions as dist

  X, y = _gaussian_data(n=30, p=4, tau=0.8, sigma=0.6, seed=3)
  lt, ls = math.log(0.8), math.log(0.6)
  dense = float(bayes.log_evidence(lt, ls, X, y))
  u, s, _ = jnp.linalg.svd(X, full_matrices=False)
  uy = u.T @ y
  fast = float(bayes._log_evidence_svd(lt, ls, s ** 2, uy ** 2, y @ y - uy @ uy, 30))
  assert fast == pytest.approx(dense, rel=1e-12)
  # Candidate's formula: log p(y) = log p(y|w) + log p(w) − log p(w|y), at any w.
  prec = X.T @ X / 0.36 + jnp.eye(4) / 0.64
  mu = jnp.linalg.solve(prec, X.T @ y / 0.36)
  w = jnp.ones(4) * 0.3
  ident = (dist.Normal(X @ w, 0.6).log_prob(y).sum() + dist.Normal(0.0, 0.8).log_prob(w).sum()
           - dist.MultivariateNormal(mu, precision_matrix=prec).log_prob(w))
  assert dense == pytest.approx(float(ident), rel=1e-10)
  a, theta, gnorm = bayes.evidence_alpha(X, y)
  assert float(gnorm) < 1e-6
  assert float(a) == pytest.approx(float(jnp.exp(2 * theta[1] - 2 * theta[0]) / 30))


TINY = dict(n=50, p=5, num_warmup=200, num_samples=500, evidence_tasks=4, evidence_n=40,
            evidence_p=8, prior_tasks=2, prior_n=40, prior_p=8)


@pytest.fixture(scope="module")
def tiny_result(tmp_path_factory):
  return bayes.run(seed=0, out_dir=tmp_path_factory.mktemp("bayes"), **TINY)


def test_run_verdicts_and_figures(tiny_result):
  r = tiny_result
  assert r.name == "bayes"
  assert r.verdict("Gaussian prior = L2").passed
  assert r.verdict("Gaussian prior: the NUTS posterior mean").passed
  assert r.verdict("Gaussian prior: the NUTS posterior covariance").passed
  assert r.verdict("Laplace prior = L1").passed
  assert r.verdict("Laplace prior: the mode has exactly").passed
  assert r.verdict("Laplace prior: the posterior puts no mass at zero").passed
  assert len(r.figures) == 5 and all(f.exists() for f in r.figures)
  assert "σ²/(nτ²)" in r.summary and "σ²/(nb)" in r.summary


def test_laplace_posterior_is_not_the_lasso(tiny_result):
  d = tiny_result.data
  lasso, mean = d["laplace_l1_fit"], d["laplace_posterior_mean"]
  zeroed = lasso == 0.0
  assert zeroed.any()
  assert d["laplace_zero_draws"] == 0
  assert np.all(mean != 0.0)
  # On a lasso-zero coordinate the posterior mean is away from 0 by several MCSE.
  z = np.abs(mean[zeroed]) / d["laplace_mcse"][zeroed]
  assert z.max() > 4


def test_a_shifted_prediction_fails_the_nuts_check(tiny_result):
  d = tiny_result.data
  shifted = d["gaussian_mu"] + 6 * d["gaussian_nuts_mcse"]
  z = np.abs(d["gaussian_nuts_mean"] - shifted) / d["gaussian_nuts_mcse"]
  assert z.max() > bayes.MCSE_SIGMAS
  v = bayes.workbench.check("shifted", z.max(), bayes.MCSE_SIGMAS)
  assert v.label == "FAIL"
  # And the untouched prediction passes the same test.
  z0 = np.abs(d["gaussian_nuts_mean"] - d["gaussian_mu"]) / d["gaussian_nuts_mcse"]
  assert bayes.workbench.check("exact", z0.max(), bayes.MCSE_SIGMAS).label == "PASS"


def test_unknown_setting_is_rejected():
  with pytest.raises(TypeError, match="unknown settings"):
    bayes.run(num_sample=10)
