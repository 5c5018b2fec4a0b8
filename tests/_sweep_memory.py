"""Peak host memory of a chunk_size="auto" sweep; used by tests/test_sweep_memory.py.

Usage: python tests/_sweep_memory.py BUDGET_BYTES

A CPU device's buffers live in this process's memory, so the peak resident
set size (VmHWM, reset through /proc/self/clear_refs) bounds what the sweep
held. Each measured call follows a first call with the same shapes, so it
compiles nothing, and glibc is told (by the caller's environment) to map
every large buffer and return it when freed, so the resident set follows
the buffers. Prints one JSON object.
"""

import json
import sys

import jax
import jax.numpy as jnp
import numpy as np

import jaxreg as jr

P, K = 256, 1024  # one 256 × 256 float32 matrix (256 KiB) factored per α


def ridge(a, M):
  return jnp.linalg.solve(M.T @ M / P + a * jnp.eye(P, dtype=M.dtype), M[0])


def status(field):
  with open("/proc/self/status", encoding="ascii") as f:
    for line in f:
      if line.startswith(field + ":"):
        return int(line.split()[1]) * 1024
  raise KeyError(field)


def peak_of(call):
  """Bytes the resident set rose above its level before ``call``, at its peak."""
  jax.block_until_ready(call())      # compiles; its results are freed
  with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
    f.write("5")                     # VmHWM := VmRSS
  base = status("VmRSS")
  out = jax.block_until_ready(call())
  peak = status("VmHWM") - base
  del out
  return peak


def main():
  budget = int(sys.argv[1])
  M = jax.device_put(np.random.default_rng(0).normal(size=(P, P)).astype(np.float32))
  grids = [jax.device_put(np.linspace(1.0, 2.0, K, dtype=np.float32) + s) for s in (0, 1)]
  plan = jr.plan_sweep(ridge, grids[0], M, memory_budget=budget)
  it = iter(grids * 2)
  auto = peak_of(lambda: jr.sweep(ridge, next(it), M, chunk_size="auto", memory_budget=budget))
  big = 4 * plan.chunk_size
  over = peak_of(lambda: jr.sweep(ridge, next(it), M, chunk_size=big))
  res = jr.sweep(ridge, grids[1][:8], M, chunk_size="auto", memory_budget=budget)
  want = np.stack([np.linalg.solve(np.asarray(M, np.float64).T @ np.asarray(M, np.float64) / P
                                   + a * np.eye(P), np.asarray(M[0], np.float64))
                   for a in np.asarray(grids[1][:8], np.float64)])
  print(json.dumps({"budget": budget, "chunk": plan.chunk_size, "n_chunks": plan.n_chunks,
                    "predicted_peak": plan.peak_bytes, "program": plan.program_bytes,
                    "auto_peak": auto, "big_chunk": big, "big_peak": over,
                    "max_rel_err": float(np.max(np.abs(np.asarray(res) - want))
                                         / np.max(np.abs(want)))}))


if __name__ == "__main__":
  main()
