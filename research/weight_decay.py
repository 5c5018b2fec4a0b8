r"""Weight decay: L2 in the gradient, coupled and decoupled, with SGD and Adam.

With plain SGD, adding the gradient αw of the penalty (α/2)‖w‖² to the loss
gradient *is* classic weight decay:

.. math::  w_{t+1} = w_t - \eta(\nabla\mathrm{loss}(w_t) + \alpha w_t)
                   = (1 - \eta\alpha)\,w_t - \eta\nabla\mathrm{loss}(w_t).

With a preconditioner or momentum the place of αw matters, and the claim
lives where the optimizer settles. An optimizer whose update is
``P·(mean gradient fed to it)`` with a slowly varying positive P stops moving
on average where that mean is zero, so:

* **Adam + L2** (coupled: αw fed into Adam) settles where
  E[∇loss] + αw = 0: the ridge solution at α. Adam's preconditioner
  1/(√v̂ + ε) changes the path, not the stationary point.
* **AdamW** (decoupled: w ← w − η(m̂/(√v̂+ε) + αw)) settles where
  E[∇loss]/(√v̂ᵢ+ε) + αwᵢ = 0, i.e. ridge with a per-parameter strength
  αᵢ = α(√v̂ᵢ + ε), v̂ᵢ being the equilibrium second moment of the minibatch
  gradient. Parameters with noisy gradients are decayed more than under
  Adam + L2, quiet ones less (Loshchilov & Hutter's point, seen at
  equilibrium).
* **SGDW with momentum β** (w ← w − η(m + αw), m ← βm + ∇loss) settles where
  E[∇loss]/(1 − β) + αw = 0: ridge at α(1 − β). PyTorch-style coupled
  SGD + L2 with momentum settles at ridge α.

On a least-squares problem with minibatches the loss curvature H = XᵀX/n is
known, so the ridge solutions are computed without running any optimizer and
compared with the time-averaged weights of the jaxreg chains, within the
batch-means standard error of the time average. AdamW's per-parameter
strengths take the preconditioner E[1/(√v̂ᵢ+ε)] the run held; the same v̂
also follows in closed form from the data (the minibatch gradient's second
moment at the equilibrium, a fixed point), which the table compares. Beside
that: jaxreg's coupled SGD chain against classic weight decay written in
NumPy on the same minibatches, and an MLP on scikit-learn's digits where
Adam + L2 and AdamW are each tuned over α on a validation split before they
are compared.

References:
  Loshchilov & Hutter (2019), "Decoupled weight decay regularization".
  Krogh & Hertz (1991), "A simple weight decay can improve generalization".
  Kingma & Ba (2015), "Adam: a method for stochastic optimization".
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxreg as jr
from research import workbench

NAME = "weight_decay"

PLANTS = (
    workbench.Plant(
        "doubled_penalty_gradient",
        "Every trained chain adds the gradient of L2(2α) where L2(α) is meant (the penalty's "
        "gradient counted twice inside the transform).",
        fails=("sgd_l2_is_weight_decay", "sgdw_momentum_equilibrium", "adam_l2_equilibrium",
               "adamw_equilibrium")),
    workbench.Plant(
        "decay_before_adam",
        "The \"AdamW\" chain adds the decay before scale_by_adam (coupled) instead of after it.",
        fails=("adamw_equilibrium",)),
    workbench.Plant(
        "eps_under_root",
        "AdamW's ε is put under the square root (scale_by_adam(eps=0, eps_root=ε)), so the "
        "preconditioner is 1/√(v̂+ε) instead of 1/(√v̂+ε).",
        fails=("adamw_equilibrium",)),
    workbench.Plant(
        "uniform_alpha_prediction",
        "AdamW is predicted as ridge at α for every parameter, where α(√v̂ᵢ+ε) is due.",
        fails=("adamw_equilibrium",)),
    workbench.Plant(
        "preconditioned_l2_prediction",
        "Adam + L2 is predicted as ridge at α/(√v̂ᵢ+ε): the per-step decay seen through Adam's "
        "preconditioner taken for the equilibrium strength.",
        fails=("adam_l2_equilibrium",)),
    workbench.Plant(
        "momentum_ignored_prediction",
        "SGDW with momentum β is predicted as ridge at α (as without momentum), where "
        "α(1−β) is due.",
        fails=("sgdw_momentum_equilibrium",)),
)

DEFAULTS = dict(
    # The least-squares problem whose curvature and gradient noise are known.
    n_rows=512, n_features=8, scale_decades=1.0, noise=0.5, batch_size=8,
    # The equilibrium ridge strength shared by the three chains (each gets
    # the α that makes its predicted strength this, on average).
    alpha=0.05,
    adam_lr=1e-3, b1=0.9, b2=0.999,
    # ε inside the range of √v̂ (1e-8 would hide where ε goes in the formula).
    eps=1e-3,
    sgd_lr=0.02, momentum=0.9,
    # Time averages: blocks of five relaxation times, until the standard error
    # resolves a tenth of the AdamW/Adam + L2 difference.
    block_taus=5.0, min_blocks=60, max_blocks=240, familywise=1e-3,
    # SGD without momentum against the NumPy reference.
    traj_steps=200, traj_lr=0.05, traj_alpha=0.1,
    # The digits MLP, each optimizer tuned over its own α.
    mlp_train=300, mlp_val=300, hidden=32, mlp_batch=64, mlp_steps=1500, mlp_lr=3e-3,
    alpha_grid=(-5.0, 1.0, 7),
)
FULL = dict(mlp_steps=4000, hidden=64, alpha_grid=(-5.0, 1.0, 13), max_blocks=800)
TEST_SETTINGS = dict(n_rows=256, min_blocks=16, max_blocks=16, traj_steps=50,
                     hidden=8, mlp_batch=32, mlp_steps=150, alpha_grid=(-4.0, 0.0, 3))


# --- the predictions (NumPy float64, no optimizer involved) -----------------

def ridge(H: np.ndarray, b: np.ndarray, strengths: Any) -> np.ndarray:
  r"""The minimiser of ½wᵀHw − bᵀw + ½Σᵢ αᵢwᵢ²: (H + diag(α))⁻¹ b.

  With H = XᵀX/n and b = Xᵀy/n this is ridge regression on (X, y) with the
  data term (1/(2n))‖y − Xw‖² and a per-parameter strength αᵢ (scikit-learn's
  ``Ridge(alpha=n·α, fit_intercept=False)`` for a scalar α).

  Args:
    H: the loss curvature (d, d).
    b: the linear term (d,).
    strengths: α, a scalar or one value per parameter.

  Returns:
    The solution (d,).
  """
  strengths = np.broadcast_to(np.asarray(strengths, np.float64), b.shape)
  return np.linalg.solve(H + np.diag(strengths), b)


def minibatch_second_moment(X: np.ndarray, y: np.ndarray, w: np.ndarray, batch_size: int,
                            shift: Any = 0.0) -> np.ndarray:
  r"""E[ĝᵢ²] of the minibatch gradient at w, rows drawn with replacement.

  .. math::  \hat g = \frac1B\sum_{b=1}^B x_{r_b}(x_{r_b}^\top w - y_{r_b}) + s,
             \qquad E[\hat g_i^2] = (E\hat g_i)^2 + \frac{1}{B}\,
             \mathrm{Var}_r\big(x_{ri}(x_r^\top w - y_r)\big)

  with the variance over the n rows (ddof 0). This is what Adam's v̂ settles
  at when w stays near a fixed point (its own fluctuation, of order the
  learning rate, is left out).

  Args:
    X, y: the data (n, d) and (n,).
    w: the parameters.
    batch_size: B.
    shift: s, a deterministic term added to the gradient Adam sees (αw for
      Adam + L2).

  Returns:
    E[ĝ²] per parameter (d,).
  """
  rows = X * (X @ w - y)[:, None]
  mean = rows.mean(0) + shift
  return mean ** 2 + rows.var(0) / batch_size


def adam_equilibrium(X: np.ndarray, y: np.ndarray, strength: Callable[[np.ndarray], np.ndarray],
                     batch_size: int, coupled_alpha: float = 0.0, tol: float = 1e-13,
                     max_iter: int = 1000) -> tuple[np.ndarray, np.ndarray]:
  r"""The fixed point w = ridge(H, b, α(v(w))), v(w) = E[ĝ²] at w.

  AdamW: ``strength = lambda v: α(√v + ε)``, ``coupled_alpha = 0``. Adam + L2
  is ridge at α whatever v; its v (with ``coupled_alpha = α``: Adam sees
  ∇loss + αw, whose mean is 0 there) is what its preconditioner holds.

  Args:
    X, y: the data.
    strength: per-parameter ridge strength from the second moment.
    batch_size: minibatch size B.
    coupled_alpha: the L2 strength added to the gradient Adam sees.
    tol: stop when max|Δw| ≤ tol·max|w|.
    max_iter: cap on the fixed-point iterations.

  Returns:
    (w, v) at the fixed point.

  Raises:
    RuntimeError: no convergence within ``max_iter``.
  """
  n = X.shape[0]
  H, b = X.T @ X / n, X.T @ y / n
  w = ridge(H, b, 0.0)
  for _ in range(max_iter):
    v = minibatch_second_moment(X, y, w, batch_size, coupled_alpha * w)
    new = ridge(H, b, strength(v))
    if np.max(np.abs(new - w)) <= tol * np.max(np.abs(new)):
      return new, minibatch_second_moment(X, y, new, batch_size, coupled_alpha * new)
    w = new
  raise RuntimeError("equilibrium fixed point did not converge")


def classic_weight_decay(X: np.ndarray, y: np.ndarray, w0: np.ndarray, batches: np.ndarray,
                         lr: float, alpha: float) -> tuple[np.ndarray, np.ndarray]:
  r"""SGD with classic weight decay in NumPy, and a bound on its rounding error.

  .. math::  w_{t+1} = (1 - \eta\alpha)\,w_t - \frac{\eta}{B} X_t^\top(X_t w_t - y_t)

  The rounding bound is first order: each step commits at most
  γ = (d + B + 4)·u relative error per term (u = 2⁻⁵³; a d-term and a
  B-term dot product, the scalings and the sum), elementwise
  e_t = γ(|w_t| + η|X_t|ᵀ(|X_t||w_t| + |y_t|)/B), and an earlier error is carried
  forward by the step's Jacobian (1 − ηα)I − ηX_tᵀX_t/B:
  E_{t+1} = ‖J_t‖₂E_t + ‖e_t‖₂.

  Args:
    X, y: the data.
    w0: the start.
    batches: row indices (T, B).
    lr, alpha: η and α.

  Returns:
    (trajectory (T, d) after each step, rounding bound (T,) on ‖Δw_t‖₂).
  """
  u = np.finfo(np.float64).eps / 2
  d, bsz = X.shape[1], batches.shape[1]
  gamma = (d + bsz + 4) * u
  w, bound, traj, bounds = w0.copy(), 0.0, [], []
  for idx in batches:
    xb, yb = X[idx], y[idx]
    e = gamma * (np.abs(w) + lr * np.abs(xb).T @ (np.abs(xb) @ np.abs(w) + np.abs(yb)) / bsz)
    jac = (1.0 - lr * alpha) * np.eye(d) - lr * xb.T @ xb / bsz
    bound = np.linalg.norm(jac, 2) * bound + np.linalg.norm(e)
    w = (1.0 - lr * alpha) * w - lr * xb.T @ (xb @ w - yb) / bsz
    traj.append(w.copy())
    bounds.append(bound)
  return np.array(traj), np.array(bounds)


# --- data --------------------------------------------------------------------

def _regression(seed, n_rows, n_features, scale_decades, noise):
  """Gaussian features with scales 10^0 … 10^(−decades), y = Xw + noise."""
  rng = np.random.default_rng(seed)
  scales = np.logspace(0.0, -scale_decades, n_features)
  X = rng.standard_normal((n_rows, n_features)) * scales
  w_true = rng.choice([-1.0, 1.0], n_features) * rng.uniform(1.0, 2.0, n_features)
  y = X @ w_true + noise * rng.standard_normal(n_rows)
  return X, y, scales


def _digits(seed, n_train, n_val):
  from sklearn.datasets import load_digits
  x, y = load_digits(return_X_y=True)
  order = np.random.default_rng(seed).permutation(len(y))
  x, y = (x[order] / 16.0).astype(np.float32), y[order]
  parts = np.split(np.arange(len(y)), [n_train, n_train + n_val])
  return [(jnp.asarray(x[p]), jnp.asarray(y[p])) for p in parts]


def _mlp(hidden):
  import flax.linen as nn

  class MLP(nn.Module):
    """Dense(hidden) → ReLU → Dense(10)."""

    @nn.compact
    def __call__(self, x):
      return nn.Dense(10)(nn.relu(nn.Dense(hidden)(x)))

  return MLP()


# --- the experiment ----------------------------------------------------------

def run(*, seed: int = 0, out_dir: Any = None, full: bool = False, plant: Optional[str] = None,
        **settings: Any) -> workbench.Result:
  """Runs the experiment: classic weight decay, the three equilibria, tuned Adam + L2 vs AdamW.

  Args:
    seed: the data, the starts and the minibatch order.
    out_dir: where the figures go (a temporary folder when None).
    full: train the MLP longer and wider.
    plant: one of ``PLANTS``' names, or None.
    **settings: overrides of ``DEFAULTS`` (see there).

  Returns:
    A ``workbench.Result`` named ``"weight_decay"``.
  """
  plant = workbench.planted(NAME, PLANTS, plant)
  cfg = workbench.settings(NAME, DEFAULTS, FULL, full, settings)
  fig_dir = workbench.figure_dir(out_dir)
  with jax.enable_x64(True):
    return _run(seed, fig_dir, plant, cfg)


def _penalty_gradient(alpha, plant):
  # The doubled gradient is planted in the transform every chain uses.
  scale = 2.0 if plant == "doubled_penalty_gradient" else 1.0
  return jr.add_penalty_gradient(jr.L2(scale * alpha))


def _run(seed, fig_dir, plant, cfg):
  X, y, scales = _regression(seed, cfg["n_rows"], cfg["n_features"], cfg["scale_decades"],
                             cfg["noise"])
  verdicts, tables, data = [], [], {}
  traj = _sgd_trajectory(seed, X, y, plant, cfg)
  verdicts.append(traj["verdict"])
  eq = _equilibria(seed, X, y, scales, plant, cfg)
  verdicts.extend(eq["verdicts"])
  tables.append(eq["table"])
  mlp = _mlp_comparison(seed, plant, cfg)
  tables.append(mlp["table"])
  data.update(trajectory_error=traj["error"], trajectory_bound=traj["bound"],
              **{k: v for k, v in eq.items() if k not in ("verdicts", "table")},
              mlp=mlp["data"])
  figures = [_figure(fig_dir, eq, mlp["data"], cfg)]
  summary = _summary(traj, eq, mlp, cfg)
  return workbench.Result(name=NAME,
                          title="Weight decay: coupled L2 vs decoupled (SGD, Adam, AdamW)",
                          summary=summary, verdicts=verdicts, tables=tables, figures=figures,
                          data=data, plant=plant)


@functools.partial(jax.jit, static_argnames=("doubled",))
def _coupled_sgd(w, batches, X, y, lr, alpha, *, doubled):
  """jaxreg's chain(add_penalty_gradient(L2(α)), sgd(η)) on least squares; every iterate."""
  tx = optax.chain(_penalty_gradient(alpha, "doubled_penalty_gradient" if doubled else None),
                   optax.sgd(lr))

  def loss(w, idx):
    r = X[idx] @ w - y[idx]
    return 0.5 * jnp.mean(r * r)

  def step(carry, i):
    w, s = carry
    u, s = tx.update(jax.grad(loss)(w, i), s, w)
    w = optax.apply_updates(w, u)
    return (w, s), w

  return jax.lax.scan(step, (w, tx.init(w)), batches)[1]


def _sgd_trajectory(seed, X, y, plant, cfg):
  """jaxreg's coupled SGD chain against classic weight decay in NumPy."""
  rng = np.random.default_rng(seed + 1)
  lr, alpha = cfg["traj_lr"], cfg["traj_alpha"]
  batches = rng.integers(0, X.shape[0], (cfg["traj_steps"], cfg["batch_size"]))
  w0 = rng.standard_normal(X.shape[1])
  reference, bound = classic_weight_decay(X, y, w0, batches, lr, alpha)

  doubled = plant == "doubled_penalty_gradient"
  measured = np.asarray(_coupled_sgd(jnp.asarray(w0), jnp.asarray(batches), jnp.asarray(X),
                                     jnp.asarray(y), lr, alpha, doubled=doubled))
  norms = np.linalg.norm(reference, axis=1)
  error = np.linalg.norm(measured - reference, axis=1) / norms
  # Both implementations round; each within the bound.
  threshold = float(np.max(2 * bound / norms))
  v = workbench.verdict(
      "SGD: jaxreg's coupled chain chain(add_penalty_gradient(L2(α)), sgd(η)) is classic "
      "weight decay w ← (1 − ηα)w − η∇loss",
      key="sgd_l2_is_weight_decay",
      statistic=f"max over {len(batches)} minibatch steps of ‖w_jaxreg − w_classic‖/‖w_classic‖",
      value=float(np.max(error)), threshold=threshold,
      measured=f"{np.max(error):.2g}", predicted="0 up to rounding",
      threshold_from="first-order float64 rounding bound: (d + B + 4)·u per step and term, "
                     "carried forward by each step's Jacobian norm, for both implementations",
      detail=f"η = {lr:g}, α = {alpha:g}, B = {cfg['batch_size']}; the reference is written in "
             "NumPy with the least-squares gradient by hand, on the same minibatches")
  return dict(verdict=v, error=error, bound=2 * bound / norms)


_CHAINS = ("Adam + L2", "AdamW", "SGDW")


def _chains(strengths, hyper, plant):
  """Adam + L2 at α, AdamW at α_W and SGDW at α_S (``strengths``), as planted."""
  lr, b1, b2, eps, beta, sgd_lr = hyper[:6]
  alpha, alpha_w, alpha_s = strengths[0], strengths[1], strengths[2]
  adam_kw = dict(b1=b1, b2=b2, eps=eps)
  if plant == "eps_under_root":
    adam_kw = dict(b1=b1, b2=b2, eps=0.0, eps_root=eps)
  if plant == "decay_before_adam":
    adamw = optax.chain(_penalty_gradient(alpha_w, plant),
                        optax.scale_by_adam(b1=b1, b2=b2, eps=eps),
                        optax.scale_by_learning_rate(lr))
  else:
    adamw = optax.chain(optax.scale_by_adam(**adam_kw), _penalty_gradient(alpha_w, plant),
                        optax.scale_by_learning_rate(lr))
  return (optax.chain(_penalty_gradient(alpha, plant), optax.adam(lr, b1=b1, b2=b2, eps=eps)),
          adamw,
          optax.chain(optax.trace(decay=beta), _penalty_gradient(alpha_s, plant),
                      optax.scale_by_learning_rate(sgd_lr)))


@functools.partial(jax.jit, static_argnames=("hyper", "plant"))
def _run_block(states, idx, X, y, strengths, *, hyper, plant):
  """One block of minibatch steps of the three chains, on the same minibatches.

  Returns the new states and the block means of each chain's weights, of
  AdamW's second moment ν and of its preconditioner 1/(√ν + ε).
  """
  eps = hyper[3]
  chains = _chains(strengths, hyper, plant)

  def loss(w, i):
    r = X[i] @ w - y[i]
    return 0.5 * jnp.mean(r * r)

  def step(states, i):
    new = []
    for tx, (w, s) in zip(chains, states):
      u, s = tx.update(jax.grad(loss)(w, i), s, w)
      new.append((optax.apply_updates(w, u), s))
    out = [w for w, _ in new]
    nu = optax.tree_utils.tree_get(new[1][1], "nu")
    out.extend([nu, 1.0 / (jnp.sqrt(nu) + eps)])
    return tuple(new), tuple(out)

  states, outs = jax.lax.scan(step, states, idx)
  return states, tuple(jnp.mean(o, axis=0) for o in outs)


def _equilibria(seed, X, y, scales, plant, cfg):
  """Time-averaged weights of Adam + L2, AdamW and SGDW against their equilibria."""
  from scipy import stats

  n, d = X.shape
  bsz, alpha, eps = cfg["batch_size"], cfg["alpha"], cfg["eps"]
  b1, b2, lr, beta, sgd_lr = cfg["b1"], cfg["b2"], cfg["adam_lr"], cfg["momentum"], cfg["sgd_lr"]
  H, b = X.T @ X / n, X.T @ y / n

  # --- predictions, from the data alone --------------------------------------
  w_l2 = ridge(H, b, alpha)
  v_l2 = minibatch_second_moment(X, y, w_l2, bsz, alpha * w_l2)
  # AdamW's α is matched so that its strengths α(√v̂ + ε) have the geometric
  # mean α at the ridge solution's gradient noise; SGDW's so that α(1 − β) = α.
  v0 = minibatch_second_moment(X, y, w_l2, bsz)
  alpha_w = alpha / math.exp(np.mean(np.log(np.sqrt(v0) + eps)))
  alpha_s = alpha / (1.0 - beta)
  w_w, v_w = adam_equilibrium(X, y, lambda v: alpha_w * (np.sqrt(v) + eps), bsz)
  w_s = ridge(H, b, alpha_s * (1.0 - beta))
  strengths_w = alpha_w * (np.sqrt(v_w) + eps)
  # AdamW's prediction takes its preconditioner from the run (below); w_w, from
  # the data alone, sets the time scales and the precision target.
  predicted = {"Adam + L2": w_l2, "SGDW": w_s}
  if plant == "preconditioned_l2_prediction":
    predicted["Adam + L2"] = adam_equilibrium(X, y, lambda v: alpha / (np.sqrt(v) + eps), bsz,
                                              coupled_alpha=alpha)[0]
  if plant == "momentum_ignored_prediction":
    predicted["SGDW"] = ridge(H, b, alpha_s)

  # --- relaxation time of the mean dynamics, from the same predictions ---------
  def slowest(precond, curvature, extra=0.0):
    s = np.sqrt(precond)
    return float(np.linalg.eigvalsh(s[:, None] * curvature * s[None, :])[0] + extra)

  rates = [lr * slowest(1 / (np.sqrt(v_l2) + eps), H + alpha * np.eye(d)),
           lr * slowest(1 / (np.sqrt(v_w) + eps), H, alpha_w),
           sgd_lr * (np.linalg.eigvalsh(H)[0] + alpha) / (1 - beta),
           1 - b2, 1 - b1]
  tau = 1.0 / min(rates)
  # Rounded up to 500 steps, so that seeds share compiled programs.
  block = 500 * int(math.ceil(cfg["block_taus"] * tau / 500))

  # --- the chains -----------------------------------------------------------
  hyper = (lr, b1, b2, eps, beta, sgd_lr, block, bsz)
  strengths = jnp.asarray([alpha, alpha_w, alpha_s])
  Xj, yj = jnp.asarray(X), jnp.asarray(y)
  names = list(_CHAINS)
  w0 = jnp.zeros(d)
  # Only the plants that change a chain change the compiled program.
  chain_plant = plant if plant in ("doubled_penalty_gradient", "decay_before_adam",
                                   "eps_under_root") else None
  states = tuple((w0, tx.init(w0)) for tx in _chains(strengths, hyper, chain_plant))
  # Row indices from NumPy, one (block, B) draw per block, shared by the chains.
  rng = np.random.default_rng(seed + 2)
  # Thirty relaxation times of burn-in, then blocks averaged
  # until the standard error resolves a tenth of the largest difference
  # between the AdamW and Adam + L2 equilibria (the claim's effect).
  z = float(stats.t.ppf(1 - cfg["familywise"] / (2 * d), cfg["min_blocks"] - 1))
  target = np.max(np.abs(w_w - w_l2)) / (10 * z)
  means, burn = [], int(math.ceil(30 / cfg["block_taus"]))
  for count in range(burn + cfg["max_blocks"]):
    idx = jnp.asarray(rng.integers(0, n, (block, bsz)))
    states, out = _run_block(states, idx, Xj, yj, strengths,
                             hyper=hyper, plant=chain_plant)
    if count < burn:
      continue
    means.append(np.asarray(out))
    nb = len(means)
    if nb >= cfg["min_blocks"]:
      ws = np.array(means)[:, :3]
      se = ws.std(axis=0, ddof=1) / math.sqrt(nb)
      if not np.all(np.isfinite(se)) or np.max(se) <= target:
        break
  blocks = np.array(means)  # (nb, 5, d)
  nb = blocks.shape[0]
  reached = bool(np.max(blocks[:, :3].std(axis=0, ddof=1) / math.sqrt(nb)) <= target)
  # Bonferroni over the d parameters, Student t with nb − 1 degrees of freedom.
  z = float(stats.t.ppf(1 - cfg["familywise"] / (2 * d), nb - 1))

  # AdamW stops where E[m̂ᵢ/(√v̂ᵢ+ε)] + αwᵢ = 0. Its moments are nearly
  # uncorrelated, so that is E[m̂ᵢ]·E[1/(√v̂ᵢ+ε)] + αwᵢ = 0: ridge at
  # α/E[1/(√v̂ᵢ+ε)], with the preconditioner the run held (the O(η) excess of v̂
  # over the fixed point's v, from the weights' own jitter, would bias a
  # prediction from the data alone by a few standard errors). Each block is
  # compared with the ridge at its own mean preconditioner, so the
  # preconditioner's sampling noise is in the standard error too.
  precond = blocks[:, 4].mean(0)
  strengths_measured = alpha_w / precond
  per_block = {name: np.broadcast_to(w, (nb, d)) for name, w in predicted.items()}
  if plant == "uniform_alpha_prediction":
    per_block["AdamW"] = np.broadcast_to(ridge(H, b, alpha_w), (nb, d))
  else:
    per_block["AdamW"] = np.array([ridge(H, b, alpha_w / p) for p in blocks[:, 4]])
  predicted["AdamW"] = per_block["AdamW"].mean(0)

  results = {}
  for i, name in enumerate(names):
    wbar = blocks[:, i].mean(0)
    diff = blocks[:, i] - per_block[name]
    se = diff.std(0, ddof=1) / math.sqrt(nb)
    lag1 = np.nanmean([np.corrcoef(diff[:-1, j], diff[1:, j])[0, 1]
                       for j in range(d)]) if np.all(np.isfinite(diff)) else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
      zs = np.abs(diff.mean(0)) / se
    results[name] = dict(mean=wbar, se=se, z=zs, lag1=float(lag1),
                         strength=(b - H @ wbar) / wbar)
  nu_bar = blocks[:, 3].mean(0)

  steps = (burn + nb) * block
  common = (f"{nb} blocks of {block} steps after {burn * block} steps of burn-in "
            f"({steps} steps in all; blocks are {cfg['block_taus']:g} relaxation times "
            f"τ = {tau:.0f}); "
            + ("standard-error target reached" if reached else
               f"the cap of {cfg['max_blocks']} blocks was hit before the standard-error target"))
  threshold_from = (f"Student t quantile for a familywise false-alarm rate "
                    f"{cfg['familywise']:g}, Bonferroni over the {d} parameters, "
                    f"{nb - 1} degrees of freedom of the batch-means standard error")
  statistic = ("max over parameters of |mean of (w̄ᵢ − ŵᵢ) over blocks| / its standard error: "
               "time-averaged weights against the equilibrium")

  def make(name, claim, key, pred_words):
    r = results[name]
    worst = int(np.nanargmax(r["z"])) if np.any(np.isfinite(r["z"])) else 0
    return workbench.verdict(
        claim, key=key, statistic=statistic, value=float(np.max(r["z"])), threshold=z,
        measured=f"w̄ (largest deviation at parameter {worst}: {r['mean'][worst]:.4g} ± "
                 f"{r['se'][worst]:.2g})",
        predicted=f"{pred_words} (parameter {worst}: {predicted[name][worst]:.4g})",
        threshold_from=threshold_from,
        detail=common + f"; lag-1 autocorrelation of the block means {r['lag1']:.2f}")

  verdicts = [
      make("SGDW", "SGDW with momentum β settles at the ridge solution at α(1 − β), not at α",
           "sgdw_momentum_equilibrium", f"ridge at α(1−β) = {alpha_s:g}·{1 - beta:g}"),
      make("Adam + L2", "Adam + L2 settles at the ridge solution at α: Adam's preconditioner "
           "does not move the stationary point", "adam_l2_equilibrium", f"ridge at α = {alpha:g}"),
      make("AdamW", "AdamW settles at ridge with per-parameter strength α(√v̂ᵢ + ε), the inverse "
           "of Adam's preconditioner: noisier gradients, stronger decay", "adamw_equilibrium",
           f"ridge at α/E[1/(√v̂ᵢ+ε)], α = {alpha_w:.3g}, E over each block of the run"),
  ]

  rows = []
  for j in range(d):
    rows.append([j, f"{scales[j]:.3g}", f"{math.sqrt(v_w[j]):.3g}", f"{math.sqrt(nu_bar[j]):.3g}",
                 f"{w_l2[j]:.4f}", f"{results['Adam + L2']['mean'][j]:.4f}",
                 f"{w_w[j]:.4f}", f"{results['AdamW']['mean'][j]:.4f}",
                 f"{strengths_w[j]:.3g}", f"{results['AdamW']['strength'][j]:.3g}",
                 f"{results['Adam + L2']['strength'][j]:.3g}"])
  table = workbench.Table(
      f"Least squares, n = {n}, d = {d}, minibatches of {bsz} drawn with replacement, "
      f"feature scales 1 … {scales[-1]:.2g}. Equilibrium (predicted from the data) and "
      f"time-averaged (measured) weights; Adam + L2 at α = {alpha:g}, AdamW at α = {alpha_w:.3g} "
      f"(matched so its strengths have geometric mean {alpha:g}), both with η = {lr:g}, "
      f"ε = {eps:g}. Effective strength (b − Hw̄)ᵢ/w̄ᵢ measured from the time average",
      ["i", "scale", "√v̂ AdamW pred.", "√v̂ AdamW meas.", "ŵ Adam + L2", "w̄ Adam + L2",
       "ŵ AdamW", "w̄ AdamW", "αᵢ AdamW pred.", "αᵢ AdamW meas.", "αᵢ Adam + L2 meas."], rows)
  return dict(verdicts=verdicts, table=table, results=results, predicted=predicted,
              sqrt_v=np.sqrt(v_w), sqrt_v_measured=np.sqrt(nu_bar), strengths_adamw=strengths_w,
              alpha=alpha, alpha_adamw=alpha_w, alpha_sgdw=alpha_s, z_threshold=z,
              blocks=nb, block_steps=block, target_reached=reached)


def _train_pair(alpha, params0, batches, x_tr, y_tr, x_va, y_va, x_te, y_te, hidden, lr, plant):
  """Adam + L2 and AdamW at one α on the same minibatches, for ``jr.sweep``.

  Returns, for each: the validation cross-entropy, which test digits it gets
  right, and the norm of its kernels.
  """
  model = _mlp(hidden)

  def loss(p, x, y):
    logits = model.apply({"params": p}, x)
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, y))

  txs = (optax.chain(_penalty_gradient(alpha, plant), optax.adam(lr)),
         optax.chain(optax.scale_by_adam(), _penalty_gradient(alpha, plant),
                     optax.scale_by_learning_rate(lr)))
  out = []
  for tx in txs:
    def step(carry, idx, tx=tx):
      p, s = carry
      u, s = tx.update(jax.grad(loss)(p, x_tr[idx], y_tr[idx]), s, p)
      return (optax.apply_updates(p, u), s), None
    p = jax.lax.scan(step, (params0, tx.init(params0)), batches)[0][0]
    kernels = jnp.sqrt(sum(jnp.sum(v["kernel"] ** 2) for v in p.values()))
    right = jnp.argmax(model.apply({"params": p}, x_te), -1) == y_te
    out.append((loss(p, x_va, y_va), right, kernels))
  return out


def _mlp_comparison(seed, plant, cfg):
  """Adam + L2 and AdamW on digits, each tuned over α on a validation split."""
  (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = _digits(seed, cfg["mlp_train"], cfg["mlp_val"])
  model = _mlp(cfg["hidden"])
  lo, hi, k = cfg["alpha_grid"]
  # α = 0 is plain Adam for both chains.
  alphas = np.concatenate([[0.0], np.logspace(lo, hi, int(k))]).astype(np.float32)
  lr = cfg["mlp_lr"]
  rng = np.random.default_rng(seed + 3)
  batches = jnp.asarray(rng.integers(0, len(y_tr), (cfg["mlp_steps"], cfg["mlp_batch"])))
  params0 = model.init(jax.random.key(seed), x_tr[:1])["params"]

  res = jr.sweep(_train_pair, jnp.asarray(alphas), params0, batches, x_tr, y_tr, x_va, y_va,
                 x_te, y_te, cfg["hidden"], lr,
                 plant if plant == "doubled_penalty_gradient" else None)
  labels = ("Adam + L2", "AdamW")
  val = {lab: np.asarray(res[i][0], np.float64) for i, lab in enumerate(labels)}
  right = {lab: np.asarray(res[i][1]) for i, lab in enumerate(labels)}
  kern = {lab: np.asarray(res[i][2], np.float64) for i, lab in enumerate(labels)}
  n_te = len(y_te)
  rows, chosen = [], {}
  rows.append(["Adam (α = 0)", "—", f"{val['AdamW'][0]:.4f}",
               f"{100 * (1 - right['AdamW'][0].mean()):.2f}", f"{kern['AdamW'][0]:.3f}"])
  for lab in labels:
    finite = np.where(np.isfinite(val[lab]), val[lab], np.inf)
    i = int(np.argmin(finite))
    chosen[lab] = i
    edge = " (grid edge)" if i in (1, len(alphas) - 1) else (" (α = 0 best)" if i == 0 else "")
    rows.append([lab, f"{alphas[i]:.3g}{edge}", f"{val[lab][i]:.4f}",
                 f"{100 * (1 - right[lab][i].mean()):.2f}", f"{kern[lab][i]:.3f}"])
  a, w = right["Adam + L2"][chosen["Adam + L2"]], right["AdamW"][chosen["AdamW"]]
  discordant = int(np.sum(a != w))
  table = workbench.Table(
      f"A 64-{cfg['hidden']}-10 MLP on digits ({len(y_tr)} train, {len(y_va)} validation, "
      f"{n_te} test), {cfg['mlp_steps']} Adam steps of batch {cfg['mlp_batch']} at η = {lr:g}; "
      f"each optimizer at the α of its {len(alphas) - 1}-point grid 10^{lo:g} … 10^{hi:g} "
      "(or α = 0) with the lowest validation cross-entropy",
      ["optimizer", "tuned α", "validation loss", "test error (%)", "‖kernels‖"], rows)
  data = dict(alphas=alphas, val_loss=val, test_error={k: 1 - v.mean(1) for k, v in right.items()},
              chosen=chosen, n_test=n_te, discordant=discordant,
              error_difference=float((1 - w.mean()) - (1 - a.mean())))
  return dict(table=table, data=data)


def _summary(traj, eq, mlp, cfg):
  v_sgd = traj["verdict"]
  r, p = eq["results"], eq["predicted"]
  alpha, alpha_w, z = eq["alpha"], eq["alpha_adamw"], eq["z_threshold"]
  sv, st = eq["sqrt_v"], eq["strengths_adamw"]
  noisy, quiet = int(np.argmax(sv)), int(np.argmin(sv))
  parts = [
      "**SGD.** Adding the gradient αw of (α/2)‖w‖² to the loss gradient gives "
      "w ← (1 − ηα)w − η∇loss: classic weight decay. "
      f"jaxreg's coupled chain followed the NumPy reference on the same minibatches to a "
      f"relative {np.max(traj['error']):.2g} over {len(traj['error'])} steps, "
      + ("within" if v_sgd.passed else "outside")
      + f" the rounding bound {v_sgd.threshold:.2g}.",
      "**Where each optimizer settles.** On average an optimizer stops where the mean of the "
      "update it applies is zero. Coupled L2 (Adam + L2, SGD + L2) puts αw inside that mean "
      "next to the loss gradient, so a preconditioner cannot move the stationary point: ridge "
      "at α. Decoupled decay is added after the preconditioner: AdamW stops where "
      "E[∇loss]ᵢ/(√v̂ᵢ + ε) + αwᵢ = 0, ridge with strength α(√v̂ᵢ + ε), and SGDW with "
      "momentum β, whose momentum sums gradients to 1/(1 − β) times their mean, at ridge "
      "α(1 − β). The ridge solutions use the data only (H = XᵀX/n, b = Xᵀy/n); AdamW's "
      "strengths use the preconditioner the run held, E[1/(√v̂ᵢ+ε)] over each block. The "
      "same v̂ also follows from the data alone, as the minibatch gradient's second moment "
      "at the fixed point w = ridge(α(√v(w) + ε)), which the table compares with the run's.",
  ]
  verdicts = {v.key: v for v in eq["verdicts"]}
  said = []
  for name, key in (("Adam + L2", "adam_l2_equilibrium"), ("AdamW", "adamw_equilibrium"),
                    ("SGDW", "sgdw_momentum_equilibrium")):
    v = verdicts[key]
    said.append(f"{name} {'settled within' if v.passed else 'missed'} its prediction "
                f"(largest deviation {v.value:.2g} standard errors; threshold {v.threshold:.2g})")
  parts.append(
      f"Measured over {eq['blocks']} blocks of {eq['block_steps']} steps: "
      + "; ".join(said) + "."
      + ("" if eq["target_reached"] else
         " The standard-error target was not reached before the block cap."))
  ratio = st[noisy] / st[quiet]
  parts.append(
      f"With AdamW's α = {alpha_w:.3g} matched to Adam + L2's α = {alpha:g}, the predicted "
      f"AdamW strength runs from {st[quiet]:.3g} on parameter {quiet} (√v̂ = {sv[quiet]:.3g}) "
      f"to {st[noisy]:.3g} on parameter {noisy} (√v̂ = {sv[noisy]:.3g}), a factor "
      f"{ratio:.3g}; the strengths measured from the time averages run from "
      f"{r['AdamW']['strength'][quiet]:.3g} to {r['AdamW']['strength'][noisy]:.3g}, while "
      f"Adam + L2's measured strengths span {np.min(r['Adam + L2']['strength']):.3g} … "
      f"{np.max(r['Adam + L2']['strength']):.3g} around α. The left figure plots them "
      "against √v̂. The closed-form √v̂ from the data alone differs from the run's by at "
      f"most {100 * np.max(np.abs(eq['sqrt_v_measured'] / sv - 1)):.2g} % "
      "(the weights' own jitter adds to v̂).")
  d = mlp["data"]
  ch, al = d["chosen"], d["alphas"]
  te = {k: 100 * d["test_error"][k][ch[k]] for k in ch}
  diff = te["AdamW"] - te["Adam + L2"]
  se = 100 * math.sqrt(max(d["discordant"], 1)) / d["n_test"]
  if abs(diff) <= 2 * se:
    reading = (f"the difference, {diff:+.2f} points, is within twice its paired standard error "
               f"({se:.2f} points): on this problem and seed the two are not told apart")
  else:
    better = "AdamW" if diff < 0 else "Adam + L2"
    reading = (f"{better} is better by {abs(diff):.2f} points, {abs(diff) / se:.1f} paired "
               f"standard errors, on one data split and one seed")
  edges = [k for k in ch if ch[k] in (0, 1, len(al) - 1)]
  shared = ""
  if ch["Adam + L2"] > 0:
    i = ch["Adam + L2"]
    va, v0 = d["val_loss"], d["val_loss"]["AdamW"][0]
    shared = (f"At Adam + L2's best α = {al[i]:.3g}, AdamW's validation loss is "
              f"{va['AdamW'][i]:.4f}, against {v0:.4f} for plain Adam and "
              f"{va['Adam + L2'][i]:.4f} for Adam + L2: "
              + ("AdamW is there close to unregularized. "
                 if abs(va["AdamW"][i] - v0) < 0.25 * abs(va["Adam + L2"][i] - v0)
                 else "AdamW is already regularized there too. "))
  parts.append(
      "**Tuned on digits.** One α means different things to the two: AdamW's decay per step "
      "is ηα, Adam + L2's is about ηα/√v̂, far larger where √v̂ ≪ 1. "
      + shared
      + f"So each is tuned on its own: Adam + L2 chose α = {al[ch['Adam + L2']]:.3g} and AdamW "
      f"α = {al[ch['AdamW']]:.3g}"
      + (f" (ratio {al[ch['AdamW']] / al[ch['Adam + L2']]:.3g})"
         if al[ch["Adam + L2"]] > 0 and al[ch["AdamW"]] > 0 else "")
      + f". Their test errors are {te['Adam + L2']:.2f} % and {te['AdamW']:.2f} %: {reading}."
      + (f" {' and '.join(edges)} chose an α at the end of the grid (or α = 0), so the grid "
         "may not contain its best α." if edges else "")
      + " Loshchilov & Hutter's claim that decoupling improves generalization is about many "
        "tasks and schedules; a single small MLP can agree with it or not, but cannot settle it.")
  return "\n\n".join(parts)


def _figure(fig_dir, eq, mlp, cfg):
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  import matplotlib.ticker

  fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
  ax = axes[0]
  sv = eq["sqrt_v"]
  order = np.argsort(sv)
  r = eq["results"]
  ax.loglog(sv, np.abs(r["AdamW"]["strength"]), "o", color="tab:blue", label="AdamW, measured")
  ax.loglog(sv[order], eq["strengths_adamw"][order], "-", color="tab:blue",
            label="AdamW, predicted α(√v̂+ε)")
  ax.loglog(sv, np.abs(r["Adam + L2"]["strength"]), "s", color="tab:red", mfc="none",
            label="Adam + L2, measured")
  ax.loglog(sv, np.abs(r["SGDW"]["strength"]), "^", color="tab:green", mfc="none",
            label="SGDW (β = %g), measured" % cfg["momentum"])
  ax.axhline(eq["alpha"], color="k", ls="--", lw=0.8, label="α (Adam + L2, SGDW predicted)")
  # Minor-tick labels of a log axis spanning one decade overlap.
  ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
  ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
  ax.set_xlabel("√v̂ of the parameter (predicted)")
  ax.set_ylabel("effective ridge strength (b − Hw̄)ᵢ / w̄ᵢ")
  ax.set_title("Equilibrium strength per parameter")
  ax.legend(fontsize=7)
  ax = axes[1]
  al = mlp["alphas"]
  for lab, color in (("Adam + L2", "tab:red"), ("AdamW", "tab:blue")):
    ax.semilogx(al[1:], mlp["val_loss"][lab][1:], "o-", color=color, label=lab)
    i = mlp["chosen"][lab]
    if i > 0:
      ax.semilogx([al[i]], [mlp["val_loss"][lab][i]], "*", ms=14, color=color)
  ax.axhline(mlp["val_loss"]["AdamW"][0], color="0.5", ls=":", label="plain Adam (α = 0)")
  ax.set_xlabel("α")
  ax.set_ylabel("validation cross-entropy")
  ax.set_title("Digits MLP: each optimizer's own α (★ chosen)")
  finite = np.concatenate([v[np.isfinite(v)] for v in mlp["val_loss"].values()])
  if finite.size:
    ax.set_ylim(0.8 * finite.min(), min(finite.max(), 5 * finite.min()) * 1.05)
  ax.legend(fontsize=8)
  return workbench.save_figure(fig, fig_dir, "weight_decay")
