"""jaxreg.linear._data: data checks, centering and folds (against scikit-learn's KFold)."""

import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.model_selection import KFold, TimeSeriesSplit

from jaxreg.linear import _data


@pytest.mark.parametrize("n,k", [(10, 2), (10, 5), (11, 3), (23, 5), (7, 7), (9, 4), (100, 7)])
def test_kfold_matches_sklearn(n, k):
  ours = _data.kfold(n, k)
  theirs = list(KFold(k).split(np.zeros(n)))
  assert len(ours) == len(theirs) == k
  for (tr, te), (str_, ste) in zip(ours, theirs):
    np.testing.assert_array_equal(tr, str_)
    np.testing.assert_array_equal(te, ste)
  # check_folds reads an int as KFold(k); fold_masks lays the same folds out as masks.
  for (tr, te), (str_, ste) in zip(_data.check_folds(k, n=n), theirs):
    np.testing.assert_array_equal(tr, str_)
    np.testing.assert_array_equal(te, ste)
  train, test = _data.fold_masks(n, k)
  for f, (str_, ste) in enumerate(theirs):
    np.testing.assert_array_equal(np.flatnonzero(train[f]), str_)
    np.testing.assert_array_equal(np.flatnonzero(test[f]), ste)


def test_check_folds_splitters_and_pairs():
  X = np.zeros((12, 2))
  for (tr, te), (a, b) in zip(_data.check_folds(TimeSeriesSplit(3), X),
                              TimeSeriesSplit(3).split(X)):
    np.testing.assert_array_equal(tr, a)
    np.testing.assert_array_equal(te, b)
  pairs = [(np.arange(6), np.array([-1, 6]))]
  (tr, te), = _data.check_folds(pairs, n=12)
  np.testing.assert_array_equal(te, [11, 6])  # negative indices wrap, as X[idx] does
  assert len(_data.check_folds(None, X)) == 5


def test_fold_and_data_errors():
  X = np.zeros((6, 2))
  with pytest.raises(ValueError, match="at least 2"):
    _data.check_folds(1, X)
  with pytest.raises(ValueError, match="more than the 6 samples"):
    _data.check_folds(7, X)
  with pytest.raises(TypeError, match="cv"):
    _data.check_folds(True, X)
  with pytest.raises(ValueError, match=r"cv\[0\] test indices must lie in \[0, 6\)"):
    _data.check_folds([(np.arange(3), np.array([6]))], X)
  with pytest.raises(ValueError, match="at least one"):
    _data.check_folds([], X)
  with pytest.raises(ValueError, match=r"cv\[0\] train indices repeat a row"):
    _data.fold_masks(6, [(np.array([0, 0, 1]), np.array([2]))])

  y = np.zeros(6)
  with pytest.raises(ValueError, match="X_tr must be 2-D.*2-d"):
    _data.check_Xy(y, y, "X_tr", "y_tr")
  with pytest.raises(ValueError, match="y must be 1-D"):
    _data.check_Xy(X, X)
  with pytest.raises(ValueError, match="X and y have different numbers of samples: 6 and 5"):
    _data.check_Xy(X, y[:5])
  with pytest.raises(ValueError, match="different numbers of problems"):
    _data.check_Xy(np.zeros((2, 6, 2)), np.zeros((3, 6)), batched=True)
  with pytest.raises(ValueError, match="at least one sample"):
    _data.check_Xy(np.zeros((0, 2)), np.zeros(0))
  with pytest.raises(TypeError, match="X must be a numeric array"):
    _data.check_Xy(np.array([["a"]]), np.zeros(1))
  with pytest.raises(TypeError, match="y must be an array, got None"):
    _data.check_Xy(X, None)
  with pytest.raises(TypeError, match="y must be real-valued"):
    _data.check_Xy(X, y + 1j)
  Xn = X.copy()
  Xn[0, 0] = np.inf
  with pytest.raises(ValueError, match="X contains NaN or infinite"):
    _data.check_Xy(Xn, y)


def test_float_dtype_choice():
  X32 = np.ones((3, 2), np.float32)
  Xi = np.ones((3, 2), np.int32)
  X, y = _data.check_Xy(Xi, np.arange(3))
  assert X.dtype == y.dtype == jnp.result_type(float)
  X, y = _data.check_Xy(X32, np.ones(3, np.float32))
  assert X.dtype == y.dtype == jnp.float32
  X, y = _data.check_Xy(X32, np.ones(3), dtype_from="X")
  assert X.dtype == y.dtype == jnp.float32


def test_center_with_and_without_mask():
  rng = np.random.default_rng(0)
  X = jnp.asarray(rng.normal(size=(8, 3)))
  y = jnp.asarray(rng.normal(size=8))
  Xc, yc, xm, ym, n = _data.center(X, y, True)
  np.testing.assert_allclose(xm, np.asarray(X).mean(0), rtol=1e-6)
  np.testing.assert_allclose(np.asarray(Xc).mean(0), 0, atol=1e-6)
  assert n == 8
  Xc, yc, xm, ym, n = _data.center(X, y, False)
  np.testing.assert_array_equal(Xc, X)
  assert float(ym) == 0.0 and not np.any(np.asarray(xm))
  m = jnp.asarray([1, 1, 0, 1, 0, 1, 1, 0], X.dtype)
  Xc, yc, xm, ym, n = _data.center(X, y, True, mask=m)
  sel = np.asarray(m, bool)
  np.testing.assert_allclose(xm, np.asarray(X)[sel].mean(0), rtol=1e-6)
  np.testing.assert_allclose(ym, np.asarray(y)[sel].mean(), rtol=1e-6)
  np.testing.assert_array_equal(np.asarray(Xc)[~sel], 0)
  np.testing.assert_allclose(np.asarray(yc)[sel], np.asarray(y)[sel] - np.asarray(y)[sel].mean(),
                             rtol=1e-6, atol=1e-7)
  assert float(n) == 5
