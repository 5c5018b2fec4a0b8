r"""Lp geometry: convexity of the unit ball, sparsity and local minima.

The Lp penalty (α/p) Σ|wⱼ|ᵖ interpolates between the "count" of non-zeros
(p → 0), the lasso (p = 1) and ridge (p = 2). Three consequences of the
shape of its unit ball {w : Σ|wⱼ|ᵖ ≤ 1} are measured here:

1. **Convexity.** The ball is convex exactly when p ≥ 1. A numerical
   midpoint test samples pairs of points in the ball and checks whether their
   midpoint stays inside; it finds violations for p < 1 and none for p ≥ 1.
2. **Sparsity.** The penalty has a corner at 0 (an infinite slope for p < 1,
   a subdifferential [−α, α] for p = 1) only when p ≤ 1. Proximal-gradient
   training, ``optax.sgd`` followed by ``jr.proximal(jr.Lp(α, p), η)``, then
   gives exact zeros for p ≤ 1 and none for p > 1, where the penalty's slope
   α|w|^(p−1) vanishes at 0 and a weight is 0 only if the data gradient is
   exactly 0 there.
3. **Local minima.** For p < 1 the objective is non-convex: random starts of
   the same proximal-gradient iteration stop at different fixed points of the
   map T(w) = prox_{ηα}(w − η∇f(w)); for p = 1 they all reach the one lasso
   solution.

References:
  Frank & Friedman (1993), "A statistical view of some chemometrics regression
  tools" (bridge regression, the Lp family).
  Xu, Chang, Xu & Zhang (2012), "L1/2 regularization: a thresholding
  representation theory and a fast solver".
  Attouch, Bolte & Svaiter (2013), "Convergence of descent methods for
  semi-algebraic and tame problems" (proximal gradient on non-convex problems
  converges to fixed points of T).
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxreg as jr
from research import workbench

NAME = "lp_norms"

DEFAULTS = dict(
    ball_ps=(0.5, 1.0, 1.5, 2.0, float("inf")),
    n_pairs=20000,
    dims=(2, 5),
    ps=(0.5, 0.75, 1.0, 1.5, 2.0),
    alpha_fractions=(0.01, 0.05),
    n_samples=60,
    n_features=20,
    n_informative=4,
    correlation=0.5,
    noise=0.5,
    steps=3000,
    n_starts=64,
    multistart_alpha_fraction=0.05,
    init_scale=3.0,
    distinct_tol=1e-6,
    fixed_point_tol=1e-9,
)

FULL = dict(n_pairs=100000, n_starts=256)

def ball_is_convex(p):
  """The prediction: {w : Σ|wⱼ|ᵖ ≤ 1} is convex iff p ≥ 1."""
  return p >= 1


def has_exact_zeros(p):
  """The prediction: the penalty has a corner at 0, hence exact zeros, iff p ≤ 1."""
  return p <= 1


def lp_value(x, p):
  """Σ|xⱼ|ᵖ (max|xⱼ| for p = ∞) over the last axis: ≤ 1 inside the unit ball."""
  if np.isinf(p):
    return jnp.max(jnp.abs(x), axis=-1)
  return jnp.sum(jnp.abs(x) ** p, axis=-1)


def _lp_norm(x, p):
  if np.isinf(p):
    return jnp.max(jnp.abs(x), axis=-1)
  return jnp.sum(jnp.abs(x) ** p, axis=-1) ** (1.0 / p)


def midpoint_test(key, p, dim, n_pairs):
  """Fraction of pairs in the Lp unit ball whose midpoint leaves it.

  Points are Gaussian directions scaled onto the unit sphere ‖x‖_p = 1 and
  then shrunk by a radius r ~ U(0, 1), half of them kept on the sphere
  (r = 1), where violations are easiest to find.

  Args:
    key: a PRNG key.
    p: the exponent (> 0, or ``inf``).
    dim: the dimension.
    n_pairs: how many pairs to draw.

  Returns:
    (fraction of midpoints outside, the largest Σ|mⱼ|ᵖ seen (max|mⱼ| at
    p = ∞), the endpoints a, b of the worst pair).
  """
  k1, k2, k3 = jax.random.split(key, 3)
  u = jax.random.normal(k1, (2, n_pairs, dim))
  u = u / _lp_norm(u, p)[..., None]
  r = jax.random.uniform(k2, (2, n_pairs, 1))
  on_sphere = jax.random.bernoulli(k3, 0.5, (2, n_pairs, 1))
  pts = u * jnp.where(on_sphere, 1.0, r)
  mid = 0.5 * (pts[0] + pts[1])
  val = lp_value(mid, p)
  # 1e-12 absorbs rounding of points placed exactly on the sphere.
  outside = val > 1.0 + 1e-12
  worst = jnp.argmax(val)
  return float(jnp.mean(outside)), float(val[worst]), (np.asarray(pts[0, worst]),
                                                        np.asarray(pts[1, worst]))


def make_regression(key, n, d, k, rho, noise):
  """Equicorrelated Gaussian design, k informative features, centred target."""
  k1, k2, k3 = jax.random.split(key, 3)
  z = jax.random.normal(k1, (n, d))
  common = jax.random.normal(k2, (n, 1))
  X = np.sqrt(1 - rho) * z + np.sqrt(rho) * common
  X = X - X.mean(0)
  w_true = jnp.zeros(d).at[:k].set(jnp.array([2.0, -1.5, 1.0, -0.5] * (k // 4 + 1))[:k])
  y = X @ w_true + noise * jax.random.normal(k3, (n,))
  return X, y - y.mean(), w_true


def _data_loss(w, X, y):
  r = y - X @ w
  return 0.5 * jnp.mean(r * r)


def train_prox(penalty, X, y, w0, lr, steps):
  """Proximal gradient (ISTA): optax.sgd then jr.proximal, full batch."""
  tx = optax.chain(optax.sgd(lr), jr.proximal(penalty, lr))
  return workbench.minimise(lambda w: _data_loss(w, X, y), w0, tx, steps)


def prox_grad_map(penalty, X, y, w, lr):
  """T(w) = prox_{η·pen}(w − η∇f(w)), whose fixed points are where ISTA stops."""
  return penalty.prox(w - lr * jax.grad(_data_loss)(w, X, y), lr)


def count_distinct(points, tol):
  """Greedy clustering: the number of points more than ``tol`` apart (max-norm)."""
  reps = []
  labels = []
  for x in np.asarray(points):
    for i, r in enumerate(reps):
      if np.max(np.abs(x - r)) <= tol:
        labels.append(i)
        break
    else:
      reps.append(x)
      labels.append(len(reps) - 1)
  return len(reps), np.array(reps), np.array(labels)


def _plot_balls(ball_ps, worst_pair, out):
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  fig, ax = plt.subplots(figsize=(5, 5))
  t = np.linspace(0, 2 * np.pi, 2001)
  for p in ball_ps:
    u = np.stack([np.cos(t), np.sin(t)], -1)
    n = np.max(np.abs(u), -1) if np.isinf(p) else np.sum(np.abs(u) ** p, -1) ** (1 / p)
    b = u / n[:, None]
    ax.plot(b[:, 0], b[:, 1], label=f"p = {p:g}")
  if worst_pair is not None:
    a, c = worst_pair
    ax.plot([a[0], c[0]], [a[1], c[1]], "k--", lw=1)
    m = 0.5 * (a + c)
    ax.plot(*m, "kx", ms=8, label="p = 0.5: midpoint outside")
  ax.set_aspect("equal")
  ax.set_title("Unit balls Σ|wⱼ|ᵖ ≤ 1")
  ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
  ax.axhline(0, c="0.8", lw=0.5)
  ax.axvline(0, c="0.8", lw=0.5)
  return workbench.save_figure(fig, out, "lp_norms_unit_balls")


def _plot_sparsity(ps, fracs, alpha_fractions, coefs, out):
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
  width = 0.8 / len(alpha_fractions)
  x = np.arange(len(ps))
  for i, f in enumerate(alpha_fractions):
    a1.bar(x + i * width, fracs[:, i], width, label=f"α = {f:g}·α_max")
  a1.set_xticks(x + 0.4 - width / 2, [f"{p:g}" for p in ps])
  a1.set_xlabel("p")
  a1.set_ylabel("fraction of coefficients exactly 0")
  a1.legend()
  a1.set_title("Exact zeros after proximal gradient")
  a2.imshow(np.abs(coefs[:, 0, :]) > 0, aspect="auto", cmap="Greys")
  a2.set_yticks(range(len(ps)), [f"p = {p:g}" for p in ps])
  a2.set_xlabel("feature (first ones informative)")
  a2.set_title(f"non-zero pattern at α = {alpha_fractions[0]:g}·α_max (black = ≠ 0)")
  fig.tight_layout()
  return workbench.save_figure(fig, out, "lp_norms_sparsity")


def _plot_minima(obj_half, obj_one, out):
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  fig, ax = plt.subplots(figsize=(6, 4))
  ax.plot(np.sort(obj_half), "o", ms=3, label="p = 0.5")
  ax.plot(np.sort(obj_one), "s", ms=3, label="p = 1")
  ax.set_xlabel("random start (sorted by final objective)")
  ax.set_ylabel("objective f(w) + pen(w) reached")
  ax.set_title("Where proximal gradient stops from random starts")
  ax.legend()
  return workbench.save_figure(fig, out, "lp_norms_local_minima")


def run(*, seed: int = 0, out_dir=None, full: bool = False, **config) -> workbench.Result:
  """Measures Lp geometry: ball convexity, sparsity against p, local minima.

  Args:
    seed: PRNG seed for the data, the sampled pairs and the random starts.
    out_dir: where the figures go (a temporary folder when None).
    full: more sampled pairs and random starts (``FULL``); the defaults
      already run in seconds.
    **config: overrides of ``DEFAULTS`` (``n_pairs``, ``ps``, ``steps``, …).

  Returns:
    A ``workbench.Result`` with verdicts on convexity (non-convex exactly for
    p < 1), exact zeros (exactly for p ≤ 1), the p = 1 solution against
    scikit-learn's ``Lasso``, fixed points of the p = ½ starts and uniqueness
    at p = 1; the number of distinct p = ½ minima is a measurement.
  """
  cfg = workbench.settings(NAME, DEFAULTS, FULL, full, config)
  out = workbench.figure_dir(out_dir)
  t0 = time.perf_counter()
  verdicts, tables, data = [], [], {}

  with jax.enable_x64(True):
    key = jax.random.PRNGKey(seed)
    k_ball, k_data, k_starts = jax.random.split(key, 3)

    # 1. Convexity of the unit ball, by midpoints.
    rows, wrong, worst_pair = [], 0, None
    for p in cfg["ball_ps"]:
      for dim in cfg["dims"]:
        k_ball, sub = jax.random.split(k_ball)
        frac, worst, pair = midpoint_test(sub, p, dim, cfg["n_pairs"])
        found = frac > 0
        wrong += int(found == ball_is_convex(p))
        if p < 1 and dim == 2:
          worst_pair = pair
        rows.append([f"{p:g}", dim, cfg["n_pairs"], f"{frac:.4f}", f"{worst:.4f}",
                     "yes" if found else "no", "no" if ball_is_convex(p) else "yes"])
        data[f"midpoint_violation_fraction_p{p:g}_d{dim}"] = frac
    tables.append(workbench.Table(
        "Midpoint test: pairs a, b in the unit ball; is (a+b)/2 outside?",
        ["p", "dim", "pairs", "fraction outside", "max Σ|m|ᵖ", "violation found",
         "predicted (p < 1)"], rows))
    verdicts.append(workbench.check(
        "The Lp unit ball is non-convex exactly when p < 1 (midpoints leave it only then)",
        wrong, 0,
        f"number of (p, dim) cells where 'a midpoint left the ball' disagrees with p < 1, "
        f"{cfg['n_pairs']} pairs each"))

    # 2. Sparsity against p on one regression.
    X, y, w_true = make_regression(k_data, cfg["n_samples"], cfg["n_features"],
                                   cfg["n_informative"], cfg["correlation"], cfg["noise"])
    n, d = X.shape
    L = float(jnp.linalg.eigvalsh(X.T @ X / n)[-1])
    alpha_max = float(jnp.max(jnp.abs(X.T @ y)) / n)
    alphas = jnp.asarray(cfg["alpha_fractions"]) * alpha_max
    lr = 0.95 / L  # below 1/L: the iteration then decreases the objective for every p.
    w0 = jnp.zeros(d)
    ps = tuple(cfg["ps"])
    coefs = np.zeros((len(ps), len(alphas), d))
    for i, p in enumerate(ps):
      batch = jr.Lp(alphas, p)  # a batch of penalties, one α each
      fit = jax.jit(jax.vmap(lambda pen: train_prox(pen, X, y, w0, lr, cfg["steps"])))
      coefs[i] = np.asarray(fit(batch))
    fracs = np.mean(coefs == 0.0, axis=-1)
    predicted = np.array([has_exact_zeros(p) for p in ps])[:, None]
    wrong_sparse = int(np.sum((fracs > 0) != predicted))
    rows = [[f"{p:g}"] + [f"{f:.2f}" for f in fracs[i]] + ["yes" if has_exact_zeros(p) else "no"]
            for i, p in enumerate(ps)]
    tables.append(workbench.Table(
        f"Fraction of exact zeros ({d} features, {cfg['n_informative']} informative), "
        f"α_max = max|Xᵀy|/n = {alpha_max:.3g}",
        ["p"] + [f"α = {f:g}·α_max" for f in cfg["alpha_fractions"]] + ["zeros predicted"],
        rows))
    verdicts.append(workbench.check(
        "Proximal-gradient Lp solutions have exact zeros exactly when p ≤ 1",
        wrong_sparse, 0,
        "number of (p, α) cells where 'some coefficient is exactly 0' disagrees with p ≤ 1"))
    data.update(ps=np.asarray(ps), alphas=np.asarray(alphas), zero_fraction=fracs, coefs=coefs,
                w_true=np.asarray(w_true))

    # The p = 1 fit is the lasso: check it against scikit-learn to show the
    # iteration has converged (so zeros are the solution's, not the optimizer's).
    if 1.0 in ps:
      from sklearn.linear_model import Lasso
      i1 = ps.index(1.0)
      err = 0.0
      for j, a in enumerate(np.asarray(alphas)):
        sk = Lasso(alpha=float(a), fit_intercept=False, tol=1e-14, max_iter=100000)
        sk.fit(np.asarray(X), np.asarray(y))
        err = max(err, float(np.max(np.abs(coefs[i1, j] - sk.coef_))))
      verdicts.append(workbench.check(
          "At p = 1 the trained solution is scikit-learn's Lasso(alpha=α)", err, 1e-8,
          "max |w_jaxreg − w_sklearn| over coefficients and α"))
      data["lasso_max_abs_diff"] = err

    # 3. Local minima at p = ½ from random starts (and p = 1 for contrast).
    a_ms = cfg["multistart_alpha_fraction"] * alpha_max
    starts = cfg["init_scale"] * jax.random.normal(k_starts, (cfg["n_starts"], d))
    results = {}
    for p in (0.5, 1.0):
      pen = jr.Lp(a_ms, p)
      ws = jax.jit(jax.vmap(lambda w: train_prox(pen, X, y, w, lr, cfg["steps"])))(starts)
      resid = jax.vmap(lambda w: jnp.max(jnp.abs(prox_grad_map(pen, X, y, w, lr) - w)))(ws)
      obj = jax.vmap(lambda w: _data_loss(w, X, y) + pen(w))(ws)
      n_distinct, reps, labels = count_distinct(ws, cfg["distinct_tol"])
      results[p] = dict(ws=np.asarray(ws), resid=np.asarray(resid), obj=np.asarray(obj),
                        n_distinct=n_distinct, reps=reps, labels=labels)
    h, o = results[0.5], results[1.0]
    best = int(np.argmin(h["obj"]))
    frac_best = float(np.mean(h["labels"] == h["labels"][best]))
    rows = []
    for k, rep in enumerate(h["reps"]):
      members = h["labels"] == k
      rows.append([k, int(members.sum()), int(np.sum(rep != 0)),
                   f"{float(h['obj'][members][0]):.6f}"])
    rows.sort(key=lambda r: float(r[3]))
    tables.append(workbench.Table(
        f"p = 0.5, α = {cfg['multistart_alpha_fraction']:g}·α_max: distinct points reached from "
        f"{cfg['n_starts']} random starts (tolerance {cfg['distinct_tol']:g})",
        ["solution", "starts reaching it", "non-zeros", "objective"], rows))
    verdicts.append(workbench.check(
        "Every p = 0.5 random start stops at a fixed point of T(w) = prox_{ηα}(w − η∇f(w))",
        float(np.max(h["resid"])), cfg["fixed_point_tol"],
        "max over starts of ‖T(w) − w‖_∞ at the last iterate (float64)"))
    verdicts.append(workbench.check(
        "At p = 1 (convex) every random start reaches the same solution",
        o["n_distinct"] - 1, 0,
        f"number of distinct solutions minus one, tolerance {cfg['distinct_tol']:g}; "
        f"max fixed-point residual {float(np.max(o['resid'])):.1e}"))
    data.update(n_distinct_p05=h["n_distinct"], n_distinct_p1=o["n_distinct"],
                objectives_p05=h["obj"], objectives_p1=o["obj"],
                fixed_point_residual_p05=h["resid"], fraction_at_best_p05=frac_best)

    figures = [
        _plot_balls(cfg["ball_ps"], worst_pair, out),
        _plot_sparsity(ps, fracs, cfg["alpha_fractions"], coefs, out),
        _plot_minima(h["obj"], o["obj"], out),
    ]

  data["runtime_s"] = time.perf_counter() - t0
  summary = f"""\
**Convexity.** The unit ball of the Lp penalty is B_p = {{w : Σ|wⱼ|ᵖ ≤ 1}}. It is convex
when p ≥ 1 (‖·‖_p is then a norm, and the triangle inequality keeps every midpoint (a+b)/2
of two points of the ball inside it) and non-convex when p < 1 (e.g. a = (1, 0), b = (0, 1):
the midpoint has Σ|mⱼ|^½ = √2 > 1). Sampling {cfg['n_pairs']} pairs per (p, dimension), the
midpoint test finds points outside the ball for p = 0.5 only; the first figure draws the balls
and, dashed, the worst p = 0.5 chord found.

**Sparsity.** Minimising (1/(2n))‖y − Xw‖² + (α/p)Σ|wⱼ|ᵖ by proximal gradient
(``optax.sgd(η)`` then ``jr.proximal(jr.Lp(α, p), η)``, η = 0.95/λ_max(XᵀX/n),
{cfg['steps']} steps) gives exact zeros for p ≤ 1 and none for p > 1. Why: wⱼ = 0 is optimal
iff the data gradient gⱼ lies in the subdifferential of the penalty at 0, which is [−α, α] at
p = 1, the whole line at p < 1 (the slope α|w|^(p−1) is infinite at 0), and only {{0}} at
p > 1 (the slope vanishes), so for p > 1 a zero needs gⱼ = 0 exactly, which has probability 0.
At p = 1 the fit equals scikit-learn's ``Lasso`` (max difference {data.get('lasso_max_abs_diff', float('nan')):.1e}),
so the iteration has converged and the zeros belong to the solution. The second figure shows
the fraction of zeros against p and which features stay non-zero.

**Local minima.** For p = 0.5 (α = {cfg['multistart_alpha_fraction']:g}·α_max) the objective is
non-convex. From {cfg['n_starts']} random starts w₀ ~ N(0, {cfg['init_scale']:g}²I), the same
iteration reached **{h['n_distinct']} distinct points** (max-norm tolerance
{cfg['distinct_tol']:g}); {frac_best:.0%} of the starts reached the lowest objective found. Each is
a fixed point of T(w) = prox_{{ηα}}(w − η∇f(w)) (max ‖T(w) − w‖_∞ = {float(np.max(h['resid'])):.1e}),
i.e. a stationary point where the iteration stops, not an unfinished run. At p = 1 (convex)
all starts reach the one lasso solution. The third figure shows the objective value each
start reaches: one level for p = 1, several for p = 0.5.
"""
  return workbench.Result(
      name=NAME, title="Lp norms: convexity, sparsity and local minima", summary=summary,
      verdicts=verdicts, tables=tables, figures=figures, data=data)
