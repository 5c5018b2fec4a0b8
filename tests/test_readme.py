"""The README's Python examples run as written (on small stand-in data)."""

import pathlib
import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from sklearn.datasets import load_diabetes

import jaxreg as jr

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)

# Names the examples take as given, and shrinkings that keep the test small.
_SMALLER = {
    "jnp.logspace(-4, 0, 256)": "jnp.logspace(-4, 0, 4)",
    'checkpoint_dir="runs/lasso"': "checkpoint_dir=None",
    "progress=True": "progress=False",
    "n, levels = 50_000, 150": "n, levels = 2_000, 20",
    "js.LassoCV(cv=5)": "js.LassoCV(cv=3, alphas=10)",
}


def _namespace():
  X, y = load_diabetes(return_X_y=True)
  X = jnp.asarray((X - X.mean(0)) / X.std(0), jnp.float32)
  y = jnp.asarray(y - y.mean(), jnp.float32)
  X_train, y_train = X[100:], y[100:]
  return dict(
      jax=jax, jnp=jnp, np=np, optax=optax, jr=jr,
      X=X_train, y=y_train, Xv=X[:100], yv=y[:100],
      alphas=jnp.logspace(-3, 0, 5), key=jax.random.PRNGKey(0),
      Xs=jnp.stack([X_train[:50], X_train[50:100]]), ys=jnp.stack([y_train[:50], y_train[50:100]]),
      train_fn=lambda a: jr.linear.fit(X_train, y_train, jr.L2(a), fit_intercept=False).coef,
      optimality_fn=lambda w, a: X_train.T @ (X_train @ w - y_train) / X_train.shape[0] + a * w,
      labels=np.where(np.asarray(y_train) > 0, 1, -1),
      Y=jnp.stack([y_train, -y_train + X_train[:, 0]], axis=1),
      counts=np.random.default_rng(0).poisson(2.0, size=y_train.shape[0]),
      classes=np.digitize(np.asarray(y_train), [-50.0, 50.0]),
      keep=np.arange(X.shape[1]) > 0,
      val_loss=lambda res: jnp.mean((X[:100] @ res.coef + res.intercept - y[:100]) ** 2),
  )


def test_readme_has_python_examples():
  assert len(BLOCKS) >= 4


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index):
  code = BLOCKS[index]
  for old, new in _SMALLER.items():
    code = code.replace(old, new)
  ns = _namespace()
  if "logistic_path" in code:
    ns["y_binary"] = (ns["y"] > 0).astype(jnp.float32)
    code = code.replace("logistic_path(X, y,", "logistic_path(X, y_binary,")
  exec(compile(code, f"README.md[python block {index}]", "exec"), ns)
