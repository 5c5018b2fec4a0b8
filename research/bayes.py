r"""Regularization as a prior: the Gaussian prior is L2, the Laplace prior is L1.

With Gaussian noise of variance σ² and n samples, the negative log posterior
of a linear model, divided by n/σ², is jaxreg's penalized objective

.. math::  \frac{\sigma^2}{n}\big(-\log p(w\mid y)\big)
           = \frac{1}{2n}\|y - Xw\|^2 + \frac{\sigma^2}{n}\big(-\log p(w)\big) + \text{const},

so a N(0, τ²) prior is ``L2(σ²/(nτ²))`` and a Laplace(0, b) prior is
``L1(σ²/(nb))`` (``jaxreg.conventions.convert(..., "gaussian_prior" /
"laplace_prior")``). The module tests the reading and what it does not say:

1. Gaussian prior = L2 exactly: the L2 fit is the posterior mean (the
   posterior is Gaussian, mean = mode), and NUTS agrees with the closed form.
2. Laplace prior = L1 at the mode: the L1 fit satisfies the optimality
   condition of numpyro's log posterior, with the same exact zeros.
3. …only at the mode: the Laplace posterior has no mass at 0, and its mean is
   not the lasso.
4. α from the evidence (type-II maximum likelihood) versus cross-validation.
5. Which penalty predicts best when the true weights are Gaussian, Laplace or
   spike-and-slab (a measurement, no verdict).

References:
  Tibshirani (1996), "Regression shrinkage and selection via the lasso", §5.
  Park & Casella (2008), "The Bayesian lasso".
  MacKay (1992), "Bayesian interpolation" (the evidence framework).
  Hoffman & Gelman (2014), "The No-U-Turn sampler".
  Rockafellar (1970), "Convex analysis" (subdifferentials, strong monotonicity).
"""

from __future__ import annotations

import math
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxreg as jr
from research import workbench

__all__ = ["run", "DEFAULTS", "FULL"]

DEFAULTS: dict[str, Any] = dict(
    n=50,                 # samples for claims 1–3
    p=5,                  # features for claims 1–3
    sigma=1.0,            # noise standard deviation σ (known)
    tau=1.0,              # Gaussian prior scale τ (claim 1)
    b=0.1,                # Laplace prior scale b (claims 2–3): α = σ²/(nb) = 0.2
    num_warmup=500,
    num_samples=1000,
    num_chains=1,
    evidence_tasks=20,    # claim 4
    evidence_n=100,
    evidence_p=20,
    evidence_tau=0.5,
    prior_tasks=20,       # claim 5, per truth
    prior_n=50,
    prior_p=20,
    prior_snr=2.0,        # signal variance / noise variance in claim 5
    cv_folds=5,
    alpha_scale=1.0,      # multiplies the prior's α in claims 1–2; ≠ 1 must FAIL
)

FULL: dict[str, Any] = dict(
    n=100, p=10, num_warmup=1000, num_samples=5000, num_chains=2,
    evidence_tasks=100, evidence_n=200, evidence_p=40,
    prior_tasks=60, prior_n=100, prior_p=40,
)

# Claims 1–2 hold to solver precision, so the tolerances are the solver's.
TOL_GAUSSIAN_MAP = 1e-6
TOL_LAPLACE_MAP = 1e-5
MCSE_SIGMAS = 4.0          # per-coordinate bound on |NUTS mean − truth| in MCSE
COV_RMS_FACTOR = 3.0       # covariance bound in units of its sampling RMS
P_VALUE_DIFFERS = 1e-3     # claim 3: posterior mean ≠ lasso at this significance
EVIDENCE_FACTOR = 2.0      # claim 4: median evidence-α / true α within this factor


# ---------------------------------------------------------------------------
# Penalized fits with jaxreg
# ---------------------------------------------------------------------------

def _quadratic(X, y):
  """The Gram form of (1/(2n))‖y − Xw‖²: (G, c) = (XᵀX/n, Xᵀy/n)."""
  n = X.shape[0]
  return X.T @ X / n, X.T @ y / n


def _lipschitz_bound(G):
  """An upper bound on λ_max(G) for symmetric G, from matrix products alone.

  Both the largest absolute row sum (Gershgorin) and the Frobenius norm bound
  the largest eigenvalue. An eigensolver would give it exactly, but XLA's CPU
  runtime was seen to deadlock (every thread idle on a futex) when LAPACK's
  eigensolver ran inside the vmapped, while-looped program of ``prior_match``
  on a 2-core machine, in most runs; a bound avoids the custom call.
  """
  return jnp.minimum(jnp.max(jnp.sum(jnp.abs(G), axis=-1)), jnp.sqrt(jnp.sum(G * G)))


def _fit(G, c, pen, *, proximal, tol=1e-14, max_iter=200_000):
  r"""Minimises ½wᵀGw − cᵀw + pen(w) (the mean squared loss) with a jaxreg chain.

  ``proximal=False``: gradient descent on loss + pen, the penalty's gradient
  added by ``jr.add_penalty_gradient`` (for the smooth L2).
  ``proximal=True``: ISTA, ``optax.sgd`` then ``jr.proximal`` (exact zeros).
  The step is 1/(L + α) with L ≥ λ_max(G) (``_lipschitz_bound``), below
  1/Lipschitz of every smooth part, and iterations stop when no coordinate
  moves more than ``tol``·(1 + ‖w‖∞).

  Returns:
    (w, number of iterations).
  """
  lip = _lipschitz_bound(G)
  eta = 1.0 / (lip + jnp.max(jnp.asarray(pen.alpha)))
  if proximal:
    tx = optax.chain(optax.sgd(eta), jr.proximal(pen, eta))
  else:
    tx = optax.chain(jr.add_penalty_gradient(pen), optax.sgd(eta))
  loss = lambda w: 0.5 * w @ G @ w - c @ w
  w0 = jnp.zeros_like(c)

  def body(state):
    w, opt_state, _, i = state
    updates, opt_state = tx.update(jax.grad(loss)(w), opt_state, w)
    new = optax.apply_updates(w, updates)
    return new, opt_state, jnp.max(jnp.abs(new - w)) / (1.0 + jnp.max(jnp.abs(new))), i + 1

  def cond(state):
    return (state[2] > tol) & (state[3] < max_iter)

  w, _, _, it = jax.lax.while_loop(cond, body, (w0, tx.init(w0), jnp.inf, 0))
  return w, it


def _l2_solve(G, c, pen):
  r"""The L2 fit as one Newton step built from the penalty's own gradient.

  The objective ½wᵀGw − cᵀw + pen(w) is quadratic, so
  w = −H⁻¹∇f(0) with H the Jacobian of ∇f = Gw − c + pen.grad(w).
  """
  grad = lambda w: G @ w - c + pen.grad(w)
  w0 = jnp.zeros_like(c)
  return -jnp.linalg.solve(jax.jacfwd(grad)(w0), grad(w0))


def _folds(n, k):
  """Contiguous folds (as scikit-learn's KFold without shuffling): (train, test) indices."""
  if n % k:
    raise ValueError(f"n={n} must be divisible by the number of folds {k}.")
  m = n // k
  idx = np.arange(n)
  test = np.stack([idx[i * m:(i + 1) * m] for i in range(k)])
  train = np.stack([np.concatenate([idx[:i * m], idx[(i + 1) * m:]]) for i in range(k)])
  return jnp.asarray(train), jnp.asarray(test)


def _cv_errors(X, y, penalties, k, fit_one):
  """Mean held-out MSE over k contiguous folds, for each penalty of a batch."""
  train, test = _folds(X.shape[0], k)

  def one_fold(tr, te):
    G, c = _quadratic(X[tr], y[tr])
    coefs = jax.vmap(lambda pen: fit_one(G, c, pen))(penalties)
    return jnp.mean((y[te][None, :] - coefs @ X[te].T) ** 2, axis=1)

  return jnp.mean(jax.vmap(one_fold)(train, test), axis=0)


# ---------------------------------------------------------------------------
# numpyro models
# ---------------------------------------------------------------------------

def _model(X, y=None, *, prior="gaussian", scale=1.0, sigma=1.0):
  """w ~ N(0, τ²) or Laplace(0, b) independently; y ~ N(Xw, σ²I)."""
  import numpyro
  import numpyro.distributions as dist

  p = X.shape[1]
  base = dist.Normal(0.0, scale) if prior == "gaussian" else dist.Laplace(0.0, scale)
  w = numpyro.sample("w", base.expand([p]).to_event(1))
  numpyro.sample("y", dist.Normal(X @ w, sigma).to_event(1), obs=y)


def _site_log_probs(X, y, w, **kw):
  """numpyro's log prior and log likelihood at w, read from the model trace."""
  from numpyro.infer.util import log_density

  _, trace = log_density(_model, (X, y), kw, {"w": w})
  lp = lambda s: jnp.sum(trace[s]["fn"].log_prob(trace[s]["value"]))
  return lp("w"), lp("y")


def _nuts(X, y, key, cfg, **kw):
  """Posterior draws of w from numpyro's NUTS, grouped by chain: (chains, draws, p)."""
  from numpyro.infer import MCMC, NUTS

  mcmc = MCMC(NUTS(_model), num_warmup=cfg["num_warmup"], num_samples=cfg["num_samples"],
              num_chains=cfg["num_chains"], chain_method="sequential", progress_bar=False)
  mcmc.run(key, X, y, **kw)
  return np.asarray(mcmc.get_samples(group_by_chain=True)["w"])


def _mean_and_mcse(draws):
  """Posterior mean, sd, effective sample size and MCSE = sd/√ESS per coordinate."""
  from numpyro.diagnostics import effective_sample_size

  flat = draws.reshape(-1, draws.shape[-1])
  mean, sd = flat.mean(0), flat.std(0, ddof=1)
  ess = np.asarray(effective_sample_size(draws))
  return mean, sd, ess, sd / np.sqrt(ess)


def _normal_cdf(x):
  return 0.5 * math.erfc(-x / math.sqrt(2.0))


# ---------------------------------------------------------------------------
# Claim 1: Gaussian prior = L2
# ---------------------------------------------------------------------------

def gaussian_claim(X, y, *, tau, sigma, alpha_scale=1.0):
  r"""The L2 fit at α = σ²/(nτ²) against the closed-form posterior mean.

  Posterior: w | y ~ N(μ, Σ), Σ = (XᵀX/σ² + I/τ²)⁻¹, μ = ΣXᵀy/σ².

  Returns:
    dict with the closed form (``mu``, ``cov``), the jaxreg fits (gradient
    chain ``w_chain`` and Newton solve ``w_solve``), α and relative errors.
  """
  n, p = X.shape
  pen = jr.conventions.convert(tau, "gaussian_prior", n_samples=n, noise_variance=sigma ** 2)
  pen = jr.L2(pen.alpha * alpha_scale)
  prec = X.T @ X / sigma ** 2 + jnp.eye(p) / tau ** 2
  cov = jnp.linalg.inv(prec)
  mu = jnp.linalg.solve(prec, X.T @ y / sigma ** 2)
  G, c = _quadratic(X, y)
  w_chain, iters = jax.jit(lambda G, c, pen: _fit(G, c, pen, proximal=False))(G, c, pen)
  w_solve = _l2_solve(G, c, pen)
  rel = lambda w: float(jnp.linalg.norm(w - mu) / jnp.linalg.norm(mu))
  return dict(alpha=float(pen.alpha), mu=np.asarray(mu), cov=np.asarray(cov),
              w_chain=np.asarray(w_chain), w_solve=np.asarray(w_solve), iters=int(iters),
              rel_chain=rel(w_chain), rel_solve=rel(w_solve))


def nuts_gaussian_check(draws, mu, cov):
  r"""NUTS against the closed-form posterior, within Monte Carlo error.

  Mean: z_j = |mean_j − μ_j| / MCSE_j with MCSE_j = sd_j/√ESS_j (numpyro's
  ESS); the claim holds if max_j z_j ≤ 4.
  Covariance: for N independent Gaussian draws the sample covariance S has
  E‖S − Σ‖²_F = (‖Σ‖²_F + (tr Σ)²)/N (Wishart variances), so the relative
  Frobenius error is compared with 3 × √((‖Σ‖²_F + (tr Σ)²)/N)/‖Σ‖_F, N the
  smallest ESS of the coordinates and of their squared deviations (what
  a variance estimate depends on), capped at the number of draws.
  """
  from numpyro.diagnostics import effective_sample_size

  mean, sd, ess, mcse = _mean_and_mcse(draws)
  z = np.abs(mean - mu) / mcse
  flat = draws.reshape(-1, draws.shape[-1])
  s = np.cov(flat, rowvar=False)
  ess_sq = np.asarray(effective_sample_size((draws - mean) ** 2))
  n_eff = float(min(np.min(ess), np.min(ess_sq), flat.shape[0]))
  fro = np.linalg.norm(cov)
  rel_cov = float(np.linalg.norm(s - cov) / fro)
  rms = math.sqrt((fro ** 2 + np.trace(cov) ** 2) / n_eff) / fro
  return dict(mean=mean, sd=sd, ess=ess, mcse=mcse, z=z, max_z=float(z.max()),
              sample_cov=s, rel_cov=rel_cov, cov_tol=COV_RMS_FACTOR * rms, n_eff=n_eff)


# ---------------------------------------------------------------------------
# Claim 2: Laplace prior = L1 at the mode
# ---------------------------------------------------------------------------

def laplace_map_certificate(X, y, *, b, sigma, alpha_scale=1.0, seed=0, n_dirs=200):
  r"""Certifies that the jaxreg L1 fit is the mode of numpyro's Laplace posterior.

  The log posterior log p(y|w) + log p(w) is not differentiable where a
  weight is 0, so a smooth optimiser cannot land on its exact zeros. Instead
  the jaxreg fit w̃ (ISTA at α = σ²/(nb)) is checked against numpyro's
  density by convex optimality, every number read from numpyro:

  * g = ∇ log p(y|w̃) (numpyro's likelihood site, by autodiff);
  * on the support, ∇ log p(w̃) (numpyro's prior site) must equal −g;
  * off it, −g_j must lie in the prior's superdifferential [d₊, −d₋], the
    one-sided slopes of numpyro's log prior at 0 (exact for the piecewise
    linear Laplace log density): here |g_j| ≤ 1/b.

  The distance r of 0 from the subdifferential of U = −log posterior at w̃
  bounds the distance to the exact mode w*: U is μ-strongly convex with μ the
  smallest eigenvalue of −∇² log p(y|w), so ‖w̃ − w*‖ ≤ ‖r‖/μ =: δ. A zero of
  w̃ is an exact zero of w* when its slack (distance of −g_j from the ends
  of [d₊, −d₋]) exceeds Lδ, L the largest eigenvalue: otherwise |g_j(w*)|
  would equal 1/b. Finally, numpyro's log density at w̃ + εd, for random unit
  directions d, ±coordinate directions and ε from 1e-8 to 1, must never
  exceed its value at w̃ by more than ε‖r‖ plus rounding.

  Returns:
    dict with the fit, the certificate and the comparisons.
  """
  n, p = X.shape
  kw = dict(prior="laplace", scale=b, sigma=sigma)
  pen = jr.conventions.convert(b, "laplace_prior", n_samples=n, noise_variance=sigma ** 2)
  pen = jr.L1(pen.alpha * alpha_scale)
  G, c = _quadratic(X, y)
  w, iters = jax.jit(lambda G, c, pen: _fit(G, c, pen, proximal=True))(G, c, pen)

  log_prior = jax.jit(lambda w: _site_log_probs(X, y, w, **kw)[0])
  log_lik = jax.jit(lambda w: _site_log_probs(X, y, w, **kw)[1])
  log_post = jax.jit(lambda w: sum(_site_log_probs(X, y, w, **kw)))
  g = jax.grad(log_lik)(w)
  g_prior = jax.grad(log_prior)(w)
  h = 1e-3
  eye = jnp.eye(p)
  d_plus = jnp.array([(log_prior(w + h * eye[j]) - log_prior(w)) / h for j in range(p)])
  d_minus = jnp.array([(log_prior(w - h * eye[j]) - log_prior(w)) / h for j in range(p)])
  support = np.asarray(w != 0)
  lo, hi = d_plus, -d_minus
  resid = jnp.where(support, g + g_prior, jnp.maximum(0.0, jnp.maximum(lo + g, -g - hi)))
  slack = jnp.where(support, jnp.inf, jnp.minimum(-g - lo, hi + g))
  hess = -jax.hessian(log_lik)(w)
  eig = jnp.linalg.eigvalsh(hess)
  mu, lip = eig[0], eig[-1]
  delta = float(jnp.linalg.norm(resid) / mu)
  rel_dist = delta / float(jnp.linalg.norm(w))
  zero_certified = np.asarray(slack > lip * delta) & ~support
  sign_certified = np.asarray(jnp.abs(w) > delta) & support
  n_uncertified = int(np.sum(~support & ~zero_certified) + np.sum(support & ~sign_certified))

  rng = np.random.default_rng(seed)
  dirs = rng.standard_normal((n_dirs, p))
  dirs = np.concatenate([dirs / np.linalg.norm(dirs, axis=1, keepdims=True), np.eye(p), -np.eye(p)])
  eps = np.logspace(-8, 0, 9)
  base = float(log_post(w))
  moved = w[None, None, :] + eps[:, None, None] * jnp.asarray(dirs)[None, :, :]
  vals = np.asarray(jax.vmap(jax.vmap(log_post))(moved))
  # By convexity the log density can rise by at most ε‖r‖ along a unit
  # direction; allow only the ε‖r‖ that the claim's tolerance permits, so a
  # point that is not the mode is caught here too.
  r_allowed = TOL_LAPLACE_MAP * float(mu) * float(jnp.linalg.norm(w))
  allowed = eps[:, None] * r_allowed + 1e-12 * (1.0 + abs(base))
  increase = vals - base
  n_increase = int(np.sum(increase > allowed))

  return dict(alpha=float(pen.alpha), w=np.asarray(w), iters=int(iters), g=np.asarray(g),
              bound=np.asarray(jnp.where(support, jnp.abs(g_prior), hi)), support=support, resid=np.asarray(resid),
              slack=np.asarray(slack), mu=float(mu), lip=float(lip), delta=delta,
              rel_dist=rel_dist, n_uncertified=n_uncertified, n_increase=n_increase,
              max_increase=float(increase.max()), n_perturb=int(increase.size),
              log_post=base, log_post_fn=log_post)


def smooth_map(log_post, p):
  """numpyro's log posterior maximised by L-BFGS (smooth): near the mode, never exactly 0."""
  import scipy.optimize

  f = jax.jit(jax.value_and_grad(lambda w: -log_post(w)))

  def fun(w):
    v, g = f(jnp.asarray(w))
    return float(v), np.asarray(g, dtype=np.float64)

  res = scipy.optimize.minimize(fun, np.zeros(p), jac=True, method="L-BFGS-B",
                                options=dict(maxiter=10_000, ftol=1e-15, gtol=1e-12))
  return res.x


# ---------------------------------------------------------------------------
# Claim 4: α from the evidence
# ---------------------------------------------------------------------------

def log_evidence(log_tau, log_sigma, X, y):
  r"""log p(y | τ, σ) = log N(y; 0, σ²I + τ²XXᵀ), the marginal likelihood of the Gaussian prior.

  Written directly with the dense n × n covariance (the definition); the
  optimiser uses ``_log_evidence_svd``, the same number in O(p) per step.
  """
  n = X.shape[0]
  cov = jnp.exp(2 * log_sigma) * jnp.eye(n) + jnp.exp(2 * log_tau) * X @ X.T
  return jax.scipy.stats.multivariate_normal.logpdf(y, jnp.zeros(n), cov)


def _log_evidence_svd(log_tau, log_sigma, s2, uy2, rest, n):
  r"""The evidence from the thin SVD X = USVᵀ (n ≥ p).

  σ²I + τ²XXᵀ has eigenvalues σ² + τ²sᵢ² on the columns of U and σ² on their
  orthogonal complement (n − p of them), so with uᵢ = Uᵀy and
  ‖y‖² − ‖Uᵀy‖² = ``rest``:

  .. math::  -2\log p(y) = n\log 2\pi + \sum_i \log(\sigma^2 + \tau^2 s_i^2)
             + (n - p)\log\sigma^2 + \sum_i \frac{u_i^2}{\sigma^2 + \tau^2 s_i^2}
             + \frac{\text{rest}}{\sigma^2}.
  """
  sig2, tau2 = jnp.exp(2 * log_sigma), jnp.exp(2 * log_tau)
  lam = sig2 + tau2 * s2
  p = s2.shape[0]
  return -0.5 * (n * jnp.log(2 * jnp.pi) + jnp.sum(jnp.log(lam)) + (n - p) * jnp.log(sig2)
                 + jnp.sum(uy2 / lam) + rest / sig2)


def evidence_alpha(X, y, steps=1500, lr=0.05):
  """α = σ̂²/(nτ̂²) at the maximum of the evidence over (log τ, log σ), found by Adam.

  Returns:
    (α, (log τ̂, log σ̂), norm of the gradient at the end).
  """
  n = X.shape[0]
  u, s, _ = jnp.linalg.svd(X, full_matrices=False)
  uy = u.T @ y
  rest = y @ y - uy @ uy
  neg = lambda t: -_log_evidence_svd(t[0], t[1], s ** 2, uy ** 2, rest, n)
  tx = optax.adam(optax.cosine_decay_schedule(lr, steps, alpha=0.01))
  theta = jnp.stack([jnp.zeros(()), jnp.log(jnp.std(y))])
  theta = workbench.minimise(neg, theta, tx, steps)
  grad_norm = jnp.linalg.norm(jax.grad(neg)(theta))
  return jnp.exp(2 * theta[1]) / (n * jnp.exp(2 * theta[0])), theta, grad_norm


def evidence_vs_cv(key, cfg, alphas):
  """Claim 4 over many tasks: evidence α and K-fold CV α against the true σ²/(nτ²)."""
  tasks, n, p = cfg["evidence_tasks"], cfg["evidence_n"], cfg["evidence_p"]
  tau, sigma = cfg["evidence_tau"], cfg["sigma"]
  kx, kw, ke = jax.random.split(key, 3)
  X = jax.random.normal(kx, (tasks, n, p))
  w = tau * jax.random.normal(kw, (tasks, p))
  y = jnp.einsum("tnp,tp->tn", X, w) + sigma * jax.random.normal(ke, (tasks, n))
  truth = sigma ** 2 / (n * tau ** 2)

  a_ev, theta, gnorm = jax.jit(jax.vmap(evidence_alpha))(X, y)
  # The O(p) form against the dense definition, on the first task.
  dense = float(log_evidence(theta[0, 0], theta[0, 1], X[0], y[0]))
  u, s, _ = jnp.linalg.svd(X[0], full_matrices=False)
  uy = u.T @ y[0]
  fast = float(_log_evidence_svd(theta[0, 0], theta[0, 1], s ** 2, uy ** 2,
                                 y[0] @ y[0] - uy @ uy, n))
  pens = jr.L2(alphas)
  cv = jax.jit(jax.vmap(lambda X, y: _cv_errors(X, y, pens, cfg["cv_folds"], _l2_solve)))(X, y)
  a_cv = alphas[jnp.argmin(cv, axis=1)]
  return dict(truth=truth, alpha_evidence=np.asarray(a_ev), alpha_cv=np.asarray(a_cv),
              cv_curves=np.asarray(cv), tau_hat=np.exp(np.asarray(theta[:, 0])),
              sigma_hat=np.exp(np.asarray(theta[:, 1])), grad_norm=np.asarray(gnorm),
              formula_gap=abs(dense - fast) / abs(dense))


def _ratio_stats(r):
  q1, med, q3 = np.percentile(r, [25, 50, 75])
  return med, q1, q3


# ---------------------------------------------------------------------------
# Claim 5: which prior fits which truth
# ---------------------------------------------------------------------------

def _draw_weights(key, kind, shape):
  """True weights of unit variance: kind 0 Gaussian, 1 Laplace, 2 spike-and-slab (20% nonzero)."""
  k0, k1, k2, k3 = jax.random.split(key, 4)
  gauss = jax.random.normal(k0, shape)
  laplace = jax.random.laplace(k1, shape) / math.sqrt(2.0)
  slab = jnp.where(jax.random.bernoulli(k2, 0.2, shape),
                   jax.random.normal(k3, shape) / math.sqrt(0.2), 0.0)
  return jnp.select([kind == 0, kind == 1], [gauss, laplace], slab)


def _with_alpha(template, alpha):
  """``template`` with its α leaf replaced (other leaves broadcast to α's shape, for vmap)."""
  leaves, treedef = jax.tree_util.tree_flatten(template)
  alpha = jnp.asarray(alpha)
  rest = [jnp.broadcast_to(jnp.asarray(x, alpha.dtype), alpha.shape) for x in leaves[1:]]
  return jax.tree_util.tree_unflatten(treedef, [alpha] + rest)


def prior_match(key, cfg):
  """Claim 5: test error of CV-tuned L2, L1 and elastic net (r = 0.5) per truth."""
  tasks, n, p, k = cfg["prior_tasks"], cfg["prior_n"], cfg["prior_p"], cfg["cv_folds"]
  # Signal variance p (unit-variance weights, standard normal X) over noise σ².
  sigma = math.sqrt(p / cfg["prior_snr"])
  n_test = 1000
  grid = jnp.logspace(0, -3, 13)
  # Built from concrete values outside the trace, then given traced α's.
  templates = {"L2": jr.L2(1.0), "L1": jr.L1(1.0), "ElasticNet(r=0.5)": jr.ElasticNet(1.0, 0.5)}
  methods = {name: (lambda a, t=t: _with_alpha(t, a)) for name, t in templates.items()}
  # Prediction error needs far less precision than claims 1–2.
  prox_fit = lambda G, c, pen: _fit(G, c, pen, proximal=True, tol=1e-8, max_iter=5_000)[0]

  def task(key, kind):
    kx, kt, kw, ke, kf = jax.random.split(key, 5)
    X = jax.random.normal(kx, (n, p))
    Xt = jax.random.normal(kt, (n_test, p))
    w = _draw_weights(kw, kind, (p,))
    y = X @ w + sigma * jax.random.normal(ke, (n,))
    G, c = _quadratic(X, y)
    amax = jnp.max(jnp.abs(c))
    out = []
    for name, make in methods.items():
      # L2 needs a larger scale than the lasso's α_max (it never zeroes weights).
      alphas = amax * grid * (10.0 if name == "L2" else 1.0) / (0.5 if "Elastic" in name else 1.0)
      fit = _l2_solve if name == "L2" else prox_fit
      cv = _cv_errors(X, y, make(alphas), k, fit)
      best = alphas[jnp.argmin(cv)]
      w_hat = fit(G, c, make(best))
      # Excess test error per sample, in units of the noise variance.
      out.append(jnp.mean((Xt @ (w_hat - w)) ** 2) / sigma ** 2)
    return jnp.stack(out)

  kinds = ("gaussian", "laplace", "spike-and-slab")
  keys = jnp.stack([jax.random.split(jax.random.fold_in(key, i), tasks) for i in range(3)])
  which = jnp.repeat(jnp.arange(3), tasks)
  # One compiled program for all three truths (the kind is data, not code).
  errs = np.asarray(jax.jit(jax.vmap(task))(keys.reshape(3 * tasks, *keys.shape[2:]), which))
  results = {kind: errs[i * tasks:(i + 1) * tasks] for i, kind in enumerate(kinds)}
  return dict(errors=results, methods=list(methods), sigma=sigma)


# ---------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------

def _fig_gaussian(c1, nuts, out):
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  fig, ax = plt.subplots(1, 2, figsize=(10, 3.8))
  j = np.arange(len(c1["mu"]))
  sd = np.sqrt(np.diag(c1["cov"]))
  ax[0].errorbar(j - 0.1, c1["mu"], yerr=2 * sd, fmt="o", label="closed form μ ± 2 sd")
  ax[0].errorbar(j + 0.1, nuts["mean"], yerr=MCSE_SIGMAS * nuts["mcse"], fmt="s",
                 label="NUTS mean ± 4 MCSE")
  ax[0].plot(j, c1["w_chain"], "k_", ms=18, label="jaxreg L2 fit")
  ax[0].set_xlabel("coordinate j")
  ax[0].set_ylabel("w_j")
  ax[0].set_title("Gaussian prior: L2 fit = posterior mean")
  ax[0].legend(fontsize=8)
  iu = np.triu_indices(len(j))
  ax[1].plot(c1["cov"][iu], nuts["sample_cov"][iu], "o")
  lim = [c1["cov"][iu].min(), c1["cov"][iu].max()]
  ax[1].plot(lim, lim, "k--", lw=1)
  ax[1].set_xlabel("closed-form covariance entry")
  ax[1].set_ylabel("NUTS covariance entry")
  ax[1].set_title(f"relative Frobenius error {nuts['rel_cov']:.3f} (bound {nuts['cov_tol']:.3f})")
  return workbench.save_figure(fig, out, "bayes_gaussian_posterior")


def _fig_laplace_kkt(c2, out):
  import matplotlib.pyplot as plt

  fig, ax = plt.subplots(1, 2, figsize=(10, 3.8))
  j = np.arange(len(c2["w"]))
  gb = c2["g"] / c2["bound"]
  colors = np.where(c2["support"], "C0", "C3")
  ax[0].bar(j, gb, color=colors)
  ax[0].axhline(1, color="k", ls="--", lw=1)
  ax[0].axhline(-1, color="k", ls="--", lw=1)
  ax[0].set_xlabel("coordinate j (blue: w_j ≠ 0, red: w_j = 0)")
  ax[0].set_ylabel("b · ∂log p(y|w)/∂w_j")
  ax[0].set_title("optimality of numpyro's log posterior at the L1 fit")
  ax[1].set_title("log posterior along random directions")
  for d in range(min(20, c2["perturb"].shape[1])):
    ax[1].plot(c2["eps"], c2["base"] - c2["perturb"][:, d], color="C0", alpha=0.4)
  ax[1].set_xscale("log")
  ax[1].set_yscale("log")
  ax[1].set_xlabel("step ε")
  ax[1].set_ylabel("log p(w̃|y) − log p(w̃ + εd|y)  (> 0)")
  return workbench.save_figure(fig, out, "bayes_laplace_map")


def _fig_laplace_hist(draws_j, j, lasso_j, mean_j, out):
  import matplotlib.pyplot as plt

  fig, ax = plt.subplots(figsize=(6, 3.8))
  ax.hist(draws_j, bins=60, density=True, color="C0", alpha=0.6, label="NUTS draws")
  ax.axvline(lasso_j, color="C3", lw=2, label=f"MAP = lasso = {lasso_j:g}")
  ax.axvline(mean_j, color="k", ls="--", lw=2, label=f"posterior mean = {mean_j:.4f}")
  ax.set_xlabel(f"w_{j}")
  ax.set_ylabel("density")
  ax.set_title(f"Laplace posterior of coordinate {j} (set to 0 by the lasso)")
  ax.legend(fontsize=8)
  return workbench.save_figure(fig, out, "bayes_laplace_posterior")


def _fig_evidence(c4, alphas, out):
  import matplotlib.pyplot as plt

  fig, ax = plt.subplots(1, 2, figsize=(10, 3.8))
  t = c4["truth"]
  data = [np.log2(c4["alpha_evidence"] / t), np.log2(c4["alpha_cv"] / t)]
  ax[0].boxplot(data)
  ax[0].set_xticks([1, 2], ["evidence", f"{DEFAULTS['cv_folds']}-fold CV"])
  for i, d in enumerate(data):
    ax[0].plot(np.full(d.shape, i + 1) + np.linspace(-0.1, 0.1, d.size), d, "k.", alpha=0.5)
  ax[0].axhline(0, color="k", lw=1)
  ax[0].axhline(1, color="k", ls=":", lw=1)
  ax[0].axhline(-1, color="k", ls=":", lw=1)
  ax[0].set_ylabel("log₂(α̂ / true σ²/(nτ²))")
  ax[0].set_title("chosen α over tasks")
  curve = c4["cv_curves"][0]
  ax[1].plot(alphas, curve, label="CV error (task 0)")
  ax[1].axvline(t, color="k", label="true α")
  ax[1].axvline(c4["alpha_evidence"][0], color="C1", ls="--", label="evidence α")
  ax[1].axvline(c4["alpha_cv"][0], color="C2", ls=":", label="CV α")
  ax[1].set_xscale("log")
  ax[1].set_xlabel("α")
  ax[1].set_ylabel("held-out MSE")
  ax[1].legend(fontsize=8)
  return workbench.save_figure(fig, out, "bayes_evidence_vs_cv")


def _fig_prior_match(rows, methods, out):
  import matplotlib.pyplot as plt

  fig, ax = plt.subplots(figsize=(7, 3.8))
  kinds = list(rows)
  width = 0.25
  for m, name in enumerate(methods):
    means = [rows[k][m][0] for k in kinds]
    hws = [rows[k][m][1] for k in kinds]
    ax.bar(np.arange(len(kinds)) + (m - 1) * width, means, width, yerr=hws, capsize=3, label=name)
  ax.set_xticks(np.arange(len(kinds)), kinds)
  ax.set_ylabel("excess test MSE / σ²  (95% CI)")
  ax.set_title("CV-tuned penalties by the distribution of the true weights")
  ax.legend(fontsize=8)
  return workbench.save_figure(fig, out, "bayes_prior_match")


# ---------------------------------------------------------------------------
# run
# ---------------------------------------------------------------------------

def run(*, seed: int = 0, out_dir=None, full: bool = False, **config) -> workbench.Result:
  """Runs the five claims and returns their verdicts, tables, figures and data.

  Args:
    seed: seeds every data set and sampler.
    out_dir: where figures go (a temporary folder when None).
    full: the larger settings of ``FULL`` (more samples, chains and tasks).
    **config: overrides of ``DEFAULTS`` (e.g. ``num_samples=300``).

  Returns:
    A ``workbench.Result`` named "bayes".
  """
  cfg = workbench.settings("bayes", DEFAULTS, FULL, full, config)
  out = workbench.figure_dir(out_dir)
  t0 = time.perf_counter()
  with jax.enable_x64(True):
    return _run(seed, out, cfg, t0)


def _run(seed, out, cfg, t0):
  n, p, sigma = cfg["n"], cfg["p"], cfg["sigma"]
  tau, b = cfg["tau"], cfg["b"]
  root = jax.random.PRNGKey(seed)
  k1, k2, k3, k4, k5, k6 = jax.random.split(root, 6)
  verdicts, tables, figures, data = [], [], [], {}

  # --- 1. Gaussian prior = L2 ----------------------------------------------
  kx, kw, ke = jax.random.split(k1, 3)
  X = jax.random.normal(kx, (n, p))
  w_true = tau * jax.random.normal(kw, (p,))
  y = X @ w_true + sigma * jax.random.normal(ke, (n,))
  c1 = gaussian_claim(X, y, tau=tau, sigma=sigma, alpha_scale=cfg["alpha_scale"])
  draws = _nuts(X, y, k2, cfg, prior="gaussian", scale=tau, sigma=sigma)
  nuts1 = nuts_gaussian_check(draws, c1["mu"], c1["cov"])
  verdicts.append(workbench.check(
      "Gaussian prior = L2: the jaxreg L2 fit at α = σ²/(nτ²) is the closed-form posterior mean",
      max(c1["rel_chain"], c1["rel_solve"]), TOL_GAUSSIAN_MAP,
      f"relative 2-norm error, α = {c1['alpha']:.4g}; gradient chain "
      f"({c1['iters']} steps) {c1['rel_chain']:.1e}, Newton solve with pen.grad "
      f"{c1['rel_solve']:.1e}"))
  verdicts.append(workbench.check(
      "Gaussian prior: the NUTS posterior mean matches the closed form within Monte Carlo error",
      nuts1["max_z"], MCSE_SIGMAS,
      f"max_j |mean_j − μ_j| / MCSE_j (MCSE = sd/√ESS, ESS {nuts1['ess'].min():.0f}–"
      f"{nuts1['ess'].max():.0f} of {draws.shape[0] * draws.shape[1]} draws)"))
  verdicts.append(workbench.check(
      "Gaussian prior: the NUTS posterior covariance matches the closed form",
      nuts1["rel_cov"], nuts1["cov_tol"],
      f"‖S − Σ‖_F/‖Σ‖_F against 3 × its sampling RMS √((‖Σ‖²_F + (trΣ)²)/N), "
      f"N = {nuts1['n_eff']:.0f} (smallest ESS)"))
  tables.append(workbench.Table(
      caption="Claim 1: closed-form posterior mean μ, jaxreg L2 fit and NUTS (per coordinate)",
      columns=["j", "μ_j (closed form)", "L2 fit (chain)", "NUTS mean", "MCSE", "z = |Δ|/MCSE",
               "posterior sd", "NUTS sd"],
      rows=[[j, f"{c1['mu'][j]:.6f}", f"{c1['w_chain'][j]:.6f}", f"{nuts1['mean'][j]:.4f}",
             f"{nuts1['mcse'][j]:.4f}", f"{nuts1['z'][j]:.2f}",
             f"{math.sqrt(c1['cov'][j, j]):.4f}", f"{nuts1['sd'][j]:.4f}"] for j in range(p)]))
  figures.append(_fig_gaussian(c1, nuts1, out))
  data.update(gaussian_mu=c1["mu"], gaussian_cov=c1["cov"], gaussian_l2_fit=c1["w_chain"],
              gaussian_nuts_mean=nuts1["mean"], gaussian_nuts_cov=nuts1["sample_cov"],
              gaussian_nuts_mcse=nuts1["mcse"], gaussian_alpha=c1["alpha"])

  # --- 2. Laplace prior = L1 at the mode ------------------------------------
  kx, ke = jax.random.split(k3)
  X2 = jax.random.normal(kx, (n, p))
  # A sparse truth: two clear signals, the rest 0, so the lasso has both
  # active coordinates and exact zeros to certify.
  w2 = jnp.zeros(p).at[0].set(1.5).at[min(1, p - 1)].set(-1.0)
  y2 = X2 @ w2 + sigma * jax.random.normal(ke, (n,))
  c2 = laplace_map_certificate(X2, y2, b=b, sigma=sigma, alpha_scale=cfg["alpha_scale"], seed=seed)
  w_lasso = c2["w"]
  from sklearn.linear_model import Lasso
  sk = Lasso(alpha=c2["alpha"], fit_intercept=False, tol=1e-14, max_iter=1_000_000).fit(
      np.asarray(X2), np.asarray(y2)).coef_
  w_smooth = smooth_map(c2["log_post_fn"], p)
  rel_sk = float(np.linalg.norm(sk - w_lasso) / np.linalg.norm(w_lasso))
  rel_smooth = float(np.linalg.norm(w_smooth - w_lasso) / np.linalg.norm(w_lasso))
  zeros = ~c2["support"]
  verdicts.append(workbench.check(
      "Laplace prior = L1 at the mode: the jaxreg L1 fit at α = σ²/(nb) is the mode of "
      "numpyro's log posterior",
      c2["rel_dist"], TOL_LAPLACE_MAP,
      f"certified relative distance ‖r‖/(μ‖w̃‖) to the exact mode, r = distance of 0 from "
      f"the subdifferential of numpyro's −log posterior, μ = {c2['mu']:.3g} its strong "
      f"convexity; α = {c2['alpha']:.4g}"))
  verdicts.append(workbench.check(
      "Laplace prior: the mode has exactly the L1 fit's zeros and no direction increases "
      "numpyro's log density",
      c2["n_uncertified"] + c2["n_increase"], 0,
      f"{int(zeros.sum())} exact zeros, all certified (slack > Lδ) unless counted; "
      f"{c2['n_increase']} of {c2['n_perturb']} perturbations raised the log density "
      f"(largest change {c2['max_increase']:.2e})"))
  tables.append(workbench.Table(
      caption="Claim 2: the L1 fit against numpyro's optimality condition "
              "(g = ∂ log p(y|w)/∂w, bound 1/b)",
      columns=["j", "true w", "jaxreg L1 fit", "g_j", "bound", "residual", "sklearn Lasso",
               "L-BFGS on numpyro"],
      rows=[[j, f"{float(w2[j]):g}", f"{w_lasso[j]:.8f}", f"{c2['g'][j]:.6f}",
             f"{c2['bound'][j]:.4f}", f"{c2['resid'][j]:.1e}", f"{sk[j]:.8f}",
             f"{w_smooth[j]:.3e}"] for j in range(p)]))
  c2["eps"] = np.logspace(-8, 0, 9)
  rng = np.random.default_rng(seed + 1)
  dirs = rng.standard_normal((20, p))
  dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
  c2["base"] = c2["log_post"]
  c2["perturb"] = np.asarray(jax.vmap(jax.vmap(c2["log_post_fn"]))(
      jnp.asarray(w_lasso)[None, None] + c2["eps"][:, None, None] * jnp.asarray(dirs)[None]))
  figures.append(_fig_laplace_kkt(c2, out))
  data.update(laplace_l1_fit=w_lasso, laplace_grad_loglik=c2["g"], laplace_alpha=c2["alpha"],
              laplace_sklearn=sk, laplace_smooth_map=w_smooth, laplace_certified_distance=c2["delta"])

  # --- 3. …only at the mode -------------------------------------------------
  draws3 = _nuts(X2, y2, k4, cfg, prior="laplace", scale=b, sigma=sigma)
  mean3, sd3, ess3, mcse3 = _mean_and_mcse(draws3)
  flat3 = draws3.reshape(-1, p)
  n_zero_draws = int(np.sum(flat3 == 0.0))
  n_zero_mean = int(np.sum(mean3 == 0.0))
  z3 = np.abs(mean3 - w_lasso) / mcse3
  p_value = min(1.0, p * 2 * _normal_cdf(-float(z3.max())))
  verdicts.append(workbench.check(
      "Laplace prior: the posterior puts no mass at zero (no NUTS draw or posterior-mean "
      "coordinate is exactly 0)",
      n_zero_draws + n_zero_mean, 0,
      f"{n_zero_draws} exact zeros in {flat3.size} draws, {n_zero_mean} in the mean; the lasso "
      f"has {int(zeros.sum())} of {p}"))
  verdicts.append(workbench.check(
      "Laplace prior: the posterior mean is not the lasso solution",
      p_value, P_VALUE_DIFFERS,
      f"Bonferroni p-value of max_j |mean_j − lasso_j|/MCSE_j = {z3.max():.1f} under "
      f"'mean = lasso'"))
  tables.append(workbench.Table(
      caption="Claim 3: Laplace posterior (NUTS) against its mode, the lasso",
      columns=["j", "lasso (MAP)", "posterior mean", "posterior sd", "(mean − MAP)/sd",
               "(mean − MAP)/MCSE", "P(w_j > 0)", "P(|w_j| < 0.01)"],
      rows=[[j, f"{w_lasso[j]:.4f}", f"{mean3[j]:.4f}", f"{sd3[j]:.4f}",
             f"{(mean3[j] - w_lasso[j]) / sd3[j]:+.3f}", f"{(mean3[j] - w_lasso[j]) / mcse3[j]:+.1f}",
             f"{np.mean(flat3[:, j] > 0):.3f}", f"{np.mean(np.abs(flat3[:, j]) < 0.01):.3f}"]
            for j in range(p)]))
  if zeros.any():
    cand = np.where(zeros)[0]
    jz = int(cand[np.argmax(np.abs(mean3[cand]))])
  else:
    jz = int(np.argmin(np.abs(w_lasso)))
  figures.append(_fig_laplace_hist(flat3[:, jz], jz, float(w_lasso[jz]), float(mean3[jz]), out))
  diff_zero = np.abs(mean3 - w_lasso)[zeros]
  diff_active = np.abs(mean3 - w_lasso)[~zeros]
  data.update(laplace_posterior_mean=mean3, laplace_posterior_sd=sd3, laplace_mcse=mcse3,
              laplace_zero_draws=n_zero_draws, laplace_hist_coordinate=jz)

  # --- 4. α from the evidence -----------------------------------------------
  alphas = jnp.logspace(-4, 2, 49)
  c4 = evidence_vs_cv(k5, cfg, alphas)
  t = c4["truth"]
  ev = _ratio_stats(c4["alpha_evidence"] / t)
  cv = _ratio_stats(c4["alpha_cv"] / t)
  verdicts.append(workbench.check(
      "α from the evidence: maximising the Gaussian marginal likelihood over (τ, σ) recovers "
      "α = σ²/(nτ²) within a factor of 2 (median over tasks)",
      max(ev[0], 1.0 / ev[0]), EVIDENCE_FACTOR,
      f"max(m, 1/m) for the median ratio m = α_evidence/α_true over "
      f"{cfg['evidence_tasks']} tasks (IQR {ev[1]:.2f}–{ev[2]:.2f}); CV median {cv[0]:.2f} "
      f"(IQR {cv[1]:.2f}–{cv[2]:.2f}) reported, not judged"))
  tables.append(workbench.Table(
      caption=f"Claim 4: chosen α / true α over {cfg['evidence_tasks']} tasks (n = "
              f"{cfg['evidence_n']}, p = {cfg['evidence_p']}, τ = {cfg['evidence_tau']}, "
              f"σ = {sigma}, true α = {t:.4g})",
      columns=["method", "median ratio", "IQR (25%–75%)", "median |log₂ ratio|"],
      rows=[["evidence (type-II ML)", f"{ev[0]:.3f}", f"{ev[1]:.3f}–{ev[2]:.3f}",
             f"{np.median(np.abs(np.log2(c4['alpha_evidence'] / t))):.2f}"],
            [f"{cfg['cv_folds']}-fold CV (contiguous)", f"{cv[0]:.3f}", f"{cv[1]:.3f}–{cv[2]:.3f}",
             f"{np.median(np.abs(np.log2(c4['alpha_cv'] / t))):.2f}"]]))
  figures.append(_fig_evidence(c4, np.asarray(alphas), out))
  data.update(evidence_alpha=c4["alpha_evidence"], cv_alpha=c4["alpha_cv"], true_alpha=t,
              evidence_grad_norm=c4["grad_norm"], evidence_formula_gap=c4["formula_gap"])

  # --- 5. Which prior fits which truth ---------------------------------------
  c5 = prior_match(k6, cfg)
  rows5, fig_rows = [], {}
  for kind, err in c5["errors"].items():
    stats = []
    for m, name in enumerate(c5["methods"]):
      e = err[:, m]
      hw = 1.96 * e.std(ddof=1) / math.sqrt(e.size)
      stats.append((float(e.mean()), hw))
      rows5.append([kind, name, f"{e.mean():.4f} ± {hw:.4f}"])
    fig_rows[kind] = stats
    best = int(np.argmin([s[0] for s in stats]))
    rows5[-len(stats) + best][2] += " (lowest)"
  tables.append(workbench.Table(
      caption=f"Claim 5: excess test MSE / σ² of CV-tuned fits (mean ± 1.96 SE over "
              f"{cfg['prior_tasks']} tasks per truth; n = {cfg['prior_n']}, p = {cfg['prior_p']}, "
              f"signal/noise variance {cfg['prior_snr']})",
      columns=["true weights", "penalty", "excess test MSE / σ²"], rows=rows5))
  figures.append(_fig_prior_match(fig_rows, c5["methods"], out))
  data.update(prior_match_errors=c5["errors"])

  runtime = time.perf_counter() - t0
  data["runtime_s"] = runtime
  summary = _summary(cfg, c1, nuts1, c2, rel_sk, rel_smooth, w_smooth, zeros, mean3, sd3, w_lasso,
                     diff_zero, diff_active, n_zero_draws, flat3.size, jz, ev, cv, t, fig_rows,
                     runtime)
  return workbench.Result(name="bayes", title="Regularization as a prior: Gaussian = L2, "
                          "Laplace = L1 (at the mode only)", summary=summary, verdicts=verdicts,
                          tables=tables, figures=figures, data=data)


def _summary(cfg, c1, nuts1, c2, rel_sk, rel_smooth, w_smooth, zeros, mean3, sd3, w_lasso,
             diff_zero, diff_active, n_zero_draws, n_draws, jz, ev, cv, t, fig_rows, runtime):
  n, p, sigma = cfg["n"], cfg["p"], cfg["sigma"]
  smooth_zero = np.abs(w_smooth[zeros]) if zeros.any() else np.array([np.nan])
  best5 = {k: ["L2", "L1", "ElasticNet(r=0.5)"][int(np.argmin([s[0] for s in v]))]
           for k, v in fig_rows.items()}
  return f"""\
With Gaussian noise of variance σ² and n samples, −log p(w|y) multiplied by σ²/n is
jaxreg's objective (1/(2n))‖y − Xw‖² + (σ²/n)(−log p(w)): a N(0, τ²) prior adds
(σ²/(2nτ²))‖w‖², i.e. **L2(α = σ²/(nτ²))**, and a Laplace(0, b) prior adds
(σ²/(nb))‖w‖₁, i.e. **L1(α = σ²/(nb))**. Settings: n = {n}, p = {p}, σ = {sigma}, X standard
normal, NUTS with {cfg['num_chains']} chain(s) × ({cfg['num_warmup']} warm-up + {cfg['num_samples']}
draws); α taken from `jr.conventions.convert(τ or b, "gaussian_prior"/"laplace_prior", ...)`.

**1. Gaussian prior = L2, exactly.** The posterior is Gaussian, N(μ, Σ) with
Σ = (XᵀX/σ² + I/τ²)⁻¹ and μ = ΣXᵀy/σ², so its mode *is* its mean. Data drawn from the
model (τ = {cfg['tau']}, α = {c1['alpha']:.4g}). The jaxreg L2 fit (gradient descent with
`add_penalty_gradient(L2)` + `sgd` run to convergence, {c1['iters']} steps) is μ to
{c1['rel_chain']:.1e} relative (tolerance 1e-6); a Newton solve built from the penalty's own
gradient gives {c1['rel_solve']:.1e}. NUTS agrees: each coordinate's mean within 4 Monte Carlo
standard errors (MCSE = sd/√ESS, numpyro's ESS; largest |Δ|/MCSE = {nuts1['max_z']:.2f}), and the
sample covariance within 3 × its sampling RMS in relative Frobenius norm ({nuts1['rel_cov']:.3f}
against {nuts1['cov_tol']:.3f}; the RMS √((‖Σ‖²_F + (trΣ)²)/N)/‖Σ‖_F is the Wishart value for N
= {nuts1['n_eff']:.0f} effective draws). *Figure `bayes_gaussian_posterior`*: the three estimates
coincide per coordinate; covariance entries lie on the diagonal.

**2. Laplace prior = L1 at the mode.** How the mode was found: numpyro's log posterior is
not differentiable where a weight is 0, so a smooth optimiser cannot land on its exact zeros
(L-BFGS on numpyro's density stops at {rel_smooth:.1e} relative distance and leaves the
"zero" coordinates at |w_j| ≈ {np.nanmax(smooth_zero):.1e}, never 0). Instead the jaxreg L1 fit
w̃ (ISTA: `sgd` then `jr.proximal(L1(α))`, α = {c2['alpha']:.4g}) is *certified* as numpyro's
mode: with g = ∇ log p(y|w̃) from numpyro's likelihood site, on the support g equals minus
numpyro's prior gradient (±1/b), and off it |g_j| ≤ 1/b (the one-sided slopes of numpyro's log
prior at 0). The distance r of 0 from the subdifferential bounds the distance to the exact
mode by ‖r‖/μ (μ = {c2['mu']:.3g}, strong convexity of −log p(y|w)): {c2['delta']:.1e}, i.e.
{c2['rel_dist']:.1e} relative (tolerance 1e-5). Each of the {int(zeros.sum())} zeros has slack
1/b − |g_j| larger than L·‖r‖/μ, which proves the exact mode is 0 there too; and none of
{c2['n_perturb']} perturbations (random and ± coordinate directions, ε from 1e-8 to 1) raised
numpyro's log density. scikit-learn's `Lasso` at the same α agrees to {rel_sk:.1e}.
*Figure `bayes_laplace_map`*: b·g_j sits at ±1 on the support and strictly inside (−1, 1) at the
zeros; the log posterior falls in every direction.

**3. …and only at the mode.** The Laplace posterior is continuous: {n_zero_draws} of {n_draws}
draws are exactly 0 and no coordinate of the posterior mean is. The mean is not the lasso: on the
lasso's zero coordinates it differs by {_fmt_range(diff_zero)} (in posterior sd:
{_fmt_range(diff_zero / sd3[zeros]) if zeros.any() else 'n/a'}); on the active ones by
{_fmt_range(diff_active)}, smaller, because far from 0 the Laplace prior is an exponential tilt
of a near-Gaussian likelihood, which moves the mode and the mean together. *Figure
`bayes_laplace_posterior`*: coordinate {jz}, set to 0 by the lasso: a peaked but continuous
posterior with the MAP (0) and the mean marked apart.

**4. α from the evidence.** For the Gaussian prior the marginal likelihood is closed form,
y ~ N(0, σ²I + τ²XXᵀ). Maximising it over (log τ, log σ) with Adam (gradients by `jax.grad`) and
setting α = σ̂²/(nτ̂²) gives a median ratio to the true α = {t:.4g} of {ev[0]:.2f} (IQR
{ev[1]:.2f}–{ev[2]:.2f}) over {cfg['evidence_tasks']} tasks (n = {cfg['evidence_n']}, p =
{cfg['evidence_p']}); the verdict asks the median within a factor of 2, a loose bound because τ is
estimated from only p = {cfg['evidence_p']} weights (τ̂² has relative sd ≈ √(2/p) =
{math.sqrt(2 / cfg['evidence_p']):.2f}). {cfg['cv_folds']}-fold contiguous CV of L2 fits over a 49-point
α grid gives a median ratio {cv[0]:.2f} (IQR {cv[1]:.2f}–{cv[2]:.2f}); CV targets held-out
prediction error, which is flat in α near its minimum, so it is not built to recover the prior's α. *Figure
`bayes_evidence_vs_cv`*: log₂ ratios per task (dotted lines: factor 2) and one task's CV curve.

**5. Which prior fits which truth** (a measurement, no verdict). Excess test error of CV-tuned
L2, L1 and elastic net (r = 0.5) when the true weights are Gaussian, Laplace or spike-and-slab
(20% nonzero), all of unit variance: lowest mean for Gaussian: {best5['gaussian']}, Laplace:
{best5['laplace']}, spike-and-slab: {best5['spike-and-slab']} (95% intervals in the table; overlapping
intervals mean no difference is shown). The MAP reading suggests matching the penalty to the
prior; the table says how much that matters at this n and p. *Figure `bayes_prior_match`*.

Runtime: {runtime:.1f} s.
"""


def _fmt_range(x):
  x = np.asarray(x)
  if x.size == 0:
    return "n/a (none)"
  return f"{x.min():.3g}–{x.max():.3g}" if x.size > 1 else f"{x[0]:.3g}"
