"""Lasso on scikit-learn's diabetes data with an optax chain, next to sklearn.

The proximal-gradient (ISTA) step is written as an optax chain,

    optax.chain(optax.sgd(lr), jr.proximal(jr.L1(alpha), lr)),

run in float64 with step 1/L (L = largest eigenvalue of XᵀX/n) until it
converges, and compared with ``sklearn.linear_model.Lasso(alpha=alpha)``.
Both minimise (1/(2n))‖y − Xw − b‖² + α‖w‖₁; the intercept b is a leaf left
out of the penalty by the mask.

Run: python examples/lasso_demo.py
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Lasso

try:
  import jaxreg as jr
except ImportError:  # run from a source checkout without installing.
  import os
  import sys
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  import jaxreg as jr

ALPHA = 1.0
STEPS = 20_000


def main():
  data = load_diabetes()
  X = (data.data - data.data.mean(0)) / data.data.std(0)
  y = data.target
  n = X.shape[0]
  with jax.enable_x64(True):
    Xj, yj = jnp.asarray(X), jnp.asarray(y)
    lr = 1.0 / max(np.linalg.eigvalsh(X.T @ X / n)[-1], 1.0)
    tx = optax.chain(optax.sgd(lr),
                     jr.proximal(jr.L1(ALPHA, mask={"w": True, "b": False}), lr))
    loss = lambda p: 0.5 * jnp.mean((Xj @ p["w"] + p["b"] - yj) ** 2)

    @jax.jit
    def fit(params):
      def body(carry, _):
        p, s = carry
        updates, s = tx.update(jax.grad(loss)(p), s, p)
        return (optax.apply_updates(p, updates), s), None

      (p, _), _ = jax.lax.scan(body, (params, tx.init(params)), None, length=STEPS)
      return p

    params = fit({"w": jnp.zeros(X.shape[1]), "b": jnp.zeros(())})
    w, b = np.asarray(params["w"]), float(params["b"])

  ref = Lasso(alpha=ALPHA, tol=1e-12, max_iter=1_000_000).fit(X, y)
  print(f"Lasso on diabetes (n={n}, p={X.shape[1]}), alpha={ALPHA}, {STEPS} ISTA steps, float64")
  print(f"{'feature':>8s} {'jaxreg':>14s} {'sklearn':>14s}")
  for name, a, r in zip(data.feature_names, w, ref.coef_):
    print(f"{name:>8s} {a:14.8f} {r:14.8f}")
  print(f"{'bias':>8s} {b:14.8f} {ref.intercept_:14.8f}")
  rel = np.max(np.abs(w - ref.coef_)) / np.max(np.abs(ref.coef_))
  print(f"max relative difference: {rel:.2e}")
  zeros_j, zeros_s = np.flatnonzero(w == 0), np.flatnonzero(ref.coef_ == 0)
  print(f"exact zeros: jaxreg {[data.feature_names[i] for i in zeros_j]}, "
        f"sklearn {[data.feature_names[i] for i in zeros_s]}, "
        f"same pattern: {np.array_equal(zeros_j, zeros_s)}")


if __name__ == "__main__":
  main()
