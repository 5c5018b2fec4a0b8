"""A roofline cost model of sweep steps: XLA's FLOPs and bytes, predicted time, measured time.

Run:  python benchmarks/cost_model.py [--rounds R]

For each workload, one step of a sweep (``jax.jit(jax.vmap(step))`` over K
values of α) is compiled and XLA's cost analysis of the compiled program
read: floating-point operations F and bytes accessed B. The roofline
prediction of one step's time on a machine of peak compute P (FLOP/s) and
memory bandwidth W (bytes/s) is

    t = max(F / P, B / W),

the step being compute-bound when its arithmetic intensity F/B exceeds the
machine balance P/W. Two machines:

* **this machine's default device** (a CPU here), calibrated here: P is the best of R runs of a float32
  2048 × 2048 matrix product through XLA, W the best of R runs of a
  float32 ``x + 1`` over 64 Mi entries (one read and one write a value);
* **an H100-class GPU** (H100 SXM5, NVIDIA's datasheet): 67 TFLOP/s float32
  without tensor cores, 3.35 TB/s of HBM3 bandwidth. This is a prediction,
  not a measurement: no GPU is used.

The measured CPU time of the step (median and min of R interleaved runs)
sits next to the prediction, and their ratio says how far the step is from
the roofline. XLA's analysis counts what it compiles: a library call
(LAPACK's solve, a cuBLAS product) may report no FLOPs, and a loop counts
its body once, so every workload here is one step with no loop inside.
"""

import argparse
import os
import platform
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxreg as jr

H100 = {"name": "H100 SXM5 (datasheet)", "flops": 67e12, "bandwidth": 3.35e12}


def best_time(fn, *args, rounds):
  jax.block_until_ready(fn(*args))
  times = []
  for _ in range(rounds):
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args))
    times.append(time.perf_counter() - t0)
  return times


def calibrate(rounds):
  n = 2048
  a = jax.device_put(np.random.default_rng(0).normal(size=(n, n)).astype(np.float32))
  mm = jax.jit(lambda x: x @ x)
  flops = 2 * n ** 3 / min(best_time(mm, a, rounds=rounds))
  x = jax.device_put(np.zeros(64 * 2 ** 20, np.float32))
  add = jax.jit(lambda v: v + 1)
  bandwidth = 2 * x.nbytes / min(best_time(add, x, rounds=rounds))
  return {"name": "this CPU (measured)", "flops": flops, "bandwidth": bandwidth}


def mlp_step(K):
  """One SGD + L2 step of a 64-32-10 MLP on 1,000 digits-like rows, per α."""
  rng = np.random.default_rng(0)
  X = jax.device_put(rng.normal(size=(1000, 64)).astype(np.float32))
  y = jax.device_put(rng.integers(0, 10, 1000))
  params = {"w1": jnp.asarray(0.1 * rng.normal(size=(64, 32)), jnp.float32),
            "w2": jnp.asarray(0.1 * rng.normal(size=(32, 10)), jnp.float32)}

  def loss(p):
    logits = jnp.tanh(X @ p["w1"]) @ p["w2"]
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

  def step(pen, p):
    tx = optax.chain(jr.add_penalty_gradient(pen), optax.sgd(0.1))
    u, _ = tx.update(jax.grad(loss)(p), tx.init(p), p)
    return optax.apply_updates(p, u)

  batch = (jr.L2(jnp.logspace(-4, -1, K)), jax.tree_util.tree_map(
      lambda v: jnp.broadcast_to(v, (K, *v.shape)), params))
  return jax.jit(jax.vmap(step)), batch


def ista_step(K, n=2000, p=500):
  """One proximal-gradient (ISTA) lasso step on an n × p design, per α."""
  rng = np.random.default_rng(0)
  X = jax.device_put(rng.normal(size=(n, p)).astype(np.float32))
  y = jax.device_put(rng.normal(size=n).astype(np.float32))

  def step(pen, w):
    g = X.T @ (X @ w - y) / n
    return pen.prox(w - 0.01 * g, 0.01)

  return jax.jit(jax.vmap(step)), (jr.L1(jnp.logspace(-3, 0, K)), jnp.zeros((K, p)))


def gram_cd_step(K, p=500):
  """One gradient step in Gram form, w ← w − η(Gw − b) then the prox, per α."""
  rng = np.random.default_rng(0)
  A = rng.normal(size=(p, p)).astype(np.float32)
  G = jax.device_put(A @ A.T / p)
  b = jax.device_put(rng.normal(size=p).astype(np.float32))

  def step(pen, w):
    return pen.prox(w - 0.1 * (G @ w - b), 0.1)

  return jax.jit(jax.vmap(step)), (jr.ElasticNet(jnp.logspace(-3, 0, K), 0.5),
                                   jnp.zeros((K, p)))


WORKLOADS = {
    "MLP 64-32-10 SGD step, 1000 rows": mlp_step,
    "ISTA lasso step, 2000×500": ista_step,
    "Gram-form EN step, p=500": gram_cd_step,
}


def analyse(fn, batch):
  compiled = fn.lower(*batch).compile()
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  return float(cost.get("flops", 0.0)), float(cost.get("bytes accessed", 0.0))


def predict(flops, nbytes, machine):
  return max(flops / machine["flops"], nbytes / machine["bandwidth"])


def fmt(t):
  return f"{t * 1e6:.1f} µs" if t < 1e-3 else f"{t * 1e3:.2f} ms"


def report(rounds, sizes):
  """The markdown lines of the roofline table on the default backend."""
  cpu = calibrate(rounds)
  here = jax.devices()[0]
  lines = [
      f"# Roofline of sweep steps, {time.strftime('%Y-%m-%d')}, "
      f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
      f"load {os.getloadavg()[0]:.1f}, jax {jax.__version__} on {jax.default_backend()} "
      f"({here.device_kind})",
      f"# this device: {cpu['flops'] / 1e9:.1f} GFLOP/s (float32 matmul), "
      f"{cpu['bandwidth'] / 1e9:.1f} GB/s (x + 1); {H100['name']}: "
      f"{H100['flops'] / 1e12:.0f} TFLOP/s, {H100['bandwidth'] / 1e12:.2f} TB/s",
      "| step | K | GFLOP | MB accessed | FLOP/byte | predicted here | measured here "
      "(median, min) | measured min / predicted | H100 predicted | H100 bound |",
      "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
  for name, make in WORKLOADS.items():
    for K in sizes:
      fn, batch = make(K)
      flops, nbytes = analyse(fn, batch)
      times = best_time(fn, *batch, rounds=rounds)
      t_here = predict(flops, nbytes, cpu)
      t_gpu = predict(flops, nbytes, H100)
      bound = "compute" if flops / max(nbytes, 1) > H100["flops"] / H100["bandwidth"] else "memory"
      lines.append(
          f"| {name} | {K} | {flops / 1e9:.4f} | {nbytes / 1e6:.2f} | "
          f"{flops / max(nbytes, 1):.2f} | {fmt(t_here)} | "
          f"{fmt(statistics.median(times))}, {fmt(min(times))} | "
          f"{min(times) / t_here:.1f} | {fmt(t_gpu)} | {bound} |")
  return lines


def main():
  ap = argparse.ArgumentParser(description=__doc__,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument("--rounds", type=int, default=7)
  ap.add_argument("--K", default="1,64,1024", help="sweep sizes (values of α per step)")
  args = ap.parse_args()
  print("\n".join(report(args.rounds, [int(k) for k in args.K.split(",")])))


if __name__ == "__main__":
  main()
