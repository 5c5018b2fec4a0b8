"""Regularization paths against oracles: scikit-learn 1.9's enet_path and
Lasso, the ridge closed form, and duality gaps written out in NumPy."""

import warnings

import numpy as np
import pytest
from sklearn import datasets, linear_model

import jaxreg as jr
from jaxreg.linear.fit import ConvergenceWarning

EPS64 = float(np.finfo(np.float64).eps)


# The diabetes lasso / elastic-net paths below all take five alphas (each
# set holds the three or two it had before): one compiled program serves them.
def _diabetes():
  return datasets.load_diabetes(return_X_y=True)


def _enet_obj(Xc, yc, w, alpha, r):
  n = len(yc)
  R = yc - Xc @ w
  return R @ R / (2 * n) + alpha * r * np.abs(w).sum() + 0.5 * alpha * (1 - r) * w @ w


def _sum_gap(Xc, yc, w, alpha, r):
  """scikit-learn's enet_coordinate_descent gap of ½‖y − Xw‖² + n·pen(w)."""
  n = len(yc)
  l1, l2 = n * alpha * r, n * alpha * (1 - r)
  R = yc - Xc @ w
  primal = 0.5 * (R @ R + l2 * w @ w) + l1 * np.abs(w).sum()
  if l1 > 0:
    dn = np.abs(Xc.T @ R - l2 * w).max()
    s = min(1.0, l1 / dn) if dn > 0 else 1.0
    dual = -0.5 * s * s * (R @ R + l2 * w @ w) + s * R @ yc
  else:
    xtr = Xc.T @ R
    dual = -0.5 * R @ R + R @ yc - 0.5 * xtr @ xtr / l2
  return primal - dual


@pytest.mark.parametrize("l1_ratio", [0.0, 0.5])
def test_at_equal_tol_at_least_as_close_as_sklearn(x64, l1_ratio):
  # At scikit-learn's default tol, f8dd914 stopped an l1_ratio = 0 path on
  # the gap alone after one sweep, coefficients 0.4-1.7 % off; scikit-learn
  # also asks the last sweep to have moved no coefficient by more than
  # tol·max|w|. Optimum: the ridge closed form, or scikit-learn at 1e-14.
  X, y = _diabetes()
  Xc, yc = X - X.mean(0), y - y.mean()
  n, p = X.shape
  alphas = np.geomspace(1.0, 1e-3, 5)
  path = jr.linear.enet_path(X, y, l1_ratio=l1_ratio, alphas=alphas, tol=1e-4)
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    _, sk, _ = linear_model.enet_path(Xc, yc, l1_ratio=l1_ratio, alphas=alphas, tol=1e-4)
    if l1_ratio > 0:
      _, best, _ = linear_model.enet_path(Xc, yc, l1_ratio=l1_ratio, alphas=alphas, tol=1e-14,
                                          max_iter=100_000)
  for k, a in enumerate(np.asarray(path.alphas)):
    if l1_ratio == 0:
      w_opt = np.linalg.solve(Xc.T @ Xc / n + a * np.eye(p), Xc.T @ yc / n)
    else:
      w_opt = best[:, k]
    f_opt = _enet_obj(Xc, yc, w_opt, a, l1_ratio)
    f_jr = _enet_obj(Xc, yc, np.asarray(path.coefs[k]), a, l1_ratio)
    f_sk = _enet_obj(Xc, yc, sk[:, k], a, l1_ratio)
    # Rounding of the objective itself: a few ε·f.
    assert f_jr - f_opt <= max(f_sk - f_opt, 0.0) + 8 * EPS64 * f_opt, (k, a)
  assert bool(np.all(path.converged))


def test_dual_gaps_in_sklearn_units(x64):
  # scikit-learn 1.9.1 (as 1.8) divides enet_coordinate_descent's gap by n
  # in Lasso.dual_gap_ and enet_path; f8dd914 reported n times that.
  X, y = _diabetes()
  Xc, yc = X - X.mean(0), y - y.mean()
  n = len(y)
  alphas = np.array([1.0, 0.3, 0.1, 0.03, 0.01])
  path = jr.linear.lasso_path(X, y, alphas=alphas, tol=1e-6)
  sk = linear_model.Lasso(alpha=0.1, tol=1e-6).fit(X, y)
  # The unit of scikit-learn itself, on its own solution.
  np.testing.assert_allclose(sk.dual_gap_, _sum_gap(Xc, yc, sk.coef_, 0.1, 1.0) / n,
                             rtol=1e-6, atol=100 * EPS64 * (yc @ yc) / n)
  for k, a in enumerate(np.asarray(path.alphas)):
    want = _sum_gap(Xc, yc, np.asarray(path.coefs[k]), a, 1.0) / n
    # The gap is a difference of sums of size ‖y‖²: a few ε·‖y‖²/n.
    assert abs(float(path.dual_gaps[k]) - want) <= 100 * EPS64 * (yc @ yc) / n
    assert float(path.dual_gaps[k]) <= 1e-6 * (yc @ yc) / n


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_precomputed_gram_as_sklearn(x64, fit_intercept):
  # f8dd914: "truth value of an array is ambiguous".
  X, y = _diabetes()
  Xs, ys = (X - X.mean(0), y - y.mean()) if fit_intercept else (X, y)
  G = Xs.T @ Xs
  alphas = np.array([0.5, 0.15, 0.05, 0.015, 0.005])
  path = jr.linear.enet_path(X, y, l1_ratio=0.5, alphas=alphas, precompute=G,
                             fit_intercept=fit_intercept, tol=1e-10)
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    _, sk, _ = linear_model.enet_path(Xs, ys, l1_ratio=0.5, alphas=alphas, precompute=G,
                                      tol=1e-12, max_iter=100_000)
  n = len(y)
  for k, a in enumerate(alphas):
    gap = _sum_gap(Xs, ys, np.asarray(path.coefs[k]), a, 0.5)
    assert gap <= 1e-10 * (ys @ ys)
    f_jr = _enet_obj(Xs, ys, np.asarray(path.coefs[k]), a, 0.5)
    f_sk = _enet_obj(Xs, ys, sk[:, k], a, 0.5)
    assert f_jr <= f_sk + gap / n + 8 * EPS64 * f_sk
  assert bool(np.all(path.converged))


def test_precomputed_gram_checked():
  X, y = _diabetes()
  Xc = X - X.mean(0)
  G = Xc.T @ Xc
  for bad, what in [(G[:-1, :-1], "shape"), (G + np.triu(np.ones_like(G), 1), "symmetric"),
                    (X.T @ X + 1.0, "match"), (np.full_like(G, np.nan), "NaN")]:
    with pytest.raises(ValueError, match="precompute"):
      jr.linear.enet_path(X, y, alphas=[0.1], precompute=bad)
  with pytest.raises(ValueError, match="precompute"):
    jr.linear.enet_path(X, y, alphas=[0.1], precompute="yes")


@pytest.mark.parametrize("fn", ["enet_path", "lasso_path", "logistic_path"])
def test_tol_and_max_iter_checked_in_paths(fn):
  X, y = _diabetes()
  X, y = X[:40], (y[:40] > np.median(y[:40])).astype(float)
  f = getattr(jr.linear, fn)
  for bad in (float("inf"), float("nan"), 0.0, -1.0):
    with pytest.raises(ValueError, match="tol"):
      f(X, y, alphas=[0.1], tol=bad)
  for bad in (0, -1, 2.5):
    with pytest.raises(ValueError, match="max_iter"):
      f(X, y, alphas=[0.1], max_iter=bad)


def test_path_nonconvergence_is_loud(x64):
  X, y = _diabetes()
  alphas = np.array([0.1, 0.03, 0.01, 0.003, 0.001])
  with pytest.warns(ConvergenceWarning, match="max_iter=1"):
    path = jr.linear.lasso_path(X, y, alphas=alphas, max_iter=1, tol=1e-12)
  assert path.converged.shape == (5,) and not bool(np.all(path.converged))
  assert np.all(np.asarray(path.n_iter) <= 1)
  with warnings.catch_warnings():
    warnings.simplefilter("error", ConvergenceWarning)
    ok = jr.linear.lasso_path(X, y, alphas=alphas)
  assert bool(np.all(ok.converged))
  Xl, yl = X[:, :4], (y > np.median(y)).astype(float)
  with pytest.warns(ConvergenceWarning, match="logistic_path"):
    lp = jr.linear.logistic_path(Xl, yl, alphas=[1e-4], max_iter=1)
  assert not bool(lp.converged[0]) and int(lp.n_iter[0]) <= 1


def test_logistic_path_stops_on_optimality(x64):
  X, y = datasets.make_classification(random_state=42)
  n = len(y)
  alphas = np.array([1e-2, 1.0 / (n * 1000.0)])
  path = jr.linear.logistic_path(X, y, penalty="l1", alphas=alphas, tol=1e-10)
  scale = max(1.0, np.abs(X).mean(0).max())
  for k, a in enumerate(np.asarray(path.alphas)):
    w, b = np.asarray(path.coefs[k]), float(path.intercepts[k])
    r = 1 / (1 + np.exp(-(X @ w + b))) - y
    g = X.T @ r / n
    viol = np.where(w != 0, np.abs(g + a * np.sign(w)), np.maximum(np.abs(g) - a, 0.0))
    assert max(viol.max(), abs(r.mean())) <= 1e-10 * scale
  assert bool(np.all(path.converged))


@pytest.mark.parametrize("data", ["toy", "diabetes"])
def test_lasso_path_matches_lars_homotopy(x64, data):
  # Ported from scikit-learn's
  # test_lasso_path_return_models_vs_new_return_gives_same_coefficients:
  # LARS (method="lasso") computes the exact piecewise-linear path, so its
  # interpolation at any α is the optimum.
  from scipy import interpolate
  if data == "toy":
    X = np.array([[1, 2, 3.1], [2.3, 5.4, 4.3]]).T
    y = np.array([1, 2, 3.1])
    alphas = np.array([5.0, 1.0, 0.5])
    fit_intercept = False
  else:
    X, y = _diabetes()
    X, y = X - X.mean(0), y - y.mean()
    alphas = np.array([1.0, 0.3, 0.1, 0.03, 0.01])
    fit_intercept = True
  a_lars, _, c_lars = linear_model.lars_path(X, y, method="lasso")
  exact = interpolate.interp1d(a_lars[::-1], c_lars[:, ::-1])(alphas)
  path = jr.linear.lasso_path(X, y, alphas=alphas, tol=1e-12, fit_intercept=fit_intercept)
  for k, a in enumerate(alphas):
    w = np.asarray(path.coefs[k])
    f_jr = _enet_obj(X, y, w, a, 1.0)
    f_opt = _enet_obj(X, y, exact[:, k], a, 1.0)
    # jaxreg's gap bounds its suboptimality; LARS is exact up to rounding.
    gap = _sum_gap(X, y, w, a, 1.0) / len(y)
    assert f_jr - f_opt <= gap + 8 * EPS64 * f_opt
    assert f_opt - f_jr <= 8 * EPS64 * f_opt
    np.testing.assert_array_equal(w != 0, np.abs(exact[:, k]) > 1e-12 * np.abs(exact).max())
