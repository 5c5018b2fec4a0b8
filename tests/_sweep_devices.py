"""Checks jr.sweep over 4 host CPU devices; used by tests/test_sweep.py.

Usage: python tests/_sweep_devices.py CHECKPOINT_DIR

The device count is fixed by XLA_FLAGS before jax is imported. Prints one
JSON object of measurements for the test to assert on.
"""

import json
import os
import sys

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                           + " --xla_force_host_platform_device_count=4")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from jax.sharding import Mesh  # noqa: E402

import jaxreg as jr  # noqa: E402


def train(pen, X, y):
  lr = 0.1
  tx = optax.chain(jr.add_penalty_gradient(pen), optax.sgd(lr))
  loss = lambda w: 0.5 * jnp.mean((X @ w - y) ** 2)

  def step(carry, _):
    w, s = carry
    u, s = tx.update(jax.grad(loss)(w), s, w)
    return (optax.apply_updates(w, u), s), loss(w)

  w = jnp.zeros(X.shape[1], X.dtype)
  (w, _), losses = jax.lax.scan(step, (w, tx.init(w)), None, 30)
  return w, losses


def layout(x):
  """Devices holding the array and the row ranges each holds."""
  return sorted((s.device.id, s.index[0].start or 0,
                 x.shape[0] if s.index[0].stop is None else s.index[0].stop)
                for s in x.addressable_shards)


def main():
  ckpt = sys.argv[1]
  kx, ky = jax.random.split(jax.random.key(1))
  X = jax.random.normal(kx, (32, 5))
  y = X @ jnp.linspace(-1.0, 1.0, 5) + 0.1 * jax.random.normal(ky, (32,))
  report = {"n_devices": jax.device_count()}
  singles = {}
  for n in (8, 10):
    pens = jr.L2(jnp.logspace(-3, 0, n))
    single = singles[n] = jr.sweep(train, pens, X, y, chunk_size=6)
    loop = np.stack([np.asarray(jax.jit(train)(jr.L2(a), X, y)[0]) for a in pens.alpha])
    sharded = jr.sweep(train, pens, X, y, chunk_size=6, devices=jax.devices())
    report[f"n{n}"] = {
        "max_diff_single": float(np.max(np.abs(np.asarray(sharded[0]) - np.asarray(single[0])))),
        "max_diff_loop": float(np.max(np.abs(np.asarray(sharded[0]) - loop))),
        "shape": list(sharded[0].shape),
        "layout": layout(sharded[0]),
        "replicated": bool(sharded[0].sharding.is_fully_replicated),
    }
  pens = jr.L2(jnp.logspace(-3, 0, 8))
  mesh = Mesh(np.array(jax.devices()).reshape(2, 2), ("a", "b"))
  on_mesh = jr.sweep(train, pens, X, y, devices=mesh)
  first = jr.sweep(train, pens, X, y, chunk_size=4, devices=jax.devices(), checkpoint_dir=ckpt)
  again = jr.sweep(train, pens, X, y, chunk_size=4, devices=jax.devices(), checkpoint_dir=ckpt)
  report["mesh"] = {
      "layout": layout(on_mesh[0]),
      "max_diff_single": float(np.max(np.abs(np.asarray(on_mesh[0]) - np.asarray(singles[8][0])))),
  }
  report["resumed"] = {
      "bitwise_equal": bool(all(np.array_equal(np.asarray(a), np.asarray(b))
                                for a, b in zip(jax.tree_util.tree_leaves(first),
                                                jax.tree_util.tree_leaves(again)))),
      "layout": layout(again[1]),
      "files": sorted(f for f in os.listdir(ckpt) if f.endswith(".npz")),
  }
  # Each device must train its own rows: the compiled program of a chunk has
  # no cross-device communication.
  sw = sys.modules["jaxreg.sweep"]
  mesh1 = Mesh(np.array(jax.devices()), ("sweep",))
  dyn, static = sw._split_args((X, y))
  mapped = sw._get_mapped(train, static, mesh1)
  hlo = mapped.lower(jr.L2(jnp.logspace(-3, 0, 8)), dyn).compile().as_text()
  report["collectives"] = sum(hlo.count(op) for op in
                              ("all-gather", "all-reduce", "all-to-all", "collective-permute"))
  print(json.dumps(report))


if __name__ == "__main__":
  main()
