r"""Rescaling symmetry of ReLU networks, and how L2 breaks it.

ReLU is positively homogeneous, relu(c·z) = c·relu(z) for c > 0. Multiply the
incoming kernel column k_in,j and the bias b_j of a hidden unit j by c and
divide its outgoing kernel row k_out,j by c: the unit's contribution
k_out,j/c · relu(c·(k_in,jᵀx + b_j)) is unchanged, so the network computes
the same function and the data loss cannot tell the two weight settings
apart. The L2 penalty on the kernels can:

.. math::  \tfrac{\alpha}{2}\big(c^2\|k_{in,j}\|^2 + \|k_{out,j}\|^2/c^2\big)
           \text{ is minimised at } c^2 = \|k_{out,j}\|/\|k_{in,j}\|,

with value α‖k_in,j‖‖k_out,j‖. So at a minimiser of loss + L2 nothing can be
gained by rescaling, i.e. every hidden unit is **balanced**:
‖k_in,j‖ = ‖k_out,j‖. The balance is between kernels only when, as usual
(``jr.masks.weights_only``), biases are not penalized: the rescaling also
multiplies b_j by c, but an unpenalized b_j costs nothing. With the bias
penalized too the balance reads ‖(k_in,j, b_j)‖ = ‖k_out,j‖.

The same fact as a derivative: along the rescaling direction
v_j = (k_in,j, b_j, −k_out,j) the loss is flat, ⟨∇loss, v_j⟩ = 0 (Euler's
identity for homogeneous functions), so the objective's slope there is the
penalty's, ⟨∇(loss + pen), v_j⟩ = α(‖k_in,j‖² − ‖k_out,j‖²), zero only at
balance.

References:
  Neyshabur, Salakhutdinov & Srebro (2015), "Path-SGD: path-normalized
  optimization in deep neural networks" (rescaling invariance).
  Du, Hu & Lee (2018), "Algorithmic regularization in learning deep
  homogeneous models: layers are automatically balanced".
"""

from __future__ import annotations

import time
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxreg as jr
from research import workbench

NAME = "symmetry"

DEFAULTS = dict(
    n_samples=128,
    n_inputs=4,
    hidden=(16, 16),
    noise=0.1,
    alpha=2e-2,
    steps=4000,
    lr=1e-2,
    rescale_range=(0.1, 10.0),
    balance_tol=1e-2,
    prune_tol=1e-2,
)

FULL = dict(steps=10000)


class MLP(nn.Module):
  """A ReLU multilayer perceptron with a scalar output, float64 parameters.

  Biases start non-zero so that checks at initialisation also exercise the
  bias's part in the rescaling.
  """

  hidden: Sequence[int]

  @nn.compact
  def __call__(self, x):
    dense = lambda h: nn.Dense(h, param_dtype=jnp.float64,
                               bias_init=nn.initializers.normal(0.1))
    for h in self.hidden:
      x = nn.relu(dense(h)(x))
    return dense(1)(x)[..., 0]


def _layers(params):
  p = params["params"]
  return [p[f"Dense_{i}"] for i in range(len(p))]


def rescale(params, cs):
  """Rescales hidden units: incoming kernel column and bias ×c, outgoing row ÷c.

  Args:
    params: flax params of an ``MLP`` (``{"params": {"Dense_i": ...}}``).
    cs: one positive array per hidden layer, of that layer's width.

  Returns:
    The rescaled params; the network computes the same function.
  """
  layers = [dict(l) for l in _layers(params)]
  for i, c in enumerate(cs):
    layers[i]["kernel"] = layers[i]["kernel"] * c[None, :]
    layers[i]["bias"] = layers[i]["bias"] * c
    layers[i + 1]["kernel"] = layers[i + 1]["kernel"] / c[:, None]
  return {"params": {f"Dense_{i}": l for i, l in enumerate(layers)}}


def unit_norms(params, with_bias=False):
  """Per hidden unit: (‖incoming kernel column‖, ‖outgoing kernel row‖).

  Args:
    params: flax params of an ``MLP``.
    with_bias: include the unit's bias in the incoming norm.

  Returns:
    Two 1-D arrays over all hidden units, layer after layer.
  """
  layers = _layers(params)
  ins, outs = [], []
  for i in range(len(layers) - 1):
    sq = jnp.sum(layers[i]["kernel"] ** 2, axis=0)
    if with_bias:
      sq = sq + layers[i]["bias"] ** 2
    ins.append(jnp.sqrt(sq))
    outs.append(jnp.linalg.norm(layers[i + 1]["kernel"], axis=1))
  return jnp.concatenate(ins), jnp.concatenate(outs)


def rescaling_directions(params):
  """The tangent v_j = d/dc rescale(params, c_j)|_{c=1} for every hidden unit.

  Returns:
    A pytree like ``params`` with a leading axis over hidden units.
  """
  layers = _layers(params)
  vs = []
  for i in range(len(layers) - 1):
    for j in range(layers[i]["kernel"].shape[1]):
      v = jax.tree_util.tree_map(jnp.zeros_like, params)
      v["params"][f"Dense_{i}"]["kernel"] = v["params"][f"Dense_{i}"]["kernel"].at[:, j].set(
          layers[i]["kernel"][:, j])
      v["params"][f"Dense_{i}"]["bias"] = v["params"][f"Dense_{i}"]["bias"].at[j].set(
          layers[i]["bias"][j])
      v["params"][f"Dense_{i + 1}"]["kernel"] = v["params"][f"Dense_{i + 1}"]["kernel"].at[
          j, :].set(-layers[i + 1]["kernel"][j, :])
      vs.append(v)
  return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *vs)


def _tree_dot(a, b):
  return sum(jnp.vdot(x, y) for x, y in zip(jax.tree_util.tree_leaves(a),
                                             jax.tree_util.tree_leaves(b)))


def make_data(key, n, d, noise):
  """A smooth nonlinear regression target on Gaussian inputs."""
  k1, k2 = jax.random.split(key)
  X = jax.random.normal(k1, (n, d))
  y = jnp.sin(X[:, 0]) + X[:, 1] * X[:, 2 % d] - 0.5 * jnp.abs(X[:, 3 % d])
  return X, y + noise * jax.random.normal(k2, (n,))


def train(model, params, X, y, penalty, steps, lr):
  """Full-batch Adam on loss (+ penalty gradient), with a cosine-decayed step.

  The penalty enters as ``optax.chain(jr.add_penalty_gradient(penalty),
  optax.adam(schedule))``: coupled L2, the usual "Adam + L2". The step decays
  to 0 so the iterate settles instead of hovering.

  Args:
    model: the flax module.
    params: initial params.
    X, y: the training data.
    penalty: a jaxreg penalty, or None for the loss alone.
    steps, lr: number of steps and Adam's initial step.

  Returns:
    The trained params.
  """

  def loss(p):
    r = model.apply(p, X) - y
    return 0.5 * jnp.mean(r * r)

  tx = optax.adam(optax.cosine_decay_schedule(lr, steps))
  if penalty is not None:
    tx = optax.chain(jr.add_penalty_gradient(penalty), tx)
  return workbench.minimise(loss, params, tx, steps)


def _plot(log_init, log_no, log_l2, tol, out):
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  fig, ax = plt.subplots(figsize=(7, 4))
  lo = min(log_init.min(), log_no.min(), log_l2.min())
  hi = max(log_init.max(), log_no.max(), log_l2.max())
  bins = np.linspace(lo - 0.05, hi + 0.05, 50)
  ax.hist(log_init, bins, alpha=0.4, label="at initialisation")
  ax.hist(log_no, bins, alpha=0.6, label="trained without L2")
  ax.hist(log_l2, bins, alpha=0.8, label="trained with L2 (kernels)")
  ax.axvspan(-tol, tol, color="k", alpha=0.15, label=f"|log ratio| ≤ {tol:g}")
  ax.set_xlabel("log(‖incoming kernel‖ / ‖outgoing kernel‖) per hidden unit")
  ax.set_ylabel("hidden units")
  ax.set_title("L2 balances every hidden unit; the loss alone does not")
  ax.legend(fontsize=8)
  return workbench.save_figure(fig, out, "symmetry_balance")


def run(*, seed: int = 0, out_dir=None, full: bool = False, **config) -> workbench.Result:
  """Shows rescaling invariance of a ReLU MLP and the balance L2 imposes.

  Args:
    seed: PRNG seed for the data, the initial weights and the rescalings.
    out_dir: where the figure goes (a temporary folder when None).
    full: longer training (``FULL``).
    **config: overrides of ``DEFAULTS`` (``hidden``, ``alpha``, ``steps``,
      ``balance_tol`` …).

  Returns:
    A ``workbench.Result`` with verdicts on output invariance, the penalty's
    change under rescaling (closed form), the flatness of the loss along
    rescaling directions, and per-unit balance after training with L2; the
    spread of the balance without L2 is a measurement.
  """
  cfg = workbench.settings(NAME, DEFAULTS, FULL, full, config)
  out = workbench.figure_dir(out_dir)
  t0 = time.perf_counter()
  verdicts, tables, data = [], [], {}
  alpha = cfg["alpha"]

  with jax.enable_x64(True):
    key = jax.random.PRNGKey(seed)
    k_data, k_init, k_c = jax.random.split(key, 3)
    X, y = make_data(k_data, cfg["n_samples"], cfg["n_inputs"], cfg["noise"])
    model = MLP(tuple(cfg["hidden"]))
    params0 = model.init(k_init, X)
    pen = jr.L2(alpha, mask=jr.masks.weights_only)

    # 1. Invariance of the function under random per-unit rescalings.
    lo, hi = np.log(cfg["rescale_range"][0]), np.log(cfg["rescale_range"][1])
    cs = [jnp.exp(jax.random.uniform(k, (h,), minval=lo, maxval=hi))
          for k, h in zip(jax.random.split(k_c, len(cfg["hidden"])), cfg["hidden"])]
    params_c = rescale(params0, cs)
    f0, fc = model.apply(params0, X), model.apply(params_c, X)
    out_err = float(jnp.max(jnp.abs(fc - f0)) / jnp.max(jnp.abs(f0)))
    verdicts.append(workbench.check(
        "A ReLU MLP's output is unchanged when a hidden unit's incoming weights and bias are "
        "multiplied by c > 0 and its outgoing weights divided by c",
        out_err, 1e-12,
        f"max |f_rescaled − f| / max |f| over {X.shape[0]} inputs, float64, "
        f"c log-uniform in [{cfg['rescale_range'][0]:g}, {cfg['rescale_range'][1]:g}] per unit"))

    # 2. The penalty sees the rescaling, by exactly the closed-form amount.
    # One layer at a time: a middle kernel is scaled by both its layers' c.
    cs_first = [cs[0]] + [jnp.ones(h) for h in cfg["hidden"][1:]]
    params_c = rescale(params0, cs_first)
    k_in, k_out = unit_norms(params0)
    c_all = jnp.concatenate(cs_first)
    predicted = 0.5 * alpha * jnp.sum((c_all ** 2 - 1) * k_in ** 2 + (c_all ** -2 - 1) * k_out ** 2)
    measured = pen(params_c) - pen(params0)
    pen_err = float(jnp.abs(measured - predicted) / jnp.abs(predicted))
    verdicts.append(workbench.check(
        "The L2 penalty changes under rescaling by (α/2)Σⱼ((cⱼ²−1)‖k_in,j‖² + (cⱼ⁻²−1)‖k_out,j‖²)",
        pen_err, 1e-10,
        "relative error of the measured change of L2(α, weights_only), first hidden layer rescaled"))
    data.update(output_rel_change=out_err, penalty_change=float(measured),
                penalty_change_predicted=float(predicted))

    # 3. The loss is flat along every rescaling direction; the penalty is not.
    def loss(p):
      r = model.apply(p, X) - y
      return 0.5 * jnp.mean(r * r)

    vs = rescaling_directions(params0)
    g_loss = jax.grad(loss)(params0)
    g_pen = pen.grad(params0)
    slope_loss = jax.vmap(lambda v: _tree_dot(g_loss, v))(vs)
    slope_pen = jax.vmap(lambda v: _tree_dot(g_pen, v))(vs)
    scale = jax.vmap(lambda v: optax.tree.norm(v))(vs) * optax.tree.norm(g_loss)
    flat_err = float(jnp.max(jnp.abs(slope_loss) / scale))
    slope_err = float(jnp.max(jnp.abs(slope_pen - alpha * (k_in ** 2 - k_out ** 2))
                              / (alpha * (k_in ** 2 + k_out ** 2))))
    verdicts.append(workbench.check(
        "The loss gradient is orthogonal to every rescaling direction v_j = (k_in,j, b_j, −k_out,j)",
        flat_err, 1e-12, "max |⟨∇loss, v_j⟩| / (‖∇loss‖‖v_j‖) at initialisation"))
    verdicts.append(workbench.check(
        "Along v_j the penalty's slope is α(‖k_in,j‖² − ‖k_out,j‖²), zero only at balance",
        slope_err, 1e-12, "max relative error of ⟨∇pen, v_j⟩ at initialisation"))

    # 4. Train with and without L2 from the same start; measure the balance.
    fit = jax.jit(lambda p, pn: train(model, p, X, y, pn, cfg["steps"], cfg["lr"]))
    p_l2 = fit(params0, pen)
    p_no = jax.jit(lambda p: train(model, p, X, y, None, cfg["steps"], cfg["lr"]))(params0)

    def log_ratios(p, with_bias=False):
      a, b = np.asarray(unit_norms(p, with_bias))
      # A unit L2 has set exactly to zero has no ratio (0/0): NaN, and excluded.
      with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(a * b > 0, np.log(a / b), np.nan), a * b

    def active(p):
      # A unit that is off on every training input has no loss gradient at all.
      L = _layers(p)
      h, on = X, []
      for layer in L[:-1]:
        z = h @ layer["kernel"] + layer["bias"]
        on.append(jnp.any(z > 0, axis=0))
        h = nn.relu(z)
      return np.asarray(jnp.concatenate(on))

    log_init, _ = log_ratios(params0)
    log_l2, size_l2 = log_ratios(p_l2)
    log_l2_bias, _ = log_ratios(p_l2, with_bias=True)
    log_no, _ = log_ratios(p_no)
    live = active(p_l2) & (size_l2 >= cfg["prune_tol"] * np.max(size_l2)) & np.isfinite(log_l2)
    n_out = int(np.sum(~live))
    max_l2 = float(np.max(np.abs(log_l2[live])))
    slope = alpha * np.abs(np.asarray(jnp.diff(jnp.stack(unit_norms(p_l2)) ** 2, axis=0)))[0]
    verdicts.append(workbench.check(
        "After training with L2 on the kernels every hidden unit is balanced: "
        "‖incoming kernel‖ = ‖outgoing kernel‖",
        max_l2, cfg["balance_tol"],
        f"max |log(‖k_in,j‖/‖k_out,j‖)| over {int(live.sum())} live units ({n_out} dead or "
        f"being pruned, ‖k_in‖‖k_out‖ < {cfg['prune_tol']:g}·max, excluded); "
        f"largest slope along v_j, α|‖k_in‖² − ‖k_out‖²| = {float(slope[live].max()):.1e}"))

    def mse(p):
      r = model.apply(p, X) - y
      return float(jnp.mean(r * r))

    def row(name, p, lr_, mask):
      v = lr_[mask]
      return [name, f"{mse(p):.4f}", f"{v.mean():+.2e}", f"{v.std():.2e}",
              f"{np.abs(v).max():.2e}", int(mask.sum())]

    every = np.ones_like(live)
    nonzero = np.isfinite(log_l2)
    tables.append(workbench.Table(
        "Per-unit balance log(‖k_in,j‖/‖k_out,j‖) (kernels only; biases unpenalized)",
        ["training", "train MSE", "mean", "std", "max |·|", "units"],
        [row("initialisation", params0, log_init, every),
         row("no penalty", p_no, log_no, every),
         row(f"L2(α={alpha:g}) on kernels, live units", p_l2, log_l2, live),
         row("same, all units with non-zero norms", p_l2, log_l2, nonzero),
         row("same, live units, bias counted as incoming", p_l2, log_l2_bias, live)]))
    data.update(log_ratio_init=log_init, log_ratio_no_l2=log_no, log_ratio_l2=log_l2,
                log_ratio_l2_with_bias=log_l2_bias, live_l2=live, unit_size_l2=size_l2,
                max_abs_log_ratio_l2=max_l2, std_log_ratio_no_l2=float(log_no.std()),
                n_excluded_l2=n_out, mse_l2=mse(p_l2), mse_no_l2=mse(p_no))
    figures = [_plot(log_init, log_no, log_l2[live], cfg["balance_tol"], out)]

  data["runtime_s"] = time.perf_counter() - t0
  summary = f"""\
**Invariance.** For a ReLU unit, relu(c·z) = c·relu(z) when c > 0. Multiplying hidden unit j's
incoming kernel column and bias by cⱼ and dividing its outgoing kernel row by cⱼ therefore
leaves the network's output unchanged: with a random cⱼ ∈ [{cfg['rescale_range'][0]:g},
{cfg['rescale_range'][1]:g}] for every unit of an MLP with hidden widths {tuple(cfg['hidden'])}, the
output moved by {out_err:.1e} relative (float64 rounding). The loss cannot distinguish the two
weight settings; equivalently its gradient is orthogonal to each rescaling direction
v_j = (k_in,j, b_j, −k_out,j) (checked to {flat_err:.0e}).

**L2 is not invariant.** The penalty (α/2)Σ‖kernel‖² changes by
(α/2)Σⱼ((cⱼ²−1)‖k_in,j‖² + (cⱼ⁻²−1)‖k_out,j‖²) (checked to {pen_err:.0e} relative). For one
unit, (α/2)(c²‖k_in‖² + ‖k_out‖²/c²) is minimised at c² = ‖k_out‖/‖k_in‖, with value
α‖k_in‖‖k_out‖; its slope along v_j is α(‖k_in,j‖² − ‖k_out,j‖²). So at a minimiser of
loss + L2 no rescaling helps, i.e. **every unit is balanced, ‖k_in,j‖ = ‖k_out,j‖**. This needs
only the objective to be differentiable along v_j, which it is even where a ReLU hinge sits
exactly on a training point (rescaling keeps every pre-activation's sign), so it holds at the
kinked minima that regularized ReLU networks typically have. The biases are not penalized
here (``jr.masks.weights_only``): the rescaling multiplies b_j by c as well, but an unpenalized
bias is free, so the balance is between the incoming kernel column and the outgoing kernel
row; counting the bias as incoming gives a visibly non-zero ratio (table, last row).

**Measured.** Trained full batch for {cfg['steps']} steps (Adam, cosine-decayed step, with
``jr.add_penalty_gradient(jr.L2(α, mask=jr.masks.weights_only))`` first in the chain),
α = {alpha:g}, the largest |log(‖k_in,j‖/‖k_out,j‖)| over the live units is {max_l2:.1e}
(tolerance {cfg['balance_tol']:g}). {n_out} units are excluded: dead ones (off on every training
input; L2 sends both norms to 0, so their ratio is 0/0 at the optimum) and ones being pruned
(‖k_in‖‖k_out‖ below {cfg['prune_tol']:g} of the largest; their rescaling direction has
curvature ∝ α‖k‖², so they balance slowest). Trained without the penalty, the log ratios keep
a spread of std {float(log_no.std()):.2f} (max |·| {float(np.abs(log_no).max()):.2f}), close to the
initial one: the loss alone has no preferred scale for a unit. The figure is the histogram of
the per-unit log ratios: a spike at 0 with L2, a wide spread without it and at initialisation.
"""
  return workbench.Result(
      name=NAME, title="Rescaling symmetry: ReLU invariance and L2 balance", summary=summary,
      verdicts=verdicts, tables=tables, figures=figures, data=data)
