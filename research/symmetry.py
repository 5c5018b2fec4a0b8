r"""Rescaling symmetry of ReLU networks, how L2 breaks it, and what it means for noise.

ReLU is positively homogeneous, relu(c·z) = c·relu(z) for c > 0. Multiply the
incoming kernel column k_in,j and the bias b_j of a hidden unit j by c and
divide its outgoing kernel row k_out,j by c: the unit's contribution
k_out,j/c · relu(c·(k_in,jᵀx + b_j)) is unchanged, so the network computes
the same function and the data loss cannot tell the two weight settings
apart. Along the rescaling direction v_j = (k_in,j, b_j, −k_out,j) the loss
is flat, ⟨∇loss, v_j⟩ = 0 (Euler's identity for homogeneous functions). The
L2 penalty on the kernels is not flat there:

.. math::  \tfrac{\alpha}{2}\big(c^2\|k_{in,j}\|^2 + \|k_{out,j}\|^2/c^2\big)
           \text{ is minimised at } c^2 = \|k_{out,j}\|/\|k_{in,j}\|,

and ⟨∇(loss + pen), v_j⟩ = α(‖k_in,j‖² − ‖k_out,j‖²). So at a stationary
point of loss + L2 every hidden unit is **balanced**: ‖k_in,j‖ = ‖k_out,j‖
(biases unpenalized, ``jr.masks.weights_only``; with the bias penalized too
the balance reads ‖(k_in,j, b_j)‖ = ‖k_out,j‖).

The same symmetry answers the common argument for L2 that "large weights
amplify input noise": rescaling changes ‖w‖² by any factor while the function,
and therefore its response to noise on the inputs, stays exactly the same. So
the weight norm alone does not determine noise amplification; what L2 selects
among equivalent networks is the balanced one, of smallest norm.

References:
  Neyshabur, Salakhutdinov & Srebro (2015), "Path-SGD: path-normalized
  optimization in deep neural networks" (rescaling invariance).
  Du, Hu & Lee (2018), "Algorithmic regularization in learning deep
  homogeneous models: layers are automatically balanced".
  Dinh, Pascanu, Bengio & Bengio (2017), "Sharp minima can generalize for
  deep nets" (reparametrisations that change norms but not the function).
"""

from __future__ import annotations

import functools
import time
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from scipy import optimize, stats

import jaxreg as jr
from research import workbench

NAME = "symmetry"

DEFAULTS = dict(
    n_samples=128,
    n_inputs=4,
    hidden=(16, 16),
    noise=0.1,
    alpha=5e-2,
    lr=1e-2,
    window=250,
    n_windows=16,
    lr_decay=0.8,
    rescale_range=(0.1, 10.0),
    noise_scale=10.0,
    input_noise=0.1,
    noise_draws=64,
    false_alarm=1e-4,
)

FULL = dict(n_windows=24, noise_draws=256)

TEST_SETTINGS = dict(n_samples=64, hidden=(8, 8), window=200, n_windows=12, noise_draws=32)

PLANTS = (
    workbench.Plant(
        "inverse_not_applied",
        "The incoming weights scaled by c without dividing the outgoing weights by c (and the "
        "rescaling direction taken as (k_in, b, 0)).",
        fails=("relu_output_invariant", "loss_flat_along_rescaling",
               "noise_amplification_invariant")),
    workbench.Plant(
        "bias_not_rescaled",
        "The rescaling applied to the kernels only, the unit's bias left as it was (and the "
        "rescaling direction taken as (k_in, 0, −k_out)).",
        fails=("relu_output_invariant", "loss_flat_along_rescaling")),
    workbench.Plant(
        "tanh_network",
        "The same experiment on a tanh network, where tanh(c·z) ≠ c·tanh(z) and rescaling is "
        "not a symmetry (nor does L2 balance its units).",
        fails=("relu_output_invariant", "loss_flat_along_rescaling", "l2_balances_units",
               "noise_amplification_invariant")),
    workbench.Plant(
        "bias_penalized",
        "Trained with jr.L2(α) on every parameter (the weights_only mask dropped), while the "
        "balance is judged between kernels.",
        fails=("l2_balances_units",)),
    workbench.Plant(
        "penalty_not_applied",
        "Trained without jr.add_penalty_gradient in the chain (the penalty only logged), while the "
        "balance is judged for loss + L2.",
        fails=("l2_balances_units",)),
)


class MLP(nn.Module):
  """A multilayer perceptron with a scalar output, float64 parameters.

  Biases start non-zero so that checks at initialisation also exercise the
  bias's part in the rescaling.
  """

  hidden: Sequence[int]
  activation: str = "relu"

  @nn.compact
  def __call__(self, x):
    act = nn.relu if self.activation == "relu" else jnp.tanh
    dense = lambda h: nn.Dense(h, param_dtype=jnp.float64,
                               bias_init=nn.initializers.normal(0.1))
    for h in self.hidden:
      x = act(dense(h)(x))
    return dense(1)(x)[..., 0]


def _layers(params):
  p = params["params"]
  return [p[f"Dense_{i}"] for i in range(len(p))]


def rescale(params, cs, bias=True, inverse=True):
  """Rescales hidden units: incoming kernel column and bias ×c, outgoing row ÷c.

  Args:
    params: flax params of an ``MLP`` (``{"params": {"Dense_i": ...}}``).
    cs: one positive array per hidden layer, of that layer's width.
    bias: scale the bias too (False: not a symmetry).
    inverse: divide the outgoing row by c (False: not a symmetry).

  Returns:
    The rescaled params; with ``bias`` and ``inverse`` a ReLU network
    computes the same function.
  """
  layers = [dict(l) for l in _layers(params)]
  for i, c in enumerate(cs):
    layers[i]["kernel"] = layers[i]["kernel"] * c[None, :]
    if bias:
      layers[i]["bias"] = layers[i]["bias"] * c
    if inverse:
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


def unit_block_sq(tree):
  """Per hidden unit j, the squared norm of its block (k_in,j, b_j, k_out,j).

  The rescaling direction v_j lives in that block, so a gradient restricted
  to it bounds the slope along v_j. ``tree`` is params-shaped (params or a
  gradient).
  """
  layers = _layers(tree)
  out = []
  for i in range(len(layers) - 1):
    out.append(jnp.sum(layers[i]["kernel"] ** 2, axis=0) + layers[i]["bias"] ** 2
               + jnp.sum(layers[i + 1]["kernel"] ** 2, axis=1))
  return jnp.concatenate(out)


def rescaling_directions(params, bias=True, inverse=True):
  """The tangent v_j = d/dc rescale(params, c_j)|_{c=1} for every hidden unit.

  Args:
    params: flax params of an ``MLP``.
    bias, inverse: as in ``rescale``.

  Returns:
    A pytree like ``params`` with a leading axis over hidden units (layer
    after layer).
  """
  layers = _layers(params)
  widths = [l["kernel"].shape[1] for l in layers[:-1]]
  n_units, offset = sum(widths), 0
  vs = [{k: jnp.zeros((n_units,) + v.shape, v.dtype) for k, v in l.items()} for l in layers]
  for i, h in enumerate(widths):
    # onehot[u, j] = 1 when unit u is unit j of hidden layer i.
    onehot = jnp.eye(n_units, h, -offset, dtype=layers[i]["kernel"].dtype)
    vs[i]["kernel"] = vs[i]["kernel"] + onehot[:, None, :] * layers[i]["kernel"][None]
    if bias:
      vs[i]["bias"] = vs[i]["bias"] + onehot * layers[i]["bias"][None]
    if inverse:
      vs[i + 1]["kernel"] = vs[i + 1]["kernel"] - onehot[:, :, None] * layers[i + 1]["kernel"][None]
    offset += h
  return {"params": {f"Dense_{i}": v for i, v in enumerate(vs)}}


def init_params(rng, n_inputs, hidden):
  """LeCun-normal kernels and N(0, 0.1²) biases in NumPy, laid out like ``MLP.init``.

  Drawn in NumPy: a float64 ``MLP.init`` compiles for seconds.
  """
  sizes = [n_inputs] + list(hidden) + [1]
  return {"params": {f"Dense_{i}": {
      "kernel": jnp.asarray(rng.normal(0, 1 / np.sqrt(a), (a, b))),
      "bias": jnp.asarray(rng.normal(0, 0.1, b))}
      for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))}}


def _tree_dot(a, b):
  return sum(jnp.vdot(x, y) for x, y in zip(jax.tree_util.tree_leaves(a),
                                             jax.tree_util.tree_leaves(b)))


def _sq_norm(p):
  return sum(float(np.sum(np.asarray(l["kernel"]) ** 2)) for l in _layers(p))


def _np_unit_norms(p, with_bias=False):
  """``unit_norms`` in NumPy (eager JAX ops would each compile)."""
  layers = [{k: np.asarray(v) for k, v in l.items()} for l in _layers(p)]
  ins, outs = [], []
  for i in range(len(layers) - 1):
    sq = np.sum(layers[i]["kernel"] ** 2, axis=0)
    if with_bias:
      sq = sq + layers[i]["bias"] ** 2
    ins.append(np.sqrt(sq))
    outs.append(np.linalg.norm(layers[i + 1]["kernel"], axis=1))
  return np.concatenate(ins), np.concatenate(outs)


def make_data(rng, n, d, noise):
  """A smooth nonlinear regression target on Gaussian inputs (NumPy ``rng``)."""
  X = rng.normal(size=(n, d))
  y = np.sin(X[:, 0]) + X[:, 1] * X[:, 2 % d] - 0.5 * np.abs(X[:, 3 % d])
  return jnp.asarray(X), jnp.asarray(y + noise * rng.normal(size=n))


def train(model, params, X, y, penalty, alpha, *, lr, window, n_windows, decay):
  """Full-batch Adam on loss + penalty, then a stationarity certificate per unit.

  The penalty enters as ``optax.chain(jr.add_penalty_gradient(penalty),
  optax.scale_by_adam())``: coupled L2, the usual "Adam + L2". The step is
  ``lr·decay^k`` in window k, so the iterate settles instead of hovering.

  A ReLU network's objective has kinks (a hinge passing through a training
  point), where the iterates chatter and the gradient does not vanish at any
  single iterate; the gradient averaged over a window does. So over the last
  window the function records, per hidden unit j, the window mean of the
  balance residual α(‖k_in,j‖² − ‖k_out,j‖²) and a bound on it that follows
  from the gradient ``g_t`` of the objective being trained: by Euler's
  identity ⟨g_t, v_j(p_t)⟩ = α(‖k_in,j‖² − ‖k_out,j‖²) at every iterate, and
  v_j lives in unit j's block (k_in,j, b_j, k_out,j), so

  |mean_t α(‖k_in,j‖² − ‖k_out,j‖²)| ≤ ‖ḡ_j‖·‖v_j(p_T)‖ + mean_t ‖g_t,j‖·‖p_t,j − p_T,j‖,

  with ḡ_j the window-mean gradient restricted to the block and p_T the final
  iterate.

  Args:
    model: the flax module.
    params: initial params.
    X, y: the training data.
    penalty: the jaxreg penalty trained with (strength 0 for none).
    alpha: the α the balance residual is measured with.
    lr, window, n_windows, decay: Adam's initial step, the window length,
      the number of windows (the last one is the certificate's) and the
      step's decay per window.

  Returns:
    (final params, per-unit window-mean residual, per-unit bound, ‖ḡ‖ over
    all parameters).
  """

  def loss(p):
    r = model.apply(p, X) - y
    return 0.5 * jnp.mean(r * r)

  tx = optax.chain(jr.add_penalty_gradient(penalty), optax.scale_by_adam())

  def move(p, u, lr_):
    return jax.tree_util.tree_map(lambda x, d: x - lr_ * d, p, u)

  def step(carry, lr_):
    p, state = carry
    u, state = tx.update(jax.grad(loss)(p), state, p)
    return (move(p, u, lr_), state), None

  lrs = lr * decay ** jnp.repeat(jnp.arange(n_windows - 1), window)
  (p, state), _ = jax.lax.scan(step, (params, tx.init(params)), lrs)
  lr_last = lr * decay ** (n_windows - 1)

  def last(carry, _):
    p, state = carry
    g = jax.grad(loss)(p)
    u, state = tx.update(g, state, p)
    # The gradient the optimiser follows: loss plus the penalty's gradient.
    g = jax.tree_util.tree_map(jnp.add, g, penalty.grad(p))
    a, b = unit_norms(p)
    return (move(p, u, lr_last), state), (g, alpha * (a ** 2 - b ** 2), p)

  (p_T, _), (gs, resid, ps) = jax.lax.scan(last, (p, state), None, length=window)
  g_bar = jax.tree_util.tree_map(lambda x: x.mean(0), gs)
  g_norm = jax.vmap(lambda g: jnp.sqrt(unit_block_sq(g)))(gs)
  drift = jax.vmap(lambda q: jnp.sqrt(unit_block_sq(
      jax.tree_util.tree_map(jnp.subtract, q, p_T))))(ps)
  bound = (jnp.sqrt(unit_block_sq(g_bar)) * jnp.sqrt(unit_block_sq(p_T))
           + jnp.mean(g_norm * drift, axis=0))
  return p_T, resid.mean(0), bound, optax.tree.norm(g_bar)


# Compiled once per model and settings (the model, a flax Module, is hashable):
# repeated runs (seeds, planted errors, tests) reuse the programs.
_STATIC = ("model", "lr", "window", "n_windows", "decay")


@functools.partial(jax.jit, static_argnames=_STATIC)
def _train_one(model, params, X, y, penalty, alpha, *, lr, window, n_windows, decay):
  return train(model, params, X, y, penalty, alpha, lr=lr, window=window, n_windows=n_windows,
               decay=decay)


@functools.partial(jax.jit, static_argnames=_STATIC)
def _train_pair(model, params, X, y, penalties, alpha, *, lr, window, n_windows, decay):
  return jax.vmap(lambda pn: train(model, params, X, y, pn, alpha, lr=lr, window=window,
                                   n_windows=n_windows, decay=decay))(penalties)


@functools.partial(jax.jit, static_argnames=("model", "bias", "inverse"))
def _invariance(model, params, cs, X, y, *, bias, inverse):
  """(f, f after rescaling, max_j |⟨∇loss, v_j⟩| / (‖∇loss‖‖v_j‖))."""
  def loss(p):
    r = model.apply(p, X) - y
    return 0.5 * jnp.mean(r * r)

  vs = rescaling_directions(params, bias=bias, inverse=inverse)
  g_loss = jax.grad(loss)(params)
  slope = jax.vmap(lambda v: _tree_dot(g_loss, v))(vs)
  scale = jax.vmap(lambda v: optax.tree.norm(v))(vs) * optax.tree.norm(g_loss)
  return (model.apply(params, X), model.apply(rescale(params, cs, bias, inverse), X),
          jnp.max(jnp.abs(slope) / scale))


@functools.partial(jax.jit, static_argnames=("model",))
def _mse(model, params, X, y):
  r = model.apply(params, X) - y
  return jnp.mean(r * r)


@functools.partial(jax.jit, static_argnames=("model", "draws"))
def noise_amplification(model, params, X, key, sigma, draws):
  """Monte Carlo of the response to input noise, and its standard error.

  A = E‖f(x + σε) − f(x)‖² / σ² over the training inputs x and ε ~ N(0, I);
  for a smooth f and small σ it is the mean squared input gradient.

  Returns:
    (A, standard error) over the ``draws × n`` independent terms.
  """
  f0 = model.apply(params, X)
  eps = jax.random.normal(key, (draws,) + X.shape, X.dtype)
  d = (jax.vmap(lambda e: model.apply(params, X + sigma * e))(eps) - f0) ** 2 / sigma ** 2
  return jnp.mean(d), jnp.std(d, ddof=1) / jnp.sqrt(d.size)


def balanced_rescaling(params, hidden):
  """The rescaling of ``params`` with the smallest kernel norm (scipy oracle).

  Σ_l Σ_ij K_l,ij² c_l,j²/c_{l−1,i}² is a sum of exponentials of linear
  functions of t = log c, hence convex in t: L-BFGS-B finds its global
  minimum.

  Returns:
    (the cs per hidden layer, the rescaled params).
  """
  Ks = [np.asarray(l["kernel"]) ** 2 for l in _layers(params)]
  sizes = list(hidden)

  def split(t):
    out, i = [], 0
    for h in sizes:
      out.append(t[i:i + h])
      i += h
    return out

  def f(t):
    ts = [np.zeros(Ks[0].shape[0])] + split(t) + [np.zeros(1)]
    val, grad = 0.0, [np.zeros(h) for h in sizes]
    for l, K in enumerate(Ks):
      e = K * np.exp(2 * (ts[l + 1][None, :] - ts[l][:, None]))
      val += e.sum()
      if l < len(sizes):
        grad[l] += 2 * e.sum(0)
      if l >= 1:
        grad[l - 1] -= 2 * e.sum(1)
    return val, np.concatenate(grad)

  res = optimize.minimize(f, np.zeros(sum(sizes)), jac=True, method="L-BFGS-B",
                          options=dict(gtol=1e-12, ftol=1e-15, maxiter=2000))
  cs = [np.exp(t) for t in split(res.x)]
  np_params = jax.tree_util.tree_map(np.asarray, params)
  return cs, rescale(np_params, cs)


def _plot(log_init, log_no, log_l2, ratio, out):
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  fig, axes = plt.subplots(1, 2, figsize=(11, 4))
  ax = axes[0]
  fin = [v[np.isfinite(v)] for v in (log_init, log_no, log_l2)]
  lo = min(v.min() for v in fin if v.size)
  hi = max(v.max() for v in fin if v.size)
  bins = np.linspace(lo - 0.05, hi + 0.05, 50)
  ax.hist(fin[0], bins, alpha=0.4, label="at initialisation")
  ax.hist(fin[1], bins, alpha=0.6, label="trained without L2")
  ax.hist(fin[2], bins, alpha=0.8, label="trained with L2 (kernels)")
  ax.set_xlabel("log(‖incoming kernel‖ / ‖outgoing kernel‖) per hidden unit")
  ax.set_ylabel("hidden units")
  ax.set_title("Balance per unit")
  ax.legend(fontsize=8)
  ax = axes[1]
  r = np.where(np.isfinite(ratio), ratio, np.nan)
  ax.semilogy(np.arange(r.size), np.maximum(r, 1e-6), "o", ms=4)
  ax.axhline(1.0, c="k", lw=1, label="bound from the window-averaged gradient")
  ax.set_xlabel("hidden unit")
  ax.set_ylabel("|α(‖k_in‖² − ‖k_out‖²)| / bound")
  ax.set_title("L2-trained: balance residual against its bound")
  ax.legend(fontsize=8)
  return workbench.save_figure(fig, out, "symmetry_balance")


def run(*, seed: int = 0, out_dir=None, full: bool = False, plant=None,
        **config) -> workbench.Result:
  """Rescaling invariance of a ReLU MLP, the balance L2 imposes, and noise amplification.

  Args:
    seed: PRNG seed for the data, the initial weights, the rescalings and the
      input noise.
    out_dir: where the figure goes (a temporary folder when None).
    full: longer training and more noise draws (``FULL``).
    plant: one of ``PLANTS`` (None: no mistake planted).
    **config: overrides of ``DEFAULTS`` (``hidden``, ``alpha``, ``n_windows``,
      ``noise_draws`` …).

  Returns:
    A ``workbench.Result`` with verdicts on output invariance, the flatness
    of the loss along rescaling directions, per-unit balance after training
    with L2 (against a bound from the window-averaged gradient), and the
    invariance of noise amplification under a norm-changing rescaling.
  """
  plant = workbench.planted(NAME, PLANTS, plant)
  cfg = workbench.settings(NAME, DEFAULTS, FULL, full, config)
  out = workbench.figure_dir(out_dir)
  t0 = time.perf_counter()
  verdicts, tables, data = [], [], {}
  alpha = cfg["alpha"]
  hidden = tuple(cfg["hidden"])
  sym = dict(bias=plant != "bias_not_rescaled", inverse=plant != "inverse_not_applied")
  eps = float(np.finfo(np.float64).eps)

  with jax.enable_x64(True):
    rng = np.random.default_rng(seed)
    X, y = make_data(rng, cfg["n_samples"], cfg["n_inputs"], cfg["noise"])
    model = MLP(hidden, "tanh" if plant == "tanh_network" else "relu")
    params0 = init_params(rng, cfg["n_inputs"], hidden)
    k_noise = jax.random.PRNGKey(seed)
    # Strengths as float64 arrays: penalties of one structure and dtype share
    # one compiled training program.
    strength = lambda a: jnp.asarray(a, jnp.float64)
    pen = jr.L2(strength(alpha), mask=jr.masks.weights_only)
    fan_in = cfg["n_inputs"] + sum(hidden)
    n_params = sum(x.size for x in jax.tree_util.tree_leaves(params0))

    # 1. Invariance of the function under random per-unit rescalings.
    lo, hi = np.log(cfg["rescale_range"][0]), np.log(cfg["rescale_range"][1])
    cs = [np.exp(rng.uniform(lo, hi, h)) for h in hidden]
    f0, fc, flat_err = _invariance(model, params0, [jnp.asarray(c) for c in cs], X, y, **sym)
    flat_err = float(flat_err)
    out_err = float(jnp.max(jnp.abs(fc - f0)) / jnp.max(jnp.abs(f0)))
    spread = cfg["rescale_range"][1] / cfg["rescale_range"][0]
    out_tol = 2 * eps * fan_in * spread
    verdicts.append(workbench.verdict(
        "A ReLU MLP's output is unchanged when a hidden unit's incoming weights and bias are "
        "multiplied by c > 0 and its outgoing weights divided by c",
        key="relu_output_invariant",
        statistic=f"max |f_rescaled − f| / max |f| over {X.shape[0]} inputs",
        value=out_err, threshold=out_tol, measured=f"{out_err:.1e}", predicted="0",
        threshold_from=f"float64 rounding: 2ε × {fan_in} summed fan-ins × {spread:g} "
                       f"(ratio of the largest to the smallest c, the growth of "
                       f"intermediate magnitudes)",
        detail=f"c log-uniform in [{cfg['rescale_range'][0]:g}, {cfg['rescale_range'][1]:g}] "
               f"per unit, float64"))

    # 2. The loss is flat along every rescaling direction (Euler's identity);
    # measured above, in the same compiled program.
    flat_tol = eps * n_params
    verdicts.append(workbench.verdict(
        "The loss gradient is orthogonal to every rescaling direction "
        "v_j = (k_in,j, b_j, −k_out,j)",
        key="loss_flat_along_rescaling",
        statistic="max over units of |⟨∇loss, v_j⟩| / (‖∇loss‖‖v_j‖) at initialisation",
        value=flat_err, threshold=flat_tol, measured=f"{flat_err:.1e}", predicted="0",
        threshold_from=f"float64 rounding of a {n_params}-term inner product: ε × {n_params}"))

    # 3. Train with and without L2 from the same start; certify the balance.
    no_pen = jr.L2(strength(0.0), mask=jr.masks.weights_only)
    training_pen = {"bias_penalized": jr.L2(strength(alpha)),
                    "penalty_not_applied": no_pen}.get(plant, pen)
    opts = dict(lr=cfg["lr"], window=cfg["window"], n_windows=cfg["n_windows"],
                decay=cfg["lr_decay"])
    if plant == "bias_penalized":
      p_l2, resid, bound, g_bar = _train_one(model, params0, X, y, training_pen, alpha, **opts)
      p_no, _, _, g_bar_no = _train_one(model, params0, X, y, no_pen, alpha, **opts)
    else:
      # Both trainings in one program: the penalties differ only in strength.
      both = jax.tree_util.tree_map(lambda a, b: jnp.stack([a, b]), training_pen, no_pen)
      outs = _train_pair(model, params0, X, y, both, alpha, **opts)
      (p_l2, resid, bound, g_bar), (p_no, _, _, g_bar_no) = (
          jax.tree_util.tree_map(lambda x: x[i], outs) for i in range(2))
    resid, bound = np.asarray(resid), np.asarray(bound)
    a_l2, b_l2 = _np_unit_norms(p_l2)
    # Rounding of the Euler identity, per unit: the residual's own terms.
    bound = bound + 64 * eps * alpha * (a_l2 ** 2 + b_l2 ** 2)
    with np.errstate(divide="ignore", invalid="ignore"):
      ratio = np.where(bound > 0, np.abs(resid) / bound, np.where(resid == 0, 0.0, np.inf))
    worst = int(np.argmax(ratio))
    n_units = ratio.size
    dead = (a_l2 * b_l2) < 1e-6 * np.max(a_l2 * b_l2)
    verdicts.append(workbench.verdict(
        "After training with L2 on the kernels every hidden unit is balanced: "
        "‖incoming kernel‖ = ‖outgoing kernel‖ (up to the optimiser's distance from "
        "stationarity)",
        key="l2_balances_units",
        statistic=f"max over all {n_units} hidden units of |window mean of "
                  f"α(‖k_in,j‖² − ‖k_out,j‖²)| / its bound",
        value=float(np.max(ratio)), threshold=1.0,
        measured=f"{resid[worst]:+.1e} (unit {worst})",
        predicted=f"0, |·| ≤ {bound[worst]:.1e}",
        threshold_from="Euler's identity ⟨g, v_j⟩ = α(‖k_in,j‖² − ‖k_out,j‖²) and "
                       "Cauchy–Schwarz: bound = ‖ḡ_j‖‖v_j‖ + mean_t ‖g_t,j‖‖p_t,j − p_T,j‖ "
                       f"over the last {cfg['window']} Adam steps (ḡ_j: window-mean gradient "
                       "in unit j's block) + 64ε rounding",
        detail=f"window-mean gradient norm ‖ḡ‖ = {float(g_bar):.1e} over all parameters; "
               f"{int(dead.sum())} of {n_units} units dead or pruned (‖k_in‖‖k_out‖ < 1e-6 of "
               f"the largest), judged like the others"))

    def log_ratios(p, with_bias=False):
      a, b = _np_unit_norms(p, with_bias)
      with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(a * b > 0, np.log(a / b), np.nan)

    log_init, log_no = log_ratios(params0), log_ratios(p_no)
    log_l2, log_l2_bias = log_ratios(p_l2), log_ratios(p_l2, True)
    live = ~dead

    def mse(p):
      return float(_mse(model, p, X, y))

    def row(name, p, lr_, mask):
      v = lr_[mask & np.isfinite(lr_)]
      return [name, f"{mse(p):.4f}", f"{v.mean():+.2e}", f"{v.std():.2e}",
              f"{np.abs(v).max():.2e}", int(v.size)]

    every = np.ones(n_units, bool)
    tables.append(workbench.Table(
        "Per-unit balance log(‖k_in,j‖/‖k_out,j‖) (kernels only; biases unpenalized)",
        ["training", "train MSE", "mean", "std", "max |·|", "units"],
        [row("initialisation", params0, log_init, every),
         row("no penalty", p_no, log_no, every),
         row(f"L2(α={alpha:g}) on kernels, units not dead", p_l2, log_l2, live),
         row("same, all units with non-zero norms", p_l2, log_l2, every),
         row("same, units not dead, bias counted as incoming", p_l2, log_l2_bias, live)]))

    # 4. Noise amplification: unchanged by a rescaling that changes ‖w‖² a lot.
    big = cfg["noise_scale"]
    cs_big = [np.full((hidden[0],), big)] + [np.ones(h) for h in hidden[1:]]
    p_big = rescale(jax.tree_util.tree_map(np.asarray, p_no), cs_big, **sym)
    _, p_bal = balanced_rescaling(p_no, hidden)
    k1, k2, k3, k4 = jax.random.split(k_noise, 4)
    sigma, draws = cfg["input_noise"], cfg["noise_draws"]
    amp = {name: [float(x) for x in noise_amplification(model, p, X, k, sigma, draws)]
           for name, p, k in [("no", p_no, k1), ("big", p_big, k2), ("bal", p_bal, k3),
                              ("l2", p_l2, k4)]}
    norms = {name: _sq_norm(p) for name, p in [("no", p_no), ("big", p_big), ("bal", p_bal),
                                               ("l2", p_l2)]}
    z_amp = abs(amp["big"][0] - amp["no"][0]) / np.hypot(amp["big"][1], amp["no"][1])
    fa = cfg["false_alarm"]
    z_tol = float(stats.norm.ppf(1 - fa / 2))
    norm_factor = norms["big"] / norms["no"]
    verdicts.append(workbench.verdict(
        f"Rescaling a trained ReLU network so that ‖w‖² changes by a factor {norm_factor:.3g} "
        f"leaves its amplification of input noise unchanged: the weight norm alone does not "
        f"determine noise amplification",
        key="noise_amplification_invariant",
        statistic="|A_rescaled − A| / √(SE² + SE²), A = E(f(x + σε) − f(x))²/σ² by Monte Carlo "
                  "with independent noise draws",
        value=z_amp, threshold=z_tol,
        measured=f"{amp['big'][0]:.4f} ± {amp['big'][1]:.1e}",
        predicted=f"{amp['no'][0]:.4f} ± {amp['no'][1]:.1e}",
        threshold_from=f"normal quantile at two-sided false-alarm probability {fa:g}",
        detail=f"first hidden layer's units rescaled by c = {big:g}; σ = {sigma:g}, "
               f"{draws} draws × {X.shape[0]} inputs each"))
    tables.append(workbench.Table(
        f"Noise amplification A = E(f(x + σε) − f(x))²/σ² (σ = {sigma:g}, Monte Carlo ± SE) "
        f"against the squared kernel norm",
        ["network", "‖w‖² (kernels)", "A", "SE", "train MSE"],
        [["trained without L2", f"{norms['no']:.3f}", f"{amp['no'][0]:.4f}",
          f"{amp['no'][1]:.1e}", f"{mse(p_no):.4f}"],
         [f"same, first layer rescaled by c = {big:g}", f"{norms['big']:.3f}",
          f"{amp['big'][0]:.4f}", f"{amp['big'][1]:.1e}", f"{mse(p_big):.4f}"],
         ["same, balanced (smallest ‖w‖² over all rescalings)", f"{norms['bal']:.3f}",
          f"{amp['bal'][0]:.4f}", f"{amp['bal'][1]:.1e}", f"{mse(p_bal):.4f}"],
         [f"trained with L2(α={alpha:g})", f"{norms['l2']:.3f}", f"{amp['l2'][0]:.4f}",
          f"{amp['l2'][1]:.1e}", f"{mse(p_l2):.4f}"]]))

    data.update(output_rel_change=out_err, loss_slope_rel=flat_err, balance_residual=resid,
                balance_bound=bound, balance_ratio=ratio, grad_window_norm=float(g_bar),
                grad_window_norm_no_l2=float(g_bar_no), log_ratio_init=log_init,
                log_ratio_no_l2=log_no, log_ratio_l2=log_l2, log_ratio_l2_with_bias=log_l2_bias,
                dead_l2=dead, std_log_ratio_no_l2=float(np.nanstd(log_no)),
                noise_amplification=amp, sq_norms=norms, noise_z=z_amp,
                mse_l2=mse(p_l2), mse_no_l2=mse(p_no))
    mse_l2, mse_no = data["mse_l2"], data["mse_no_l2"]
    figures = [_plot(log_init, log_no, log_l2, ratio, out)]

  data["runtime_s"] = time.perf_counter() - t0
  max_l2 = float(np.nanmax(np.abs(log_l2[live]))) if live.any() else float("nan")
  balanced_ok = np.max(ratio) <= 1.0
  balance_words = ("every unit is as balanced as the optimiser's stationarity allows" if balanced_ok
                   else "some unit is NOT as balanced as the stationarity bound requires")
  bias_max = float(np.nanmax(np.abs(log_l2_bias[live]))) if live.any() else float("nan")
  bias_word = (": the balance is between kernels, not kernel and bias" if bias_max > 10 * max_l2
               else "")
  amp_ok = z_amp <= z_tol
  l2_vs_no = amp["l2"][0] / amp["no"][0]
  l2_word = ("lower" if l2_vs_no < 1 else "higher")
  summary = f"""\
**Invariance.** For a ReLU unit, relu(c·z) = c·relu(z) when c > 0. Multiplying hidden unit j's
incoming kernel column and bias by cⱼ and dividing its outgoing kernel row by cⱼ leaves the
network's output unchanged: with a random cⱼ ∈ [{cfg['rescale_range'][0]:g},
{cfg['rescale_range'][1]:g}] for every unit of an MLP with hidden widths {hidden}, the output moved
by {out_err:.1e} relative (bound from float64 rounding {out_tol:.0e}). Equivalently the loss
gradient is orthogonal to each rescaling direction v_j = (k_in,j, b_j, −k_out,j): measured
{flat_err:.0e} relative (rounding bound {flat_tol:.0e}).

**L2 balances.** The penalty (α/2)Σ‖kernel‖² is not invariant: its slope along v_j is
α(‖k_in,j‖² − ‖k_out,j‖²), so at a stationary point of loss + L2 every unit is balanced,
‖k_in,j‖ = ‖k_out,j‖ (biases unpenalized, ``jr.masks.weights_only``). A ReLU network's
objective has kinks where a hinge passes a training point; there the iterates chatter and the
gradient of no single iterate vanishes (the window-averaged gradient still had norm
{float(g_bar):.1e} at the end), so the balance is judged against what the optimiser's measured
distance from stationarity allows: over the last {cfg['window']} of
{cfg['window'] * cfg['n_windows']} Adam steps (step {cfg['lr']:g}·{cfg['lr_decay']:g}^k in
window k), the mean of α(‖k_in,j‖² − ‖k_out,j‖²) is at most
‖ḡ_j‖‖v_j‖ + mean_t ‖g_t,j‖‖p_t,j − p_T,j‖ (Euler's identity plus Cauchy–Schwarz in unit j's
parameters). All {n_units} units are judged, the {int(dead.sum())} dead or pruned ones
included; the largest ratio of residual to bound is {np.max(ratio):.2f}:
{balance_words}.
Over the units that are not dead the largest |log(‖k_in,j‖/‖k_out,j‖)| is {max_l2:.1e}; trained
without the penalty the log ratios keep a spread of std {float(np.nanstd(log_no)):.2f} (max |·|
{float(np.nanmax(np.abs(log_no))):.2f}) against std {float(np.nanstd(log_init)):.2f} at
initialisation: the loss alone has no preferred scale for a unit. Counting the (unpenalized)
bias as incoming weight gives |log ratios| up to {bias_max:.2f} (table, last row){bias_word}.

**Noise amplification.** The articles argue that large weights multiply the noise in new
inputs, so they should be penalised. Rescaling the first hidden layer of the network trained
without L2 by c = {big:g} changes ‖w‖² by a factor {norm_factor:.3g}
({norms['no']:.3g} → {norms['big']:.3g}) but not the function, so the amplification of input
noise (σ = {sigma:g}) {"stays" if amp_ok else "does NOT stay"} the same: {amp['no'][0]:.4f} ±
{amp['no'][1]:.1e} against {amp['big'][0]:.4f} ± {amp['big'][1]:.1e} ({z_amp:.2f} standard errors,
threshold {z_tol:.2f}). The weight norm alone therefore does not determine noise amplification.
Among the equivalent networks L2 prefers the balanced one, of smallest norm ({norms['bal']:.3g},
found by scipy over all rescalings; same amplification {amp['bal'][0]:.4f}). What L2 changes is the
function itself: the network trained with L2(α = {alpha:g}) has ‖w‖² = {norms['l2']:.3g} and an
amplification {l2_vs_no:.2f}× that of the unpenalized one ({l2_word}), at training MSE
{mse_l2:.4f} against {mse_no:.4f}.

The figure shows the per-unit log ratios (a spike at 0 with L2, a wide spread without it and at
initialisation) and each L2-trained unit's balance residual against its bound.
"""
  return workbench.Result(
      name=NAME, title="Rescaling symmetry: ReLU invariance, L2 balance and noise",
      summary=summary, verdicts=verdicts, tables=tables, figures=figures, data=data,
      plant=plant)
