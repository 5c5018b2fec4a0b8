r"""Dropout as adaptive L2: input dropout in linear regression is a weighted ridge.

Inverted dropout with keep probability q replaces each input x_ij by
x̃_ij = x_ij·m_ij/q with m_ij ~ Bernoulli(q), independently. Then E[x̃] = x
and Var(x̃_ij) = x_ij²(1−q)/q, so for the squared loss

.. math::  \mathbb{E}\,\tfrac{1}{2n}\|y - \tilde Xw\|^2
           = \tfrac{1}{2n}\|y - Xw\|^2 + \frac{1-q}{q}\cdot\tfrac12\sum_j G_{jj}\,w_j^2,
           \qquad G = X^\top X / n,

a ridge penalty whose weight on wⱼ is the feature's mean square G_jj
("adaptive": it depends on the data). In the drop probability p = 1 − q the
factor is p/(1−p). Its minimiser is

.. math::  w_q = \big(G + \tfrac{1-q}{q}\,\mathrm{diag}(G)\big)^{-1} X^\top y / n.

In jaxreg's terms it is ``jr.L2((1−q)/q)`` on v = √diag(G) ⊙ w, the
coefficients of the features rescaled to unit root mean square.

The experiment judges three things, each against a prediction computed
independently of the measurement: the expected dropout loss (Monte Carlo over
masks) against the closed-form loss + penalty; dropout SGD (fresh masks every
step, many mask seeds) against w_q; and ridge trained with jaxreg on the
rescaled features against scikit-learn's ``Ridge``.

References:
  Srivastava, Hinton, Krizhevsky, Sutskever & Salakhutdinov (2014),
  "Dropout: a simple way to prevent neural networks from overfitting" (§9:
  linear regression, the marginalized dropout penalty).
  Wager, Wang & Liang (2013), "Dropout training as adaptive regularization".
"""

from __future__ import annotations

import functools
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from scipy import stats

import jaxreg as jr
from research import workbench

NAME = "dropout"

DEFAULTS = dict(
    n_samples=200,
    feature_scales=(0.5, 1.0, 1.5, 2.0, 3.0),
    correlation=0.5,
    noise=1.0,
    keep_probs=(0.3, 0.5, 0.7, 0.9),
    n_masks=2000,
    n_seeds=12,
    avg_steps=1000,
    transient_tol=1e-4,
    max_burn_steps=20000,
    step_scale=1.0,
    false_alarm=1e-4,
    grad_tol=1e-10,
    max_ridge_steps=20000,
)

FULL = dict(n_seeds=32, avg_steps=8000, n_masks=16000)

TEST_SETTINGS = dict(n_samples=100, keep_probs=(0.3, 0.9), n_masks=1000, n_seeds=8,
                     avg_steps=500)

PLANTS = (
    workbench.Plant(
        "keep_prob_factor",
        "The penalty factor written (1 − q) (the drop probability p) instead of "
        "(1 − q)/q = p/(1 − p), "
        "the factor of non-inverted dropout's variance read as if it were inverted dropout's.",
        fails=("expected_loss_is_loss_plus_penalty", "dropout_sgd_is_weighted_ridge")),
    workbench.Plant(
        "half_dropped",
        "The penalty written ((1 − q)/q)·Σ G_jj wⱼ², without the ½ the squared loss's ½ "
        "carries over.",
        fails=("expected_loss_is_loss_plus_penalty", "dropout_sgd_is_weighted_ridge")),
    workbench.Plant(
        "identity_not_diag",
        "The penalty written ((1 − q)/q)·½‖w‖², plain ridge, forgetting that dropout weighs each "
        "coefficient by its feature's mean square G_jj.",
        fails=("expected_loss_is_loss_plus_penalty", "dropout_sgd_is_weighted_ridge")),
    workbench.Plant(
        "not_inverted",
        "Masks applied without the 1/q rescaling (x·m instead of x·m/q) while the prediction is "
        "inverted dropout's.",
        fails=("expected_loss_is_loss_plus_penalty", "dropout_sgd_is_weighted_ridge")),
    workbench.Plant(
        "penalty_twice",
        "jaxreg ridge: the L2 penalty both added to the loss and applied by "
        "jr.add_penalty_gradient, so its gradient is counted twice.",
        fails=("jaxreg_ridge_is_sklearn_ridge",)),
    workbench.Plant(
        "features_not_rescaled",
        "jaxreg ridge: jr.L2((1 − q)/q) applied to the raw coefficients instead of those of the "
        "features rescaled to unit root mean square.",
        fails=("jaxreg_ridge_is_sklearn_ridge",)),
)


def dropout_penalty_factor(q):
  """The prediction: the ridge weight per unit of G_jj, (1 − q)/q."""
  return (1.0 - q) / q


_split3 = jax.jit(lambda key: jax.random.split(key, 3))


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4))
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


def weighted_ridge(X, y, lam, weights=None):
  """Closed form of argmin (1/(2n))‖y − Xw‖² + (λ/2) Σⱼ cⱼ wⱼ².

  Args:
    X, y: the data.
    lam: the penalty strength λ.
    weights: the per-coefficient weights cⱼ; None for dropout's G_jj
      (G = XᵀX/n).

  Returns:
    (G + λ·diag(c))⁻¹ Xᵀy/n.
  """
  X, y = np.asarray(X, np.float64), np.asarray(y, np.float64)
  n = X.shape[0]
  G = X.T @ X / n
  c = np.diag(G) if weights is None else np.asarray(weights)
  return np.linalg.solve(G + lam * np.diag(c), X.T @ y / n)


def dropout_inputs(key, X, q, inverted=True):
  """X with each entry kept with probability q (and divided by q when inverted).

  ``q`` broadcasts against X (an array of keep probabilities of shape
  (Q, 1, …, 1) gives Q independently masked copies).
  """
  # A float32 uniform is half the random bits of float64's and resolves q to
  # 2⁻²⁴, far below the Monte Carlo error.
  shape = jnp.broadcast_shapes(jnp.shape(q), X.shape)
  mask = jax.random.uniform(key, shape, jnp.float32) < q
  return jnp.where(mask, X / q if inverted else X, 0.0)


@functools.partial(jax.jit, static_argnames=("n_masks", "inverted", "chunk"))
def expected_loss_mc(key, X, y, W, qs, n_masks, inverted=True, chunk=250):
  """Monte Carlo estimate of E_masks[(1/(2n))‖y − X̃w‖²] and its standard error.

  Args:
    key: PRNG key.
    X, y: the data.
    W: probe coefficients, shape (P, d); every mask is evaluated at all of them.
    qs: keep probabilities, shape (Q,).
    n_masks: masks per keep probability (a multiple of ``chunk``).
    inverted: divide kept inputs by q.
    chunk: masks drawn at once.

  Returns:
    (mean, standard error), each of shape (Q, P), over ``n_masks`` independent
    masks.
  """
  q = qs[:, None, None, None]

  def body(acc, i):
    Xd = dropout_inputs(jax.random.fold_in(key, i), X[None, None], q * jnp.ones((1, chunk, 1, 1)),
                        inverted)  # (Q, chunk, n, d)
    r = y[:, None] - jnp.einsum("qmnd,pd->qmnp", Xd, W)
    losses = 0.5 * jnp.mean(r * r, axis=2)  # (Q, chunk, P)
    return (acc[0] + losses.sum(1), acc[1] + (losses * losses).sum(1)), None

  zero = jnp.zeros((qs.shape[0], W.shape[0]), X.dtype)
  (s1, s2), _ = jax.lax.scan(body, (zero, zero), jnp.arange(n_masks // chunk))
  m = n_masks // chunk * chunk
  mean = s1 / m
  var = (s2 - m * mean * mean) / (m - 1)
  return mean, jnp.sqrt(var / m)


@functools.partial(jax.jit, static_argnames=("n_seeds", "avg", "inverted"))
def train_dropout(key, X, y, qs, lrs, n_seeds, burn, avg, inverted=True):
  """SGD on the dropout loss with fresh masks every step, tail-averaged.

  For every keep probability q and each of ``n_seeds`` independent runs,
  each step draws an independent Bernoulli(q) mask for every entry of X and
  takes a full-batch SGD step. The expected gradient is linear in w,
  (G + ((1−q)/q)diag(G))w − Xᵀy/n, and the mask is independent of the
  iterate, so the mean iterate follows the deterministic recursion
  E[w_{t+1}] − w_q = (I − ηH)(E[w_t] − w_q) exactly. After ``burn`` steps
  (chosen by the caller so that this transient has contracted below a stated
  tolerance) the next ``avg`` iterates are averaged: an unbiased estimate of
  w_q up to that transient, with Monte Carlo noise that the caller measures
  across the independent runs.

  Args:
    key: PRNG key for the masks.
    X, y: the data.
    qs, lrs: keep probabilities and SGD steps η, shape (Q,).
    n_seeds: independent runs per keep probability.
    burn, avg: steps before averaging, and steps averaged.
    inverted: divide kept inputs by q.

  Returns:
    The averaged coefficients, shape (Q, n_seeds, d).
  """
  n, d = X.shape
  q = qs[:, None, None, None] * jnp.ones((1, n_seeds, 1, 1))

  def step(t, w):
    Xd = dropout_inputs(jax.random.fold_in(key, t), X[None, None], q, inverted)
    r = jnp.einsum("qsnd,qsd->qsn", Xd, w) - y
    return w - lrs[:, None, None] * jnp.einsum("qsnd,qsn->qsd", Xd, r) / n

  def averaged(carry, t):
    w, total = carry
    w = step(t, w)
    return (w, total + w), None

  # The burn-in length is traced (a loop with a dynamic trip count), so one
  # compiled program serves every derived burn-in.
  w = jax.lax.fori_loop(0, burn, step, jnp.zeros((qs.shape[0], n_seeds, d), X.dtype))
  (_, total), _ = jax.lax.scan(averaged, (w, jnp.zeros_like(w)), burn + jnp.arange(avg))
  return total / avg


@functools.partial(jax.jit, static_argnames=("max_steps", "rescale", "penalty_twice"))
def train_jaxreg_ridge(X, y, lam, grad_tol, max_steps, rescale=True, penalty_twice=False):
  """Weighted ridge trained with jaxreg: L2(λ) on the rescaled coefficients.

  With s = √diag(XᵀX/n) and Z = X / s (columns of unit root mean square),
  Xw = Zv for v = s ⊙ w and (λ/2)Σ G_jj wⱼ² = L2(λ)(v). Gradient descent on
  (1/(2n))‖y − Zv‖² with ``jr.add_penalty_gradient(jr.L2(λ))`` first in the
  chain, step 1/(λ_max(ZᵀZ/n) + λ), until the gradient it follows has norm at
  most ``grad_tol`` (or ``max_steps``), gives v, and w = v / s.

  Args:
    X, y: the data.
    lam: λ.
    grad_tol: the stopping criterion on the followed gradient's norm.
    max_steps: the cap.
    rescale: False fits L2(λ) on the raw coefficients (s = 1).
    penalty_twice: also add L2(λ) to the loss (its gradient then counted twice).

  Returns:
    (w, the followed gradient's norm at stop, steps taken).
  """
  n = X.shape[0]
  s = jnp.sqrt(jnp.sum(X * X, axis=0) / n) if rescale else jnp.ones(X.shape[1], X.dtype)
  Z = X / s
  lr = 1.0 / (jnp.linalg.eigvalsh(Z.T @ Z / n)[-1] + lam)
  pen = jr.L2(lam)
  add_pen = jr.add_penalty_gradient(pen)
  sgd = optax.sgd(lr)

  def loss(v):
    r = y - Z @ v
    return 0.5 * jnp.mean(r * r) + (pen(v) if penalty_twice else 0.0)

  def followed(v, state):
    return add_pen.update(jax.grad(loss)(v), state, v)[0]

  def cond(c):
    v, state, t = c
    return (optax.tree.norm(followed(v, state[0])) > grad_tol) & (t < max_steps)

  def body(c):
    v, (s_pen, s_sgd), t = c
    g = followed(v, s_pen)
    u, s_sgd = sgd.update(g, s_sgd, v)
    return optax.apply_updates(v, u), (s_pen, s_sgd), t + 1

  v0 = jnp.zeros(X.shape[1], X.dtype)
  v, state, t = jax.lax.while_loop(cond, body, (v0, (add_pen.init(v0), sgd.init(v0)), 0))
  return v / s, optax.tree.norm(followed(v, state[0])), t


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


def run(*, seed: int = 0, out_dir=None, full: bool = False, plant=None,
        **config) -> workbench.Result:
  """Compares dropout in linear regression with the weighted-ridge closed forms.

  Args:
    seed: PRNG seed for the data and the dropout masks.
    out_dir: where the figure goes (a temporary folder when None).
    full: more seeds, steps and masks (``FULL``).
    plant: one of ``PLANTS`` (None: no mistake planted).
    **config: overrides of ``DEFAULTS`` (``keep_probs``, ``n_seeds``,
      ``avg_steps``, ``n_masks``, ``false_alarm`` …).

  Returns:
    A ``workbench.Result`` with verdicts on the expected dropout loss (Monte
    Carlo over masks) against loss + penalty, dropout SGD against the
    weighted ridge (Monte Carlo over mask seeds), and jaxreg's ridge on
    rescaled features against scikit-learn's.
  """
  plant = workbench.planted(NAME, PLANTS, plant)
  cfg = workbench.settings(NAME, DEFAULTS, FULL, full, config)
  out = workbench.figure_dir(out_dir)
  t0 = time.perf_counter()
  verdicts, tables, data = [], [], {}
  inverted = plant != "not_inverted"

  def factor(q):
    return (1.0 - q) if plant == "keep_prob_factor" else dropout_penalty_factor(q)

  # The predicted penalty (λ/2)Σ cⱼwⱼ² as (strength, weights); the plants
  # are the ways this formula gets written down wrong.
  def predicted_penalty(lam, G):
    strength = 2.0 * lam if plant == "half_dropped" else lam
    weights = np.ones(G.shape[0]) if plant == "identity_not_diag" else np.diag(G)
    return strength, weights

  with jax.enable_x64(True):
    k_data, k_masks, k_loss = _split3(jax.random.PRNGKey(seed))
    X, y = make_data(k_data, cfg["n_samples"], cfg["feature_scales"], cfg["correlation"],
                     cfg["noise"])
    n, d = X.shape
    # The small linear algebra runs in NumPy: every eager JAX op would compile.
    Xn, yn = np.asarray(X), np.asarray(y)
    G = Xn.T @ Xn / n
    qs_list = [float(q) for q in cfg["keep_probs"]]
    Q = len(qs_list)
    qs = jnp.asarray(qs_list, X.dtype)
    lams = np.asarray([factor(q) for q in qs_list])
    strengths, weights = zip(*(predicted_penalty(lam, G) for lam in lams))
    pred = np.stack([weighted_ridge(Xn, yn, s, c) for s, c in zip(strengths, weights)])
    ols = np.linalg.solve(G, Xn.T @ yn / n)

    # 1. The expected dropout loss, by Monte Carlo over masks, at probe points:
    # the least-squares solution and each coordinate direction (so that every
    # G_jj is seen on its own).
    probes = np.concatenate([ols[None], np.eye(d)])  # (P, d)
    P = probes.shape[0]
    M = cfg["n_masks"]

    mc_mean, mc_se = expected_loss_mc(k_loss, X, y, jnp.asarray(probes), qs, n_masks=M,
                                      inverted=inverted)
    mc_mean, mc_se = np.asarray(mc_mean), np.asarray(mc_se)
    r0 = yn[None, :] - probes @ Xn.T
    base = 0.5 * np.mean(r0 * r0, axis=1)  # (P,)
    pen_pred = np.stack([0.5 * s * (probes ** 2 @ c) for s, c in zip(strengths, weights)])
    loss_pred = base[None, :] + pen_pred  # (Q, P)
    z_loss = np.abs(mc_mean - loss_pred) / mc_se
    fa = cfg["false_alarm"]
    z_tol = float(stats.norm.ppf(1 - fa / (2 * Q * P)))
    i_q, i_p = np.unravel_index(np.argmax(z_loss), z_loss.shape)
    verdicts.append(workbench.verdict(
        "The expected loss under inverted input dropout is the loss plus the data-dependent "
        "L2 penalty ((1−q)/q)·½Σⱼ G_jj wⱼ²",
        key="expected_loss_is_loss_plus_penalty",
        statistic=f"max over q and {P} probe points w of |MC mean − predicted| / MC SE "
                  f"({M} masks each)",
        value=float(z_loss.max()), threshold=z_tol,
        measured=f"{mc_mean[i_q, i_p]:.5f} ± {mc_se[i_q, i_p]:.1e} (q = {qs_list[i_q]:g})",
        predicted=f"{loss_pred[i_q, i_p]:.5f}",
        threshold_from=f"normal quantile at false-alarm probability {fa:g} shared "
                       f"(Bonferroni) over the {Q * P} comparisons",
        detail="probe points: the least-squares w and each unit vector eⱼ"))

    # 2. Dropout SGD over (q, mask seed), all at once. The step count is
    # derived: the mean iterate's transient contracts by ρ = 1 − ηλ_min(H)
    # per step, so burn-in ends when ρ^t falls below transient_tol.
    H_true = [G + dropout_penalty_factor(q) * np.diag(np.diag(G)) for q in qs_list]
    eigs = [np.linalg.eigvalsh(H) for H in H_true]
    lrs = np.array([cfg["step_scale"] / e[-1] for e in eigs])
    rhos = np.array([1 - lr * e[0] for lr, e in zip(lrs, eigs)])
    burn_needed = int(np.max(np.ceil(np.log(cfg["transient_tol"]) / np.log(rhos))))
    burn = min(burn_needed, cfg["max_burn_steps"])
    S = cfg["n_seeds"]
    ws = np.asarray(train_dropout(k_masks, X, y, qs, jnp.asarray(lrs), n_seeds=S, burn=burn,
                                  avg=cfg["avg_steps"], inverted=inverted))  # (Q, S, d)
    mean = ws.mean(1)
    se = ws.std(1, ddof=1) / np.sqrt(S)
    pred_np = pred
    t_sgd = np.abs(mean - pred_np) / se
    t_tol = float(stats.t.ppf(1 - fa / (2 * Q * d), S - 1))
    capped = burn < burn_needed
    i_q, i_j = np.unravel_index(np.argmax(t_sgd), t_sgd.shape)
    verdicts.append(workbench.verdict(
        "Dropout-trained linear regression converges to the weighted ridge "
        "(G + ((1−q)/q)·diag(G))⁻¹Xᵀy/n",
        key="dropout_sgd_is_weighted_ridge",
        statistic=f"max over q and coefficients of |mean − predicted| / SE over {S} mask seeds",
        value=float(t_sgd.max()), threshold=t_tol,
        measured=f"w_{i_j} = {mean[i_q, i_j]:+.4f} ± {se[i_q, i_j]:.1e} (q = {qs_list[i_q]:g})",
        predicted=f"{pred_np[i_q, i_j]:+.4f}",
        threshold_from=f"Student t quantile ({S - 1} degrees of freedom) at false-alarm "
                       f"probability {fa:g} shared over the {Q * d} coefficients",
        detail=f"{burn} burn-in steps (derived: mean-iterate transient ≤ "
               f"{cfg['transient_tol']:g}·‖w_q‖"
               + (f"; CAPPED, {burn_needed} needed" if capped else "")
               + f"), then {cfg['avg_steps']} steps averaged"))

    # Contrast: a uniform ridge with the same total strength, and no penalty.
    def uniform(lam):
      c = lam * np.mean(np.diag(G))
      return np.linalg.solve(G + c * np.eye(d), Xn.T @ yn / n)

    true_lams = [dropout_penalty_factor(q) for q in qs_list]
    unif = np.stack([uniform(lam) for lam in true_lams])
    z_unif = np.max(np.abs((mean - unif) / se), axis=1)
    z_ols = np.max(np.abs((mean - ols) / se), axis=1)
    rows = []
    for i, q in enumerate(qs_list):
      rel = np.linalg.norm(mean[i] - pred_np[i]) / np.linalg.norm(pred_np[i])
      rows.append([f"{q:g}", f"{true_lams[i]:.3f}", f"{rel:.1e}",
                   f"{t_sgd[i].max():.2f}", f"{z_unif[i]:.1f}", f"{z_ols[i]:.1f}"])
    tables.append(workbench.Table(
        f"Dropout SGD (mean over {S} mask seeds) against candidate solutions; "
        f"t = |mean − candidate| / SE, threshold {t_tol:.2f}",
        ["q", "(1−q)/q", "‖mean − weighted ridge‖/‖weighted ridge‖", "max t: weighted ridge",
         "max t: uniform ridge (same total)", "max t: no penalty"], rows))
    rows = [[f"{q:g}", f"{base[0]:.4f}", f"{pen_pred[i, 0]:.4f}", f"{mc_mean[i, 0]:.4f}",
             f"{mc_se[i, 0]:.1e}", f"{z_loss[i].max():.2f}"] for i, q in enumerate(qs_list)]
    tables.append(workbench.Table(
        f"Expected dropout loss at the least-squares w: Monte Carlo over {M} masks against "
        f"loss + penalty (max z over all {P} probe points in the last column, "
        f"threshold {z_tol:.2f})",
        ["q", "loss (no dropout)", "predicted penalty", "MC mean of dropout loss", "MC SE",
         "max z"], rows))
    rows = [[j, f"{float(G[j, j]):.3g}"] + [f"{pred_np[i, j]:+.4f} / {mean[i, j]:+.4f}"
                                           for i in range(Q)] for j in range(d)]
    tables.append(workbench.Table(
        "Coefficients: predicted / dropout-trained, per feature (G_jj = mean square of feature j)",
        ["j", "G_jj"] + [f"q = {q:g}" for q in qs_list], rows))

    # 3. A jaxreg-trained weighted ridge against scikit-learn's Ridge on the
    # same rescaled features, stopped on the gradient norm.
    s = np.sqrt(np.diag(G))
    Z = Xn / s
    lam_true = np.asarray(true_lams)
    fits = [train_jaxreg_ridge(X, y, lam, cfg["grad_tol"], cfg["max_ridge_steps"],
                               rescale=plant != "features_not_rescaled",
                               penalty_twice=plant == "penalty_twice") for lam in lam_true]
    w_jr, gnorm, steps = (np.stack([np.asarray(f[i]) for f in fits]) for i in range(3))
    from sklearn.linear_model import Ridge
    eig_z = np.linalg.eigvalsh(Z.T @ Z / n)
    w_sk, bounds = [], []
    for lam in lam_true:
      # sklearn's Ridge(alpha=a) minimises ‖y − Zv‖² + a‖v‖², i.e. jaxreg's L2(a/n).
      sk = Ridge(alpha=n * lam, fit_intercept=False, solver="cholesky").fit(Z, yn)
      w_sk.append(sk.coef_ / s)
      mu = eig_z[0] + lam
      kappa = (eig_z[-1] + lam) / mu
      # ‖v − v*‖ ≤ ‖∇‖/μ at the stopping gradient norm (strong convexity),
      # plus the Cholesky solve's rounding, then w = v/s.
      bounds.append((cfg["grad_tol"] / mu + 10 * d * kappa * np.finfo(float).eps
                     * np.linalg.norm(sk.coef_)) / s.min())
    w_sk, bounds = np.stack(w_sk), np.asarray(bounds)
    ridge_ratio = np.linalg.norm(w_jr - w_sk, axis=1) / bounds
    closed = np.stack([weighted_ridge(Xn, yn, lam) for lam in lam_true])
    closed_err = float(np.max(np.abs(w_sk - closed)) / np.max(np.abs(closed)))
    ridge_capped = int(np.sum(steps >= cfg["max_ridge_steps"]))
    verdicts.append(workbench.verdict(
        "Ridge trained with jr.add_penalty_gradient(jr.L2((1−q)/q)) on features rescaled to unit "
        "mean square is scikit-learn's Ridge(alpha = n(1−q)/q) on those features",
        key="jaxreg_ridge_is_sklearn_ridge",
        statistic="max over q of ‖w_jaxreg − w_sklearn‖ / its bound",
        value=float(ridge_ratio.max()), threshold=1.0,
        measured=f"‖Δw‖ = {np.max(np.linalg.norm(w_jr - w_sk, axis=1)):.1e}",
        predicted=f"≤ {bounds.min():.1e}…{bounds.max():.1e}",
        threshold_from=f"bound = (stopping gradient norm {cfg['grad_tol']:g} / μ + Cholesky "
                       f"rounding 10·d·κ·ε‖v‖) / min √G_jj, μ = λ_min(ZᵀZ/n) + λ",
        detail=f"gradient descent stopped after {int(steps.min())}–{int(steps.max())} steps"
               + (f" ({ridge_capped} runs hit the cap {cfg['max_ridge_steps']})"
                  if ridge_capped else "")
               + f"; scikit-learn against the closed form "
               f"(G + λ diag G)⁻¹Xᵀy/n: {closed_err:.1e} relative"))

    data.update(keep_probs=np.asarray(qs_list), penalty_factor=lams,
                predicted=pred_np, dropout_mean=mean, dropout_se=se, dropout_runs=ws,
                t_sgd=t_sgd, t_tol=t_tol, mc_loss_mean=mc_mean, mc_loss_se=mc_se,
                loss_predicted=loss_pred, z_loss=z_loss, z_tol=z_tol, burn_steps=burn,
                uniform_ridge=unif, ols=ols, jaxreg_ridge=w_jr, sklearn_ridge=w_sk,
                ridge_ratio=ridge_ratio, ridge_steps=steps, sklearn_vs_closed=closed_err,
                feature_mean_squares=np.diag(G))
    figures = [_plot(qs_list, mean, se, pred_np, unif, out)]

  data["runtime_s"] = time.perf_counter() - t0
  sgd_ok = t_sgd.max() <= t_tol
  loss_ok = z_loss.max() <= z_tol
  ridge_ok = ridge_ratio.max() <= 1.0
  far = float(min(z_unif.min(), z_ols.min()))
  capped_words = ", but CAPPED" if capped else ""
  sgd_words = ("dropout SGD lands on the weighted ridge" if sgd_ok
               else "dropout SGD does NOT land on the predicted weighted ridge")
  far_words = (", so the test can tell the weighting apart" if far > t_tol
               else ": at these settings the test could NOT tell the weighting apart")
  cap_words = (f" ({ridge_capped} runs hit the cap of {cfg['max_ridge_steps']} steps first)"
               if ridge_capped else "")
  summary = f"""\
**Claim.** Inverted dropout on the inputs of a linear regression (keep probability q, each
x_ij replaced by x_ij·m_ij/q with m_ij ~ Bernoulli(q)) is, in expectation, ridge regression with
a per-feature weight. Derivation: E[x̃_ij] = x_ij and Var(x̃_ij) = x_ij²·(1−q)/q, the masks
being independent; for one sample, E(y − x̃ᵀw)² = (y − xᵀw)² + Var(x̃ᵀw) =
(y − xᵀw)² + ((1−q)/q)·Σⱼ xⱼ²wⱼ². Averaging over the n samples with the ½,

E[(1/(2n))‖y − X̃w‖²] = (1/(2n))‖y − Xw‖² + ((1−q)/q)·½ Σⱼ G_jj wⱼ²,  G = XᵀX/n,

whose minimiser is w_q = (G + ((1−q)/q)·diag(G))⁻¹ Xᵀy/n. In the drop probability p = 1 − q the
factor is p/(1−p). Features with a larger mean square G_jj are shrunk harder, so the penalty
adapts to the data: it is plain ridge with α = (1−q)/q on features rescaled to unit root mean
square.

**Measured.** (1) The expected loss, estimated over {M} independent masks at the least-squares
w and at each unit vector, {"agrees with" if loss_ok else "does NOT agree with"} the loss plus
the penalty: the largest deviation is {z_loss.max():.2f} standard errors (threshold
{z_tol:.2f}, a normal quantile at false-alarm probability {fa:g} over {Q * P} comparisons).
(2) For q ∈ {{{', '.join(f'{q:g}' for q in qs_list)}}} and {S} independent mask seeds (all
{Q * S} runs in one ``jax.vmap``), full-batch SGD with a fresh mask per entry and per step
(step {cfg['step_scale']:g}/λ_max of the expected Hessian; {burn} burn-in steps, derived so that
the mean iterate's transient is below {cfg['transient_tol']:g}·‖w_q‖{capped_words};
then {cfg['avg_steps']} iterates averaged). The expected gradient is linear in w, so the averaged
iterate is an unbiased estimate of w_q and its Monte Carlo error is measured across seeds. The
largest |mean − w_q|/SE is {t_sgd.max():.2f} (threshold {t_tol:.2f}, Student t with {S - 1}
degrees of freedom at false-alarm probability {fa:g} over {Q * d} coefficients):
{sgd_words}.
A uniform ridge with the same total strength, or no penalty at all, is at least {far:.0f} SE
away (table){far_words}.
(3) Gradient descent with ``jr.add_penalty_gradient(jr.L2((1−q)/q))`` on the rescaled
features, stopped when the gradient norm reached {cfg['grad_tol']:g}{cap_words},
{"matches" if ridge_ok else "does NOT match"} scikit-learn's ``Ridge(alpha=n(1−q)/q)`` within
the bound that stopping criterion implies (largest ratio to the bound
{ridge_ratio.max():.2f}); scikit-learn and the closed form agree to {closed_err:.0e}.
The figure plots trained against predicted coefficients for each q (on the diagonal), with the
uniform ridge's coefficients (crosses) off it.
"""
  return workbench.Result(
      name=NAME, title="Dropout as adaptive L2 (linear regression)", summary=summary,
      verdicts=verdicts, tables=tables, figures=figures, data=data, plant=plant)
