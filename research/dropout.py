r"""Dropout as adaptive L2: input dropout in linear regression is a weighted ridge.

Inverted dropout with keep probability q replaces each input x_ij by
x̃_ij = x_ij·m_ij/q with m_ij ~ Bernoulli(q), independently. Then E[x̃] = x
and Var(x̃_ij) = x_ij²(1−q)/q, so for the squared loss

.. math::  \mathbb{E}\,\tfrac{1}{2n}\|y - \tilde Xw\|^2
           = \tfrac{1}{2n}\|y - Xw\|^2 + \frac{1-q}{q}\cdot\tfrac12\sum_j G_{jj}\,w_j^2,
           \qquad G = X^\top X / n,

a ridge penalty whose weight on wⱼ is the feature's mean square G_jj
("adaptive": it depends on the data). Its minimiser is

.. math::  w_q = \big(G + \tfrac{1-q}{q}\,\mathrm{diag}(G)\big)^{-1} X^\top y / n.

In jaxreg's terms the penalty is ``jr.L2((1−q)/q)`` applied to
v = √diag(G) ⊙ w, the coefficients of the features rescaled to unit root
mean square: dropout is ridge with α = (1−q)/q on those rescaled features.

References:
  Srivastava, Hinton, Krizhevsky, Sutskever & Salakhutdinov (2014),
  "Dropout: a simple way to prevent neural networks from overfitting" (§9:
  linear regression, the marginalized dropout penalty).
  Wager, Wang & Liang (2013), "Dropout training as adaptive regularization".
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxreg as jr
from research import workbench

NAME = "dropout"

DEFAULTS = dict(
    n_samples=200,
    feature_scales=(0.5, 1.0, 1.5, 2.0, 3.0),
    correlation=0.5,
    noise=1.0,
    keep_probs=(0.3, 0.5, 0.7, 0.9),
    n_seeds=16,
    steps=4000,
    step_scale=1.0,
    z_tol=5.0,
    ridge_steps=3000,
    ridge_tol=1e-10,
)

FULL = dict(n_seeds=32, steps=10000)


def dropout_penalty_factor(q):
  """The prediction: the ridge weight per unit of G_jj, (1 − q)/q."""
  return (1.0 - q) / q


def make_data(key, n, scales, rho, noise):
  """Correlated Gaussian features with very different scales; centred target."""
  d = len(scales)
  k1, k2, k3, k4 = jax.random.split(key, 4)
  z = np.sqrt(1 - rho) * jax.random.normal(k1, (n, d)) + np.sqrt(rho) * jax.random.normal(
      k2, (n, 1))
  X = z * jnp.asarray(scales)
  w_true = jax.random.normal(k3, (d,)) / jnp.asarray(scales)
  y = X @ w_true + noise * jax.random.normal(k4, (n,))
  return X - X.mean(0), y - y.mean()


def weighted_ridge(X, y, lam):
  """Closed form of argmin (1/(2n))‖y − Xw‖² + (λ/2) Σⱼ G_jj wⱼ², G = XᵀX/n."""
  n = X.shape[0]
  G = X.T @ X / n
  return jnp.linalg.solve(G + lam * jnp.diag(jnp.diag(G)), X.T @ y / n)


def train_dropout(key, X, y, q, lr, steps):
  """SGD on the dropout loss with fresh masks every step, tail-averaged.

  Each step draws an independent Bernoulli(q) mask for every entry of X
  (inverted dropout, x·m/q) and takes a full-batch SGD step. The iterates of
  the second half are averaged (``optax.incremental_update`` with step
  1/(k+1) is the running mean), which removes the mask noise at rate
  1/√steps without the O(η) bias a constant step would leave for a non-linear
  gradient (here the expected gradient is linear in w, so averaging is
  unbiased).

  Args:
    key: PRNG key for the masks.
    X, y: the data.
    q: keep probability.
    lr: the SGD step.
    steps: number of steps (the last half are averaged).

  Returns:
    The averaged coefficients.
  """
  tx = optax.sgd(lr)
  w0 = jnp.zeros(X.shape[1], X.dtype)
  burn = steps // 2

  def loss(w, Xd):
    r = y - Xd @ w
    return 0.5 * jnp.mean(r * r)

  def step(carry, inputs):
    w, state, avg = carry
    t, k = inputs
    mask = jax.random.bernoulli(k, q, X.shape)
    Xd = jnp.where(mask, X / q, 0.0)
    u, state = tx.update(jax.grad(loss)(w, Xd), state, w)
    w = optax.apply_updates(w, u)
    frac = 1.0 / jnp.maximum(t - burn + 1, 1).astype(X.dtype)
    avg = jnp.where(t >= burn, optax.incremental_update(w, avg, frac), w)
    return (w, state, avg), None

  keys = jax.random.split(key, steps)
  (_, _, avg), _ = jax.lax.scan(step, (w0, tx.init(w0), w0), (jnp.arange(steps), keys))
  return avg


def train_jaxreg_ridge(X, y, lam, steps):
  """Weighted ridge trained with jaxreg: L2(λ) on the rescaled coefficients.

  With s = √diag(XᵀX/n) and Z = X / s (columns of unit root mean square),
  Xw = Zv for v = s ⊙ w and (λ/2)Σ G_jj wⱼ² = L2(λ)(v). Gradient descent on
  (1/(2n))‖y − Zv‖² with ``jr.add_penalty_gradient(jr.L2(λ))`` first in the
  chain gives v, and w = v / s.
  """
  n = X.shape[0]
  s = jnp.sqrt(jnp.sum(X * X, axis=0) / n)
  Z = X / s
  lr = 1.0 / (jnp.linalg.eigvalsh(Z.T @ Z / n)[-1] + lam)
  tx = optax.chain(jr.add_penalty_gradient(jr.L2(lam)), optax.sgd(lr))

  def loss(v):
    r = y - Z @ v
    return 0.5 * jnp.mean(r * r)
  v = workbench.minimise(loss, jnp.zeros(X.shape[1], X.dtype), tx, steps)
  return v / s


def _plot(qs, mean, se, pred, ridge_uniform, out):
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  fig, axes = plt.subplots(1, len(qs), figsize=(3.2 * len(qs), 3.4), squeeze=False)
  for ax, q, m, e, p, u in zip(axes[0], qs, mean, se, pred, ridge_uniform):
    lim = 1.1 * max(np.abs(p).max(), np.abs(m).max())
    ax.plot([-lim, lim], [-lim, lim], c="0.7", lw=1)
    ax.errorbar(p, m, yerr=4 * e, fmt="o", ms=4, label="dropout SGD (±4 SE)")
    ax.plot(p, u, "x", c="C3", label="uniform ridge, same total")
    ax.set_title(f"q = {q:g}")
    ax.set_xlabel("predicted wⱼ (weighted ridge)")
    ax.set_aspect("equal")
  axes[0, 0].set_ylabel("trained wⱼ")
  axes[0, 0].legend(fontsize=7, loc="upper left")
  fig.suptitle("Input dropout = ridge weighted by diag(XᵀX/n)")
  return workbench.save_figure(fig, out, "dropout_coefficients")


def run(*, seed: int = 0, out_dir=None, full: bool = False, **config) -> workbench.Result:
  """Compares dropout-trained linear regression with the weighted-ridge closed form.

  Args:
    seed: PRNG seed for the data and the dropout masks.
    out_dir: where the figure goes (a temporary folder when None).
    full: more seeds and steps (``FULL``).
    **config: overrides of ``DEFAULTS`` (``keep_probs``, ``n_seeds``,
      ``steps``, ``z_tol`` …).

  Returns:
    A ``workbench.Result`` with verdicts on the dropout fit against the
    closed form (within Monte Carlo error), the jaxreg L2 identity, and the
    jaxreg-trained weighted ridge against the closed form.
  """
  cfg = workbench.settings(NAME, DEFAULTS, FULL, full, config)
  out = workbench.figure_dir(out_dir)
  t0 = time.perf_counter()
  verdicts, tables, data = [], [], {}

  with jax.enable_x64(True):
    key = jax.random.PRNGKey(seed)
    k_data, k_masks = jax.random.split(key)
    X, y = make_data(k_data, cfg["n_samples"], cfg["feature_scales"], cfg["correlation"],
                     cfg["noise"])
    n, d = X.shape
    G = X.T @ X / n
    qs = jnp.asarray(cfg["keep_probs"], X.dtype)
    lams = jnp.asarray([dropout_penalty_factor(float(q)) for q in cfg["keep_probs"]])
    pred = jax.vmap(lambda lam: weighted_ridge(X, y, lam))(lams)
    # A step safely below 2/curvature of the expected loss, whose Hessian is
    # G + ((1−q)/q)·diag(G).
    curv = jax.vmap(lambda q: jnp.linalg.eigvalsh(G + (1 - q) / q * jnp.diag(jnp.diag(G)))[-1])(qs)
    lrs = cfg["step_scale"] / curv

    # 1. Dropout SGD over (q, seed), all at once.
    S = cfg["n_seeds"]
    keys = jax.random.split(k_masks, (len(qs), S))
    fit = jax.vmap(jax.vmap(lambda k, q, lr: train_dropout(k, X, y, q, lr, cfg["steps"]),
                            in_axes=(0, None, None)), in_axes=(0, 0, 0))
    ws = np.asarray(jax.jit(fit)(keys, qs, lrs))  # (Q, S, d)
    mean = ws.mean(1)
    se = ws.std(1, ddof=1) / np.sqrt(S)
    z = (mean - np.asarray(pred)) / se
    max_z = float(np.max(np.abs(z)))
    verdicts.append(workbench.check(
        "Dropout-trained linear regression converges to the weighted ridge "
        "(G + ((1−q)/q)·diag(G))⁻¹Xᵀy/n",
        max_z, cfg["z_tol"],
        f"max over q and coefficients of |mean − predicted| / SE, mean and SE over {S} "
        f"independent mask seeds ({cfg['steps']} steps, last half averaged)"))

    # Contrast: a uniform ridge with the same total strength, and no penalty.
    def uniform(lam):
      c = lam * jnp.mean(jnp.diag(G))
      return jnp.linalg.solve(G + c * jnp.eye(d), X.T @ y / n)

    unif = np.asarray(jax.vmap(uniform)(lams))
    ols = np.asarray(jnp.linalg.solve(G, X.T @ y / n))
    z_unif = np.max(np.abs((mean - unif) / se), axis=1)
    z_ols = np.max(np.abs((mean - ols) / se), axis=1)
    rows = []
    for i, q in enumerate(cfg["keep_probs"]):
      rel = np.linalg.norm(mean[i] - pred[i]) / np.linalg.norm(pred[i])
      rows.append([f"{q:g}", f"{float(lams[i]):.3f}", f"{rel:.1e}",
                   f"{np.max(np.abs(z[i])):.2f}", f"{z_unif[i]:.1f}", f"{z_ols[i]:.1f}"])
    tables.append(workbench.Table(
        "Dropout SGD (mean over seeds) against candidate solutions; z = |mean − candidate| / SE",
        ["q", "(1−q)/q", "‖mean − weighted ridge‖/‖weighted ridge‖", "max z: weighted ridge",
         "max z: uniform ridge (same total)", "max z: no penalty"], rows))
    rows = [[j, f"{float(G[j, j]):.3g}"] + [f"{float(pred[i, j]):+.4f} / {mean[i, j]:+.4f}"
                                           for i in range(len(qs))] for j in range(d)]
    tables.append(workbench.Table(
        "Coefficients: predicted / dropout-trained, per feature (G_jj = mean square of feature j)",
        ["j", "G_jj"] + [f"q = {q:g}" for q in cfg["keep_probs"]], rows))

    # 2. The penalty is jaxreg's L2 on rescaled coefficients.
    s = jnp.sqrt(jnp.diag(G))
    w_test = jax.random.normal(jax.random.PRNGKey(seed + 1), (d,))
    lam0 = lams[0]
    direct = 0.5 * lam0 * jnp.sum(jnp.diag(G) * w_test ** 2)
    via_l2 = jr.L2(lam0)(s * w_test)
    id_err = float(jnp.abs(via_l2 - direct) / direct)
    verdicts.append(workbench.check(
        "The dropout penalty ((1−q)/q)·½Σ G_jj wⱼ² equals jr.L2((1−q)/q) at √diag(G) ⊙ w",
        id_err, 1e-14, "relative difference at a random w"))

    # 3. A jaxreg-trained weighted ridge is the closed form (and sklearn's Ridge).
    ridge = np.asarray(jax.jit(jax.vmap(
        lambda lam: train_jaxreg_ridge(X, y, lam, cfg["ridge_steps"])))(lams))
    ridge_err = float(np.max(np.abs(ridge - np.asarray(pred))) / np.max(np.abs(np.asarray(pred))))
    from sklearn.linear_model import Ridge
    sk_err = 0.0
    for i, lam in enumerate(np.asarray(lams)):
      # sklearn's Ridge(alpha=a) is jaxreg's L2(a/n): a = nλ.
      a = n * float(lam)
      if not np.isclose(float(jr.conventions.convert(a, "sklearn.Ridge", n_samples=n).alpha), lam):
        raise RuntimeError("sklearn Ridge(alpha=nλ) should convert to jaxreg L2(λ)")
      sk = Ridge(alpha=a, fit_intercept=False, solver="cholesky").fit(np.asarray(X / s),
                                                                     np.asarray(y))
      sk_err = max(sk_err, float(np.max(np.abs(sk.coef_ / np.asarray(s) - np.asarray(pred[i])))
                                 / np.max(np.abs(np.asarray(pred)))))
    verdicts.append(workbench.check(
        "Ridge trained with jr.add_penalty_gradient(jr.L2((1−q)/q)) on features rescaled to unit "
        "mean square gives the weighted-ridge closed form",
        ridge_err, cfg["ridge_tol"],
        f"max |w_jaxreg − w_closed| / max |w_closed| over q, {cfg['ridge_steps']} gradient steps; "
        f"sklearn Ridge(alpha=n(1−q)/q) on the same features: {sk_err:.1e}"))

    data.update(keep_probs=np.asarray(qs), penalty_factor=np.asarray(lams),
                predicted=np.asarray(pred), dropout_mean=mean, dropout_se=se, dropout_runs=ws,
                z=z, max_z=max_z, uniform_ridge=unif, ols=ols, jaxreg_ridge=ridge,
                jaxreg_ridge_rel_err=ridge_err, sklearn_ridge_rel_err=sk_err,
                feature_mean_squares=np.asarray(jnp.diag(G)))
    figures = [_plot(cfg["keep_probs"], mean, se, np.asarray(pred), unif, out)]

  data["runtime_s"] = time.perf_counter() - t0
  summary = f"""\
**Claim.** Inverted dropout on the inputs of a linear regression (keep probability q, each
x_ij replaced by x_ij·m_ij/q with m_ij ~ Bernoulli(q)) is, in expectation, ridge regression with
a per-feature weight. Derivation: E[x̃_ij] = x_ij and Var(x̃_ij) = x_ij²·(1−q)/q, the masks
being independent; for one sample, E(y − x̃ᵀw)² = (y − xᵀw)² + Var(x̃ᵀw) =
(y − xᵀw)² + ((1−q)/q)·Σⱼ xⱼ²wⱼ². Averaging over the n samples with the ½,

E[(1/(2n))‖y − X̃w‖²] = (1/(2n))‖y − Xw‖² + ((1−q)/q)·½ Σⱼ G_jj wⱼ²,  G = XᵀX/n,

whose minimiser is w_q = (G + ((1−q)/q)·diag(G))⁻¹ Xᵀy/n. Features with a larger mean square
G_jj are shrunk harder, so the penalty adapts to the data; it is jaxreg's
``jr.L2((1−q)/q)`` evaluated at √diag(G) ⊙ w (checked to {id_err:.0e}), i.e. plain ridge with
α = (1−q)/q on features rescaled to unit root mean square.

**Measured.** For q ∈ {{{', '.join(f'{q:g}' for q in cfg['keep_probs'])}}} and {S} independent mask
seeds (all {len(qs) * S} runs in one ``jax.vmap``), full-batch SGD with a fresh mask per entry and
per step ({cfg['steps']} steps, step {cfg['step_scale']:g}/λ_max of the expected Hessian) with the
iterates of the second half averaged. The expected gradient is linear in w, so the averaged
iterate is an unbiased estimate of w_q and its Monte Carlo error is measured, not assumed: the
standard error SE_j is the spread across seeds / √{S}. The largest |mean − w_q|/SE over all q
and coefficients is {max_z:.2f} (tolerance {cfg['z_tol']:g}: for {S} seeds a t-statistic
beyond 5 has probability below 2·10⁻⁴ per coefficient). A uniform ridge with the same total
strength, or no penalty at all, is hundreds of SE away or more (table), so the test can tell
the weighting apart. Gradient descent with ``jr.add_penalty_gradient(jr.L2((1−q)/q))`` on the
rescaled features reproduces w_q to {ridge_err:.0e} (relative), as does scikit-learn's
``Ridge(alpha=n(1−q)/q)`` (the conversion ``jr.conventions.convert(a, "sklearn.Ridge", n)``).
The figure plots trained against predicted coefficients for each q (on the diagonal), with the
uniform ridge's coefficients (crosses) off it.
"""
  return workbench.Result(
      name=NAME, title="Dropout as adaptive L2 (linear regression)", summary=summary,
      verdicts=verdicts, tables=tables, figures=figures, data=data)
