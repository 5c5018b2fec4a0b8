r"""Support recovery: when the lasso selects exactly the right features.

Throughout, the lasso is jaxreg's (and scikit-learn's ``Lasso(alpha)``)

.. math::  \hat w(\alpha) = \arg\min_w \tfrac1{2n}\|y - Xw\|^2 + \alpha\|w\|_1 ,

without intercept, on y = Xw* + σε, ε ~ N(0, I), w* supported on S (|S| = s)
with signs z = sign(w*_S). *Exact signed-support recovery* means
sign(ŵ) = sign(w*) coordinate by coordinate (no missed feature, no false one,
no flipped sign).

**The KKT characterisation** (primal–dual witness). ŵ has support S and
signs z iff ŵ_S = (X_SᵀX_S)⁻¹(X_Sᵀy − nαz) has the signs z and every j ∉ S
is strictly dual feasible,

.. math::  \Bigl|\,X_j^\top\Bigl[X_S(X_S^\top X_S)^{-1}z
           + \frac{(I - P_S)\varepsilon\,\sigma}{n\alpha}\Bigr]\Bigr| < 1 ,

P_S the projection onto X_S's columns. Both claims below are read off it.

**1. The irrepresentable condition** (Zhao & Yu 2006; Wainwright 2009). With
rows x ~ N(0, Σ), the sample version of the bracket tends to
Σ_{jS}Σ_{SS}⁻¹z, so sign consistency for *some* sequence α_n needs

.. math::  \bigl\|\Sigma_{S^cS}\,\Sigma_{SS}^{-1}\,z\bigr\|_\infty \le 1 - \eta, \quad \eta > 0 ,

and when the norm exceeds 1 it fails: Wainwright (2009) shows that then
P(recovery) ≤ ½ for every fixed α. (With α allowed to depend on the data,
as below where any α on a path counts, the same limit holds: for the
offending feature j, sign recovery needs the noise term
X_jᵀ(I − P_S)ε/n to have the sign opposite to Σ_{jS}Σ_{SS}⁻¹z, probability
½.) Two designs, s = 3 out of p features, z = (+, +, +): a Toeplitz
Σᵢⱼ = ρ^{|i−j|} with S = {0, 2, 4} (each feature between two support
features regresses on them with coefficients ρ/(1 + ρ²), so the norm is
2ρ/(1 + ρ²) = 0.8 at ρ = ½: it holds with η = 0.2), and Σ = I except one
"bad" feature with correlation c with each support feature (norm s·c = 1.5
at c = ½: it fails). Measured: over R draws per n, the fraction whose
lasso path (a grid of α from ‖Xᵀy‖_∞/n down 2.5 decades) contains an α with
the exact signed support. The prediction is the sign of η, computed from
Σ alone: → 1 where η > 0, ≤ ½ where η < 0.

**2. Wainwright's sharp threshold** (Wainwright 2009, the random-design
results for the standard Gaussian ensemble Σ = I). With

.. math::  \theta = \frac{n}{2 s \log(p - s)}, \qquad
           \alpha = \sigma\sqrt{\frac{2\kappa \log(p - s)}{n}} ,

and |w*_j| ≥ β_min ≫ α, the lasso recovers the signed support with
probability → 1 if θ > 1 and → 0 if θ < 1 (the theorems need
nα²/(σ² log(p − s)) → ∞; here κ = 25 is a fixed large constant, which moves
the asymptotic threshold to κ/(κ − 1) = 1.04). **The finite-size
prediction.** For Σ = I the columns X_j, j ∉ S, are independent of X_S and
ε, so given them the p − s dual variables above are i.i.d. N(0, v) with

.. math::  v = z^\top(X_S^\top X_S)^{-1}z + \frac{\sigma^2\,\|(I - P_S)\varepsilon\|^2}{n^2\alpha^2}
           \;\overset{d}{=}\; \frac{s}{\chi^2_{n-s+1}} + \frac{\chi^2_{n-s}}{2\kappa n\log(p-s)}

(the two chi-squares independent; aᵀW⁻¹a ~ ‖a‖²/χ²_{n−s+1} for a Wishart
W), so P(success) = E[(1 − 2Φ̄(v^{−1/2}))^{p−s}] × P(signs on S correct);
the second factor is ≈ 1 when β_min/α is large (here β_min = 1,
σ = 0.02). As p → ∞ this curve steepens to a step at κ/(κ − 1); at
p = 128 its 50% point θ_fs is below 1 (the largest of p − s Gaussians
falls short of √(2 log(p − s))), which is the finite-size shift.
Measured: R draws at each θ of a grid, n = round(2θ s log(p − s)), one
lasso fit each (``jr.linear.fit_batch``, all θ at once by padding X and y
with zero rows and scaling α by n/n_max, which leaves the objective
unchanged).

**3. Degrees of freedom** (Zou, Hastie & Tibshirani 2007; Stein 1981). For
fixed X in general position and any α, the lasso fit ŷ = Xŵ(α) has

.. math::  \mathrm{df} \equiv \frac1{\sigma^2}\sum_i \mathrm{Cov}(\hat y_i, y_i)
           = E\,|\{j : \hat w_j \ne 0\}| .

Measured: R noise draws at a fixed X, w*, α; per draw
Dᵣ = Σᵢ ŷᵣᵢ(yᵣᵢ − μᵢ)/σ² (μ = Xw*, whose mean over draws is exactly
the covariance definition) and the support size |Ŝᵣ|; the mean of
Dᵣ − |Ŝᵣ| is 0 by the theorem, with a standard error from the spread of the
paired differences.

References:
  Zhao & Yu (2006), "On model selection consistency of Lasso", JMLR 7.
  Wainwright (2009), "Sharp thresholds for high-dimensional and noisy
  sparsity recovery using ℓ1-constrained quadratic programming (Lasso)",
  IEEE Trans. Inf. Theory 55(5). Zou, Hastie & Tibshirani (2007), "On the
  degrees of freedom of the lasso", Ann. Statist. 35(5). Stein (1981),
  "Estimation of the mean of a multivariate normal distribution".
  Tibshirani & Taylor (2012), "Degrees of freedom in lasso problems".
"""

from __future__ import annotations

from statistics import NormalDist
from typing import Any, Optional

import jax
import jax.numpy as jnp
import numpy as np
from scipy.special import ndtr
from scipy.stats import binom, norm

import jaxreg as jr
from research import workbench

NAME = "support_recovery"

# The family-wise probability that a correct implementation fails a verdict
# through Monte Carlo noise alone; every threshold is a normal quantile at
# this level, Bonferroni-corrected over the comparisons its verdict makes.
FAMILY_LEVEL = 1e-3

PLANTS = (
    workbench.Plant(
        "irrepresentable_without_inverse",
        "The irrepresentable norm is computed as ‖Σ_{S^cS} sign(w*_S)‖_∞, leaving out "
        "Σ_SS⁻¹ (a population correlation read as a regression coefficient)",
        fails=("irrepresentable_holds_recovers", "irrepresentable_fails_stays_low")),
    workbench.Plant(
        "alpha_scaled_by_n",
        "Wainwright's α is used at the scale of the summed loss ½‖y − Xw‖² + λ‖w‖₁: "
        "jaxreg's α is set to n·α",
        fails=("wainwright_succeeds_above", "wainwright_crossing_near_one",
               "wainwright_matches_finite_size")),
    workbench.Plant(
        "theta_without_two",
        "The control parameter is taken as θ = n/(s log(p − s)), without the factor 2, "
        "so each θ of the grid is run at half the sample size",
        fails=("wainwright_succeeds_above", "wainwright_matches_finite_size",
               "wainwright_crossing_near_one")),
    workbench.Plant(
        "screening_counted_as_recovery",
        "Success is counted when the selected set contains S with the right signs "
        "(screening), not when it equals S",
        fails=("wainwright_fails_below", "irrepresentable_fails_stays_low",
               "wainwright_matches_finite_size", "wainwright_crossing_near_one")),
    workbench.Plant(
        "df_over_sigma",
        "The covariance degrees of freedom divide Σ Cov(ŷᵢ, yᵢ) by σ instead of σ²",
        fails=("df_equals_expected_support",)),
)

TEST_SETTINGS = dict(irr_n=(40, 160, 640), irr_reps=100, irr_alphas=30,
                     wt_p=64, wt_s=3, wt_thetas=(0.5, 1.0, 2.0), wt_reps=100,
                     df_reps=800, df_alpha_fracs=(0.4, 0.1))

_DEFAULTS = dict(irr_p=16, irr_n=(40, 80, 160, 320, 640), irr_reps=200, irr_alphas=40,
                 irr_rho=0.5, irr_bad_corr=0.5, irr_noise=0.5, irr_high=0.9, irr_low=0.5,
                 wt_p=128, wt_s=4, wt_thetas=(0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5),
                 wt_reps=200, wt_kappa=25.0, wt_noise=0.02, wt_low=0.1, wt_high=0.9,
                 df_n=50, df_p=16, df_s=4, df_reps=3000, df_alpha_fracs=(0.5, 0.2, 0.05),
                 df_noise=0.5)
_FULL = dict(irr_n=(40, 80, 160, 320, 640, 1280), irr_reps=800, wt_p=512, wt_s=8,
             wt_reps=600, df_reps=12000)

# The α grid of a path: from α_max (excluded: nothing selected) down this many decades.
_PATH_DECADES = 2.5


def _z(level: float) -> float:
  """The upper normal quantile Φ⁻¹(1 − level)."""
  return NormalDist().inv_cdf(1.0 - level)


# --- the predictions ---------------------------------------------------------------

def irrepresentable_norm(cov: Any, support: Any, signs: Any, with_inverse: bool = True) -> float:
  r"""Zhao & Yu's irrepresentable norm ‖Σ_{S^cS} Σ_SS⁻¹ z‖_∞ (η = 1 − it).

  Args:
    cov: the population covariance Σ, shape (p, p).
    support: the indices S.
    signs: z = sign(w*_S), one per index of S.
    with_inverse: include Σ_SS⁻¹ (False only for a planted mistake).

  Returns:
    The norm; sign-consistent recovery is possible when it is < 1.
  """
  cov = np.asarray(cov, np.float64)
  support = np.asarray(support)
  rest = np.setdiff1d(np.arange(cov.shape[0]), support)
  z = np.asarray(signs, np.float64)
  v = np.linalg.solve(cov[np.ix_(support, support)], z) if with_inverse else z
  return float(np.max(np.abs(cov[np.ix_(rest, support)] @ v)))


def toeplitz_cov(p: int, rho: float) -> np.ndarray:
  """Σᵢⱼ = ρ^{|i−j|} (an AR(1) design)."""
  i = np.arange(p)
  return rho ** np.abs(i[:, None] - i[None, :])


def bad_feature_cov(p: int, support: Any, bad: int, corr: float) -> np.ndarray:
  """Σ = I except Σ_{bad, k} = corr for k in S (a feature correlated with the whole support)."""
  cov = np.eye(p)
  for k in support:
    cov[bad, k] = cov[k, bad] = corr
  return cov


def wainwright_n(theta: Any, p: int, s: int, plant: Optional[str] = None) -> np.ndarray:
  """The sample size n = round(2θ s log(p − s)) of control parameter θ."""
  factor = 1.0 if plant == "theta_without_two" else 2.0
  return np.round(factor * np.asarray(theta, np.float64) * s * np.log(p - s)).astype(int)


def wainwright_alpha(noise: float, p: int, s: int, n: Any, kappa: float,
                     plant: Optional[str] = None) -> np.ndarray:
  """The lasso strength α = σ√(2κ log(p − s)/n) in jaxreg's (1/(2n)) convention."""
  n = np.asarray(n, np.float64)
  alpha = noise * np.sqrt(2.0 * kappa * np.log(p - s) / n)
  return alpha * n if plant == "alpha_scaled_by_n" else alpha


def wainwright_prediction(thetas: Any, p: int, s: int, kappa: float, draws: int = 200_000,
                          seed: int = 12345) -> np.ndarray:
  r"""The finite-size success probability E[(1 − 2Φ̄(v^{−1/2}))^{p−s}] for Σ = I.

  v = s/χ²_{n−s+1} + χ²_{n−s}/(2κn log(p − s)), n = 2θ s log(p − s) rounded
  (the theory's θ), averaged over ``draws`` pairs of chi-squares (a Monte Carlo
  error below 1/(2√draws)). The factor P(signs on S correct) is taken as 1.

  Args:
    thetas: the control parameters θ, shape (T,).
    p, s: the dimension and the support size.
    kappa: the constant of α = σ√(2κ log(p − s)/n).
    draws: chi-square pairs averaged over.
    seed: their seed (the prediction is not tied to the measurement's draws).

  Returns:
    The predicted probabilities, shape (T,).
  """
  rng = np.random.default_rng(seed)
  out = []
  for n in wainwright_n(thetas, p, s):
    v = s / rng.chisquare(n - s + 1, draws) + rng.chisquare(n - s, draws) / (
        2 * kappa * n * np.log(p - s))
    tail = 2 * ndtr(-1 / np.sqrt(v))
    out.append(float(np.mean(np.exp((p - s) * np.log1p(-tail)))))
  return np.array(out)


def binomial_z(count: Any, reps: int, prob: Any) -> np.ndarray:
  """Two-sided exact binomial tail of ``count`` successes in ``reps`` under ``prob``, as a z.

  The p-value 2·min(P(X ≤ k), P(X ≥ k)) (at most 1) mapped to Φ⁻¹(1 − p/2): a
  count in the bulk gives z ≈ 0, a count the law makes unlikely a large z,
  with no normal approximation near probabilities 0 or 1.
  """
  count = np.asarray(count)
  prob = np.clip(np.asarray(prob, np.float64), 0.0, 1.0)
  pval = np.minimum(1.0, 2 * np.minimum(binom.cdf(count, reps, prob),
                                        binom.sf(count - 1, reps, prob)))
  return norm.isf(pval / 2)


def crossing(thetas: Any, prob: Any, level: float = 0.5) -> float:
  """The θ where prob first rises through ``level`` (linear in log θ); NaN if never."""
  thetas, prob = np.asarray(thetas, np.float64), np.asarray(prob, np.float64)
  for k in range(len(thetas) - 1):
    if prob[k] < level <= prob[k + 1]:
      f = (level - prob[k]) / (prob[k + 1] - prob[k])
      return float(np.exp(np.log(thetas[k]) + f * np.log(thetas[k + 1] / thetas[k])))
  return float("nan")


def covariance_df(yhat: Any, y: Any, mu: Any, noise: float,
                  plant: Optional[str] = None) -> np.ndarray:
  r"""Per-draw covariance degrees of freedom Dᵣ = Σᵢ (ŷᵣᵢ − μᵢ)(yᵣᵢ − μᵢ)/σ².

  E Dᵣ = Σᵢ Cov(ŷᵢ, yᵢ)/σ² exactly, since E(yᵢ − μᵢ) = 0 (μ is known here);
  centring ŷ at μ removes the term μᵀε/σ², whose variance ‖μ‖²/σ² would
  otherwise swamp the estimate. The draws are independent, so the mean's
  standard error is the plain one.

  Args:
    yhat: fitted values, shape (R, n).
    y: the targets they were fitted to, shape (R, n).
    mu: the noiseless mean E y, shape (n,).
    noise: σ.
    plant: ``"df_over_sigma"`` divides by σ (a planted mistake).

  Returns:
    Shape (R,).
  """
  mu = np.asarray(mu)
  scale = noise if plant == "df_over_sigma" else noise ** 2
  return np.sum((np.asarray(yhat) - mu) * (np.asarray(y) - mu), axis=-1) / scale


# --- measurement helpers -------------------------------------------------------------

def recovered(coefs: Any, w_star: Any, screening: bool = False) -> np.ndarray:
  """Whether sign(ŵ) = sign(w*) (exact signed support), over the last axis.

  With ``screening`` (a planted mistake) only the support's signs are
  checked: extra features do not count against it.
  """
  got, want = np.sign(np.asarray(coefs)), np.sign(np.asarray(w_star))
  if screening:
    on = want != 0
    return np.all(np.where(on, got == want, True), axis=-1)
  return np.all(got == want, axis=-1)


def sqrt_form(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  r"""A p × p problem with the same lasso objective as (X, y), n ≥ p, up to a constant.

  With S = XᵀX/n = LLᵀ and b = Xᵀy/n: X' = √p·Lᵀ, y' = √p·L⁻¹b give
  (1/(2p))‖y' − X'w‖² = ½wᵀSw − bᵀw + const, so every n maps to one shape.
  Batched over leading axes.
  """
  n, p = x.shape[-2], x.shape[-1]
  s = np.swapaxes(x, -1, -2) @ x / n
  b = np.einsum("...np,...n->...p", x, y) / n
  chol = np.linalg.cholesky(s)
  xs = np.sqrt(p) * np.swapaxes(chol, -1, -2)
  ys = np.sqrt(p) * np.linalg.solve(chol, b[..., None])[..., 0]
  return xs, ys


# Problems go to fit_batch in blocks of at most this many, a power of two (the last one
# padded by repeating its first problem), so a problem shape compiles a few times at most
# whatever the number of problems.
_BLOCK = 1024


def _fit(xs, ys, alphas):
  """Lasso fits (no intercept) of B problems: coefficients (B, p) and converged (B,)."""
  xs, ys, alphas = np.asarray(xs), np.asarray(ys), np.asarray(alphas, np.float64)
  block = min(_BLOCK, 1 << int(np.ceil(np.log2(len(xs)))))
  coefs, conv = [], []
  for start in range(0, len(xs), block):
    idx = np.arange(start, min(start + block, len(xs)))
    take = np.concatenate([idx, np.full(block - len(idx), idx[0])])
    res = jr.linear.fit_batch(jnp.asarray(xs[take]), jnp.asarray(ys[take]),
                              jr.L1(jnp.asarray(alphas[take])), fit_intercept=False, tol=1e-10)
    coefs.append(np.asarray(res.coef)[:len(idx)])
    conv.append(np.asarray(res.converged)[:len(idx)])
  return np.concatenate(coefs), np.concatenate(conv)


# --- part 1: the irrepresentable condition ---------------------------------------------

def _designs(cfg):
  p = cfg["irr_p"]
  support = np.array([0, 2, 4])
  w_star = np.zeros(p)
  w_star[support] = 1.0
  return [
      dict(name=f"Toeplitz ρ = {cfg['irr_rho']:g}", cov=toeplitz_cov(p, cfg["irr_rho"]),
           support=support, w_star=w_star),
      dict(name=f"bad feature, c = {cfg['irr_bad_corr']:g}",
           cov=bad_feature_cov(p, support, p - 1, cfg["irr_bad_corr"]),
           support=support, w_star=w_star),
  ]


def _irrepresentable(rng, cfg, plant):
  designs = _designs(cfg)
  ns, reps, k = np.asarray(cfg["irr_n"]), cfg["irr_reps"], cfg["irr_alphas"]
  p, sigma = cfg["irr_p"], cfg["irr_noise"]
  rel = np.logspace(0, -_PATH_DECADES, k + 1)[1:]
  xs_all, ys_all, al_all = [], [], []
  for d in designs:
    d["norm"] = irrepresentable_norm(d["cov"], d["support"], np.ones(3))
    d["norm_used"] = irrepresentable_norm(d["cov"], d["support"], np.ones(3),
                                          with_inverse=plant != "irrepresentable_without_inverse")
    chol = np.linalg.cholesky(d["cov"])
    for n in ns:
      x = rng.standard_normal((reps, n, p)) @ chol.T
      y = x @ d["w_star"] + sigma * rng.standard_normal((reps, n))
      xs, ys = sqrt_form(x, y)
      amax = np.max(np.abs(np.einsum("rnp,rn->rp", x, y)), axis=1) / n
      xs_all.append(np.repeat(xs, k, axis=0))
      ys_all.append(np.repeat(ys, k, axis=0))
      al_all.append((amax[:, None] * rel[None, :]).ravel())
  coefs, conv = _fit(np.concatenate(xs_all), np.concatenate(ys_all), np.concatenate(al_all))
  coefs = coefs.reshape(len(designs), len(ns), reps, k, p)
  for i, d in enumerate(designs):
    ok = recovered(coefs[i], d["w_star"], screening=plant == "screening_counted_as_recovery")
    d["rate"] = ok.any(axis=-1).mean(axis=-1)                # (N,)
    d["ns"] = ns
    d["se"] = np.sqrt(d["rate"] * (1 - d["rate"]) / reps)
  return dict(designs=designs, converged=float(conv.mean()), reps=reps, ns=ns)


# --- part 2: Wainwright's threshold ---------------------------------------------------

def _wainwright(rng, cfg, plant):
  p, s, reps = cfg["wt_p"], cfg["wt_s"], cfg["wt_reps"]
  thetas = np.asarray(cfg["wt_thetas"], np.float64)
  sigma, kappa = cfg["wt_noise"], cfg["wt_kappa"]
  ns = wainwright_n(thetas, p, s, plant)
  n_max = int(ns.max())
  alphas = wainwright_alpha(sigma, p, s, ns, kappa, plant)
  xs = np.zeros((len(thetas), reps, n_max, p))
  ys = np.zeros((len(thetas), reps, n_max))
  w_stars = np.zeros((len(thetas), reps, p))
  for t, n in enumerate(ns):
    for r in range(reps):
      idx = rng.choice(p, s, replace=False)
      w_stars[t, r, idx] = rng.choice([-1.0, 1.0], s)
    x = rng.standard_normal((reps, n, p))
    xs[t, :, :n] = x
    ys[t, :, :n] = np.einsum("rnp,rp->rn", x, w_stars[t]) + sigma * rng.standard_normal((reps, n))
  # Zero rows add nothing to ‖y − Xw‖² but count in 1/(2n_max): α·n/n_max compensates.
  al = np.repeat(alphas * ns / n_max, reps)
  coefs, conv = _fit(xs.reshape(-1, n_max, p), ys.reshape(-1, n_max), al)
  coefs = coefs.reshape(len(thetas), reps, p)
  ok = recovered(coefs, w_stars, screening=plant == "screening_counted_as_recovery")
  rate = ok.mean(axis=1)
  pred = wainwright_prediction(thetas, p, s, kappa)
  dense = np.exp(np.linspace(np.log(thetas[0]), np.log(thetas[-1]), 60))
  return dict(thetas=thetas, ns=ns, alphas=alphas, rate=rate,
              se=np.sqrt(rate * (1 - rate) / reps), pred=pred,
              dense=dense, dense_pred=wainwright_prediction(dense, p, s, kappa, draws=40_000),
              converged=float(conv.mean()), p=p, s=s, reps=reps,
              support_size=(coefs != 0).sum(-1).mean(1))


# --- part 3: degrees of freedom ---------------------------------------------------------

def _degrees_of_freedom(rng, cfg, plant):
  n, p, s, reps, sigma = cfg["df_n"], cfg["df_p"], cfg["df_s"], cfg["df_reps"], cfg["df_noise"]
  x = rng.standard_normal((n, p))
  w_star = np.zeros(p)
  w_star[:s] = rng.choice([-1.0, 1.0], s) * rng.uniform(0.3, 1.5, s)
  mu = x @ w_star
  a_max = np.max(np.abs(x.T @ mu)) / n
  alphas = a_max * np.asarray(cfg["df_alpha_fracs"], np.float64)
  ys = mu[None, :] + sigma * rng.standard_normal((reps, n))
  xs, yss = sqrt_form(np.broadcast_to(x, (reps, n, p)), ys)
  k = len(alphas)
  coefs_all, conv_all = _fit(np.repeat(xs, k, 0), np.repeat(yss, k, 0), np.tile(alphas, reps))
  coefs_all = coefs_all.reshape(reps, k, p)
  conv_all = conv_all.reshape(reps, k)
  out = []
  for i, a in enumerate(alphas):
    coefs, conv = coefs_all[:, i], conv_all[:, i]
    yhat = coefs @ x.T
    d = covariance_df(yhat, ys, mu, sigma, plant)
    size = (coefs != 0).sum(-1).astype(np.float64)
    diff = d - size
    out.append(dict(alpha=float(a), df=float(d.mean()), df_se=float(d.std(ddof=1) / np.sqrt(reps)),
                    size=float(size.mean()), size_se=float(size.std(ddof=1) / np.sqrt(reps)),
                    diff=float(diff.mean()), diff_se=float(diff.std(ddof=1) / np.sqrt(reps)),
                    converged=float(conv.mean())))
  for o in out:
    o["z"] = abs(o["diff"]) / o["diff_se"]
  return dict(rows=out, n=n, p=p, s=s, reps=reps, noise=sigma)


# --- the experiment ---------------------------------------------------------------------

def run(*, seed: int = 0, out_dir: Any = None, full: bool = False,
        plant: Optional[str] = None, **settings) -> workbench.Result:
  """Runs the experiment: the irrepresentable condition, Wainwright's threshold, lasso df.

  Args:
    seed: random seed for the designs and the draws.
    out_dir: where the figure goes (a temporary folder when None).
    full: more draws, a larger Wainwright problem and one more n.
    plant: a planted mistake from ``PLANTS`` (None: none).
    **settings: ``irr_p``, ``irr_n`` (the sample sizes), ``irr_reps`` (draws per n),
      ``irr_alphas`` (path length), ``irr_rho``, ``irr_bad_corr``, ``irr_noise``,
      ``irr_high`` / ``irr_low`` (the recovery rates held to at the largest n);
      ``wt_p``, ``wt_s``, ``wt_thetas``, ``wt_reps``, ``wt_kappa``, ``wt_noise``,
      ``wt_low`` / ``wt_high`` (the rates held to at θ = ½ and θ = 2);
      ``df_n``, ``df_p``, ``df_s``, ``df_reps``, ``df_alpha_fracs`` (α over the
      noiseless α_max), ``df_noise``.

  Returns:
    A ``workbench.Result`` named ``"support_recovery"``.
  """
  plant = workbench.planted(NAME, PLANTS, plant)
  cfg = workbench.settings(NAME, _DEFAULTS, _FULL, full, settings)
  fig_dir = workbench.figure_dir(out_dir)
  with jax.enable_x64(True):
    return _run(seed, fig_dir, cfg, plant)


def _run(seed, fig_dir, cfg, plant):
  rng = np.random.default_rng(seed)
  parts = {}
  for name, fn in workbench.progress(
      (("irrepresentable", _irrepresentable), ("wainwright", _wainwright),
       ("df", _degrees_of_freedom)), desc=NAME, total=3):
    parts[name] = fn(rng, cfg, plant)
  irr, wt, dfr = parts["irrepresentable"], parts["wainwright"], parts["df"]
  verdicts = []

  # Claim 1: the sign of η (from Σ alone) predicts the recovery rate at the largest n.
  reps = irr["reps"]
  z1 = _z(FAMILY_LEVEL / 2)
  holds = [d for d in irr["designs"] if d["norm_used"] < 1]
  fails = [d for d in irr["designs"] if d["norm_used"] >= 1]
  hi = cfg["irr_high"]
  hi_tol = hi - z1 * np.sqrt(hi * (1 - hi) / reps)
  v_hold = min((d["rate"][-1] for d in holds), default=float("nan"))
  verdicts.append(workbench.verdict(
      "Zhao & Yu (2006): where the irrepresentable condition holds "
      "(‖Σ_{S^cS}Σ_SS⁻¹ sign(w*_S)‖_∞ < 1), some α on the lasso path recovers the exact "
      "signed support with probability → 1",
      key="irrepresentable_holds_recovers",
      statistic=f"min over designs predicted to satisfy it of the recovery rate at "
                f"n = {irr['ns'][-1]} ({reps} draws)",
      value=v_hold, threshold=hi_tol, direction=">=",
      measured=", ".join(f"{d['name']}: {d['rate'][-1]:.3f}" for d in holds) or "no design",
      predicted=", ".join(f"{d['name']}: η = {1 - d['norm_used']:.3g}"
                          for d in irr["designs"]) + f"; rate ≥ {hi:g}",
      threshold_from=f"{hi:g} less the one-sided binomial quantile z·√({hi:g}·{1 - hi:.2g}/R), "
                     f"z at family level {FAMILY_LEVEL:g}, Bonferroni over the 2 rate verdicts "
                     "of the claim",
      detail="NaN (fails) when no design is predicted to satisfy the condition"))
  lo = cfg["irr_low"]
  lo_tol = lo + z1 * np.sqrt(lo * (1 - lo) / reps)
  v_fail = max((d["rate"][-1] for d in fails), default=float("nan"))
  verdicts.append(workbench.verdict(
      "Zhao & Yu (2006), Wainwright (2009): where the irrepresentable norm exceeds 1, exact "
      "signed-support recovery stays bounded away from 1 as n grows (at most ½ in the limit), "
      "for every α on the path",
      key="irrepresentable_fails_stays_low",
      statistic=f"max over designs predicted to violate it of the recovery rate at "
                f"n = {irr['ns'][-1]} ({reps} draws)",
      value=v_fail, threshold=lo_tol, direction="<=",
      measured=", ".join(f"{d['name']}: {d['rate'][-1]:.3f}" for d in fails) or "no design",
      predicted=", ".join(f"{d['name']}: η = {1 - d['norm_used']:.3g}"
                          for d in irr["designs"]) + f"; rate ≤ {lo:g}",
      threshold_from=f"{lo:g} plus the one-sided binomial quantile z·√({lo:g}·{1 - lo:.2g}/R), "
                     f"z at family level {FAMILY_LEVEL:g}, Bonferroni over the 2 rate verdicts "
                     "of the claim",
      detail="NaN (fails) when no design is predicted to violate the condition"))

  # Claim 2: Wainwright's phase transition.
  thetas, rate, wreps = wt["thetas"], wt["rate"], wt["reps"]
  z2 = _z(FAMILY_LEVEL / 2)
  i_lo = int(np.argmin(np.abs(thetas - 0.5)))
  i_hi = int(np.argmin(np.abs(thetas - 2.0)))
  wlo, whi = cfg["wt_low"], cfg["wt_high"]
  wlo_tol = wlo + z2 * np.sqrt(wlo * (1 - wlo) / wreps)
  whi_tol = whi - z2 * np.sqrt(whi * (1 - whi) / wreps)
  verdicts.append(workbench.verdict(
      "Wainwright (2009): for Σ = I and θ = n/(2s log(p − s)) < 1 the lasso fails to recover "
      "the signed support (probability → 0); tested at θ = ½",
      key="wainwright_fails_below",
      statistic=f"success rate at θ = {thetas[i_lo]:g} (n = {wt['ns'][i_lo]}, {wreps} draws)",
      value=rate[i_lo], threshold=wlo_tol, direction="<=",
      measured=f"{rate[i_lo]:.3f}", predicted=f"→ 0 (finite size: {wt['pred'][i_lo]:.3g})",
      threshold_from=f"'low' = {wlo:g} plus the one-sided binomial quantile, z at family level "
                     f"{FAMILY_LEVEL:g}, Bonferroni over θ = ½ and θ = 2"))
  verdicts.append(workbench.verdict(
      "Wainwright (2009): for Σ = I and θ > 1 the lasso with α = σ√(2κ log(p − s)/n) recovers "
      "the signed support (probability → 1); tested at θ = 2",
      key="wainwright_succeeds_above",
      statistic=f"success rate at θ = {thetas[i_hi]:g} (n = {wt['ns'][i_hi]}, {wreps} draws)",
      value=rate[i_hi], threshold=whi_tol, direction=">=",
      measured=f"{rate[i_hi]:.3f}", predicted=f"→ 1 (finite size: {wt['pred'][i_hi]:.3g})",
      threshold_from=f"'high' = {whi:g} less the one-sided binomial quantile, z at family level "
                     f"{FAMILY_LEVEL:g}, Bonferroni over θ = ½ and θ = 2"))

  # The whole curve against the finite-size prediction: exact binomial tails.
  zt = len(thetas)
  z_curve = binomial_z(np.round(rate * wreps).astype(int), wreps, wt["pred"])
  z_curve_tol = _z(FAMILY_LEVEL / (2 * zt))
  verdicts.append(workbench.verdict(
      "For Σ = I the success probability at every θ equals the finite-size law "
      "E[(1 − 2Φ̄(v^{−1/2}))^{p−s}], v = s/χ²_{n−s+1} + χ²_{n−s}/(2κn log(p − s)), from the "
      "KKT conditions",
      key="wainwright_matches_finite_size",
      statistic="max over θ of the two-sided exact binomial tail of the success count under "
                "the predicted probability, as a normal quantile",
      value=float(np.max(z_curve)), threshold=z_curve_tol, direction="<=",
      measured=", ".join(f"{r:.2f}" for r in rate),
      predicted=", ".join(f"{q:.2f}" for q in wt["pred"]),
      threshold_from=f"two-sided normal quantile at family level {FAMILY_LEVEL:g}, Bonferroni "
                     f"over {zt} θ; the law's own Monte Carlo error (200 000 chi-square pairs) "
                     "is below 0.0011"))

  theta_hat = crossing(thetas, rate)
  theta_fs = crossing(thetas, wt["pred"])
  theta_inf = cfg["wt_kappa"] / (cfg["wt_kappa"] - 1)
  slope = _crossing_slope(thetas, wt["pred"])
  se_theta = np.sqrt(0.25 / wreps) / slope if slope > 0 else float("inf")
  z_cross = _z(FAMILY_LEVEL / 2)
  lo_w = min(theta_fs, 1.0) - z_cross * se_theta
  hi_w = max(theta_inf, 1.0) + z_cross * se_theta
  verdicts.append(workbench.verdict(
      "Wainwright (2009): the transition sits at θ = 1; at finite p its 50% point lies "
      "between the finite-size law's and the asymptotic one",
      key="wainwright_crossing_near_one",
      statistic="distance of θ̂₅₀ outside the window (≤ 0 inside), θ̂₅₀ the measured 50% "
                "crossing, linear in log θ between grid points",
      value=max(lo_w - theta_hat, theta_hat - hi_w), threshold=0.0, direction="<=",
      measured=f"θ̂₅₀ = {theta_hat:.3f}",
      predicted=f"1 (κ/(κ − 1) = {theta_inf:.3f} at fixed κ; finite-size law {theta_fs:.3f}); "
                f"window [{lo_w:.3f}, {hi_w:.3f}]",
      threshold_from="the window runs from min(θ_fs, 1) to max(κ/(κ − 1), 1), θ_fs the "
                     "finite-size law's crossing interpolated on the same grid, widened by a "
                     f"normal quantile (family level {FAMILY_LEVEL:g}) times the crossing's SE "
                     f"√(¼/R)/slope, the slope of the law at its crossing ({slope:.2f} per "
                     "unit θ)",
      detail="NaN (fails) when the measured rate never crosses ½ on the grid"))

  # Claim 3: degrees of freedom.
  rows = dfr["rows"]
  z3 = max(o["z"] for o in rows)
  z3_tol = _z(FAMILY_LEVEL / (2 * len(rows)))
  verdicts.append(workbench.verdict(
      "Zou, Hastie & Tibshirani (2007): the lasso's degrees of freedom Σᵢ Cov(ŷᵢ, yᵢ)/σ² "
      "equal the expected number of nonzero coefficients, at every α",
      key="df_equals_expected_support",
      statistic="max over α of |mean(Dᵣ − |Ŝᵣ|)| / SE (paired over the noise draws)",
      value=z3, threshold=z3_tol, direction="<=",
      measured=", ".join(f"df {o['df']:.2f}" for o in rows),
      predicted=", ".join(f"E|S| {o['size']:.2f}" for o in rows),
      threshold_from=f"two-sided normal quantile at family level {FAMILY_LEVEL:g}, Bonferroni "
                     f"over {len(rows)} α; SE from the spread of the {dfr['reps']} paired "
                     "differences"))

  data = dict(irrepresentable=irr, wainwright=dict(wt, theta_hat=theta_hat, theta_fs=theta_fs,
                                                   window=(lo_w, hi_w), slope=slope),
              df=dfr)
  tables = [_irr_table(irr), _wt_table(wt), _df_table(dfr)]
  figures = [_figure(fig_dir, irr, wt, dfr)]
  summary = _summary(irr, wt, dfr, cfg, theta_hat, theta_fs, theta_inf, (lo_w, hi_w),
                     z_curve, z_curve_tol, z3, z3_tol)
  return workbench.Result(name=NAME, title="Support recovery: when the lasso selects the right "
                          "features", summary=summary, verdicts=verdicts, tables=tables,
                          figures=figures, data=data, plant=plant)


def _crossing_slope(thetas, pred):
  """d pred / dθ between the grid points around the predicted 50% crossing."""
  for k in range(len(thetas) - 1):
    if pred[k] < 0.5 <= pred[k + 1]:
      return float((pred[k + 1] - pred[k]) / (thetas[k + 1] - thetas[k]))
  return 0.0


# --- report pieces ---------------------------------------------------------------------

def _irr_table(irr):
  rows = []
  for d in irr["designs"]:
    for n, r, se in zip(d["ns"], d["rate"], d["se"]):
      rows.append([d["name"], f"{d['norm']:.3f}", f"{1 - d['norm']:+.3f}", n, f"{r:.3f} ± {se:.3f}"])
  return workbench.Table(
      f"Exact signed-support recovery by some α on the lasso path ({irr['reps']} draws per n, "
      f"± binomial SE): the irrepresentable norm ‖Σ_{{S^cS}}Σ_SS⁻¹z‖_∞ and η = 1 − norm",
      ["design", "norm", "η", "n", "recovery rate"], rows)


def _wt_table(wt):
  rows = [[f"{t:g}", n, f"{a:.3g}", f"{r:.3f} ± {se:.3f}", f"{q:.3f}", f"{m:.2f}"]
          for t, n, a, r, se, q, m in zip(wt["thetas"], wt["ns"], wt["alphas"], wt["rate"],
                                          wt["se"], wt["pred"], wt["support_size"])]
  return workbench.Table(
      f"Wainwright's phase transition, Σ = I, p = {wt['p']}, s = {wt['s']} ({wt['reps']} draws "
      "per θ): measured success rate ± binomial SE against the finite-size law",
      ["θ", "n", "α", "measured", "finite-size law", "mean |Ŝ|"], rows)


def _df_table(dfr):
  rows = [[f"{o['alpha']:.3g}", f"{o['df']:.3f} ± {o['df_se']:.3f}",
           f"{o['size']:.3f} ± {o['size_se']:.3f}", f"{o['diff']:+.3f} ± {o['diff_se']:.3f}",
           f"{o['z']:.2f}"] for o in dfr["rows"]]
  return workbench.Table(
      f"Degrees of freedom of the lasso (n = {dfr['n']}, p = {dfr['p']}, s = {dfr['s']}, "
      f"σ = {dfr['noise']:g}, {dfr['reps']} noise draws): covariance definition against the "
      "mean support size",
      ["α", "Σ Cov(ŷᵢ, yᵢ)/σ²", "E|Ŝ|", "paired difference", "|z|"], rows)


def _summary(irr, wt, dfr, cfg, theta_hat, theta_fs, theta_inf, window, z_curve, z_curve_tol,
             z3, z3_tol):
  good, bad = irr["designs"]
  ns = irr["ns"]
  lines = [
      "**Zhao & Yu (2006), the irrepresentable condition.** Statement tested: with rows "
      "x ~ N(0, Σ), the lasso is sign-consistent (for a suitable α_n) only if "
      "‖Σ_{S^cS}Σ_SS⁻¹ sign(w*_S)‖_∞ < 1; when it exceeds 1, P(exact signed support) stays "
      "≤ ½ for every α (Wainwright 2009). Over "
      f"{irr['reps']} draws per n (p = {cfg['irr_p']}, S = {{0, 2, 4}}, w*_S = 1, "
      f"σ = {cfg['irr_noise']:g}) and any α on a {cfg['irr_alphas']}-point lasso path: the "
      f"{good['name']} design (norm {good['norm']:.3f}, η = {1 - good['norm']:.2f}) recovers "
      f"with rate " + ", ".join(f"{r:.2f}" for r in good["rate"])
      + " at n = " + ", ".join(str(n) for n in ns) + "; the "
      f"{bad['name']} design (norm {bad['norm']:.3f}) with rate "
      + ", ".join(f"{r:.2f}" for r in bad["rate"])
      + ". At small n both fail (the noise, not the design, limits); as n grows the first "
      "rises to 1 while the second levels off well below 1: its only recoveries are the "
      "draws whose noise on the bad feature happens to point against the pull of the "
      "support, at an α small enough to keep the other features out.",
      "",
      f"**Wainwright (2009), the sharp threshold.** Statement tested: for Σ = I, with "
      "θ = n/(2s log(p − s)), the lasso recovers the signed support with probability → 1 "
      "for θ > 1 and → 0 for θ < 1. Here α = σ√(2κ log(p − s)/n) with "
      f"κ = {cfg['wt_kappa']:g} (the theorem wants κ → ∞; a fixed κ moves the limit to "
      f"κ/(κ − 1) = {theta_inf:.3f}), σ = {cfg['wt_noise']:g}, |w*_j| = 1 on a random "
      f"support, p = {wt['p']}, s = {wt['s']}, {wt['reps']} draws per θ. Measured rates "
      + ", ".join(f"{r:.2f} (θ = {t:g})" for t, r in zip(wt["thetas"], wt["rate"]))
      + f"; 50% crossing θ̂₅₀ = **{theta_hat:.3f}**. The finite-size law from the KKT "
      "conditions (exact for Σ = I up to the signs on S) predicts "
      + ", ".join(f"{q:.2f}" for q in wt["pred"])
      + f" (largest deviation {np.max(z_curve):.2f} SE, threshold {z_curve_tol:.2f}) and a "
      f"crossing at θ_fs = {theta_fs:.3f}: at p = {wt['p']} the largest of p − s Gaussian "
      "dual variables falls short of √(2 log(p − s)), so the transition starts early and is "
      "smeared over a factor of about two in θ; it sharpens to a step at κ/(κ − 1) only as "
      f"p → ∞. The crossing is held to the window [{window[0]:.3f}, {window[1]:.3f}].",
      "",
      "**Zou, Hastie & Tibshirani (2007), degrees of freedom.** Statement tested: for fixed "
      "X and any α, df = Σᵢ Cov(ŷᵢ, yᵢ)/σ² equals E|Ŝ|, the expected number of nonzero "
      f"coefficients (no intercept; with one it is E|Ŝ| + 1). With n = {dfr['n']}, "
      f"p = {dfr['p']}, s = {dfr['s']}, σ = {dfr['noise']:g} and {dfr['reps']} noise draws: "
      + "; ".join(f"α = {o['alpha']:.3g}: df {o['df']:.2f} ± {o['df_se']:.2f}, E|Ŝ| "
                  f"{o['size']:.2f} ± {o['size_se']:.2f}" for o in dfr["rows"])
      + f" (largest paired deviation {z3:.2f} SE, threshold {z3_tol:.2f}). The support "
      "size is therefore an unbiased df estimate (SURE/Cp can use it) even though the "
      "support is chosen by the data.",
      "",
      "The figure shows the recovery rate against n for the two designs, the success rate "
      "against θ with the finite-size law, and df against E|Ŝ|.",
  ]
  return "\n".join(lines)


def _figure(fig_dir, irr, wt, dfr):
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  fig, axes = plt.subplots(1, 3, figsize=(15, 4.3))
  ax = axes[0]
  for d, col in zip(irr["designs"], ("tab:blue", "tab:red")):
    ax.errorbar(d["ns"], d["rate"], yerr=2 * d["se"], fmt="o-", color=col, ms=4,
                label=f"{d['name']} (η = {1 - d['norm']:+.2f})")
  ax.axhline(0.5, color="k", lw=0.5, ls=":")
  ax.set_xscale("log")
  ax.set_xticks(irr["ns"], [str(n) for n in irr["ns"]])
  ax.minorticks_off()
  ax.set_ylim(-0.03, 1.03)
  ax.set_xlabel("n")
  ax.set_ylabel("P(some α recovers the signed support)")
  ax.set_title("Irrepresentable condition", fontsize=9)
  ax.legend(fontsize=7)

  ax = axes[1]
  ax.errorbar(wt["thetas"], wt["rate"], yerr=2 * wt["se"], fmt="o", color="tab:blue", ms=4,
              label=f"measured (p = {wt['p']}, s = {wt['s']})")
  ax.plot(wt["dense"], wt["dense_pred"], "-", color="tab:gray", lw=1, label="finite-size law")
  ax.axvline(1.0, color="k", lw=0.6, ls="--", label="θ = 1")
  ax.set_xscale("log")
  ax.set_xticks(wt["thetas"], [f"{t:g}" for t in wt["thetas"]])
  ax.minorticks_off()
  ax.set_ylim(-0.03, 1.03)
  ax.set_xlabel("θ = n / (2 s log(p − s))")
  ax.set_ylabel("P(exact signed support)")
  ax.set_title("Wainwright's threshold (Σ = I)", fontsize=9)
  ax.legend(fontsize=7)

  ax = axes[2]
  size = [o["size"] for o in dfr["rows"]]
  df = [o["df"] for o in dfr["rows"]]
  ax.errorbar(size, df, yerr=[2 * o["df_se"] for o in dfr["rows"]], fmt="o", color="tab:blue",
              ms=4, label="Σ Cov(ŷᵢ, yᵢ)/σ² ± 2 SE")
  top = max(max(size), max(df)) * 1.1
  ax.plot([0, top], [0, top], "k-", lw=0.6, label="df = E|Ŝ|")
  ax.set_xlabel("mean support size E|Ŝ|")
  ax.set_ylabel("covariance degrees of freedom")
  ax.set_title(f"Lasso df (n = {dfr['n']}, p = {dfr['p']})", fontsize=9)
  ax.legend(fontsize=7)
  fig.suptitle("Support recovery")
  return workbench.save_figure(fig, fig_dir, NAME)
