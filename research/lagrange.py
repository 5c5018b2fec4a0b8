r"""Penalty = constraint: the Lagrange reading of L1 and L2.

For a convex loss, the penalized problem and the constrained problem

.. math::

   w_\alpha = \arg\min_w\ \mathrm{loss}(w) + \alpha\,\mathrm{pen}(w)
   \qquad\text{and}\qquad
   \arg\min_w\ \mathrm{loss}(w)\ \ \text{s.t.}\ \ \|w\| \le C(\alpha) := \|w_\alpha\|

have the same solution, and α is the Lagrange multiplier of the constraint.
The multiplier can be read off the constrained solution w_C from the
optimality (KKT) conditions:

* L1, pen = ‖w‖₁: −∇loss(w_C) ∈ α ∂‖w_C‖₁, so α = ‖∇loss(w_C)‖∞;
* L2, pen = ½‖w‖²: ∇loss(w_C) + α w_C = 0, so α = −∇loss(w_C)·w_C / ‖w_C‖².

The experiment solves both forms with jaxreg's optax pieces, the penalized
one by proximal gradient (``jr.proximal``) and the constrained one by
projected gradient (``jr.project(jr.L1Ball(C))`` / ``jr.L2Ball``), vmapped
over a grid of α and of the matching radii C(α). In two dimensions it draws
the classic picture (loss contours touching the L1 diamond or the L2 circle)
and counts, over many random quadratics, how often the constrained optimum
sits on an axis: the diamond's corners make exact zeros common for L1 and
(almost surely) absent for L2.

References:
  Tibshirani (1996), "Regression shrinkage and selection via the lasso".
  Boyd & Vandenberghe (2004), "Convex optimization", ch. 5 (duality, KKT).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxreg as jr
from research import workbench

NAME = "lagrange"


# --- the predictions: multipliers read off a constrained solution -----------

def l1_multiplier(grad_loss: jax.Array) -> jax.Array:
  r"""The multiplier of ‖w‖₁ ≤ C at its solution: α = ‖∇loss(w_C)‖∞.

  At the optimum −∇loss ∈ α ∂‖w‖₁; every coordinate of a subgradient of ‖·‖₁
  lies in [−1, 1] and equals ±1 on the nonzero coordinates, so the largest
  gradient magnitude is α.

  Args:
    grad_loss: ∇loss at the constrained solution, shape (..., p).

  Returns:
    α, shape (...).
  """
  return jnp.max(jnp.abs(grad_loss), axis=-1)


def l2_multiplier(grad_loss: jax.Array, w: jax.Array) -> jax.Array:
  r"""The multiplier of ‖w‖₂ ≤ C for the penalty (α/2)‖w‖²: α = −∇loss·w/‖w‖².

  Stationarity of loss + (α/2)‖w‖² is ∇loss + αw = 0; projecting onto w
  gives the formula (exact at the optimum, where ∇loss is parallel to w).

  Args:
    grad_loss: ∇loss at the constrained solution, shape (..., p).
    w: the constrained solution, shape (..., p).

  Returns:
    α, shape (...).
  """
  return -jnp.sum(grad_loss * w, axis=-1) / jnp.sum(w * w, axis=-1)


def l1_vertex_optimal(h: jax.Array, w_star: jax.Array, radius: jax.Array) -> jax.Array:
  r"""Whether min ½(w−w*)ᵀH(w−w*) s.t. ‖w‖₁ ≤ C is solved at a corner (2-D).

  The corner v = C·s·e_j is optimal when −∇loss(v) lies in the normal cone
  {λ(s e_j + t e_k) : λ ≥ 0, |t| ≤ 1}, i.e. −s·g_j ≥ |g_k| with g = H(v − w*).
  A corner has one zero coordinate: this predicts, without any iteration,
  whether the solution is on an axis.

  Args:
    h: Hessians, shape (..., 2, 2).
    w_star: unconstrained minimisers, shape (..., 2).
    radius: C, shape (...).

  Returns:
    A boolean array, shape (...).
  """
  optimal = jnp.zeros(radius.shape, bool)
  for j, k in ((0, 1), (1, 0)):
    for s in (1.0, -1.0):
      v = jnp.zeros_like(w_star).at[..., j].set(s * radius)
      g = jnp.einsum("...ab,...b->...a", h, v - w_star)
      optimal = optimal | (-s * g[..., j] >= jnp.abs(g[..., k]))
  return optimal


# --- solvers: jaxreg's optax pieces, as a user would chain them ---------------

def _minimise(tx, loss, w0, steps):
  """Runs ``steps`` iterations of ``tx`` on ``loss`` from ``w0``."""
  return workbench.minimise(loss, w0, tx, steps)


def solve_penalized(loss, penalty, w0, lr, steps):
  """Proximal gradient (ISTA): chain(sgd(η), proximal(penalty, η))."""
  return _minimise(optax.chain(optax.sgd(lr), jr.proximal(penalty, lr)), loss, w0, steps)


def solve_constrained(loss, constraint, w0, lr, steps):
  """Projected gradient: chain(sgd(η), project(ball))."""
  return _minimise(optax.chain(optax.sgd(lr), jr.project(constraint)), loss, w0, steps)


def _regression(seed, n, p, rho, noise):
  """A least-squares problem with correlated features and a sparse truth."""
  rng = np.random.default_rng(seed)
  cov = rho ** np.abs(np.subtract.outer(np.arange(p), np.arange(p)))
  x = rng.standard_normal((n, p)) @ np.linalg.cholesky(cov).T
  w_true = np.zeros(p)
  w_true[: min(p, 4)] = [3.0, -2.0, 1.5, 1.0][: min(p, 4)]
  y = x @ w_true + noise * rng.standard_normal(n)
  return x, y


def _relative(a, b, axis=-1):
  return jnp.linalg.norm(a - b, axis=axis) / jnp.linalg.norm(b, axis=axis)


def _random_quadratics(rng, count):
  """Random 2-D quadratics ½(w−w*)ᵀH(w−w*) and constraint levels."""
  angle = rng.uniform(0, np.pi, count)
  eig = rng.uniform(0.2, 1.0, (count, 2))
  q = np.stack([np.stack([np.cos(angle), -np.sin(angle)], -1),
                np.stack([np.sin(angle), np.cos(angle)], -1)], -2)
  h = np.einsum("nab,nb,ncb->nac", q, eig, q)
  w_star = rng.standard_normal((count, 2))
  # Each ball keeps the same fraction of its own norm of w*, so the two
  # constraints are equally tight.
  ratio = rng.uniform(0.1, 0.9, count)
  return h, w_star, ratio


def run(*, seed: int = 0, out_dir: Any = None, full: bool = False,
        n_samples: int = 200, n_features: int = 10, rho: float = 0.5,
        noise: float = 1.0, n_alphas: int = 16, steps: int = 3000,
        n_quadratics: int = None, quad_steps: int = 600) -> workbench.Result:
  """Runs the experiment: penalized vs constrained solutions and multipliers.

  Args:
    seed: random seed for the data and the random quadratics.
    out_dir: where the figures go (a temporary folder when None).
    full: more α values and more random quadratics.
    n_samples, n_features, rho, noise: the regression problem (features with
      correlation rho^|i−j|, four nonzero true coefficients).
    n_alphas: size of each α grid.
    steps: iterations of proximal / projected gradient.
    n_quadratics: random 2-D quadratics for the axis frequency.
    quad_steps: projected-gradient iterations for each quadratic.

  Returns:
    A ``workbench.Result`` named ``"lagrange"``.
  """
  if n_quadratics is None:
    n_quadratics = 40000 if full else 10000
  if full:
    n_alphas = max(n_alphas, 40)
  fig_dir = workbench.figure_dir(out_dir)
  with jax.enable_x64(True):
    return _run(seed, fig_dir, n_samples, n_features, rho, noise, n_alphas, steps,
                n_quadratics, quad_steps)


def _run(seed, fig_dir, n, p, rho, noise, n_alphas, steps, n_quadratics, quad_steps):
  x_np, y_np = _regression(seed, n, p, rho, noise)
  x, y = jnp.asarray(x_np), jnp.asarray(y_np)

  def loss(w):
    return 0.5 * jnp.mean((y - x @ w) ** 2)

  gram = x.T @ x / n
  lr = 1.0 / float(jnp.linalg.eigvalsh(gram)[-1])
  w0 = jnp.zeros(p)
  alpha_max = float(jnp.max(jnp.abs(x.T @ y / n)))
  # Below α_max so the lasso solution is not zero (and the ball is active).
  alphas = {
      "L1": jnp.logspace(np.log10(0.8 * alpha_max), np.log10(1e-3 * alpha_max), n_alphas),
      "L2": jnp.logspace(1, -3, n_alphas),
  }
  penalties = {"L1": jr.L1(alphas["L1"]), "L2": jr.L2(alphas["L2"])}
  balls = {"L1": jr.L1Ball, "L2": jr.L2Ball}
  norms = {"L1": lambda w: jnp.sum(jnp.abs(w), -1), "L2": lambda w: jnp.linalg.norm(w, axis=-1)}
  multiplier = {"L1": lambda g, w: l1_multiplier(g), "L2": l2_multiplier}

  penalized_fit = jax.jit(jax.vmap(lambda pen: solve_penalized(loss, pen, w0, lr, steps)))
  constrained_fit = jax.jit(jax.vmap(lambda ball: solve_constrained(loss, ball, w0, lr, steps)))

  verdicts, rows, data = [], [], {}
  for kind in ("L1", "L2"):
    w_pen = penalized_fit(penalties[kind])
    radius = norms[kind](w_pen)
    w_con = constrained_fit(balls[kind](radius))
    grads = jax.vmap(jax.grad(loss))(w_con)
    alpha_hat = multiplier[kind](grads, w_con)
    sol_err = _relative(w_con, w_pen)
    mult_err = jnp.abs(alpha_hat - alphas[kind]) / alphas[kind]
    data[kind] = dict(alphas=np.asarray(alphas[kind]), radius=np.asarray(radius),
                      w_penalized=np.asarray(w_pen), w_constrained=np.asarray(w_con),
                      multiplier=np.asarray(alpha_hat))
    ball_name = "L1Ball" if kind == "L1" else "L2Ball"
    verdicts.append(workbench.check(
        f"{kind}: minimising the loss inside {ball_name}(C(α)) gives the {kind}-penalized solution",
        jnp.max(sol_err), 1e-4,
        f"max over {n_alphas} α of ‖w_C − w_α‖/‖w_α‖, C(α) = ‖w_α‖"))
    formula = "‖∇loss(w_C)‖∞" if kind == "L1" else "−∇loss(w_C)·w_C/‖w_C‖²"
    verdicts.append(workbench.check(
        f"{kind}: the Lagrange multiplier {formula} recovered from the constrained solution equals α",
        jnp.max(mult_err), 1e-3, f"max over {n_alphas} α of |α̂ − α|/α"))
    for i in range(0, n_alphas, max(1, n_alphas // 5)):
      rows.append([kind, f"{float(alphas[kind][i]):.4g}", f"{float(radius[i]):.4g}",
                   f"{float(alpha_hat[i]):.6g}", f"{float(sol_err[i]):.1e}"])

  # The penalized solver itself, against independent solutions.
  from sklearn.linear_model import Lasso
  w_ridge = jnp.linalg.solve(gram[None] + alphas["L2"][:, None, None] * jnp.eye(p),
                             jnp.broadcast_to(x.T @ y / n, (n_alphas, p))[..., None])[..., 0]
  verdicts.append(workbench.check(
      "The L2 proximal-gradient solutions equal the closed form (XᵀX/n + αI)⁻¹Xᵀy/n",
      jnp.max(_relative(jnp.asarray(data["L2"]["w_penalized"]), w_ridge)), 1e-8,
      "max relative error over the grid"))
  w_lasso = np.stack([
      Lasso(alpha=float(a), fit_intercept=False, tol=1e-14, max_iter=100000).fit(x_np, y_np).coef_
      for a in np.asarray(alphas["L1"])])
  verdicts.append(workbench.check(
      "The L1 proximal-gradient solutions equal scikit-learn's Lasso (same objective)",
      jnp.max(_relative(jnp.asarray(data["L1"]["w_penalized"]), jnp.asarray(w_lasso))), 1e-6,
      "max relative error over the grid"))

  # --- two dimensions: how often is the optimum on an axis? ------------------
  rng = np.random.default_rng(seed + 1)
  h, w_star, ratio = (jnp.asarray(a) for a in _random_quadratics(rng, n_quadratics))
  quad_lr = 1.0 / jnp.max(jnp.linalg.eigvalsh(h), axis=-1)

  def solve_quadratic(hi, wi, lri, ball):
    quad = lambda w: 0.5 * (w - wi) @ hi @ (w - wi)
    return solve_constrained(quad, ball, jnp.zeros(2), lri, quad_steps)

  solve_all = jax.jit(jax.vmap(solve_quadratic))
  c1 = ratio * jnp.sum(jnp.abs(w_star), -1)
  c2 = ratio * jnp.linalg.norm(w_star, axis=-1)
  on_axis_l1 = np.asarray(jnp.any(solve_all(h, w_star, quad_lr, jr.L1Ball(c1)) == 0, -1))
  on_axis_l2 = np.asarray(jnp.any(solve_all(h, w_star, quad_lr, jr.L2Ball(c2)) == 0, -1))
  predicted = np.asarray(l1_vertex_optimal(h, w_star, c1))
  freq_l1, freq_l2 = float(on_axis_l1.mean()), float(on_axis_l2.mean())
  mismatch = float(np.mean(on_axis_l1 != predicted))
  verdicts.append(workbench.check(
      "L1 in 2-D: the constrained optimum has a zero coordinate exactly when a corner of the "
      "diamond satisfies the KKT conditions",
      mismatch, 0.005,
      f"fraction of {n_quadratics} random quadratics where projected gradient and the corner test disagree"))
  verdicts.append(workbench.check(
      "L2 in 2-D: the constrained optimum is never on an axis (the circle has no corners)",
      freq_l2, 0.0, f"fraction of {n_quadratics} random quadratics with an exact zero coordinate"))
  verdicts.append(workbench.check(
      "L1 lands on an axis far more often than L2 at matched constraint levels",
      0.0 if freq_l1 >= 0.1 + freq_l2 else 1.0, 0.0,
      f"0 when freq(L1) ≥ freq(L2) + 0.1; measured {freq_l1:.3f} vs {freq_l2:.3f}"))
  data["axis_frequency"] = {"L1": freq_l1, "L2": freq_l2, "L1_predicted": float(predicted.mean())}

  figures = [_figure_picture(fig_dir), _figure_multipliers(fig_dir, data)]

  tables = [
      workbench.Table(
          "Penalized vs constrained on the regression problem (every few α): the radius "
          "C(α) = ‖w_α‖, the multiplier α̂ read from the constrained solution, and "
          "‖w_C − w_α‖/‖w_α‖",
          ["penalty", "α", "C(α)", "α̂ (from w_C)", "relative gap"], rows),
      workbench.Table(
          f"How often the constrained optimum of a random 2-D quadratic has an exact zero "
          f"coordinate ({n_quadratics} quadratics, each ball keeping the same random fraction "
          f"of its own norm of the unconstrained minimiser)",
          ["ball", "on an axis (measured)", "on an axis (corner KKT test)"],
          [["L1 diamond", f"{freq_l1:.3f}", f"{float(predicted.mean()):.3f}"],
           ["L2 circle", f"{freq_l2:.3f}", "0 (no corners)"]]),
  ]

  summary = (
      "**Penalty = constraint.** For each α the penalized least-squares solution w_α "
      "has a norm C(α) = ‖w_α‖. Minimising the same loss (1/(2n))‖y − Xw‖² subject to "
      "‖w‖ ≤ C(α), by projected gradient with `jr.project(jr.L1Ball(C))` or "
      "`jr.L2Ball(C)`, lands on the same w: the penalty strength and the ball's radius "
      "are two names for one problem. α is the Lagrange multiplier of the ball, and it "
      "can be read off the constrained solution: for L1 it is the largest gradient "
      "magnitude ‖∇loss(w_C)‖∞ (the optimum balances the loss gradient against the "
      "subgradient of |·|, which is ±1 on the nonzero coordinates), for (α/2)‖w‖² it "
      "is −∇loss·w/‖w‖² (the loss gradient points straight back along w). The table "
      "lists both at a few α; the multiplier matches α to the solver's precision.\n\n"
      "**Why L1 gives zeros.** In two dimensions the optimum is where the smallest "
      "loss contour touches the ball. The L1 ball is a diamond whose corners lie on "
      "the axes, and a corner is the touching point for a whole cone of gradient "
      "directions; the L2 circle is smooth, so its touching point is on an axis only "
      f"by accident. Over {n_quadratics} random quadratics at equally tight constraints, "
      f"the L1 optimum had an exact zero coordinate {100 * freq_l1:.1f}% of the time and "
      f"the L2 optimum {100 * freq_l2:.1f}%. The L1 count agrees with a corner test that "
      "checks the KKT conditions at the four corners without iterating.\n\n"
      "In the first figure the contours are those of one quadratic loss; the dots "
      "trace the penalized solution as α grows from 0 (the unconstrained minimum) to "
      "large values (the origin). The L1 path reaches the horizontal axis at a finite α "
      "and slides along it; the L2 path heads to the origin without touching an axis. "
      "The diamond and circle are drawn at one α, with the loss contour through each "
      "solution touching its ball there. The second figure shows C(α) falling with α "
      "and the recovered multiplier lying on the diagonal α̂ = α."
  )
  return workbench.Result(name=NAME, title="Penalty = constraint (Lagrange multipliers)",
                          summary=summary, verdicts=verdicts, tables=tables,
                          figures=figures, data=data)


def _figure_picture(fig_dir):
  """Loss contours, the two balls and the two solution paths in 2-D."""
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  h = jnp.array([[1.0, 0.45], [0.45, 0.6]])
  w_star = jnp.array([1.6, 0.7])
  quad = lambda w: 0.5 * (w - w_star) @ h @ (w - w_star)
  lr = 1.0 / float(jnp.linalg.eigvalsh(h)[-1])
  # α_max = ‖H w*‖∞ ≈ 1.9 sends the L1 solution to the origin.
  a1 = jnp.concatenate([jnp.zeros(1), jnp.logspace(-3, np.log10(2.0), 80)])
  a2 = jnp.concatenate([jnp.zeros(1), jnp.logspace(-3, 2, 80)])
  fit = lambda pens: jax.vmap(lambda pen: solve_penalized(quad, pen, jnp.zeros(2), lr, 2000))(pens)
  path1 = np.asarray(jax.jit(fit)(jr.L1(a1)))
  path2 = np.asarray(jax.jit(fit)(jr.L2(a2)))
  pick1 = int(np.argmin(np.abs(np.asarray(a1) - 0.7)))
  pick2 = int(np.argmin(np.abs(np.asarray(a2) - 0.6)))
  w1, w2 = path1[pick1], path2[pick2]
  c1, c2 = np.abs(w1).sum(), np.linalg.norm(w2)

  g = np.linspace(-0.6, 2.2, 300)
  gx, gy = np.meshgrid(g, g)
  diff = np.stack([gx - float(w_star[0]), gy - float(w_star[1])], -1)
  z = 0.5 * np.einsum("...a,ab,...b->...", diff, np.asarray(h), diff)

  fig, ax = plt.subplots(figsize=(6.2, 6))
  ax.contour(gx, gy, z, levels=np.linspace(0.02, 2.0, 14), colors="0.75", linewidths=0.7)
  ax.contour(gx, gy, z, levels=[float(quad(w1))], colors="tab:red", linewidths=1.0,
             linestyles="--")
  ax.contour(gx, gy, z, levels=[float(quad(w2))], colors="tab:blue", linewidths=1.0,
             linestyles="--")
  ax.fill([c1, 0, -c1, 0], [0, c1, 0, -c1], color="tab:red", alpha=0.15,
          label=f"L1 ball ‖w‖₁ ≤ {c1:.2f}")
  t = np.linspace(0, 2 * np.pi, 200)
  ax.fill(c2 * np.cos(t), c2 * np.sin(t), color="tab:blue", alpha=0.12,
          label=f"L2 ball ‖w‖₂ ≤ {c2:.2f}")
  ax.plot(path1[:, 0], path1[:, 1], ".-", color="tab:red", ms=3, lw=1,
          label="L1 path w_α (reaches the axis)")
  ax.plot(path2[:, 0], path2[:, 1], ".-", color="tab:blue", ms=3, lw=1, label="L2 path w_α")
  ax.plot(*w1, "o", color="tab:red", ms=7)
  ax.plot(*w2, "o", color="tab:blue", ms=7)
  ax.plot(*np.asarray(w_star), "k*", ms=10, label="unpenalized minimum")
  ax.axhline(0, color="k", lw=0.6)
  ax.axvline(0, color="k", lw=0.6)
  ax.set_xlim(-0.6, 2.2)
  ax.set_ylim(-0.6, 2.2)
  ax.set_aspect("equal")
  ax.set_xlabel("w₁")
  ax.set_ylabel("w₂")
  ax.set_title("Loss contours touch the ball: L1 at a corner, L2 on the smooth circle")
  ax.legend(loc="upper left", fontsize=8)
  return workbench.save_figure(fig, fig_dir, "lagrange_picture")


def _figure_multipliers(fig_dir, data):
  """C(α) against α, and the recovered multiplier against α."""
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  fig, axes = plt.subplots(1, 2, figsize=(10, 4))
  colors = {"L1": "tab:red", "L2": "tab:blue"}
  for kind, d in ((k, data[k]) for k in ("L1", "L2")):
    axes[0].loglog(d["alphas"], d["radius"], "o-", color=colors[kind], ms=3,
                   label=f"{kind}: C(α) = ‖w_α‖{'₁' if kind == 'L1' else '₂'}")
    axes[1].loglog(d["alphas"], d["multiplier"], "o", color=colors[kind], ms=4,
                   label=f"{kind}: α̂ from the constrained solution")
  lo = min(data["L1"]["alphas"].min(), data["L2"]["alphas"].min())
  hi = max(data["L1"]["alphas"].max(), data["L2"]["alphas"].max())
  axes[1].loglog([lo, hi], [lo, hi], "k-", lw=0.8, label="α̂ = α")
  axes[0].set_xlabel("α")
  axes[0].set_ylabel("radius C(α)")
  axes[0].set_title("The radius that gives the same solution")
  axes[1].set_xlabel("α (penalty)")
  axes[1].set_ylabel("α̂ (multiplier of the ball)")
  axes[1].set_title("The multiplier of the ball is α")
  for ax in axes:
    ax.legend(fontsize=8)
  return workbench.save_figure(fig, fig_dir, "lagrange_multipliers")
