"""Benchmark: jr.sweep against a Python loop and a bare jax.jit(jax.vmap(...)).

Three measurements, printed side by side in one run:

1. L2 logistic regression on breast_cancer (loop-overhead bound): K α values
   (default 256), 500 full-batch steps each in a ``lax.scan``. jr.sweep vs a
   Python loop over the same jitted single-α training, and vs a bare
   ``jax.jit(jax.vmap(train))``. Targets: ≥ 5× faster than the loop, within
   1.2× of the bare vmap.
2. A flax MLP on digits, 32 α (L1, proximal): jr.sweep vs the Python loop.
   Target: ratio ≥ 1.0.
3. Peak memory of a 1024-α sweep in chunks of 64 against a 64-α sweep (the
   digits MLP, whose full-batch activations take about 1 MB per α), each
   in its own subprocess (peak RSS from ``resource.getrusage`` on CPU, the
   device's ``peak_bytes_in_use`` where the backend reports it). Target ≤ 1.2×.

Times are medians over ``--repeats`` rounds after a warm-up call, the methods
taking turns within each round; the first call's time (compile + one run)
is reported separately, with compile ≈ first − median.

Usage:
  python benchmarks/sweep.py                     # CPU defaults
  python benchmarks/sweep.py --alphas 4096 --mlp-alphas 256   # a GPU
"""

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)

import jaxreg as jr  # noqa: E402


# --- workloads --------------------------------------------------------------------


def breast_cancer():
  from sklearn.datasets import load_breast_cancer
  X, y = load_breast_cancer(return_X_y=True)
  X = (X - X.mean(0)) / X.std(0)
  return jnp.asarray(X, jnp.float32), jnp.asarray(y, jnp.float32)


def full_batch_descent(loss, params, tx, steps):
  """``steps`` full-batch steps of ``tx`` on ``loss`` in one ``lax.scan``: (params, last loss)."""

  def step(carry, _):
    p, s = carry
    value, g = jax.value_and_grad(loss)(p)
    u, s = tx.update(g, s, p)
    return (optax.apply_updates(p, u), s), value

  (params, _), losses = jax.lax.scan(step, (params, tx.init(params)), None, steps)
  return params, losses[-1]


def logistic_train(pen, X, y, steps=500, lr=0.5):
  """L2 logistic regression by full-batch gradient descent (coupled L2)."""
  tx = optax.chain(jr.add_penalty_gradient(pen), optax.sgd(lr))
  params = {"w": jnp.zeros(X.shape[1], X.dtype), "b": jnp.zeros((), X.dtype)}

  def loss(p):
    return optax.sigmoid_binary_cross_entropy(X @ p["w"] + p["b"], y).mean()

  return full_batch_descent(loss, params, tx, steps)


def digits():
  from sklearn.datasets import load_digits
  X, y = load_digits(return_X_y=True)
  X = (X - X.mean(0)) / (X.std(0) + 1e-8)
  return jnp.asarray(X, jnp.float32), jnp.asarray(y)


def mlp_train(pen, key, X, y, steps=200, lr=0.5):
  """A 64-32-10 flax MLP trained by ISTA (SGD then the L1 prox)."""
  import flax.linen as nn

  class MLP(nn.Module):
    @nn.compact
    def __call__(self, x):
      return nn.Dense(10)(nn.relu(nn.Dense(32)(x)))

  model = MLP()
  params = model.init(key, X[:1])
  tx = optax.chain(optax.sgd(lr), jr.proximal(pen, lr))

  def loss(p):
    return optax.softmax_cross_entropy_with_integer_labels(model.apply(p, X), y).mean()

  return full_batch_descent(loss, params, tx, steps)


# --- timing -------------------------------------------------------------------------


def compare(calls, repeats):
  """{name: (first-call seconds, median seconds)} for each zero-argument call.

  Each call is made once (compile + run), then the calls are timed in turn,
  round after round, so that a change in the shared machine's load hits
  every method alike.
  """
  first, times = {}, {name: [] for name in calls}
  for name, call in calls.items():
    t0 = time.perf_counter()
    jax.block_until_ready(call())
    first[name] = time.perf_counter() - t0
  for _ in range(repeats):
    for name, call in calls.items():
      t0 = time.perf_counter()
      jax.block_until_ready(call())
      times[name].append(time.perf_counter() - t0)
  return {name: (first[name], statistics.median(times[name]), min(times[name])) for name in calls}


def loop_call(fn, items, *args):
  jitted = jax.jit(fn)

  def call():
    return [jitted(item, *args) for item in items]

  return call


def row(name, first, median, best, sweep=None):
  ratio = "" if sweep is None else f"{median / sweep[1]:8.2f}x {best / sweep[2]:8.2f}x"
  print(f"  {name:<22} {median * 1e3:10.1f} ms {best * 1e3:10.1f} ms {first:9.2f} s "
        f"{max(first - median, 0.0):9.2f} s {ratio}")


def header(title):
  print(f"\n{title}")
  print(f"  {'method':<22} {'median':>13} {'min':>13} {'first call':>11} {'~compile':>10}"
        "   time / jr.sweep (median, min)")


# --- peak memory (child processes) --------------------------------------------------------


def memory_child(n_alphas, chunk_size, steps):
  X, y = digits()
  pens = jr.L1(jnp.logspace(-5, -1, n_alphas), mask=jr.masks.weights_only)
  jax.block_until_ready((X, y, pens))
  base_rss = _current_rss()
  out = jr.sweep(mlp_train, pens, jax.random.key(0), X, y, steps, chunk_size=chunk_size)
  jax.block_until_ready(out)
  peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
  stats = jax.devices()[0].memory_stats() or {}
  print(json.dumps({"peak_rss": peak_rss, "base_rss": base_rss,
                    "device_peak": stats.get("peak_bytes_in_use")}))


def _current_rss():
  try:
    with open("/proc/self/statm") as f:
      return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
  except OSError:
    return 0


def memory_run(n_alphas, chunk_size, steps):
  cmd = [sys.executable, os.path.abspath(__file__), "--memory-child", str(n_alphas),
         str(chunk_size or 0), str(steps)]
  out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
  return json.loads(out.strip().splitlines()[-1])


# --- main ---------------------------------------------------------------------------------


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--alphas", type=int, default=256, help="α values, logistic regression")
  parser.add_argument("--mlp-alphas", type=int, default=32, help="α values, digits MLP")
  parser.add_argument("--mem-alphas", type=int, default=1024, help="α values, chunked memory run")
  parser.add_argument("--mem-chunk", type=int, default=64, help="chunk size of the memory run")
  parser.add_argument("--mem-steps", type=int, default=2, help="steps per α in the memory run")
  parser.add_argument("--repeats", type=int, default=5, help="timed runs after the warm-up")
  parser.add_argument("--memory-child", nargs=3, type=int, help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.memory_child:
    n, c, s = args.memory_child
    memory_child(n, c or None, s)
    return

  dev = jax.devices()[0]
  print(f"jr.sweep benchmark, {datetime.date.today()}; jax {jax.__version__}, "
        f"backend {jax.default_backend()}, device {dev.device_kind} x{jax.device_count()}, "
        f"{os.cpu_count()} CPU cores, {platform.machine()}, load average "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")

  # 1. logistic regression, loop-overhead bound
  X, y = breast_cancer()
  alphas = jnp.logspace(-4, 0, args.alphas)
  pens = jr.L2(alphas)
  items = [jr.L2(a) for a in np.asarray(alphas)]
  bare = jax.jit(jax.vmap(logistic_train, in_axes=(0, None, None)))
  res = compare({
      "jr.sweep": lambda: jr.sweep(logistic_train, pens, X, y),
      "bare jit(vmap)": lambda: bare(pens, X, y),
      "Python loop of jit": loop_call(logistic_train, items, X, y),
  }, args.repeats)
  check = np.max(np.abs(np.asarray(jr.sweep(logistic_train, pens, X, y)[0]["w"])
                        - np.asarray(bare(pens, X, y)[0]["w"])))
  header(f"1. L2 logistic regression, breast_cancer (569x30), {args.alphas} alphas x 500 steps"
         f"  [max |w_sweep - w_vmap| = {check:.1e}]")
  sweep_t = res["jr.sweep"][1]
  for name, r in res.items():
    row(name, *r, sweep=None if name == "jr.sweep" else res["jr.sweep"])
  print(f"  -> medians: jr.sweep is {res['Python loop of jit'][1] / sweep_t:.1f}x faster than the "
        f"loop (target >= 5); sweep / bare vmap = {sweep_t / res['bare jit(vmap)'][1]:.3f} "
        f"(target <= 1.2; by min {res['jr.sweep'][2] / res['bare jit(vmap)'][2]:.3f})")

  # 2. digits MLP
  Xd, yd = digits()
  key = jax.random.key(0)
  mlp_pens = jr.L1(jnp.logspace(-5, -1, args.mlp_alphas), mask=jr.masks.weights_only)
  mlp_items = [jr.L1(a, mask=jr.masks.weights_only) for a in np.asarray(mlp_pens.alpha)]
  res2 = compare({
      "jr.sweep": lambda: jr.sweep(mlp_train, mlp_pens, key, Xd, yd),
      "Python loop of jit": loop_call(mlp_train, mlp_items, key, Xd, yd),
  }, args.repeats)
  header(f"2. flax MLP 64-32-10 on digits (1797x64), {args.mlp_alphas} L1 alphas x 200 steps")
  for name, r in res2.items():
    row(name, *r, sweep=None if name == "jr.sweep" else res2["jr.sweep"])
  print(f"  -> loop / sweep = {res2['Python loop of jit'][1] / res2['jr.sweep'][1]:.2f} "
        "(target >= 1.0)")

  # 3. peak memory
  small = memory_run(args.mem_chunk, None, args.mem_steps)
  chunked = memory_run(args.mem_alphas, args.mem_chunk, args.mem_steps)
  whole = memory_run(args.mem_alphas, None, args.mem_steps)
  print(f"\n3. peak memory, digits MLP (about 1 MB of activations per alpha), {args.mem_steps} steps,"
        " separate processes")
  print(f"  {'run':<34} {'peak RSS':>10} {'above start':>12} {'device peak':>12}")
  for name, m in ((f"{args.mem_chunk} alphas, one chunk", small),
                  (f"{args.mem_alphas} alphas, chunks of {args.mem_chunk}", chunked),
                  (f"{args.mem_alphas} alphas, one chunk", whole)):
    dpk = "n/a" if m["device_peak"] is None else f"{m['device_peak'] / 2**20:.1f} MiB"
    print(f"  {name:<34} {m['peak_rss'] / 2**20:7.1f} MiB {(m['peak_rss'] - m['base_rss']) / 2**20:8.1f} MiB"
          f" {dpk:>12}")
  key_mem = "device_peak" if small["device_peak"] else "peak_rss"
  print(f"  -> {key_mem} ratio chunked {args.mem_alphas} / {args.mem_chunk} alphas = "
        f"{chunked[key_mem] / small[key_mem]:.3f} (target <= 1.2); "
        f"unchunked {args.mem_alphas} / {args.mem_chunk} = {whole[key_mem] / small[key_mem]:.3f}")


if __name__ == "__main__":
  main()
