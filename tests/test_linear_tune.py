"""Gradient-based tuning of α against grids (of jaxreg fits and of scikit-learn CV)."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.datasets import make_regression
from sklearn.linear_model import Lasso
from sklearn.model_selection import KFold

import jaxreg as jr
from jaxreg.linear.tune import kfold_masks, tune_cv


def _data():
  X, y = make_regression(100, 30, n_informative=10, noise=20.0, random_state=0)
  return X[:70], y[:70], X[70:], y[70:]


@pytest.mark.parametrize("direction", [100.0, 0.01])
def test_tune_reaches_best_of_grid(x64, direction):
  X, y, Xv, yv = _data()
  grid = jnp.logspace(-3, 2, 100)
  fits = jax.vmap(lambda a: jr.linear.fit(X, y, jr.L1(a)))(grid)
  vals = np.asarray(jnp.mean((yv[None] - fits.coef @ Xv.T - fits.intercept[:, None]) ** 2, 1))
  best = int(np.argmin(vals))
  start = float(grid[best]) * direction  # two decades away
  res = jr.linear.tune(X, y, Xv, yv, jr.L1(start), steps=50)
  assert float(res.val_loss) <= 1.01 * vals[best]
  # Newton's search stops by itself, well before the cap.
  assert res.alphas.shape == res.val_losses.shape and len(res.alphas) < 25
  # The reported loss is the loss of the returned fit.
  pred = Xv @ res.fit.coef + res.fit.intercept
  np.testing.assert_allclose(float(jnp.mean((yv - pred) ** 2)), float(res.val_loss), rtol=1e-8)


def test_tune_cv_matches_sklearn_folds_and_grid(x64):
  X, y = make_regression(100, 30, n_informative=10, noise=20.0, random_state=1)
  folds = list(KFold(5).split(X))

  def sk_cv(alpha):
    errs = []
    for tr, te in folds:
      with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = Lasso(alpha=alpha, tol=1e-10, max_iter=100000).fit(X[tr], y[tr])
      errs.append(np.mean((y[te] - m.predict(X[te])) ** 2))
    return float(np.mean(errs))

  res = tune_cv(X, y, jr.L1(10.0), cv=5, steps=30)
  # Its objective is scikit-learn's CV error at its α...
  np.testing.assert_allclose(float(res.val_loss), sk_cv(float(res.alpha)), rtol=1e-6)
  # ... and no worse (within 1%) than the best of a grid.
  grid_best = min(sk_cv(a) for a in np.logspace(-2, 1.5, 15))
  assert float(res.val_loss) <= 1.01 * grid_best


def test_tune_logistic_l2_reaches_best_of_grid(x64):
  from sklearn.datasets import load_breast_cancer
  from sklearn.preprocessing import StandardScaler
  X, y = load_breast_cancer(return_X_y=True)
  X = StandardScaler().fit_transform(X)
  idx = np.random.default_rng(0).permutation(len(y))[:240]
  Xt, yt = X[idx[:120]], y[idx[:120]].astype(float)
  Xv, yv = X[idx[120:]], y[idx[120:]].astype(float)

  def val(fit):
    z = Xv @ fit.coef + fit.intercept
    return jnp.mean(jax.nn.softplus(z) - yv * z)

  grid = np.logspace(-4, 1, 40)
  vals = np.array([float(val(jr.linear.fit(Xt, yt, jr.L2(a), loss="logistic"))) for a in grid])
  best = int(np.argmin(vals))
  res = jr.linear.tune(Xt, yt, Xv, yv, jr.L2(100 * grid[best]), loss="logistic")
  assert float(res.val_loss) <= 1.01 * vals[best]
  np.testing.assert_allclose(float(val(res.fit)), float(res.val_loss), rtol=1e-8)


def test_tune_with_an_optax_optimizer_takes_every_step(x64):
  X, y, Xv, yv = _data()
  res = jr.linear.tune(X, y, Xv, yv, jr.L1(20.0), steps=40, learning_rate=0.5)
  assert res.alphas.shape == (40,) and res.val_losses.shape == (40,)
  # Adam on log α moves steadily down from α = 20 (too strong here).
  assert float(res.val_loss) < 0.8 * float(res.val_losses[0])
  import optax
  res2 = jr.linear.tune(X, y, Xv, yv, jr.L1(20.0), steps=40, optimizer=optax.adam(0.5))
  np.testing.assert_allclose(np.asarray(res2.alphas), np.asarray(res.alphas), rtol=1e-10)


def test_newton_search_brackets_the_minimum_of_a_known_function():
  # V(t) = (t − 1)² + 3 in t = log α, with its exact derivative: the search
  # must find t = 1 from either side, whatever the start.
  from jaxreg.linear.tune import _newton
  objective = lambda t, w: ((t - 1.0) ** 2 + 3.0, w)
  for t0 in (-4.0, 0.5, 6.0):
    alphas, vals, count, _ = _newton(objective, jnp.asarray(t0), jnp.zeros(()), 30, 1.0, 1e-6, 0.0)
    count = int(count)
    assert count < 30
    t_best = np.log(np.asarray(alphas)[:count][np.argmin(np.asarray(vals)[:count])])
    assert abs(t_best - 1.0) < 1e-4


def test_kfold_masks_match_sklearn():
  train, test = kfold_masks(23, 5)
  for k, (tr, te) in enumerate(KFold(5).split(np.zeros(23))):
    np.testing.assert_array_equal(np.flatnonzero(test[k]), te)
    np.testing.assert_array_equal(np.flatnonzero(train[k]), tr)
  pairs = [(np.arange(5, 10), np.arange(5)), (np.arange(5), np.arange(5, 10))]
  train, test = kfold_masks(10, pairs)
  np.testing.assert_array_equal(test[1], [0] * 5 + [1] * 5)


def test_tune_bad_arguments():
  X, y, Xv, yv = _data()
  with pytest.raises(ValueError, match="alpha must be > 0"):
    jr.linear.tune(X, y, Xv, yv, jr.L1(0.0))
  with pytest.raises(ValueError, match="steps"):
    jr.linear.tune(X, y, Xv, yv, jr.L1(1.0), steps=0)
  with pytest.raises(ValueError, match="X_val"):
    jr.linear.tune(X, y, Xv[:, :3], yv, jr.L1(1.0))
  with pytest.raises(ValueError, match="alpha must be > 0"):
    tune_cv(X, y, jr.L2(0.0))
  with pytest.raises(ValueError, match="cv"):
    tune_cv(X, y, jr.L1(1.0), cv=1)
  with pytest.raises(TypeError, match="optimizer"):
    jr.linear.tune(X, y, Xv, yv, jr.L1(1.0), optimizer="adam")
  with pytest.raises(ValueError, match="max_step"):
    jr.linear.tune(X, y, Xv, yv, jr.L1(1.0), max_step=0.0)
  with pytest.raises(ValueError, match="learning_rate"):
    tune_cv(X, y, jr.L1(1.0), learning_rate=-1.0)
