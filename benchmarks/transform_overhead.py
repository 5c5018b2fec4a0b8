"""Overhead of jaxreg's decoupled weight decay against optax.adamw.

One training step of a flax linen MLP (784→512→512→10, batch 128, float32),
jitted as a whole (loss, gradient, update), with

  jaxreg: optax.chain(optax.scale_by_adam(), jr.add_penalty_gradient(jr.L2(wd)),
                      optax.scale_by_learning_rate(lr))
  optax:  optax.adamw(lr, weight_decay=wd)

Compile time is measured separately. The two are timed in alternating
rounds (the machine may be shared and noisy); the figure is the median
time per step over all rounds.

Run: python benchmarks/transform_overhead.py [--rounds 10 --steps 20]
"""

import argparse
import statistics
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

try:
  import jaxreg as jr
except ImportError:  # run from a source checkout without installing.
  import os
  import sys
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  import jaxreg as jr


class MLP(nn.Module):

  @nn.compact
  def __call__(self, x):
    x = nn.relu(nn.Dense(512)(x))
    x = nn.relu(nn.Dense(512)(x))
    return nn.Dense(10)(x)


def make_step(model, tx):
  def loss_fn(params, x, y):
    logits = model.apply({"params": params}, x)
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

  @jax.jit
  def step(params, opt_state, x, y):
    loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss

  return step


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--rounds", type=int, default=10)
  parser.add_argument("--steps", type=int, default=20)
  args = parser.parse_args()

  lr, wd = 1e-3, 1e-4
  model = MLP()
  key = jax.random.key(0)
  x = jax.random.normal(key, (128, 784), jnp.float32)
  y = jax.random.randint(key, (128,), 0, 10)
  params0 = model.init(key, x)["params"]
  txs = {
      "jaxreg": optax.chain(optax.scale_by_adam(), jr.add_penalty_gradient(jr.L2(wd)),
                            optax.scale_by_learning_rate(lr)),
      "optax.adamw": optax.adamw(lr, weight_decay=wd),
  }
  runs = {}
  for name, tx in txs.items():
    step = make_step(model, tx)
    state = (params0, tx.init(params0))
    t0 = time.perf_counter()
    compiled = step.lower(*state, x, y).compile()
    compile_s = time.perf_counter() - t0
    for _ in range(5):  # warm-up
      p, s, loss = compiled(*state, x, y)
      state = (p, s)
    jax.block_until_ready(state)
    runs[name] = {"fn": compiled, "state": state, "compile": compile_s, "times": []}

  for _ in range(args.rounds):
    for name, run in runs.items():  # alternate the two in every round.
      state = run["state"]
      for _ in range(args.steps):
        t0 = time.perf_counter()
        p, s, loss = run["fn"](*state, x, y)
        jax.block_until_ready(loss)
        run["times"].append(time.perf_counter() - t0)
        state = (p, s)
      run["state"] = state

  # Both must compute the same trajectory (same number of steps each).
  a, b = (jax.tree_util.tree_leaves(r["state"][0]) for r in runs.values())
  max_diff = max(float(jnp.max(jnp.abs(u - v))) for u, v in zip(a, b))

  print(f"device: {jax.devices()[0].device_kind}, jax {jax.__version__}, optax {optax.__version__}")
  print(f"{'':14s} {'median step (ms)':>17s} {'IQR (ms)':>16s} {'min (ms)':>9s} {'compile (s)':>12s}")
  med = {}
  for name, run in runs.items():
    t = np.asarray(run["times"]) * 1e3
    med[name] = statistics.median(t)
    q1, q3 = np.percentile(t, [25, 75])
    print(f"{name:14s} {med[name]:17.3f} {q1:7.3f}–{q3:<8.3f} {t.min():9.3f} {run['compile']:12.3f}")
  print(f"ratio jaxreg / optax.adamw: {med['jaxreg'] / med['optax.adamw']:.3f} "
        f"({len(runs['jaxreg']['times'])} steps each); max |param diff| {max_diff:.2e}")


if __name__ == "__main__":
  main()
