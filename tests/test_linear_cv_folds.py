"""cross_validate on every fold scheme scikit-learn's LassoCV accepts, against LassoCV."""

import warnings

import numpy as np
import pytest
from sklearn import datasets, linear_model
from sklearn.model_selection import KFold, ShuffleSplit, TimeSeriesSplit

import jaxreg as jr
from jaxreg.linear.cross_validation import check_folds

TOL = 1e-12
MAX_ITER = 100_000
# Both solvers stop at a duality gap ≤ TOL·‖y_c‖², which bounds the primal
# suboptimality of the (1/(2n)) objective by TOL·‖y_c‖²/n: the fitted values
# differ by O(√TOL) relative to y, hence so do the held-out errors.
RTOL = 10 * np.sqrt(TOL)


def _data():
  X, y = datasets.make_regression(90, 12, n_informative=5, noise=15.0, random_state=0)
  return X, y


def _schemes(n, seed):
  """(name, cv for jaxreg, cv for scikit-learn): both sides get equal folds."""
  rng = np.random.default_rng(seed)
  k = int(rng.integers(2, 6))
  out = [("kfold-shuffle", KFold(k, shuffle=True, random_state=seed)),
         ("time-series", TimeSeriesSplit(k)),
         ("shuffle-split", ShuffleSplit(k, test_size=0.2, train_size=0.5, random_state=seed))]
  # A holdout leaving rows unused, and overlapping train/test sets.
  perm = rng.permutation(n)
  a, b = int(rng.integers(20, 40)), int(rng.integers(50, 70))
  out.append(("holdout", [(perm[:a], perm[a:b])]))
  out.append(("overlap", [(np.sort(rng.choice(n, 60, replace=False)),
                           np.sort(rng.choice(n, 30, replace=False))) for _ in range(k)]))
  # Bootstrap training sets: repeated rows count as often as X[train] has them.
  out.append(("bootstrap", [(rng.integers(0, n, n), rng.choice(n, 25, replace=False))
                            for _ in range(k)]))
  return out


def _sklearn(X, y, alphas, folds):
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    return linear_model.LassoCV(alphas=alphas, cv=folds, tol=TOL, max_iter=MAX_ITER).fit(X, y)


@pytest.mark.parametrize("precompute", [True, False], ids=["gram", "residual"])
def test_random_fold_schemes_match_lassocv(x64, precompute):
  X, y = _data()
  n = len(y)
  for seed in range(2):
    for name, cv in _schemes(n, seed):
      folds = check_folds(cv, X, y)
      # Splitters are handed over as objects, pair lists as a one-shot generator.
      arg = cv if hasattr(cv, "split") else (pair for pair in cv)
      res = jr.linear.cross_validate(X, y, cv=arg, n_alphas=12, tol=TOL, max_iter=MAX_ITER,
                                     precompute=precompute)
      m = _sklearn(X, y, np.asarray(res.alphas), folds)
      # scikit-learn drops the fold axis of a single split; jaxreg keeps it.
      sk_path = m.mse_path_.reshape(len(res.alphas), -1)
      assert res.mse_path.shape == sk_path.shape == (len(res.alphas), len(folds)), name
      np.testing.assert_allclose(np.asarray(res.mse_path), sk_path, rtol=RTOL, err_msg=name)
      # The chosen α minimises scikit-learn's own curve (ties within RTOL).
      sk_mean = sk_path.mean(axis=1)
      i = int(np.flatnonzero(np.asarray(res.alphas) == res.best_alpha)[0])
      assert sk_mean[i] <= sk_mean.min() * (1 + RTOL), name
      if abs(sk_mean[i] - sk_mean.min()) == 0:
        assert float(res.best_alpha) == pytest.approx(m.alpha_, rel=1e-12), name
      assert bool(np.all(np.asarray(res.converged))) and bool(np.all(res.coefs_converged))


def test_folds_need_not_cover_the_rows_in_gram_mode(x64):
  # The training rows are train, never the complement of test: a
  # TimeSeriesSplit's early folds train on a few rows only.
  X, y = _data()
  cv = TimeSeriesSplit(3)
  # n_alphas as above: the same compiled path program.
  res = jr.linear.cross_validate(X, y, cv=cv, n_alphas=12, tol=TOL, max_iter=MAX_ITER,
                                 precompute=True)
  m = _sklearn(X, y, np.asarray(res.alphas), cv)
  np.testing.assert_allclose(np.asarray(res.mse_path), m.mse_path_, rtol=RTOL)


def test_check_folds_reads_cv_as_sklearn():
  X, y = _data()
  n = len(y)
  for cv in (None, 4, KFold(3, shuffle=True, random_state=1), TimeSeriesSplit(4)):
    from sklearn.model_selection import check_cv
    ours = check_folds(cv, X, y)
    theirs = list(check_cv(cv).split(X, y))
    assert len(ours) == len(theirs)
    for (a, b), (c, d) in zip(ours, theirs):
      np.testing.assert_array_equal(a, c)
      np.testing.assert_array_equal(b, d)
  with pytest.raises(TypeError, match="cv"):
    check_folds(True, X, y)
  with pytest.raises(TypeError, match="cv"):
    check_folds(3.5, X, y)
  with pytest.raises(ValueError, match=r"cv\[0\] test indices"):
    check_folds([(np.arange(5), np.array([n]))], X, y)
  with pytest.raises(ValueError, match=r"cv\[1\] train indices"):
    check_folds([(np.arange(5), np.arange(5, 9)), (np.array([], int), np.arange(3))], X, y)
  with pytest.raises(ValueError, match="at least one"):
    check_folds([], X, y)


def test_cv_reports_nonconvergence(x64):
  X, y = _data()
  with pytest.warns(jr.linear.cross_validation.ConvergenceWarning, match="max_iter=1"):
    res = jr.linear.cross_validate(X, y, cv=3, n_alphas=6, tol=TOL, max_iter=1)
  assert not bool(np.all(np.asarray(res.converged)))
  assert res.converged.shape == res.mse_path.shape and res.coefs_converged.shape == (6,)
