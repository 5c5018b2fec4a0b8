"""Data handling shared by the linear entry points: checks, centering, folds.

One implementation of each, used by :mod:`~jaxreg.linear.paths`,
:mod:`~jaxreg.linear.fit`, :mod:`~jaxreg.linear.tune` and
:mod:`~jaxreg.linear.cross_validation`:

- :func:`check_Xy`: X (n, p) and y (n,) (or a batch of them) as arrays of
  one floating dtype, with errors that name the argument;
- :func:`center`: the centered data and its means, with or without an
  intercept, over all rows or over the rows a 0/1 sample mask selects;
- :func:`kfold`, :func:`check_folds`, :func:`fold_masks`: the folds of a
  ``cv`` argument as scikit-learn's ``check_cv`` reads it (an int K is
  ``KFold(K)``: contiguous, unshuffled), as index pairs or as (K, n) masks.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Sequence, Union

import jax
import jax.numpy as jnp
import numpy as np

from jaxreg import _checks
from jaxreg.linear import _sparse

__all__ = ["all_finite", "center", "check_Xy", "check_folds", "check_sample_weight", "float_dtype",
           "fold_masks", "kfold", "padded_size", "square_root_form", "weighted_rows"]


# --- data checks -------------------------------------------------------------

def float_dtype(*arrays):
  """The common dtype of ``arrays`` if floating, else JAX's default float."""
  dtype = jnp.result_type(*arrays)
  if not jnp.issubdtype(dtype, jnp.floating):
    dtype = jnp.result_type(float)
  return dtype


def _check_numeric(a, name):
  """A TypeError unless ``a`` holds real numbers (bool and integers count)."""
  if a is None:
    raise TypeError(f"{name} must be an array, got None.")
  if _sparse.is_sparse(a):
    raise TypeError(f"{name} is sparse, and this function needs it dense. Sparse X is taken "
                    "by enet_path, lasso_path, fit and cross_validate (squared loss with L1 or "
                    "ElasticNet), and by fit for the logistic and multinomial losses (L1, L2, "
                    f"ElasticNet); otherwise pass {name}.toarray().")
  if isinstance(a, jax.core.Tracer):
    dtype = a.dtype
  else:
    dtype = np.asarray(a).dtype
    if dtype == object or not (np.issubdtype(dtype, np.number) or dtype == bool):
      raise TypeError(f"{name} must be a numeric array, got dtype {dtype}.")
  if jnp.issubdtype(dtype, jnp.complexfloating):
    raise TypeError(f"{name} must be real-valued, got dtype {dtype}.")


def check_Xy(X, y, name_X="X", name_y="y", *, batched=False, dtype_from="Xy",
             multi_output=False):
  """X (n, p) and y (n,) as JAX arrays of one floating dtype, with clear errors.

  Args:
    X, y: the data; with ``batched`` a batch (B, n, p) and (B, n).
    name_X, name_y: the argument names the errors use.
    batched: whether a leading batch axis is expected.
    dtype_from: "Xy", the floating dtype that X and y promote to (the
      paths); "X", X's dtype when it is floating (y is cast to it, as
      scikit-learn's estimators do; :func:`jaxreg.linear.fit`). Integers and
      bools become JAX's default float either way.
    multi_output: also accept y with one more axis, (n, T) (several targets).

  Returns:
    ``(X, y)``, cast to that dtype. Shapes are always checked, and values
    (finite) when concrete.

  Example:
    >>> from jaxreg.linear._data import check_Xy
    >>> X, y = check_Xy([[1, 2], [3, 4]], [0, 1])
    >>> X.dtype == y.dtype, X.shape
    (True, (2, 2))
  """
  _check_numeric(X, name_X)
  _check_numeric(y, name_y)
  X = jnp.asarray(X)
  y = jnp.asarray(y)
  nd = 3 if batched else 2
  if X.ndim != nd:
    what = "(n_problems, n_samples, n_features)" if batched else "(n_samples, n_features)"
    raise ValueError(f"{name_X} must be {nd}-D, a {nd}-d array of shape {what}; got shape "
                     f"{X.shape}.")
  if y.ndim != nd - 1 and not (multi_output and y.ndim == nd):
    what = "(n_problems, n_samples)" if batched else "(n_samples,)"
    raise ValueError(f"{name_y} must be {nd - 1}-D, a {nd - 1}-d array of shape {what}; "
                     f"got shape {y.shape}.")
  ys = y.shape[:nd - 1]
  if X.shape[-2] != ys[-1]:
    raise ValueError(
        f"{name_X} and {name_y} have different numbers of samples: "
        f"{X.shape[-2]} and {ys[-1]} ({name_X} has shape {X.shape}, {name_y} has shape "
        f"{y.shape}).")
  if X.shape[:-1] != ys:
    raise ValueError(
        f"{name_X} and {name_y} have different numbers of problems: {name_X} has shape "
        f"{X.shape}, {name_y} has shape {y.shape}.")
  if X.shape[-2] < 1 or X.shape[-1] < 1:
    raise ValueError(f"{name_X} must have at least one sample and one feature, got {X.shape}.")
  dtype = float_dtype(X, y) if dtype_from == "Xy" else float_dtype(X)
  X = X.astype(dtype)
  y = y.astype(dtype)
  if _checks.is_concrete((X, y)):
    for a, name in ((X, name_X), (y, name_y)):
      if not all_finite(a):
        raise ValueError(f"{name} contains NaN or infinite values.")
  return X, y


@jax.jit
def _finite_flag(x):
  return jnp.all(jnp.isfinite(x))


def all_finite(x) -> bool:
  """Whether every entry of a concrete array is finite.

  Device arrays are checked where they are, and only the one flag is read
  back, explicitly: the array itself never travels to the host.
  """
  if isinstance(x, jax.Array):
    return bool(jax.device_get(_finite_flag(x)))
  return bool(np.all(np.isfinite(np.asarray(x))))


def check_sample_weight(sample_weight, n, dtype, name="sample_weight"):
  """Sample weights (n,) rescaled to sum to n, as scikit-learn's ``ElasticNet``.

  A weight of 0 means "this row is absent"; the scale of the weights does
  not matter (the objective is the weighted mean of the losses).

  Args:
    sample_weight: None (every row weighs 1), a scalar (the same for every
      row) or an (n,) array of finite weights ≥ 0, not all 0.
    n: the number of rows of X.
    dtype: the floating dtype of the result.
    name: the argument name the errors use.

  Returns:
    None for None, else an (n,) array of weights summing to n.

  Example:
    >>> from jaxreg.linear._data import check_sample_weight
    >>> check_sample_weight([1.0, 3.0], 2, "float32").tolist()
    [0.5, 1.5]
  """
  if sample_weight is None:
    return None
  _check_numeric(sample_weight, name)
  w = jnp.asarray(sample_weight)
  if w.ndim == 0:
    w = jnp.broadcast_to(w, (n,))
  if w.shape != (n,):
    raise ValueError(f"{name} must be a scalar or have shape ({n},) (one weight per sample), "
                     f"got shape {w.shape}.")
  w = w.astype(dtype)
  if _checks.is_concrete(w):
    a = np.asarray(jax.device_get(w))  # n numbers, read back explicitly to name a bad one
    if not np.all(np.isfinite(a)):
      raise ValueError(f"{name} contains NaN or infinite values.")
    if np.any(a < 0):
      raise ValueError(f"{name} must be >= 0; entry {int(np.argmax(a < 0))} is "
                       f"{float(a[np.argmax(a < 0)])!r}.")
    if not np.sum(a) > 0:
      raise ValueError(f"{name}: every weight is zero, so no sample is left.")
  return _sum_to_n(w)


@jax.jit
def _sum_to_n(w):
  return w * (w.shape[0] / jnp.sum(w))


def check_sparse_X(X, sample_weight=None, name="X"):
  """A sparse X checked and converted for the solvers: ``(X_csc, s)``.

  ``X_csc`` is a SciPy CSC array (float32 stays float32, anything else
  becomes JAX's default float: float32 unless ``jax_enable_x64`` is set, as
  a dense X would), ``s`` the weights rescaled to sum to n (NumPy) or None.
  A traced X (under ``jax.jit`` / ``jax.vmap``) is a TypeError: sparse
  designs are checked and prepared on the host.
  """
  if any(isinstance(a, jax.core.Tracer) for a in jax.tree_util.tree_leaves(X)):
    raise TypeError(f"a sparse {name} is prepared on the host: call this function outside "
                    f"jax.jit / jax.vmap (or pass {name} dense).")
  dtype = jax.dtypes.canonicalize_dtype(
      np.float32 if getattr(X, "dtype", None) == np.float32 else np.float64)
  Xs = _sparse.to_csc(X, dtype, name)
  s = check_sample_weight(sample_weight, Xs.shape[0], Xs.dtype)
  return Xs, None if s is None else np.asarray(s)


def weighted_rows(X, y, s, fit_intercept):
  """The squared loss with weights as an unweighted one, by scaling rows.

  (1/(2n)) Σᵢ sᵢ (yᵢ − xᵢᵀw − b)², with Σᵢ sᵢ = n, equals
  (1/(2n))‖ỹ − X̃w‖² for X̃ = √s·(X − x̄), ỹ = √s·(y − ȳ) (x̄, ȳ the
  s-weighted means, zero without an intercept) and b = ȳ − x̄ᵀw: the
  reduction scikit-learn's ``_rescale_data`` uses.

  Returns:
    ``(X̃, ỹ, x̄, ȳ)``; ``y`` may be (n,) or (n, T).

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxreg.linear._data import weighted_rows
    >>> Xt, yt, xm, ym = weighted_rows(jnp.array([[0.0], [2.0]]), jnp.array([1.0, 3.0]),
    ...                                jnp.array([0.5, 1.5]), True)
    >>> float(xm[0]), float(ym)
    (1.5, 2.5)
  """
  return _weighted_rows(X, y, s, bool(fit_intercept))


@functools.partial(jax.jit, static_argnums=3)
def _weighted_rows(X, y, s, fit_intercept):
  n = X.shape[0]
  if fit_intercept:
    x_mean = s @ X / n
    y_mean = s @ y / n
    X, y = X - x_mean, y - y_mean
  else:
    x_mean = jnp.zeros(X.shape[1], X.dtype)
    y_mean = jnp.zeros(y.shape[1:], X.dtype)
  r = jnp.sqrt(s)
  return X * r[:, None], y * r.reshape((-1,) + (1,) * (y.ndim - 1)), x_mean, y_mean


def padded_size(m, floor, per_doubling, multiple):
  """The size a dimension m is padded to, so that nearby sizes share one
  compiled program: ``floor`` for m ≤ floor, else the first of
  floor·2^(k/per_doubling) (k = 1, 2, ..., each rounded up to a multiple of
  ``multiple``) that holds m, at most 2^(1/per_doubling) times m rounded up.

  Example:
    >>> from jaxreg.linear._data import padded_size
    >>> [padded_size(m, 32, 4, 8) for m in (1, 32, 33, 100, 1000)]
    [32, 32, 40, 112, 1024]
  """
  if m <= floor:
    return floor
  k = 1
  while True:
    size = -(-math.ceil(floor * 2.0 ** (k / per_doubling)) // multiple) * multiple
    if size >= m:
      return size
    k += 1


def square_root_form(X, y):
  """(R, z) with ‖y − Xw‖² = ‖z − Rw‖² for every w, in p + 1 rows.

  For n > p + 1 the same least-squares problem in p + 1 rows, so that a
  solver pays p² rather than n·p a step and its program does not depend on
  n: the R factor of the QR decomposition of [X | y], whose first p columns
  give R and whose last gives z = Qᵀy. ‖z‖ = ‖y‖ and Rᵀz = Xᵀy, so the
  duality gap and its tolerance are those of the original problem (the
  last row, ρ = distance from y to the span of X, is kept for that).
  Unlike a Cholesky factor of XᵀX it does not square the condition number
  (in float32 that cost 3 digits on a design of condition 10³), and a
  rank-deficient X needs no special case. Otherwise (X, y) unchanged.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxreg.linear._data import square_root_form
    >>> X = jnp.array([[1.0], [2.0], [2.0]]); y = jnp.array([1.0, 0.0, 3.0])
    >>> R, z = square_root_form(X, y)
    >>> R.shape, round(float(jnp.sum(z * z)), 4), round(float(R[:, 0] @ z), 4)
    ((2, 1), 10.0, 7.0)
  """
  n, p = X.shape
  if n <= p + 1:
    return X, y
  Ra = jnp.linalg.qr(jnp.concatenate([X, y[:, None]], axis=1), mode="r")
  return Ra[:, :p], Ra[:, p]


# --- centering ---------------------------------------------------------------

def center(X, y, fit_intercept, mask=None):
  """Centered copies of X and y, their means and the number of rows used.

  ``y`` is (n,) or (n, T) (several targets, each centered). Without
  ``mask`` every row counts; with a 0/1 ``mask`` (n,) the means are
  those of the rows it selects and the other rows are zeroed (so sums over
  all rows are sums over the selected ones). Without an intercept the means
  are zeros and nothing is subtracted.

  Returns:
    ``(Xc, yc, x_mean, y_mean, n)``; n is the row count (an int without
    ``mask``, ``sum(mask)`` with it).

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxreg.linear._data import center
    >>> Xc, yc, xm, ym, n = center(jnp.array([[1.0], [3.0], [8.0]]), jnp.array([0.0, 2.0, 9.0]),
    ...                            True, mask=jnp.array([1.0, 1.0, 0.0]))
    >>> Xc.ravel().tolist(), float(ym), float(n)
    ([-1.0, 1.0, 0.0], 1.0, 2.0)
  """
  n = X.shape[0] if mask is None else jnp.sum(mask)
  if fit_intercept:
    if mask is None:
      x_mean = jnp.mean(X, axis=0)
      y_mean = jnp.mean(y, axis=0)
    else:
      x_mean = mask @ X / n
      y_mean = mask @ y / n
    Xc, yc = X - x_mean, y - y_mean
  else:
    x_mean = jnp.zeros(X.shape[1], X.dtype)
    y_mean = jnp.zeros(y.shape[1:], X.dtype)
    Xc, yc = X, y
  if mask is not None:
    Xc, yc = Xc * mask[:, None], yc * mask.reshape((-1,) + (1,) * (y.ndim - 1))
  return Xc, yc, x_mean, y_mean, n


# --- folds -------------------------------------------------------------------

def kfold(n_samples: int, n_folds: int):
  """Contiguous, unshuffled folds as scikit-learn's ``KFold(n_folds)`` makes them.

  The first ``n_samples % n_folds`` folds hold one extra sample.

  Args:
    n_samples: number of samples n.
    n_folds: number of folds, 2 ≤ n_folds ≤ n.

  Returns:
    A list of (train, test) integer index arrays.

  Example:
    >>> from jaxreg.linear.cross_validation import kfold
    >>> [test.tolist() for _, test in kfold(5, 2)]
    [[0, 1, 2], [3, 4]]
  """
  sizes = np.full(n_folds, n_samples // n_folds)
  sizes[: n_samples % n_folds] += 1
  bounds = np.concatenate([[0], np.cumsum(sizes)])
  idx = np.arange(n_samples)
  return [(np.concatenate([idx[:a], idx[b:]]), idx[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]


def _index_array(a, i, name, n):
  a = np.asarray(a)
  if a.ndim != 1 or a.size == 0 or not np.issubdtype(a.dtype, np.integer):
    raise ValueError(f"cv[{i}] {name} indices must be a non-empty 1-D integer array, got "
                     f"dtype {a.dtype} and shape {a.shape}.")
  if a.min() < -n or a.max() >= n:
    raise ValueError(f"cv[{i}] {name} indices must lie in [0, {n}), got {a.min()}..{a.max()}.")
  return a % n


def check_folds(cv, X=None, y=None, n=None):
  """The (train, test) index pairs of ``cv``, as scikit-learn's ``check_cv`` reads it.

  Accepted, as for ``LassoCV(cv=...)``: None (5 folds), an int K ≥ 2
  (``KFold(K)``: contiguous, unshuffled), a splitter object with a
  ``split(X, y)`` method (``KFold(shuffle=True)``, ``TimeSeriesSplit``,
  ``ShuffleSplit``, ...), or an iterable of (train, test) index arrays.
  Train and test need not cover every row, may overlap, and may repeat an
  index (the row then counts as many times, as ``X[train]`` does).

  Args:
    cv: the fold specification.
    X, y: the data handed to ``cv.split`` (only its shape is needed otherwise).
    n: the number of samples when X is None.

  Returns:
    A list of (train, test) integer arrays with indices in [0, n).

  Example:
    >>> from sklearn.model_selection import TimeSeriesSplit
    >>> import numpy as np
    >>> from jaxreg.linear.cross_validation import check_folds
    >>> [(tr.tolist(), te.tolist()) for tr, te in check_folds(TimeSeriesSplit(2), np.zeros((6, 1)))]
    [([0, 1], [2, 3]), ([0, 1, 2, 3], [4, 5])]
  """
  if n is None:
    n = np.shape(X)[0]
  if cv is None:
    cv = 5
  if isinstance(cv, bool):
    raise TypeError("cv must be an int, a splitter with a split method or an iterable of "
                    "(train, test) index arrays, got a bool.")
  if isinstance(cv, (int, np.integer)):
    if cv < 2:
      raise ValueError(f"cv must be at least 2 folds, got {cv}.")
    if cv > n:
      raise ValueError(f"cv={cv} folds is more than the {n} samples.")
    return kfold(n, int(cv))
  if hasattr(cv, "split") and not isinstance(cv, (str, bytes)):
    if X is None:
      X = np.zeros((n, 1))
    folds = cv.split(X, y)
  else:
    folds = cv
  if isinstance(folds, (str, bytes)):
    raise TypeError(f"cv must be an int, a splitter or (train, test) index arrays, got {cv!r}.")
  try:
    folds = list(folds)
  except TypeError as e:
    raise TypeError(f"cv must be an int, a splitter with a split method or an iterable of "
                    f"(train, test) index arrays, got {type(cv).__name__}.") from e
  if len(folds) < 1:
    raise ValueError("cv must hold at least one (train, test) pair.")
  out = []
  for i, pair in enumerate(folds):
    try:
      train, test = pair
    except (TypeError, ValueError) as e:
      raise TypeError(f"cv[{i}] must be a (train, test) pair of index arrays.") from e
    out.append((_index_array(train, i, "train", n), _index_array(test, i, "test", n)))
  return out


def fold_masks(n: int, cv: Union[int, Sequence, Any, None] = 5, X=None, y=None):
  """(K, n) train and test masks of a fold specification, as ``LassoCV`` reads it.

  ``cv`` is read by :func:`check_folds`: None or K (K contiguous folds as
  scikit-learn's ``KFold(K)``), a splitter object with ``split(X, y)``, or
  (train, test) index pairs. Rows may be in neither set of a fold. A test
  row listed twice counts twice; a training row may not repeat (the masks
  weigh training rows 0 or 1).

  Args:
    n: number of samples.
    cv: the fold specification.
    X, y: the data handed to ``cv.split`` (optional otherwise).

  Returns:
    ``(train, test)``, two (K, n) float arrays: 0/1 for train, counts for test.

  Example:
    >>> from jaxreg.linear.tune import kfold_masks
    >>> train, test = kfold_masks(5, 2)
    >>> test
    array([[1., 1., 1., 0., 0.],
           [0., 0., 0., 1., 1.]])
  """
  folds = check_folds(cv, X, y, n=n)
  train = np.zeros((len(folds), n))
  test = np.zeros((len(folds), n))
  for k, (tr, te) in enumerate(folds):
    counts = np.bincount(tr, minlength=n)
    if counts.max() > 1:
      raise ValueError(f"cv[{k}] train indices repeat a row; tune_cv weighs training rows 0 "
                       "or 1 (use cross_validate for bootstrap folds).")
    train[k] = counts
    test[k] = np.bincount(te, minlength=n)
  return train, test
