r"""Weight decay: L2 in the gradient, coupled and decoupled, with SGD and Adam.

With plain SGD, adding the gradient αw of the penalty (α/2)‖w‖² to the loss
gradient *is* weight decay:

.. math::  w_{t+1} = w_t - \eta(\nabla\mathrm{loss}(w_t) + \alpha w_t)
                   = (1 - \eta\alpha)\,w_t - \eta\nabla\mathrm{loss}(w_t),

and it does not matter whether αw is added before the optimizer (coupled) or
after SGD's trivial preconditioner (decoupled): the two trajectories are the
same. With Adam they differ. Coupled ("Adam + L2") feeds ∇loss + αw into the
moment estimates, so the decay is divided by √v̂ like every other gradient:

.. math::  \text{Adam + L2:}\quad w \leftarrow w - \eta\,\frac{\hat m(\nabla\mathrm{loss} + \alpha w)}
           {\sqrt{\hat v} + \epsilon}
           \qquad\text{AdamW:}\quad w \leftarrow w - \eta\Big(\frac{\hat m}{\sqrt{\hat v}+\epsilon}
           + \alpha w\Big).

Under Adam + L2 a parameter whose gradients are large (large v̂) is decayed
by about α/√v̂ per unit of learning rate, far less than a parameter with small
gradients; under AdamW every parameter is decayed by α. The experiment
trains a small flax MLP on scikit-learn's digits both ways at the same α,
checks the AdamW chain against ``optax.adamw``, and measures each
parameter's effective decay by switching the penalty off for one step.

References:
  Loshchilov & Hutter (2019), "Decoupled weight decay regularization".
  Krogh & Hertz (1991), "A simple weight decay can improve generalization".
  Kingma & Ba (2015), "Adam: a method for stochastic optimization".
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

import jaxreg as jr
from research import workbench

NAME = "weight_decay"


# --- the predictions ---------------------------------------------------------

def explicit_sgd_step(w: Any, grad: Any, lr: float, alpha: float) -> Any:
  r"""Classic weight decay written out: w ← (1 − ηα)w − η∇loss(w).

  Args:
    w: parameters (a pytree).
    grad: ∇loss(w), same structure.
    lr: learning rate η.
    alpha: L2 strength α of the penalty (α/2)‖w‖².

  Returns:
    The next parameters.
  """
  return jax.tree_util.tree_map(lambda p, g: (1.0 - lr * alpha) * p - lr * g, w, grad)


def adam_l2_decay(nu_hat: jax.Array, alpha: float, eps: float = 1e-8) -> jax.Array:
  r"""Effective decay rate of Adam + L2 per unit of learning rate: α/(√v̂ + ε).

  The penalty gradient αw passes through Adam's preconditioner 1/(√v̂ + ε);
  summed over the momentum's memory its weight is 1, so in steady state the
  weight loses η·α/(√v̂ + ε) of itself per step (AdamW: η·α).

  Args:
    nu_hat: Adam's bias-corrected second-moment estimate v̂, per parameter.
    alpha: L2 strength α.
    eps: Adam's ε.

  Returns:
    The per-parameter decay rate (same shape as ``nu_hat``).
  """
  return alpha / (jnp.sqrt(nu_hat) + eps)


# --- model and data ----------------------------------------------------------

def _mlp(hidden):
  import flax.linen as nn

  class MLP(nn.Module):
    """Dense(hidden) → ReLU → Dense(10)."""

    @nn.compact
    def __call__(self, x):
      x = nn.relu(nn.Dense(hidden, param_dtype=jnp.float64)(x))
      return nn.Dense(10, param_dtype=jnp.float64)(x)

  return MLP()


def _digits(seed, n_train):
  from sklearn.datasets import load_digits
  x, y = load_digits(return_X_y=True)
  order = np.random.default_rng(seed).permutation(len(y))
  x, y = x[order] / 16.0, y[order]
  return (jnp.asarray(x[:n_train]), jnp.asarray(y[:n_train]),
          jnp.asarray(x[n_train:]), jnp.asarray(y[n_train:]))


def _train(tx, loss, params, x, y, batches, record_params=False):
  """Trains with ``tx`` over the given minibatch indices (steps, batch).

  Returns final params, final optimizer state, the parameter norm after
  every step, the mean squared gradient over the second half of training and
  (optionally) the flattened parameters after every step.
  """
  state = tx.init(params)
  steps = batches.shape[0]
  zeros = jax.tree_util.tree_map(jnp.zeros_like, params)

  def step(carry, inputs):
    t, idx = inputs
    p, s, g2 = carry
    g = jax.grad(loss)(p, x[idx], y[idx])
    u, s = tx.update(g, s, p)
    p = optax.apply_updates(p, u)
    late = (t >= steps // 2).astype(jnp.float64) / (steps - steps // 2)
    g2 = jax.tree_util.tree_map(lambda a, b: a + late * b * b, g2, g)
    out = (optax.tree.norm(p), ravel_pytree(p)[0] if record_params else jnp.zeros(()))
    return (p, s, g2), out

  (p, s, g2), (norms, trace) = jax.lax.scan(
      step, (params, state, zeros), (jnp.arange(steps), batches))
  return p, s, norms, g2, trace


def run(*, seed: int = 0, out_dir: Any = None, full: bool = False,
        n_train: int = 1200, hidden: int = 64, batch_size: int = 64,
        steps: int = None, lr: float = 1e-3, alpha: float = 1e-2,
        sgd_steps: int = 300, sgd_lr: float = 0.1, sgd_alpha: float = 1e-2) -> workbench.Result:
  """Runs the experiment: SGD (coupled = decoupled) and Adam + L2 vs AdamW.

  Args:
    seed: data split, initialisation and minibatch order.
    out_dir: where the figures go (a temporary folder when None).
    full: train longer.
    n_train: training digits (the rest are the test set).
    hidden: hidden units of the MLP.
    batch_size: minibatch size.
    steps: Adam steps (default 3000, 8000 with ``full``).
    lr: Adam's learning rate η.
    alpha: L2 strength α, the same for Adam + L2 and AdamW.
    sgd_steps, sgd_lr, sgd_alpha: the SGD comparison.

  Returns:
    A ``workbench.Result`` named ``"weight_decay"``.
  """
  if steps is None:
    steps = 8000 if full else 3000
  fig_dir = workbench.figure_dir(out_dir)
  with jax.enable_x64(True):
    return _run(seed, fig_dir, n_train, hidden, batch_size, steps, lr, alpha,
                sgd_steps, sgd_lr, sgd_alpha)


def _run(seed, fig_dir, n_train, hidden, batch_size, steps, lr, alpha,
         sgd_steps, sgd_lr, sgd_alpha):
  x_tr, y_tr, x_te, y_te = _digits(seed, n_train)
  model = _mlp(hidden)
  params0 = jax.jit(model.init)(jax.random.key(seed), x_tr[:1])["params"]

  def loss(p, x, y):
    logits = model.apply({"params": p}, x)
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, y))

  @jax.jit
  def evaluate(p):
    kernels = jnp.sqrt(sum(jnp.sum(v["kernel"] ** 2) for v in p.values()))
    test_error = jnp.mean(jnp.argmax(model.apply({"params": p}, x_te), -1) != y_te)
    return optax.tree.norm(p), kernels, loss(p, x_tr, y_tr), test_error

  rng = np.random.default_rng(seed + 1)

  def batches(count):
    return jnp.asarray(np.stack([rng.choice(n_train, batch_size, replace=False)
                                 for _ in range(count)]))

  verdicts, data = [], {}

  # --- SGD: coupled and decoupled L2 are one update, (1 − ηα)w − η∇loss -------
  sgd_batches = batches(sgd_steps)
  coupled = optax.chain(jr.add_penalty_gradient(jr.L2(sgd_alpha)), optax.sgd(sgd_lr))
  # SGD's preconditioner is the identity; the decay goes after it, before η.
  decoupled = optax.chain(optax.identity(), jr.add_penalty_gradient(jr.L2(sgd_alpha)),
                          optax.scale_by_learning_rate(sgd_lr))
  traces = {}
  for label, tx in (("coupled", coupled), ("decoupled", decoupled)):
    traces[label] = jax.jit(lambda p, b, tx=tx: _train(tx, loss, p, x_tr, y_tr, b, True)[4])(
        params0, sgd_batches)

  def explicit(p, b):
    def step(p, idx):
      p = explicit_sgd_step(p, jax.grad(loss)(p, x_tr[idx], y_tr[idx]), sgd_lr, sgd_alpha)
      return p, ravel_pytree(p)[0]
    return jax.lax.scan(step, p, b)[1]

  traces["explicit"] = jax.jit(explicit)(params0, sgd_batches)
  traces = {k: np.asarray(v) for k, v in traces.items()}

  def traj_err(a, b):
    return float(np.max(np.linalg.norm(a - b, axis=-1) / np.linalg.norm(b, axis=-1)))

  verdicts.append(workbench.check(
      "SGD: coupled L2 (penalty gradient before sgd) and decoupled decay (after the identity "
      "preconditioner, before the learning rate) give identical trajectories",
      traj_err(traces["decoupled"], traces["coupled"]), 1e-6,
      f"max over {sgd_steps} steps of ‖Δw‖/‖w‖"))
  verdicts.append(workbench.check(
      "SGD: both follow the explicit weight-decay update w ← (1 − ηα)w − η∇loss",
      max(traj_err(traces["coupled"], traces["explicit"]),
          traj_err(traces["decoupled"], traces["explicit"])), 1e-6,
      f"max over {sgd_steps} steps and both chains of ‖Δw‖/‖w‖"))

  # --- Adam: coupled (Adam + L2) vs decoupled (AdamW) --------------------------
  adam_batches = batches(steps)
  b1, b2, eps = 0.9, 0.999, 1e-8  # optax.adam's defaults
  txs = {
      "Adam": optax.adam(lr),
      "Adam + L2": optax.chain(jr.add_penalty_gradient(jr.L2(alpha)), optax.adam(lr)),
      "AdamW": optax.chain(optax.scale_by_adam(), jr.add_penalty_gradient(jr.L2(alpha)),
                           optax.scale_by_learning_rate(lr)),
      "optax.adamw": optax.adamw(lr, weight_decay=alpha),
  }
  fits = {}
  for label, tx in txs.items():
    fits[label] = jax.jit(lambda p, b, tx=tx: _train(tx, loss, p, x_tr, y_tr, b))(
        params0, adam_batches)

  flat = {k: np.asarray(jax.jit(lambda p: ravel_pytree(p)[0])(v[0])) for k, v in fits.items()}
  verdicts.append(workbench.check(
      "chain(scale_by_adam(), add_penalty_gradient(L2(α)), scale_by_learning_rate(η)) is "
      "optax.adamw(η, weight_decay=α)",
      np.linalg.norm(flat["AdamW"] - flat["optax.adamw"]) / np.linalg.norm(flat["optax.adamw"]),
      1e-6, f"‖Δw‖/‖w‖ after {steps} steps"))

  # Effective decay: switch the penalty off for one step from the same state,
  # on the full training gradient, and see how much less the weight moves.
  probe = {
      "Adam + L2": optax.chain(jr.add_penalty_gradient(jr.L2(0.0)), optax.adam(lr)),
      "AdamW": optax.chain(optax.scale_by_adam(), jr.add_penalty_gradient(jr.L2(0.0)),
                           optax.scale_by_learning_rate(lr)),
  }
  def effective_decay(label, p, s):
    g = jax.grad(loss)(p, x_tr, y_tr)
    u_on, s_on = txs[label].update(g, s, p)
    u_off, _ = probe[label].update(g, s, p)
    w = ravel_pytree(p)[0]
    delta = ravel_pytree(u_off)[0] - ravel_pytree(u_on)[0]
    keep = jnp.abs(w) > 1e-6
    # One step's share of the penalty in Adam's first moment is (1 − β1); the
    # same term returns through the momentum later, with total weight 1.
    share = (1.0 - b1) if label == "Adam + L2" else 1.0
    decay = jnp.where(keep, delta / (lr * share * jnp.where(keep, w, 1.0)), jnp.nan)
    adam_state = s_on[1][0] if label == "Adam + L2" else s_on[0]
    nu_hat = ravel_pytree(adam_state.nu)[0] / (1.0 - b2 ** adam_state.count)
    return decay, nu_hat

  decay = {}
  for label in ("Adam + L2", "AdamW"):
    decay[label], nu = (np.asarray(a) for a in jax.jit(
        lambda p, s, label=label: effective_decay(label, p, s))(*fits[label][:2]))
    if label == "Adam + L2":
      nu_hat = nu

  g2, g2_w = (np.asarray(jax.jit(lambda t: ravel_pytree(t)[0])(fits[k][3]))
              for k in ("Adam + L2", "AdamW"))
  ok = np.isfinite(decay["Adam + L2"]) & np.isfinite(decay["AdamW"])
  d_l2, d_w = decay["Adam + L2"][ok], decay["AdamW"][ok]
  predicted = np.asarray(adam_l2_decay(nu_hat, alpha, eps))[ok]  # numpy in, numpy out

  verdicts.append(workbench.check(
      "AdamW decays every parameter at the same rate α",
      np.max(np.abs(d_w - alpha)) / alpha, 1e-6,
      f"max over {ok.sum()} parameters of |d − α|/α"))
  rel = np.abs(d_l2 - predicted) / predicted
  verdicts.append(workbench.check(
      "Adam + L2 decays parameter i at α/(√v̂ᵢ + ε), the decay passing through Adam's "
      "preconditioner",
      np.median(rel), 0.01,
      f"median over {ok.sum()} parameters of |d − α/(√v̂+ε)|/(α/(√v̂+ε)); "
      f"90th percentile {np.percentile(rel, 90):.2g}"))
  from scipy.stats import spearmanr
  rho = float(spearmanr(d_l2, g2[ok]).statistic)
  verdicts.append(workbench.check(
      "Adam + L2: parameters with larger gradients are decayed less (effective decay falls "
      "with the gradient's second moment)",
      rho, -0.8,
      "Spearman correlation of effective decay with the mean squared minibatch gradient "
      "over the second half of training (must be ≤ −0.8)"))
  spread = float(np.percentile(d_l2, 90) / np.percentile(d_l2, 10))
  verdicts.append(workbench.check(
      "Adam + L2: the effective decay spans at least a factor 10 across parameters "
      "(AdamW: a factor 1)",
      1.0 / spread, 0.1, f"1 / (90th / 10th percentile of effective decay) = 1/{spread:.3g}"))

  rows, test_error = [], {}
  for label in ("Adam", "Adam + L2", "AdamW"):
    norm, kernels, train_loss, test_error[label] = (float(v) for v in evaluate(fits[label][0]))
    d = decay.get(label)
    dec = ("—" if d is None else
           f"{np.nanmedian(d) / alpha:.3g} [{np.nanpercentile(d, 10) / alpha:.3g}, "
           f"{np.nanpercentile(d, 90) / alpha:.3g}]")
    rows.append([label, f"{norm:.3f}", f"{kernels:.3f}", f"{train_loss:.4f}",
                 f"{100 * test_error[label]:.2f}", dec])
  tables = [workbench.Table(
      f"A {64}-{hidden}-10 MLP on digits ({n_train} train, {len(y_te)} test), {steps} Adam "
      f"steps of batch {batch_size} at η = {lr:g}, α = {alpha:g} (no decay for plain Adam). "
      "Effective decay relative to α: median [10th, 90th percentile] over parameters",
      ["optimizer", "‖params‖", "‖kernels‖", "train loss", "test error (%)",
       "effective decay / α"], rows)]

  data.update(effective_decay_adam_l2=d_l2, effective_decay_adamw=d_w,
              predicted_decay_adam_l2=predicted, grad_second_moment=g2[ok],
              grad_second_moment_adamw=g2_w[ok],
              spearman=rho, spread=spread,
              norms={k: np.asarray(fits[k][2]) for k in ("Adam", "Adam + L2", "AdamW")},
              test_error=test_error)

  figures = [_figure(fig_dir, data, alpha, lr)]

  summary = (
      "**SGD.** Adding the gradient αw of (α/2)‖w‖² to the loss gradient gives "
      "w ← w − η(∇loss + αw) = (1 − ηα)w − η∇loss: every step first shrinks the weights "
      "by the factor (1 − ηα), then takes the plain gradient step. That is why L2 is "
      "called weight decay. Putting the penalty gradient before `optax.sgd` (coupled) or "
      "after SGD's identity preconditioner and before `scale_by_learning_rate` "
      "(decoupled) is the same update; the trajectories coincide with each other and "
      "with the explicit formula.\n\n"
      "**Adam.** Here the two placements differ. Coupled (\"Adam + L2\", "
      "`chain(add_penalty_gradient(L2(α)), adam(η))`) sends αw through Adam's "
      "normalisation, so parameter i is decayed at about α/(√v̂ᵢ + ε) per unit of "
      "learning rate, where v̂ᵢ is Adam's running mean of its squared gradient: "
      "parameters with large gradients are hardly decayed, parameters with small "
      "gradients are decayed hard. Decoupled (AdamW, "
      "`chain(scale_by_adam(), add_penalty_gradient(L2(α)), scale_by_learning_rate(η))`, "
      "checked equal to `optax.adamw`) decays every parameter at exactly α. The "
      "effective decay is measured by switching the penalty off for one step from the "
      "trained state and dividing the change in the update by ηw (and, for Adam + L2, "
      "by the (1 − β1) share that one step's gradient has in Adam's momentum).\n\n"
      f"At α = {alpha:g} the effective decay under Adam + L2 spans a factor "
      f"{spread:.3g} between its 10th and 90th percentile, and its rank correlation "
      f"with the gradient's second moment is {rho:.3f}. Because √v̂ is far below 1 for "
      f"most parameters, the same α decays most weights much harder under Adam + L2 "
      f"(median {np.median(d_l2) / alpha:.3g}× α) than under AdamW, whose decay per "
      f"step, ηα = {lr * alpha:.2g}, is gentle and uniform. The left figure plots each "
      "parameter's effective decay against its root-mean-square gradient: the Adam + L2 "
      "cloud falls along the line α/RMS, AdamW's is a flat line at α. The right figure "
      "shows the parameter norm during training for plain Adam, Adam + L2 and AdamW; "
      "the table gives final norms and test errors."
  )
  return workbench.Result(name=NAME, title="Weight decay: coupled L2 vs decoupled (SGD, Adam, AdamW)",
                          summary=summary, verdicts=verdicts, tables=tables,
                          figures=figures, data=data)


def _figure(fig_dir, data, alpha, lr):
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
  rms = np.sqrt(data["grad_second_moment"])
  ax = axes[0]
  ax.loglog(rms, data["effective_decay_adam_l2"], ".", ms=2, alpha=0.4, color="tab:red",
            label="Adam + L2 (measured)")
  ax.loglog(np.sqrt(data["grad_second_moment_adamw"]), data["effective_decay_adamw"], ".",
            ms=2, alpha=0.4, color="tab:blue", label="AdamW (measured)")
  grid = np.logspace(np.log10(max(rms.min(), 1e-12)), np.log10(rms.max()), 50)
  ax.loglog(grid, alpha / grid, "k--", lw=0.8, label="α / RMS gradient")
  ax.set_xlabel("RMS minibatch gradient of the parameter")
  ax.set_ylabel("effective decay rate (per unit η)")
  ax.set_title(f"Adam + L2 decays large-gradient parameters less (α = {alpha:g})")
  ax.legend(fontsize=8, markerscale=4)
  ax = axes[1]
  for label, color in (("Adam", "0.4"), ("Adam + L2", "tab:red"), ("AdamW", "tab:blue")):
    ax.plot(data["norms"][label], color=color,
            label=f"{label} (test error {100 * data['test_error'][label]:.1f}%)")
  ax.set_xlabel("step")
  ax.set_ylabel("‖params‖")
  ax.set_title(f"Parameter norm during training (η = {lr:g})")
  ax.legend(fontsize=8)
  return workbench.save_figure(fig, fig_dir, "weight_decay")
