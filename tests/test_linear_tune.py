"""Gradient-based tuning of α against grids (of jaxreg fits and of scikit-learn CV)."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.datasets import make_regression
from sklearn.linear_model import Lasso, LassoCV
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
  res = jr.linear.tune(X, y, Xv, yv, jr.L1(start), ftol=0.0)
  assert float(res.val_loss) <= 1.01 * vals[best]
  # The search stops by itself (scan and refinement), well before the cap.
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

  res = tune_cv(X, y, jr.L1(10.0), cv=5, ftol=0.0)
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
  objective = lambda t, w: ((t - 1.0) ** 2 + 3.0, (w, True))
  for t0 in (-4.0, 0.5, 6.0):
    alphas, vals, count, _, conv, fits_ok = _newton(objective, jnp.asarray(t0), jnp.zeros(()),
                                                    30, 1.0, 1e-6, 0.0)
    count = int(count)
    assert count < 30 and bool(conv) and bool(fits_ok)
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


# --- the search is bracketed from α_max down, whatever the start ---------------

XTOL = 0.05  # the default xtol of tune / tune_cv


def _lasso_val(X, y, Xv, yv, alpha):
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    m = Lasso(alpha=alpha, tol=1e-12, max_iter=10**6).fit(X, y)
  return float(np.mean((yv - m.predict(Xv)) ** 2))


def _alpha_max(X, y):
  return float(np.max(np.abs((X - X.mean(0)).T @ (y - y.mean())))) / len(y)


def test_bracket_search_of_a_known_function():
  # A scan from the top of the domain brackets the lower of two minima
  # (t = −3, the deeper), which a local search started at t = 1 misses;
  # the refinement then lands within xtol; the best point is what it
  # reports; the cap on steps is reported as not converged.
  from jaxreg.linear.tune import _bracket
  V = lambda t: -2.0 * jnp.exp(-(t + 3.0) ** 2) - jnp.exp(-(t - 1.0) ** 2) + 5.0
  objective = lambda t, w: (V(t), (w, True))
  for t0 in (1.0, -6.0, 3.0, 10.0):
    out = _bracket(objective, jnp.asarray(t0), jnp.zeros(()), 40, jnp.asarray(-7.0),
                   jnp.asarray(2.0), 0.5, 1e-3, 0.0)
    alphas, vals, count, _, conv, fits_ok = out
    count = int(count)
    t = np.log(np.asarray(alphas)[:count])
    v = np.asarray(vals)[:count]
    assert bool(conv) and bool(fits_ok) and count < 40
    assert t.min() >= -7.0 - 1e-6 and t.max() <= 2.0 + 1e-6
    assert abs(t[np.argmin(v)] + 3.0) <= 1e-3
  out = _bracket(objective, jnp.asarray(1.0), jnp.zeros(()), 5, jnp.asarray(-7.0),
                 jnp.asarray(2.0), 0.5, 1e-3, 0.0)
  assert not bool(out[4]) and int(out[2]) == 5


@pytest.mark.parametrize("where", ["above_alpha_max", "far_below", "at_optimum"])
def test_tune_lands_on_the_grid_optimum_from_any_start(x64, where):
  X, y, Xv, yv = _data()
  a_max = _alpha_max(X, y)
  # Oracle: scikit-learn's Lasso on a grid finer than xtol over the domain.
  grid = a_max * np.logspace(-3, 0, 200)
  vals = np.array([_lasso_val(X, y, Xv, yv, a) for a in grid])
  best = int(np.argmin(vals))
  start = {"above_alpha_max": 10 * a_max, "far_below": 1e-4, "at_optimum": grid[best]}[where]
  res = jr.linear.tune(X, y, Xv, yv, jr.L1(start), ftol=0.0)
  assert bool(res.converged)
  # Within xtol of the grid's optimum, plus the grid's own spacing.
  spacing = np.log(grid[1] / grid[0])
  near = np.abs(np.log(grid / grid[best])) <= XTOL + spacing
  assert abs(np.log(float(res.alpha) / grid[best])) <= XTOL + spacing
  assert float(res.val_loss) <= vals[near].max() * (1 + 1e-9)
  # The reported point is the best measured, and its loss is the oracle's at α.
  assert float(res.val_loss) == float(np.min(np.asarray(res.val_losses)))
  np.testing.assert_allclose(float(res.val_loss), _lasso_val(X, y, Xv, yv, float(res.alpha)),
                             rtol=1e-6)
  assert np.any(np.asarray(res.fit.coef) != 0)


def _cv_curve(X, y, alphas):
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    m = LassoCV(alphas=alphas, cv=KFold(5), tol=1e-12, max_iter=10**6).fit(X, y)
  return m.alphas_, m.mse_path_.reshape(len(m.alphas_), -1).mean(axis=1)


@pytest.mark.parametrize("where", ["above_alpha_max", "far_below", "at_optimum"])
def test_tune_cv_lands_on_lassocv_optimum_from_any_start(x64, where):
  X, y = make_regression(100, 30, n_informative=10, noise=20.0, random_state=1)
  # Every fold's fit is 0 above the largest of the folds' α_max.
  a_max = max(_alpha_max(X[tr], y[tr]) for tr, _ in KFold(5).split(X))
  alphas, curve = _cv_curve(X, y, a_max * np.logspace(-3, 0, 200))
  best = int(np.argmin(curve))
  start = {"above_alpha_max": 10 * a_max, "far_below": 1e-4, "at_optimum": alphas[best]}[where]
  res = tune_cv(X, y, jr.L1(start), cv=5, ftol=0.0)
  assert bool(res.converged)
  spacing = abs(np.log(alphas[1] / alphas[0]))
  near = np.abs(np.log(alphas / alphas[best])) <= XTOL + spacing
  assert abs(np.log(float(res.alpha) / alphas[best])) <= XTOL + spacing
  assert float(res.val_loss) <= curve[near].max() * (1 + 1e-9)
  assert float(res.val_loss) == float(np.min(np.asarray(res.val_losses)))
  _, at = _cv_curve(X, y, np.array([float(res.alpha)]))
  np.testing.assert_allclose(float(res.val_loss), at[0], rtol=1e-6)
  # The fit on all the data is scikit-learn's at that α.
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    m = Lasso(alpha=float(res.alpha), tol=1e-12, max_iter=10**6).fit(X, y)
  scale = np.abs(m.coef_).max()
  np.testing.assert_allclose(np.asarray(res.fit.coef), m.coef_, atol=1e-6 * scale)
  assert float(res.fit.intercept) == pytest.approx(m.intercept_, abs=1e-6 * scale)
  assert bool(res.fit.converged)


def test_tune_cv_on_many_more_features_than_samples_is_bounded(x64):
  # p ≫ n: supports near the number of samples at small α, where the fold
  # solver gave up and the fallback ran to its cap. Same shape ratio as a
  # 150 × 8000 problem.
  X, y = make_regression(60, 2000, n_informative=15, random_state=3)
  a_max = max(_alpha_max(X[tr], y[tr]) for tr, _ in KFold(5).split(X))
  res = tune_cv(X, y, jr.L1(a_max / 10), cv=5, ftol=0.0)
  assert bool(res.converged) and len(res.alphas) <= 40
  # At scikit-learn's optimum on its default 100-α grid (spacing 0.07 in
  # log α), and no worse than it.
  alphas, curve = _cv_curve(X, y, 100)
  best = int(np.argmin(curve))
  assert abs(np.log(float(res.alpha) / alphas[best])) <= XTOL + np.log(alphas[0] / alphas[1])
  assert float(res.val_loss) <= curve[best] * (1 + 1e-9)


def test_tune_says_when_the_best_alpha_is_the_bottom_of_the_interval(x64):
  X, y, Xv, yv = _data()
  a_max = _alpha_max(X, y)
  # The optimum (about 0.4, far below 0.3·α_max) lies outside the interval.
  with pytest.warns(UserWarning, match="smaller eps"):
    res = jr.linear.tune(X, y, Xv, yv, jr.L1(1.0), ftol=0.0, eps=0.3)
  np.testing.assert_allclose(float(res.alpha), 0.3 * a_max, rtol=1e-9)
  assert bool(res.converged)


def test_tune_reports_a_search_cut_short(x64):
  X, y, Xv, yv = _data()
  with pytest.warns(jr.linear.cross_validation.ConvergenceWarning, match="steps=3"):
    res = jr.linear.tune(X, y, Xv, yv, jr.L1(1.0), steps=3, ftol=0.0)
  assert not bool(res.converged) and len(res.alphas) == 3
  assert float(res.val_loss) == float(np.min(np.asarray(res.val_losses)))


def test_tune_cv_accepts_sklearn_splitters(x64):
  from sklearn.model_selection import TimeSeriesSplit
  X, y = make_regression(100, 30, n_informative=10, noise=20.0, random_state=1)
  cv = TimeSeriesSplit(5)  # five folds: the shapes, hence the program, of KFold(5)
  res = tune_cv(X, y, jr.L1(1.0), cv=cv, ftol=0.0)
  errs = []
  for tr, te in cv.split(X):
    errs.append(np.mean((y[te] - Lasso(alpha=float(res.alpha), tol=1e-12, max_iter=10**6)
                         .fit(X[tr], y[tr]).predict(X[te])) ** 2))
  np.testing.assert_allclose(float(res.val_loss), np.mean(errs), rtol=1e-6)


@pytest.mark.parametrize("start", [1e4, 1e-7])
def test_ridge_tuning_does_not_depend_on_the_start(x64, start):
  # Ridge has no α_max; its V is flat above 10³·λ_max and below 10⁻³·λ_min⁺,
  # so a start on either flat end must still find the minimum between them.
  # Oracle: scikit-learn Ridge (alpha = n·α) on a fine grid of the same
  # validation loss; the search stops within ftol (0.1 %) of its best point.
  from sklearn.datasets import load_diabetes
  from sklearn.linear_model import Ridge
  X, y = load_diabetes(return_X_y=True)
  Xt, yt, Xv, yv = X[:300], y[:300], X[300:], y[300:]
  grid = np.logspace(-7, 1, 161)
  vals = [np.mean((yv - Ridge(alpha=a * len(yt)).fit(Xt, yt).predict(Xv)) ** 2) for a in grid]
  with warnings.catch_warnings():
    warnings.simplefilter("error")  # converged, so no warning
    res = jr.linear.tune(Xt, yt, Xv, yv, jr.L2(start))
  assert bool(res.converged)
  assert float(res.val_loss) <= min(vals) * (1 + 1e-3)
  assert float(res.val_loss) == float(np.min(res.val_losses))
  ridge = Ridge(alpha=float(res.alpha) * len(yt)).fit(Xt, yt)  # the reported loss is real
  np.testing.assert_allclose(float(res.val_loss), np.mean((yv - ridge.predict(Xv)) ** 2),
                             rtol=1e-8)
