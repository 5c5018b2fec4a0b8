"""Runs a slow checkpointed sweep; used by tests/test_sweep.py (kill and resume).

Usage: python tests/_sweep_resume.py CHECKPOINT_DIR OUT.npz

Each chunk sleeps on the host (a callback) so that a test can kill the
process between chunks; the callback's Python code is outside the traced
program, so the sweep names its computation with ``checkpoint_key``. Prints "computed K" (the number of chunks this run
computed rather than loaded) before exiting.
"""

import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxreg as jr

N_ALPHAS, CHUNK = 8, 2
calls = [0]


def _slow(x):
  calls[0] += 1
  print(f"chunk {calls[0]}", flush=True)
  time.sleep(0.3)
  return np.zeros(x.shape, x.dtype)


def train(pen, key, X, y):
  w = jax.random.normal(key, (X.shape[1],)) * 0.1
  lr = 0.1
  tx = optax.chain(optax.sgd(lr), jr.proximal(pen, lr))
  loss = lambda w: 0.5 * jnp.mean((X @ w - y) ** 2)

  def step(carry, _):
    w, s = carry
    g = jax.grad(loss)(w)
    u, s = tx.update(g, s, w)
    return (optax.apply_updates(w, u), s), loss(w)

  (w, _), losses = jax.lax.scan(step, (w, tx.init(w)), None, 50)
  delay = jax.pure_callback(_slow, jax.ShapeDtypeStruct((), w.dtype), losses[-1],
                            vmap_method="broadcast_all")
  return {"w": w + 0 * delay, "losses": losses}


def main():
  ckpt, out = sys.argv[1], sys.argv[2]
  kx, ky, kw = jax.random.split(jax.random.key(0), 3)
  X = jax.random.normal(kx, (40, 6))
  y = X @ jnp.arange(6.0) + 0.1 * jax.random.normal(ky, (40,))
  pens = jr.L1(jnp.logspace(-3, 0, N_ALPHAS))
  res = jr.sweep(train, pens, kw, X, y, chunk_size=CHUNK, checkpoint_dir=ckpt,
                 checkpoint_key="tests/_sweep_resume.py:train")
  np.savez(out, w=np.asarray(res["w"]), losses=np.asarray(res["losses"]))
  print(f"computed {calls[0]}", flush=True)


if __name__ == "__main__":
  main()
