"""One process of a multi-process sweep; used by tests/test_sweep_multiprocess.py.

Usage: python tests/_sweep_multiprocess.py PROCESS_ID N_PROCESSES PORT CKPT OUT

Four CPU devices in all: N_PROCESSES = 1 runs them in one process (the
reference), N_PROCESSES = 2 runs two processes of two devices each, joined by
``jax.distributed`` through a coordinator on 127.0.0.1:PORT and JAX's CPU
collectives (gloo). Every process sweeps the same α grid over the global
4-device mesh, with ``checkpoint_dir=CKPT`` unless CKPT is ``-``.

Each process also runs the sweep with ``chunk_size="auto"`` over the mesh
(every process must choose the same chunk) and without ``devices`` (on its
own default device, no collective). Process 0 writes the gathered results to
OUT.npz and what it saw to OUT.json; every process appends each file it
finishes writing in CKPT to OUT.writes<id>, so the test can check who wrote
what, and how often. Nothing runs on import (the suite imports every module
for its doctests).
"""

import json
import os
import sys
import time

import numpy as np

N_ALPHAS, CHUNK = 48, 4  # 12 chunks of one α per device


def start(process_id, n_processes, port):
  """Sets the device count and joins the processes; before anything else touches jax."""
  os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={4 // n_processes}"
  import jax  # pylint: disable=import-outside-toplevel
  if n_processes > 1:
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(f"127.0.0.1:{port}", num_processes=n_processes,
                               process_id=process_id, initialization_timeout=120)


def train(pen, X, y):
  import jax, jax.numpy as jnp, optax  # pylint: disable=import-outside-toplevel
  import jaxreg as jr  # pylint: disable=import-outside-toplevel
  tx = optax.chain(jr.add_penalty_gradient(pen), optax.sgd(0.05))
  loss = lambda w: 0.5 * jnp.mean((X @ w - y) ** 2)

  def step(carry, _):
    w, s = carry
    u, s = tx.update(jax.grad(loss)(w), s, w)
    return (optax.apply_updates(w, u), s), loss(w)

  w = jnp.zeros(X.shape[1], X.dtype)
  (w, _), losses = jax.lax.scan(step, (w, tx.init(w)), None, 200)
  return {"w": w, "losses": losses}


def main(process_id, n_processes, ckpt, out_path):
  import jax  # pylint: disable=import-outside-toplevel
  from jax.experimental import multihost_utils  # pylint: disable=import-outside-toplevel
  import jaxreg as jr  # pylint: disable=import-outside-toplevel
  import jaxreg.sweep  # noqa: F401  pylint: disable=import-outside-toplevel
  sweep_module = sys.modules["jaxreg.sweep"]
  writes = f"{out_path}.writes{process_id}"
  atomic_write = sweep_module._atomic_write

  def logged(path, write):  # records only writes that completed
    atomic_write(path, write)
    with open(writes, "a", encoding="utf-8") as f:
      f.write(os.path.basename(path) + "\n")

  sweep_module._atomic_write = logged
  rng = np.random.default_rng(0)  # the same host-local data in every process
  X = rng.normal(size=(64, 8)).astype(np.float32)
  y = (X @ np.linspace(-1.0, 1.0, 8) + 0.1 * rng.normal(size=64)).astype(np.float32)
  pens = jr.L2(np.logspace(-3, 0, N_ALPHAS).astype(np.float32))
  ckpt = None if ckpt == "-" else ckpt
  before = sorted(f for f in os.listdir(ckpt) if f.startswith("chunk_")) if (
      ckpt and os.path.isdir(ckpt)) else []
  t0 = time.time()
  out = jr.sweep(train, pens, X, y, chunk_size=CHUNK, devices=jax.devices(),
                 checkpoint_dir=ckpt)
  out = multihost_utils.process_allgather(out, tiled=True)
  # chunk_size="auto" over the global mesh: every process must pick the same
  # chunk (the smallest budget wins), or the collectives would not match.
  # The budget admits 8 of the 48 α per chunk (the outputs kept until the
  # join are most of the memory here).
  budget = 28000
  auto_chunk = jr.plan_sweep(train, pens, X, y, devices=jax.devices(),
                             memory_budget=budget).chunk_size
  auto = jr.sweep(train, pens, X, y, chunk_size="auto", memory_budget=budget,
                  devices=jax.devices())
  out["auto_w"] = np.asarray(multihost_utils.process_allgather(auto["w"], tiled=True))
  # Without devices= each process sweeps alone on its own default device.
  out["alone"] = np.asarray(jr.sweep(train, pens, X, y, chunk_size=5)["w"])
  info = {"process_count": jax.process_count(), "devices": jax.device_count(),
          "local_devices": jax.local_device_count(), "chunks_before": before,
          "auto_chunk": auto_chunk,
          "seconds": time.time() - t0}
  if process_id == 0:
    np.savez(out_path + ".npz", **{k: np.asarray(v) for k, v in out.items()})
    with open(out_path + ".json", "w", encoding="utf-8") as f:
      json.dump(info, f)
  if n_processes > 1:
    multihost_utils.sync_global_devices("done")  # nobody leaves while another gathers


if __name__ == "__main__":
  pid, n_proc, port, ckpt_dir, out = (int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]),
                                      sys.argv[4], sys.argv[5])
  start(pid, n_proc, port)
  main(pid, n_proc, ckpt_dir, out)
