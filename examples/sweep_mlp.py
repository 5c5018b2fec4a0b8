"""Sweeps 32 L2 and 32 L1 strengths for a flax MLP on the digits data set.

Each α trains its own MLP (full-batch gradient descent, the same initial
weights for every α) inside one ``jr.sweep``:

* L2 via ``jr.add_penalty_gradient`` before SGD (classic weight decay), and
* L1 via ``jr.proximal`` after SGD (ISTA), which sets weights exactly to 0.

The plot shows test accuracy and the fraction of exactly-zero kernel weights
against α: L2 shrinks but never zeroes; L1 prunes more and more weights as α
grows, until accuracy collapses.

Usage:
  python examples/sweep_mlp.py [--out sweep_mlp.png] [--steps 300] [--n-alphas 32]
"""

import argparse
import os
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import optax
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

try:
  import jaxreg as jr
except ImportError:  # run from a source checkout without installing.
  import sys
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  import jaxreg as jr

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)


class MLP(nn.Module):
  hidden: int = 32

  @nn.compact
  def __call__(self, x):
    return nn.Dense(10)(nn.relu(nn.Dense(self.hidden)(x)))


def load_data(seed=0):
  """Digits, standardized on the training split."""
  X, y = load_digits(return_X_y=True)
  X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=seed, stratify=y)
  scaler = StandardScaler().fit(X_tr)
  f = lambda a: jnp.asarray(a, jnp.float32)
  return f(scaler.transform(X_tr)), jnp.asarray(y_tr), f(scaler.transform(X_te)), jnp.asarray(y_te)


def make_train(kind):
  """One model per α: ``train(pen, key, X, y, X_te, y_te, lr, steps)``."""

  def train(pen, key, X, y, X_te, y_te, lr, steps):
    model = MLP()
    params = model.init(key, X[:1])
    if kind == "l2":
      tx = optax.chain(jr.add_penalty_gradient(pen), optax.sgd(lr))
    else:
      tx = optax.chain(optax.sgd(lr), jr.proximal(pen, lr))

    def loss_fn(p):
      logits = model.apply(p, X)
      return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    def step(carry, _):
      p, s = carry
      loss, g = jax.value_and_grad(loss_fn)(p)
      u, s = tx.update(g, s, p)
      return (optax.apply_updates(p, u), s), loss

    (params, _), losses = jax.lax.scan(step, (params, tx.init(params)), None, steps)
    acc = jnp.mean(jnp.argmax(model.apply(params, X_te), -1) == y_te)
    kernels = [k for k, m in zip(jax.tree_util.tree_leaves(params),
                                 jax.tree_util.tree_leaves(jr.masks.weights_only(params))) if m]
    zeros = sum(jnp.sum(k == 0) for k in kernels) / sum(k.size for k in kernels)
    return {"test_accuracy": acc, "zero_fraction": zeros, "final_loss": losses[-1]}

  return train


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--out", default="sweep_mlp.png", help="path of the PNG to write")
  parser.add_argument("--steps", type=int, default=300, help="gradient steps per model")
  parser.add_argument("--n-alphas", type=int, default=32, help="α values per penalty")
  parser.add_argument("--lr", type=float, default=0.5, help="learning rate")
  parser.add_argument("--chunk-size", type=int, default=None, help="α values per chunk")
  args = parser.parse_args()

  X, y, X_te, y_te = load_data()
  key = jax.random.key(0)  # the same initial weights for every α
  mask = jr.masks.weights_only  # kernels only, not biases
  sweeps = {
      "l2": jr.L2(jnp.logspace(-5, 0, args.n_alphas), mask=mask),
      "l1": jr.L1(jnp.logspace(-5, -1, args.n_alphas), mask=mask),
  }
  results = {}
  for kind, pens in sweeps.items():
    t0 = time.perf_counter()
    results[kind] = jr.sweep(make_train(kind), pens, key, X, y, X_te, y_te, args.lr, args.steps,
                             chunk_size=args.chunk_size, progress=True)
    jax.block_until_ready(results[kind])
    best = int(jnp.argmax(results[kind]["test_accuracy"]))
    print(f"{kind}: {args.n_alphas} models in {time.perf_counter() - t0:.1f} s; best test "
          f"accuracy {float(results[kind]['test_accuracy'][best]):.3f} at "
          f"alpha={float(pens.alpha[best]):.2e}")

  fig, (ax_acc, ax_zero) = plt.subplots(1, 2, figsize=(10, 4))
  for kind, label in (("l2", "L2 (add_penalty_gradient)"), ("l1", "L1 (proximal)")):
    a = np.asarray(sweeps[kind].alpha)
    ax_acc.semilogx(a, np.asarray(results[kind]["test_accuracy"]), "o-", ms=3, label=label)
    ax_zero.semilogx(a, np.asarray(results[kind]["zero_fraction"]), "o-", ms=3, label=label)
  ax_acc.set(xlabel="α", ylabel="test accuracy", title="digits MLP: accuracy")
  ax_zero.set(xlabel="α", ylabel="fraction of kernel weights exactly 0",
              title="sparsity", ylim=(-0.02, 1.02))
  for ax in (ax_acc, ax_zero):
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
  fig.tight_layout()
  directory = os.path.dirname(os.path.abspath(args.out))
  os.makedirs(directory, exist_ok=True)
  tmp = os.path.join(directory, "." + os.path.basename(args.out) + ".tmp.png")
  fig.savefig(tmp, dpi=120)
  os.replace(tmp, args.out)
  print(f"wrote {args.out}")


if __name__ == "__main__":
  main()
