r"""The validation curve: α too big underfits, too small overfits.

The background articles' advice on choosing α: "too large underfits, too
small fails to prevent overfitting". Read as a claim about a validation
curve, it says that the validation error is U-shaped in α with its minimum
strictly inside a sensible grid, while the training error only grows with
α. The experiment tests that on ridge regression, where the expected test
risk is known in closed form, and shows where the U disappears.

**The problem.** Rows x ~ N(0, Σ) (Σ diagonal with eigenvalues spread over a
decade), y = xᵀw* + σε, a training design X (n × p) held fixed, and
jaxreg's ridge (``jr.linear.ridge_path``, no intercept)

.. math::  w_\alpha = \arg\min_w \tfrac1{2n}\|y - Xw\|^2 + \tfrac\alpha2\|w\|^2
           = (S + \alpha I)^{-1} X^\top y / n, \qquad S = X^\top X / n.

**The prediction.** With A = (S + αI)⁻¹, E[w_α] − w* = −αAw* and
Cov(w_α) = (σ²/n) A S A, so the expected squared error on a fresh point,
given X, is

.. math::  R(\alpha) = \sigma^2 + \underbrace{\alpha^2\, w^{*\top} A \Sigma A\, w^*}_{\text{bias}^2}
           + \underbrace{\tfrac{\sigma^2}{n}\,\mathrm{tr}(\Sigma A S A)}_{\text{variance}}.

Bias² grows from 0 and variance falls to 0 as α grows; with p close to n
the variance at α → 0 is about σ²p/(n − p − 1), so R has a deep minimum
inside. With n ≫ p the variance at α → 0 is only about σ²p/n: the small-α
end is flat and there is nothing to overfit.

**The measurement.** For each of R repetitions, fresh training noise and a
fresh validation set of m points; the validation curve V_r(α) (validation
MSE) and the training curve (training MSE) on a grid of α from a tenth of
the smallest eigenvalue of S to ten times the largest (from almost
unregularised to almost everything shrunk). E[V_r(α)] = R(α) exactly, so
the average V̄(α) over repetitions estimates R(α) with a Monte Carlo
standard error from the spread over repetitions, and every threshold below
is a number of those standard errors.

References:
  Hoerl & Kennard (1970), "Ridge regression". Hastie, Tibshirani &
  Friedman (2009), *The Elements of Statistical Learning*, §3.4.1 and §7.3
  (bias–variance decomposition). Hastie, Montanari, Rosset & Tibshirani
  (2022), "Surprises in high-dimensional ridgeless least squares
  interpolation" (the risk near p ≈ n).
"""

from __future__ import annotations

from statistics import NormalDist
from typing import Any, Optional

import jax
import jax.numpy as jnp
import numpy as np

import jaxreg as jr
from research import workbench

NAME = "validation_curve"

# The family-wise probability that a correct implementation fails a verdict
# through Monte Carlo noise alone; each threshold is a normal quantile at
# this level, Bonferroni-corrected over the comparisons the verdict makes.
FAMILY_LEVEL = 1e-3

PLANTS = (
    workbench.Plant(
        "alpha_scaled_by_n",
        "The grid and the prediction are in jaxreg's α but the fits use scikit-learn's "
        "Ridge(alpha=a) convention (penalty a‖w‖² on the summed loss, i.e. jaxreg α = a/n)",
        fails=("validation_matches_risk", "argmin_matches_risk", "minimum_inside_grid")),
    workbench.Plant(
        "training_error_on_validation",
        "The training-error curve is evaluated on the validation split instead of the "
        "training split",
        fails=("training_error_monotone",)),
    workbench.Plant(
        "variance_term_dropped",
        "The predicted risk keeps σ² + bias² and misses the variance term "
        "(σ²/n)·tr(ΣASA)",
        fails=("validation_matches_risk",)),
)

TEST_SETTINGS = dict(n_train=60, n_features=45, large_n_train=600, n_reps=64, n_val=150,
                     n_alphas=17)

_DEFAULTS = dict(n_train=130, n_features=100, large_n_train=2000, n_reps=200, n_val=300,
                 n_alphas=33, noise=1.0, snr=1.0, spectrum_decades=1.0)
_FULL = dict(n_reps=800, n_alphas=49)


# --- the prediction ------------------------------------------------------------

def predicted_risk(s: np.ndarray, cov: np.ndarray, w_star: np.ndarray, noise: float,
                   n: int, alphas: np.ndarray, with_variance: bool = True) -> dict:
  r"""The expected test MSE of ridge at each α, given the training design.

  .. math::  R(\alpha) = \sigma^2 + \alpha^2 w^{*\top} A\Sigma A w^*
             + \tfrac{\sigma^2}{n}\mathrm{tr}(\Sigma A S A), \qquad A = (S + \alpha I)^{-1},

  computed in the eigenbasis S = QΛQᵀ: with u = Qᵀw* and M = QᵀΣQ,
  bias² = α² Σᵢⱼ uᵢuⱼMᵢⱼ / ((λᵢ+α)(λⱼ+α)) and
  variance = (σ²/n) Σᵢ Mᵢᵢ λᵢ / (λᵢ+α)².

  Args:
    s: S = XᵀX/n, shape (p, p).
    cov: the population covariance Σ of the rows, shape (p, p).
    w_star: the true coefficients, shape (p,).
    noise: σ, the noise standard deviation.
    n: the number of training rows.
    alphas: the strengths, shape (K,).
    with_variance: include the variance term (False only for a planted mistake).

  Returns:
    A dict of arrays of shape (K,): ``risk``, ``bias2``, ``variance``.
  """
  lam, q = np.linalg.eigh(s)
  u = q.T @ w_star
  m = q.T @ cov @ q
  inv = 1.0 / (lam[None, :] + alphas[:, None])                      # (K, p)
  a_u = alphas[:, None] * inv * u[None, :]                           # α A u, eigenbasis
  bias2 = np.einsum("ki,ij,kj->k", a_u, m, a_u)
  variance = noise ** 2 / n * np.einsum("i,ki->k", np.diag(m) * lam, inv ** 2)
  risk = noise ** 2 + bias2 + (variance if with_variance else 0.0)
  return dict(risk=risk, bias2=bias2, variance=variance)


def alpha_grid(s: np.ndarray, count: int) -> np.ndarray:
  """count strengths log-spaced from λ_min(S)/10 (almost unregularised) to 10·λ_max(S)."""
  lam = np.linalg.eigvalsh(s)
  return np.logspace(np.log10(lam[0] / 10), np.log10(lam[-1] * 10), count)


def _z(level: float) -> float:
  """The upper normal quantile Φ⁻¹(1 − level)."""
  return NormalDist().inv_cdf(1.0 - level)


# --- the measurement --------------------------------------------------------------

def _curves(draw, x, w_star, alphas, fit_scale, train_on_val):
  """One repetition: the fits on fresh training noise, both curves on the grid.

  Args:
    draw: (training noise (n,), validation rows (m, p), validation noise (m,)).
    x, w_star, alphas: the fixed design, the truth and the grid (increasing).
    fit_scale: multiplies the α handed to the solver (1 unless a mistake is
      planted; traced, so every plant runs the same compiled program).
    train_on_val: evaluate the training curve on the validation split
      (False unless a mistake is planted).

  Returns:
    (validation MSE, training MSE), each of shape (K,) in increasing α.
  """
  noise, x_val, noise_val = draw
  y = x @ w_star + noise
  # ridge_path returns the path in decreasing α; flip it back to the grid's order.
  coefs = jr.linear.ridge_path(x, y, alphas * fit_scale, fit_intercept=False).coefs[::-1]
  y_val = x_val @ w_star + noise_val
  val = jnp.mean((y_val[:, None] - x_val @ coefs.T) ** 2, axis=0)
  train = jnp.mean((y[:, None] - x @ coefs.T) ** 2, axis=0)
  return val, jnp.where(train_on_val, val, train)


def _regime(rng, n, p, cfg, plant):
  """Measures and predicts the curves for one (n, p); everything as NumPy float64."""
  scale = np.logspace(0, -cfg["spectrum_decades"], p) ** 0.5       # √ eigenvalues of Σ
  cov = np.diag(scale ** 2)
  w_star = rng.standard_normal(p)
  # Signal variance w*ᵀΣw* = snr·σ².
  w_star *= np.sqrt(cfg["snr"] * cfg["noise"] ** 2 / (w_star @ cov @ w_star))
  x = rng.standard_normal((n, p)) * scale
  s = x.T @ x / n
  alphas = alpha_grid(s, cfg["n_alphas"])
  r, m, sigma = cfg["n_reps"], cfg["n_val"], cfg["noise"]
  # Drawn with NumPy: random draws inside the vmapped program cost seconds of compilation.
  draws = (sigma * rng.standard_normal((r, n)), rng.standard_normal((r, m, p)) * scale,
           sigma * rng.standard_normal((r, m)))
  # scikit-learn's Ridge(alpha=a) is jaxreg's α = a/n.
  fit_scale = np.float64(1.0 / n if plant == "alpha_scaled_by_n" else 1.0)
  train_on_val = np.bool_(plant == "training_error_on_validation")
  val, train = jr.sweep(_curves, draws, jnp.asarray(x), jnp.asarray(w_star), jnp.asarray(alphas),
                        fit_scale, train_on_val, chunk_size=min(r, 100))
  val, train = np.asarray(val), np.asarray(train)                   # (R, K)
  pred = predicted_risk(s, cov, w_star, cfg["noise"], n, alphas,
                        with_variance=plant != "variance_term_dropped")
  r = val.shape[0]
  v_mean = val.mean(0)
  v_se = val.std(0, ddof=1) / np.sqrt(r)
  i_hat = int(np.argmin(v_mean))
  i_star = int(np.argmin(pred["risk"]))
  diff = val[:, i_hat] - val[:, i_star]
  se_argmin = diff.std(ddof=1) / np.sqrt(r)
  depth = []
  for end in (0, len(alphas) - 1):
    d = val[:, end] - val[:, i_hat]
    sd = d.std(ddof=1) / np.sqrt(r)
    depth.append(0.0 if end == i_hat else float(d.mean() / sd))
  t_mean = train.mean(0)
  return dict(n=n, p=p, alphas=alphas, val=v_mean, val_se=v_se, train=t_mean,
              risk=pred["risk"], bias2=pred["bias2"], variance=pred["variance"],
              i_hat=i_hat, i_star=i_star,
              excess=float(pred["risk"][i_hat] - pred["risk"][i_star]),
              se_argmin=float(se_argmin), depth_small=depth[0], depth_large=depth[1],
              rel_small=float(v_mean[0] / v_mean[i_hat] - 1),
              rel_large=float(v_mean[-1] / v_mean[i_hat] - 1),
              pred_rel_small=float(pred["risk"][0] / pred["risk"].min() - 1),
              pred_rel_large=float(pred["risk"][-1] / pred["risk"].min() - 1),
              train_drop=float(np.max((t_mean[:-1] - t_mean[1:]) / t_mean[1:])))


def run(*, seed: int = 0, out_dir: Any = None, full: bool = False,
        plant: Optional[str] = None, **settings) -> workbench.Result:
  """Runs the experiment: validation and training curves of ridge against the risk.

  Args:
    seed: random seed for the designs, the true coefficients and the draws.
    out_dir: where the figure goes (a temporary folder when None).
    full: more repetitions and a finer grid.
    plant: a planted mistake from ``PLANTS`` (None: none).
    **settings: ``n_train`` and ``n_features`` (the p ≈ n regime),
      ``large_n_train`` (the n ≫ p regime, same p), ``n_reps`` (R), ``n_val``
      (m), ``n_alphas`` (K), ``noise`` (σ), ``snr`` (w*ᵀΣw*/σ²),
      ``spectrum_decades`` (the spread of Σ's eigenvalues).

  Returns:
    A ``workbench.Result`` named ``"validation_curve"``.
  """
  plant = workbench.planted(NAME, PLANTS, plant)
  cfg = workbench.settings(NAME, _DEFAULTS, _FULL, full, settings)
  fig_dir = workbench.figure_dir(out_dir)
  with jax.enable_x64(True):
    return _run(seed, fig_dir, cfg, plant)


def _run(seed, fig_dir, cfg, plant):
  rng = np.random.default_rng(seed)
  p = cfg["n_features"]
  regimes = {}
  for name, n in workbench.progress(
      (("p ≈ n", cfg["n_train"]), ("n ≫ p", cfg["large_n_train"])), desc=NAME, total=2):
    regimes[name] = _regime(rng, n, p, cfg, plant)
  near, far = regimes["p ≈ n"], regimes["n ≫ p"]
  kk, r, m = cfg["n_alphas"], cfg["n_reps"], cfg["n_val"]
  eps = np.finfo(np.float64).eps

  verdicts = []
  # Training error: exact monotonicity up to rounding.
  drop = max(near["train_drop"], far["train_drop"])
  drop_tol = 4 * (max(near["n"], far["n"]) + p + r) * eps
  verdicts.append(workbench.verdict(
      "Training error never decreases as α grows (a larger penalty can only fit the "
      "training data worse)",
      key="training_error_monotone",
      statistic="largest relative decrease of the mean training MSE between neighbouring α, "
                "over both regimes",
      value=drop, threshold=drop_tol, direction="<=",
      measured=(f"smallest rise {-drop:.1e}" if drop < 0 else f"largest drop {drop:.1e}"),
      predicted="no drop (non-decreasing)",
      threshold_from=f"float64 rounding: 4·(n + p + R)·u with u = 2⁻⁵² (residual dot "
                     f"products of p terms, means over n rows and R = {r} draws)"))

  # The whole validation curve against R(α).
  z_curve = max(np.max(np.abs(g["val"] - g["risk"]) / g["val_se"]) for g in (near, far))
  z_curve_tol = _z(FAMILY_LEVEL / (2 * 2 * kk))
  verdicts.append(workbench.verdict(
      "The validation error estimates the expected test risk σ² + bias² + variance of "
      "ridge at every α, in both regimes",
      key="validation_matches_risk",
      statistic="max over α and both regimes of |V̄(α) − R(α)| / SE(V̄(α))",
      value=z_curve, threshold=z_curve_tol, direction="<=",
      measured=f"V̄ over {r} draws (m = {m} validation points)",
      predicted="R(α) in closed form given X",
      threshold_from=f"two-sided normal quantile at family level {FAMILY_LEVEL:g}, "
                     f"Bonferroni over {2 * kk} (α, regime) pairs; SE from the spread over "
                     f"the {r} draws"))

  # The chosen α against the risk-minimising α.
  z_argmin = max((g["excess"] / g["se_argmin"]) if g["i_hat"] != g["i_star"] else 0.0
                 for g in (near, far))
  z_argmin_tol = _z(FAMILY_LEVEL / (2 * kk))
  a_hat, a_star = near["alphas"][near["i_hat"]], near["alphas"][near["i_star"]]
  verdicts.append(workbench.verdict(
      "The α that minimises the validation error is one that minimises the predicted risk "
      "(up to Monte Carlo noise)",
      key="argmin_matches_risk",
      statistic="predicted excess risk R(α̂) − R(α*) at the validation-chosen α̂, in standard "
                "errors of V̄(α̂) − V̄(α*); max over both regimes",
      value=z_argmin, threshold=z_argmin_tol, direction="<=",
      measured=f"α̂ = {a_hat:.3g} (p ≈ n)", predicted=f"α* = {a_star:.3g}",
      threshold_from=f"V̄(α̂) ≤ V̄(α*) bounds R(α̂) − R(α*) by the noise of a mean difference: "
                     f"one-sided normal quantile at family level {FAMILY_LEVEL:g}, Bonferroni "
                     f"over the {2 * kk} possible α̂; grid resolution "
                     f"{np.log10(near['alphas'][1] / near['alphas'][0]):.2f} decades"))

  depth = min(near["depth_small"], near["depth_large"])
  depth_tol = _z(FAMILY_LEVEL / 2)
  verdicts.append(workbench.verdict(
      "With p close to n the validation curve is U-shaped: its minimum is strictly inside "
      "the grid, above it at both ends",
      key="minimum_inside_grid",
      statistic="min over the two ends of (V̄(end) − V̄(α̂)) / SE, p ≈ n regime",
      value=depth, threshold=depth_tol, direction=">=",
      measured=f"small end +{100 * near['rel_small']:.0f}%, large end "
               f"+{100 * near['rel_large']:.0f}%",
      predicted=f"+{100 * near['pred_rel_small']:.0f}%, +{100 * near['pred_rel_large']:.0f}%",
      threshold_from=f"one-sided normal quantile at family level {FAMILY_LEVEL:g}, "
                     "Bonferroni over the two ends; SE of each difference from the spread "
                     f"over the {r} draws"))

  tables = [_regime_table(regimes), _curve_table(near, "p ≈ n")]
  figures = [_figure(fig_dir, regimes, cfg)]
  summary = _summary(near, far, cfg, z_curve, z_curve_tol, drop_tol)
  data = {name: {k: v for k, v in g.items()} for name, g in regimes.items()}
  return workbench.Result(name=NAME, title="The validation curve: underfitting and overfitting in α",
                          summary=summary, verdicts=verdicts, tables=tables, figures=figures,
                          data=data, plant=plant)


# --- report pieces ------------------------------------------------------------------

def _regime_table(regimes):
  rows = []
  for name, g in regimes.items():
    rows.append([
        name, g["n"], g["p"], f"{g['alphas'][0]:.3g} … {g['alphas'][-1]:.3g}",
        f"{g['alphas'][g['i_hat']]:.3g}", f"{g['alphas'][g['i_star']]:.3g}",
        f"{100 * g['rel_small']:+.1f}% ({g['depth_small']:.1f} SE)",
        f"{100 * g['pred_rel_small']:+.1f}%",
        f"{100 * g['rel_large']:+.1f}% ({g['depth_large']:.1f} SE)",
        f"{100 * g['pred_rel_large']:+.1f}%"])
  return workbench.Table(
      "The two regimes: the grid, the validation-chosen α̂ and the risk-minimising α*, and "
      "how far each end of the validation curve lies above its minimum (measured, with the "
      "difference in standard errors; predicted from R(α))",
      ["regime", "n", "p", "grid", "α̂ (validation)", "α* (predicted)",
       "small-α end above min", "predicted", "large-α end above min", "predicted"], rows)


def _curve_table(g, name):
  k = len(g["alphas"])
  picks = sorted(set(np.linspace(0, k - 1, 7).round().astype(int)) | {g["i_hat"]})
  rows = [[f"{g['alphas'][i]:.3g}", f"{g['train'][i]:.4f}",
           f"{g['val'][i]:.4f} ± {g['val_se'][i]:.4f}", f"{g['risk'][i]:.4f}",
           f"{g['bias2'][i]:.4f}", f"{g['variance'][i]:.4f}"] for i in picks]
  return workbench.Table(
      f"The curves in the {name} regime at a few α (n = {g['n']}, p = {g['p']}): mean "
      "training MSE, mean validation MSE ± its standard error, and the predicted risk "
      "R = σ² + bias² + variance with its two terms",
      ["α", "training MSE", "validation MSE", "R(α)", "bias²", "variance"], rows)


def _summary(near, far, cfg, z_curve, z_curve_tol, drop_tol):
  sigma2 = cfg["noise"] ** 2
  a_hat = near["alphas"][near["i_hat"]]
  a_star = near["alphas"][near["i_star"]]
  inside = 0 < near["i_hat"] < len(near["alphas"]) - 1
  far_inside = 0 < far["i_hat"] < len(far["alphas"]) - 1
  lines = [
      "**α too big underfits, too small overfits.** Ridge regression on Gaussian rows "
      "(y = xᵀw* + σε, Σ with eigenvalues over "
      f"{cfg['spectrum_decades']:g} decade(s), w*ᵀΣw* = {cfg['snr']:g}·σ²) has the expected "
      "test risk R(α) = σ² + α²w*ᵀAΣAw* + (σ²/n)tr(ΣASA), A = (S + αI)⁻¹: bias² grows "
      "with α and variance falls. The validation curve averaged over "
      f"{cfg['n_reps']} draws of the training noise and of a {cfg['n_val']}-point validation "
      "set estimates R(α) with a known standard error, so the curve, its minimum and its "
      "ends can be held to the prediction.",
      "",
  ]
  agree = "within" if z_curve <= z_curve_tol else "outside"
  z_end = _z(FAMILY_LEVEL / 2)
  u_shaped = inside and min(near["depth_small"], near["depth_large"]) >= z_end
  val, alphas, risk = near["val"], near["alphas"], near["risk"]
  if inside:
    shape = (f"{'is U-shaped' if u_shaped else 'has its minimum inside the grid but an end within the noise of it'}: "
             f"it falls from {val[0]:.3g} at α = {alphas[0]:.2g} to {val[near['i_hat']]:.3g} at "
             f"α̂ = {a_hat:.3g} and rises to {val[-1]:.3g} at α = {alphas[-1]:.2g}")
  else:
    end = "smallest" if near["i_hat"] == 0 else "largest"
    shape = (f"is not U-shaped on this grid: its minimum {val[near['i_hat']]:.3g} is at the "
             f"{end} α = {a_hat:.3g} (it is {val[0]:.3g} at α = {alphas[0]:.2g} and "
             f"{val[-1]:.3g} at α = {alphas[-1]:.2g})")
  train = near["train"]
  if near["train_drop"] <= drop_tol:
    train_text = f"The training error rises monotonically, from {train[0]:.3g} to {train[-1]:.3g}"
  else:
    train_text = (f"The training curve is not monotone: it drops by up to "
                  f"{100 * near['train_drop']:.2g}% between neighbouring α, ranging from "
                  f"{train.min():.3g} to {train.max():.3g}")
  lines.append(
      f"With p = {near['p']} features and n = {near['n']} rows the validation error "
      f"{shape} (predicted: {risk[0]:.3g}, {risk.min():.3g} at α* = {a_star:.3g}, "
      f"{risk[-1]:.3g}; σ² = {sigma2:.3g}). {train_text}"
      f"{' — below σ² at small α, the signature of fitting the noise' if train[0] < sigma2 else ''}. "
      f"Over both regimes the measured curve stays {agree} {z_curve_tol:.1f} standard errors "
      f"of R(α) (largest deviation {z_curve:.1f} SE).")
  lines.append("")
  flat = far["depth_small"] < z_end
  far_hat = far["alphas"][far["i_hat"]]
  lines.append(
      f"**Where it is not U-shaped.** With n = {far['n']} rows for the same p = {far['p']} "
      f"(n/p = {far['n'] / far['p']:.0f}) the least-squares fit has little variance to lose: "
      f"the validation error at the smallest α is {100 * far['rel_small']:+.2f}% from its "
      f"minimum ({far['depth_small']:.1f} SE; predicted {100 * far['pred_rel_small']:+.2f}%), "
      f"against {100 * near['rel_small']:+.0f}% with p ≈ n. "
      + ("The small-α end is flat within the Monte Carlo noise: there is no overfitting to "
         "prevent, and a smaller α costs nothing; only the large-α end (underfitting, "
         f"{100 * far['rel_large']:+.0f}%) matters. " if flat else
         f"The small-α end is still measurably above the minimum, but by "
         f"{100 * far['rel_small']:.2g}%, about 1/{near['rel_small'] / max(far['rel_small'], 1e-300):.0f} "
         "of the p ≈ n excess: overfitting has all but vanished. ")
      + (f"The minimum {'lies inside the grid' if far_inside else 'sits at the end of the grid'} "
         f"(α̂ = {far_hat:.3g}, predicted α* = {far['alphas'][far['i_star']]:.3g})."))
  lines.append("")
  lines.append(
      "The figure shows both regimes: the validation curve with ±2 SE bars on the "
      "predicted risk, its bias² and variance terms, and the training curve.")
  return "\n".join(lines)


def _figure(fig_dir, regimes, cfg):
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
  sigma2 = cfg["noise"] ** 2
  for ax, (name, g) in zip(axes, regimes.items()):
    a = g["alphas"]
    ax.errorbar(a, g["val"], yerr=2 * g["val_se"], fmt="o", ms=3, color="tab:red",
                label="validation MSE (mean ± 2 SE)")
    ax.plot(a, g["risk"], "-", color="k", lw=1, label="predicted risk R(α)")
    ax.plot(a, sigma2 + g["bias2"], "--", color="tab:blue", lw=1, label="σ² + bias²")
    ax.plot(a, sigma2 + g["variance"], ":", color="tab:green", lw=1.2, label="σ² + variance")
    ax.plot(a, g["train"], "s-", ms=2.5, lw=0.8, color="tab:gray", label="training MSE")
    ax.axvline(a[g["i_hat"]], color="tab:red", lw=0.6)
    ax.set_xscale("log")
    ax.set_xlabel("α")
    ax.set_title(f"{name}: n = {g['n']}, p = {g['p']}")
  axes[0].set_ylabel("mean squared error")
  axes[0].legend(fontsize=8)
  fig.suptitle("Ridge: validation error against the bias² + variance prediction")
  return workbench.save_figure(fig, fig_dir, "validation_curve")
