r"""scikit-learn estimators over :mod:`jaxreg.linear`.

Drop-in counterparts of scikit-learn's linear models, with the same
parameter names and scalings, so that ``jaxreg.sklearn.Lasso(alpha=a)``
solves the problem ``sklearn.linear_model.Lasso(alpha=a)`` solves:

==========================  =====================================================
estimator                   objective (n samples, weights s summing to n)
==========================  =====================================================
``Lasso(alpha)``            (1/(2n))Σ sᵢ(yᵢ − xᵢᵀw − b)² + α‖w‖₁
``ElasticNet(alpha, r)``    same data term + α·r‖w‖₁ + α(1 − r)/2 ‖w‖²
``Ridge(alpha)``            Σ sᵢ(yᵢ − xᵢᵀw − b)² + α‖w‖² (raw weights)
``LogisticRegression(C)``   C Σᵢ ℓᵢ + pen(w) (binary log-loss, or multinomial)
``SparseLinearModel``       any jaxreg datafit × any jaxreg penalty
==========================  =====================================================

and ``LassoCV``, ``ElasticNetCV``, ``LogisticRegressionCV`` cross-validate
them. Each works in a :class:`~sklearn.pipeline.Pipeline`, in
:class:`~sklearn.model_selection.GridSearchCV`, pickles, and passes
scikit-learn's estimator checks. float64 input is solved in float64 (inside
``jax.enable_x64``), float32 input in float32; the fitted attributes are
NumPy arrays.

Example:
  >>> import numpy as np
  >>> from sklearn.pipeline import make_pipeline
  >>> from sklearn.preprocessing import StandardScaler
  >>> from jaxreg.sklearn import LassoCV
  >>> rng = np.random.default_rng(0)
  >>> X = rng.normal(size=(80, 6)); y = X[:, 0] - 2 * X[:, 3] + 0.1 * rng.normal(size=80)
  >>> model = make_pipeline(StandardScaler(), LassoCV(cv=3, alphas=20)).fit(X, y)
  >>> np.flatnonzero(np.abs(model[-1].coef_) > 0.1).tolist()
  [0, 3]

References:
  Pedregosa et al. (2011), "Scikit-learn: machine learning in Python";
  Buitinck et al. (2013), "API design for machine learning software".
"""

from __future__ import annotations

import functools
import numbers

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.metrics import check_scoring
from sklearn.model_selection import check_cv
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from jaxreg import penalties as _penalties
from jaxreg.linear import _data
from jaxreg.linear import cross_validation as _cv
from jaxreg.linear.fit import fit as _linear_fit
from jaxreg.linear import paths as _paths

__all__ = ["ElasticNet", "ElasticNetCV", "Lasso", "LassoCV", "LogisticRegression",
           "LogisticRegressionCV", "Ridge", "SparseLinearModel"]

_DTYPES = (np.float64, np.float32)


def _x64(method):
  """Runs ``method`` with JAX's 64-bit types on: float64 data is solved in
  float64 (as scikit-learn does), float32 data stays float32, whatever the
  global ``jax_enable_x64`` setting."""
  @functools.wraps(method)
  def wrapper(*args, **kwargs):
    with jax.enable_x64(True):
      return method(*args, **kwargs)
  return wrapper


def _check_number(value, name, low=0.0, low_open=False, integer=False):
  kind = numbers.Integral if integer else numbers.Real
  if isinstance(value, bool) or not isinstance(value, kind):
    raise TypeError(f"{name} must be {'an integer' if integer else 'a real number'}, got "
                    f"{value!r}.")
  if not np.isfinite(value) or value < low or (low_open and value == low):
    raise ValueError(f"{name} must be finite and {'>' if low_open else '>='} {low}, got "
                     f"{value!r}.")
  return value


def _check_l1_ratio(value, name="l1_ratio"):
  _check_number(value, name)
  if value > 1:
    raise ValueError(f"{name} must be in [0, 1], got {value!r}.")
  return float(value)


def _pad_columns(X, floor=32):
  """X with zero columns appended up to a bucketed width, so that data sets
  of nearby widths share one compiled program. A zero column's coefficient
  is 0 under L1 / L2 / elastic net (its gradient is 0): the problem is
  unchanged."""
  p = X.shape[1]
  p_b = _padded_width(p, floor)
  return X if p_b == p else np.pad(X, ((0, 0), (0, p_b - p)))


def _padded_width(p, floor=32):
  """Widths up to ``floor`` share one program (a zero column costs little:
  it never enters a working set), then steps of 2^(1/4)."""
  return _data.padded_size(p, floor, 4, 8)


def _squared_problem(X, y, sample_weight, fit_intercept, pad_columns=True):
  r"""The weighted squared loss as an unweighted, intercept-free problem of
  a few compiled shapes.

  (1/(2n))Σ sᵢ(yᵢ − xᵢᵀw − b)² (s summing to n) is, for every w, up to a
  constant, (1/(2m))‖ỹ − X̃w‖² with b = ȳ − x̄ᵀw, where X̃, ỹ are the
  √s-scaled, s-centered rows (:func:`jaxreg.linear._data.weighted_rows`),
  reduced to p + 1 rows when n > p + 1
  (:func:`jaxreg.linear._data.square_root_form`), scaled by √(m/n), padded
  with zero rows to m and (with ``pad_columns``) zero columns. The solver's
  program then depends on p's bucket alone for tall data (n's bucket too for
  wide data); its
  duality gap and gap tolerance are those of the original problem times
  m/n.

  Returns:
    ``(X̃, ỹ, x̄, ȳ)`` as JAX arrays.
  """
  n, p = X.shape
  s = _data.check_sample_weight(sample_weight, n, X.dtype)
  s = jnp.ones(n, X.dtype) if s is None else s
  p_b = _padded_width(p) if pad_columns else p
  # Tall data (and small wide data) become p_b + 1 rows; wide data keep
  # their n rows, bucketed (p_b + 1 zero rows would multiply the work).
  tall = n > p + 1
  m_b = p_b + 1 if tall or p_b + 1 <= 64 else _data.padded_size(n, 32, 4, 8)
  return _reduce(jnp.asarray(X), jnp.asarray(y), s, fit_intercept=bool(fit_intercept), p_b=p_b,
                 m_b=m_b)


@functools.partial(jax.jit, static_argnames=("fit_intercept", "p_b", "m_b"))
def _reduce(X, y, s, *, fit_intercept, p_b, m_b):
  """`_squared_problem`'s arrays, in one small compiled program."""
  n, p = X.shape
  Xt, yt, x_mean, y_mean = _data.weighted_rows(X, y, s, fit_intercept)
  A, b = _data.square_root_form(Xt, yt)
  scale = jnp.sqrt(jnp.asarray(m_b / n, X.dtype))
  A = jnp.pad(A * scale, ((0, m_b - A.shape[0]), (0, p_b - p)))
  b = jnp.pad(b * scale, (0, m_b - b.shape[0]))
  return A, b, x_mean, y_mean


def _padded_rows(X, codes, sample_weight):
  """X, the class codes and the weights with rows of weight 0 appended up
  to a bucketed count, so that data sets of nearby sizes share one compiled
  solver: a row of weight 0 is absent from the weighted loss (see
  :class:`jaxreg.linear.datafits.Weighted`), so the problem is unchanged."""
  n = X.shape[0]
  m = _data.padded_size(n, 32, 4, 8)
  s = np.ones(n, X.dtype) if sample_weight is None else np.broadcast_to(
      np.asarray(sample_weight, X.dtype), (n,))
  return (np.pad(X, ((0, m - n), (0, 0))), np.pad(codes, (0, m - n)),
          np.pad(s, (0, m - n)))


def _weight_total(sample_weight, X):
  """Σᵢ sᵢ of valid weights (n for None): the scale scikit-learn's
  classifiers and Ridge put the penalty against."""
  n = X.shape[0]
  if sample_weight is None:
    return float(n)
  _data.check_sample_weight(sample_weight, n, X.dtype)
  return float(np.sum(np.broadcast_to(np.asarray(sample_weight, dtype=X.dtype), (n,))))


def _as_numpy(a, dtype):
  return np.asarray(jax.device_get(a), dtype=dtype)


class _LinearRegressor(RegressorMixin, BaseEstimator):
  """predict / fitted attributes shared by the regressors."""

  _accept_sparse = False
  _multi_output = False

  def _validate(self, X, y):
    sparse = ("csr", "csc") if self._accept_sparse else False
    return validate_data(self, X, y, dtype=_DTYPES, y_numeric=True, accept_sparse=sparse,
                         multi_output=self._multi_output)

  def predict(self, X):
    """Linear predictions X @ coef_ + intercept_ (X dense or, where the
    estimator accepts it, sparse).

    Args:
      X: (n, p) array-like.

    Returns:
      (n,) predictions.
    """
    check_is_fitted(self)
    X = validate_data(self, X, dtype=_DTYPES, reset=False,
                      accept_sparse=("csr", "csc") if self._accept_sparse else False)
    out = X @ self.coef_.T + self.intercept_
    return np.asarray(out).ravel() if np.ndim(self.coef_) == 1 else np.asarray(out)

  def _store(self, res, X):
    coef = _as_numpy(res.coef, X.dtype)[:X.shape[1]]
    intercept = _as_numpy(res.intercept, X.dtype)
    if coef.ndim == 2 and coef.shape[1] == 1:   # a one-column y, squeezed as scikit-learn does
      coef, intercept = coef[:, 0], intercept.reshape(())
    if coef.ndim == 2:   # several targets: scikit-learn's (n_targets, n_features)
      self.coef_, self.intercept_ = coef.T, intercept
    else:
      self.coef_, self.intercept_ = coef, float(intercept)
    self.n_iter_ = max(int(np.max(np.asarray(res.n_iter))), 1)
    return self

  def __sklearn_tags__(self):
    tags = super().__sklearn_tags__()
    tags.input_tags.sparse = self._accept_sparse
    tags.target_tags.multi_output = self._multi_output
    return tags

  def _fit_squared(self, X, y, pen, sample_weight, pad_columns=True, **kwargs):
    """`jaxreg.linear.fit` on `_squared_problem`; stores the result."""
    A, b, x_mean, y_mean = _squared_problem(X, y, sample_weight, self.fit_intercept,
                                            pad_columns)
    init = kwargs.pop("init", None)
    if init is not None:
      init = np.pad(init, (0, A.shape[1] - init.shape[0]))
    res = _linear_fit(A, b, pen, fit_intercept=False, init=init, **kwargs)
    coef = res.coef[:X.shape[1]]
    res = res._replace(coef=coef, intercept=y_mean - x_mean @ coef)
    return self._store(res, X)


class ElasticNet(_LinearRegressor):
  r"""Linear regression with combined L1 and L2 priors (scikit-learn's ``ElasticNet``).

  .. math::  \min_{w,b}\ \frac{1}{2n}\sum_i s_i (y_i - x_i^\top w - b)^2
             + \alpha r\|w\|_1 + \frac{\alpha(1-r)}{2}\|w\|_2^2

  (weights s rescaled to sum to n), solved by :func:`jaxreg.linear.fit`
  with ``jr.ElasticNet(alpha, l1_ratio)`` (inside ``jr.NonNegative`` when
  ``positive``).

  Args:
    alpha: α ≥ 0.
    l1_ratio: r ∈ [0, 1].
    fit_intercept: fit an unpenalized intercept.
    max_iter: cap on coordinate-descent sweeps.
    tol: relative duality-gap tolerance, as scikit-learn's (gap ≤
      tol·‖y_c‖² in sum form).
    warm_start: start a refit from the previous solution.
    positive: constrain the coefficients to be ≥ 0.

  Attributes:
    coef_: (p,) coefficients.
    intercept_: the intercept.
    n_iter_: solver iterations.
    n_features_in_, feature_names_in_: as scikit-learn.

  Example:
    >>> import numpy as np
    >>> from jaxreg.sklearn import ElasticNet
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 3.0]])
    >>> y = np.array([0.0, 1.0, 2.0, 3.5])
    >>> ElasticNet(alpha=0.1, l1_ratio=0.5).fit(X, y).coef_.round(3).tolist()  # as scikit-learn
    [0.953, 0.169]
  """

  _accept_sparse = True
  _multi_output = True

  def __init__(self, alpha=1.0, *, l1_ratio=0.5, fit_intercept=True, max_iter=1000, tol=1e-4,
               warm_start=False, positive=False):
    self.alpha = alpha
    self.l1_ratio = l1_ratio
    self.fit_intercept = fit_intercept
    self.max_iter = max_iter
    self.tol = tol
    self.warm_start = warm_start
    self.positive = positive

  def _penalty(self):
    return _penalties.ElasticNet(float(self.alpha), _check_l1_ratio(self.l1_ratio))

  @_x64
  def fit(self, X, y, sample_weight=None):
    """Fits the model.

    Args:
      X: (n, p) array-like.
      y: (n,) targets.
      sample_weight: None or (n,) weights ≥ 0 (0 removes a row).

    Returns:
      self.
    """
    X, y = self._validate(X, y)
    _check_number(self.alpha, "alpha")
    _check_number(self.tol, "tol", low_open=True)
    _check_number(self.max_iter, "max_iter", low=1, integer=True)
    pen = self._penalty()
    if self.positive:
      pen = _penalties.NonNegative(pen)
    init = self.coef_ if self.warm_start and np.shape(getattr(self, "coef_", None)) == (
        X.shape[1],) and y.ndim == 1 else None
    kwargs = dict(tol=float(self.tol), max_iter=int(self.max_iter))
    if y.ndim == 2:
      # Several targets, each its own problem (scikit-learn's Lasso on a 2-D y).
      init = init if init is None or np.ndim(init) == 2 else None
      res = _linear_fit(X, y, pen, fit_intercept=bool(self.fit_intercept),
                        sample_weight=sample_weight, **kwargs)
      return self._store(res, X)
    if sp.issparse(X):
      # Never densified: the sparse working-set solver.
      res = _linear_fit(X, y, pen, fit_intercept=bool(self.fit_intercept),
                        sample_weight=sample_weight, init=init, **kwargs)
      return self._store(res, X)
    return self._fit_squared(X, y, pen, sample_weight, init=init, **kwargs)


class Lasso(ElasticNet):
  r"""Linear regression with an L1 prior (scikit-learn's ``Lasso``).

  .. math::  \min_{w,b}\ \frac{1}{2n}\sum_i s_i (y_i - x_i^\top w - b)^2 + \alpha\|w\|_1

  Args:
    alpha: α ≥ 0.
    fit_intercept, max_iter, tol, warm_start, positive: as :class:`ElasticNet`.

  Example:
    >>> import numpy as np
    >>> from jaxreg.sklearn import Lasso
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 3.0]])
    >>> y = np.array([0.0, 1.0, 2.0, 3.5])
    >>> Lasso(alpha=0.1).fit(X, y).coef_.round(4).tolist()   # as sklearn's Lasso
    [1.0, 0.1]
  """

  def __init__(self, alpha=1.0, *, fit_intercept=True, max_iter=1000, tol=1e-4,
               warm_start=False, positive=False):
    self.alpha = alpha
    self.fit_intercept = fit_intercept
    self.max_iter = max_iter
    self.tol = tol
    self.warm_start = warm_start
    self.positive = positive

  def _penalty(self):
    return _penalties.L1(float(self.alpha))


class Ridge(_LinearRegressor):
  r"""Linear least squares with an L2 penalty (scikit-learn's ``Ridge``).

  .. math::  \min_{w,b}\ \sum_i s_i (y_i - x_i^\top w - b)^2 + \alpha\|w\|_2^2

  with the raw weights s (scikit-learn's scaling: ``Ridge(alpha=a)`` is
  jaxreg's ``L2(a / Σs)``), solved in closed form.

  Args:
    alpha: α ≥ 0 (0: least squares, minimum-norm when not unique).
    fit_intercept: fit an unpenalized intercept.

  Example:
    >>> import numpy as np
    >>> from jaxreg.sklearn import Ridge
    >>> X = np.array([[0.0], [1.0], [2.0]]); y = np.array([0.0, 1.0, 2.0])
    >>> Ridge(alpha=2.0).fit(X, y).coef_.round(3).tolist()   # Σx_c² / (Σx_c² + α)
    [0.5]
  """

  def __init__(self, alpha=1.0, *, fit_intercept=True):
    self.alpha = alpha
    self.fit_intercept = fit_intercept

  @_x64
  def fit(self, X, y, sample_weight=None):
    """Fits the model; ``sample_weight``: None or (n,) weights ≥ 0. Returns self."""
    X, y = self._validate(X, y)
    _check_number(self.alpha, "alpha")
    total = _weight_total(sample_weight, X)
    return self._fit_squared(X, y, _penalties.L2(float(self.alpha) / total), sample_weight)


class SparseLinearModel(_LinearRegressor):
  r"""Any jaxreg datafit × any jaxreg penalty as a scikit-learn regressor.

  .. math::  \min_{w,b}\ f(y, Xw + b) + P_\alpha(w)

  with f a regression datafit of :mod:`jaxreg.linear.datafits`
  (``"squared"``, ``"huber"``, ``"poisson"``) and P any jaxreg penalty
  (``L1`` with weights, ``Lp``, ``GroupLasso``, ``MCP``, ``SCAD``,
  ``NonNegative(...)``, a mask for unpenalized coefficients...).

  Args:
    penalty: a jaxreg penalty; None is ``jr.L1(1.0)``.
    datafit: a datafit name or object.
    alpha: None to use the penalty's own α, or α ≥ 0 to replace it (so
      ``GridSearchCV`` can search ``alpha``).
    fit_intercept: fit an unpenalized intercept.
    max_iter: None (the solver's default) or a positive cap on iterations.
    tol: the relative tolerance of :func:`jaxreg.linear.fit`.
    solver: ``"auto"``, ``"cd"``, ``"prox_newton"`` or ``"fista"``.

  Example:
    >>> import numpy as np, jaxreg as jr
    >>> from jaxreg.sklearn import SparseLinearModel
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 8)); y = 3 * X[:, 2] + 0.1 * rng.normal(size=100)
    >>> model = SparseLinearModel(jr.MCP(0.1, gamma=3.0)).fit(X, y)
    >>> np.flatnonzero(model.coef_).tolist()
    [2]
  """

  def __init__(self, penalty=None, datafit="squared", *, alpha=None, fit_intercept=True,
               max_iter=None, tol=1e-4, solver="auto"):
    self.penalty = penalty
    self.datafit = datafit
    self.alpha = alpha
    self.fit_intercept = fit_intercept
    self.max_iter = max_iter
    self.tol = tol
    self.solver = solver

  def _penalty(self):
    pen = _penalties.L1(1.0) if self.penalty is None else self.penalty
    if not isinstance(pen, _penalties.Penalty):
      raise TypeError(f"penalty must be a jaxreg penalty (e.g. jr.MCP(0.1, 3.0)), got {pen!r}.")
    if self.alpha is not None:
      _check_number(self.alpha, "alpha")
      pen = _penalties._with_alpha(pen, float(self.alpha))
    return pen

  def _datafit_name(self):
    return self.datafit if isinstance(self.datafit, str) else getattr(self.datafit, "name", "")

  @_x64
  def fit(self, X, y, sample_weight=None):
    """Fits the model; ``sample_weight``: None or (n,) weights ≥ 0, not all 0
    (the datafit becomes the weighted mean of the row losses). Returns self."""
    X, y = self._validate(X, y)
    if self._datafit_name() in ("logistic", "multinomial"):
      raise ValueError(f"datafit={self.datafit!r} is a classifier's; use "
                       "jaxreg.sklearn.LogisticRegression(penalty=...).")
    _check_number(self.tol, "tol", low_open=True)
    if self.max_iter is not None:
      _check_number(self.max_iter, "max_iter", low=1, integer=True)
    pen = self._penalty()
    kwargs = dict(tol=float(self.tol), max_iter=self.max_iter, solver=self.solver)
    if self._datafit_name() == "squared":
      # No zero columns: a penalty may be shaped by p (weights, groups, masks).
      return self._fit_squared(X, y, pen, sample_weight, pad_columns=False, **kwargs)
    res = _linear_fit(X, y, pen, loss=self.datafit, fit_intercept=bool(self.fit_intercept),
                      sample_weight=sample_weight, **kwargs)
    return self._store(res, X)

  def predict(self, X):
    """The model's mean: Xw + b, or exp(Xw + b) for the Poisson datafit."""
    eta = super().predict(X)
    return np.exp(eta) if self._datafit_name() == "poisson" else eta

  def __sklearn_tags__(self):
    tags = super().__sklearn_tags__()
    tags.target_tags.positive_only = self._datafit_name() == "poisson"
    return tags


# --- classifiers ---------------------------------------------------------------

_LOGISTIC_PENALTIES = ("l1", "l2", "elasticnet", None)


def _logistic_penalty(penalty, l1_ratio, alpha):
  """The jaxreg penalty of scikit-learn's ``penalty=`` at strength α = 1/(nC)."""
  if isinstance(penalty, _penalties.Penalty):
    return _penalties._with_alpha(penalty, alpha)
  if penalty == "l2":
    return _penalties.L2(alpha)
  if penalty == "l1":
    return _penalties.L1(alpha)
  if penalty == "elasticnet":
    if l1_ratio is None:
      raise ValueError("penalty='elasticnet' needs l1_ratio in [0, 1].")
    return _penalties.ElasticNet(alpha, _check_l1_ratio(l1_ratio))
  if penalty is None:
    return _penalties.L2(0.0)
  raise ValueError(f"penalty must be one of {_LOGISTIC_PENALTIES} or a jaxreg penalty, got "
                   f"{penalty!r}.")


class _LogisticBase(ClassifierMixin, BaseEstimator):
  """Label encoding, decision function and probabilities of the classifiers."""

  def _validate(self, X, y):
    X, y = validate_data(self, X, y, dtype=_DTYPES, accept_sparse=("csr", "csc"))
    check_classification_targets(y)
    self.classes_, codes = np.unique(y, return_inverse=True)
    if len(self.classes_) < 2:
      raise ValueError(f"This solver needs samples of at least 2 classes in the data, but the "
                       f"data contains only one class: {self.classes_[0]!r}.")
    return X, codes

  def __sklearn_tags__(self):
    tags = super().__sklearn_tags__()
    tags.input_tags.sparse = True
    return tags

  def _fit_codes(self, X, codes, C, sample_weight=None):
    """(coef (K', p), intercept (K',), n_iter) at strength C on all rows.

    With weights the objective is C Σᵢ sᵢℓᵢ + pen(w), scikit-learn's: in
    jaxreg's mean scaling, the penalty at α = 1/(C Σᵢ sᵢ)."""
    _check_number(C, "C", low_open=True)
    K = len(self.classes_)
    alpha = 1.0 / (_weight_total(sample_weight, X) * float(C))
    pen = _logistic_penalty(self.penalty, self.l1_ratio, alpha)
    loss = "logistic" if K == 2 else "multinomial"
    if sp.issparse(X):   # solved on the host, never densified nor padded
      Xp, s = X, sample_weight
    else:
      Xp, codes, s = _padded_rows(self._padded_columns(X), codes, sample_weight)
    res = _linear_fit(Xp, codes.astype(X.dtype) if K == 2 else codes, pen, loss=loss,
                      fit_intercept=bool(self.fit_intercept), tol=float(self.tol),
                      max_iter=int(self.max_iter), sample_weight=s)
    coef = _as_numpy(res.coef, X.dtype)[:X.shape[1]]
    intercept = np.atleast_1d(_as_numpy(res.intercept, X.dtype))
    if K == 2:
      return (coef[None, :], intercept), int(res.n_iter)
    # The multinomial intercepts are defined up to a common shift; scikit-learn's sum to 0.
    return (coef.T, intercept - intercept.mean()), int(res.n_iter)

  def _padded_columns(self, X):
    """X with zero columns up to a bucketed width (built-in penalties only:
    a jaxreg penalty may be shaped by p)."""
    if isinstance(self.penalty, _penalties.Penalty):
      return X
    return _pad_columns(X)

  def decision_function(self, X):
    """Scores X @ coef_.T + intercept_: (n,) for two classes, else (n, K)."""
    check_is_fitted(self)
    X = validate_data(self, X, dtype=_DTYPES, reset=False, accept_sparse=("csr", "csc"))
    scores = np.asarray(X @ self.coef_.T) + self.intercept_
    return scores[:, 0] if scores.shape[1] == 1 else scores

  def predict_proba(self, X):
    """(n, K) class probabilities (sigmoid for two classes, softmax else)."""
    scores = self.decision_function(X)
    if scores.ndim == 1:
      p1 = 1.0 / (1.0 + np.exp(-scores))
      return np.stack([1.0 - p1, p1], axis=1)
    scores = scores - scores.max(axis=1, keepdims=True)
    e = np.exp(scores)
    return e / e.sum(axis=1, keepdims=True)

  def predict_log_proba(self, X):
    """Logarithm of :meth:`predict_proba`."""
    return np.log(self.predict_proba(X))

  def predict(self, X):
    """The most probable class of each row."""
    scores = self.decision_function(X)
    idx = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
    return self.classes_[idx]


class LogisticRegression(_LogisticBase):
  r"""Penalized logistic regression (scikit-learn's ``LogisticRegression``).

  .. math::  \min_{w,b}\ C\sum_i \ell(y_i, x_i^\top w + b) + \mathrm{pen}(w)

  with ℓ the binary log-loss for two classes and the multinomial one
  otherwise; ``pen`` is ½‖w‖² (``"l2"``), ‖w‖₁ (``"l1"``), r‖w‖₁ +
  (1 − r)/2‖w‖² (``"elasticnet"``), none (None), or any jaxreg penalty at
  α = 1 (its α is replaced). In jaxreg's mean scaling this is the penalty at
  α = 1/(nC) (1/(C Σᵢ sᵢ) with sample weights), which
  :func:`jaxreg.linear.fit` solves. A sparse X (CSR, CSC) with ``"l1"``,
  ``"l2"`` or ``"elasticnet"`` is solved without densifying it
  (:mod:`jaxreg.linear.solvers.sparse_prox_newton`).

  Args:
    penalty: ``"l2"``, ``"l1"``, ``"elasticnet"``, None or a jaxreg penalty.
    C: inverse strength > 0.
    l1_ratio: r for ``"elasticnet"``.
    fit_intercept: fit an unpenalized intercept.
    tol: relative optimality tolerance of :func:`jaxreg.linear.fit`.
    max_iter: cap on (proximal) Newton steps.

  Attributes:
    classes_: the sorted labels.
    coef_: (1, p) for two classes, (K, p) otherwise.
    intercept_: (1,) or (K,).
    n_iter_: (1,) iterations.

  Example:
    >>> import numpy as np
    >>> from jaxreg.sklearn import LogisticRegression
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array(["a", "a", "b", "b"])
    >>> LogisticRegression(C=10.0).fit(X, y).predict([[0.2], [2.8]]).tolist()
    ['a', 'b']
  """

  def __init__(self, penalty="l2", *, C=1.0, l1_ratio=None, fit_intercept=True, tol=1e-4,
               max_iter=100):
    self.penalty = penalty
    self.C = C
    self.l1_ratio = l1_ratio
    self.fit_intercept = fit_intercept
    self.tol = tol
    self.max_iter = max_iter

  @_x64
  def fit(self, X, y, sample_weight=None):
    """Fits the model on labels of any type (two or more classes).

    Args:
      X: (n, p) data.
      y: (n,) labels.
      sample_weight: None or (n,) weights ≥ 0, not all 0 (0 removes a row;
        the objective is C Σᵢ sᵢℓᵢ + pen(w), as scikit-learn's).

    Returns:
      self.
    """
    X, codes = self._validate(X, y)
    _check_number(self.tol, "tol", low_open=True)
    _check_number(self.max_iter, "max_iter", low=1, integer=True)
    (self.coef_, self.intercept_), it = self._fit_codes(X, codes, self.C, sample_weight)
    self.n_iter_ = np.array([max(it, 1)])
    return self


class LogisticRegressionCV(_LogisticBase):
  r"""Logistic regression with C chosen by cross-validation (scikit-learn's
  ``LogisticRegressionCV``).

  For every fold, the path over ``Cs`` (C increasing, each warm-started
  from the previous: :func:`jaxreg.linear.path` at α = 1/(n_train·C)) is
  scored on the held-out rows; the C with the best mean score is refitted
  on all rows.

  Args:
    Cs: an int K (K values logspaced in [1e-4, 1e4]) or the values of C.
    cv: None (5 stratified folds), an int, a splitter or (train, test) pairs.
    penalty, l1_ratio, fit_intercept, tol, max_iter: as
      :class:`LogisticRegression`.
    scoring: None (accuracy) or a scikit-learn scorer name or callable.

  Attributes:
    Cs_: the grid.
    C_: (1,) the chosen C.
    scores_: {class: (n_folds, len(Cs_))} held-out scores (one array for
      every class, as scikit-learn's multinomial).
    coef_, intercept_, classes_, n_iter_: as :class:`LogisticRegression`.

  Example:
    >>> import numpy as np
    >>> from sklearn.datasets import load_iris
    >>> from jaxreg.sklearn import LogisticRegressionCV
    >>> X, y = load_iris(return_X_y=True)
    >>> model = LogisticRegressionCV(Cs=[0.1, 1.0, 10.0], cv=3, max_iter=500).fit(X, y)
    >>> model.coef_.shape, model.score(X, y) > 0.9
    ((3, 4), True)
  """

  def __init__(self, Cs=10, *, cv=None, penalty="l2", l1_ratio=None, fit_intercept=True,
               tol=1e-4, max_iter=100, scoring=None):
    self.Cs = Cs
    self.cv = cv
    self.penalty = penalty
    self.l1_ratio = l1_ratio
    self.fit_intercept = fit_intercept
    self.tol = tol
    self.max_iter = max_iter
    self.scoring = scoring

  def _grid(self):
    if isinstance(self.Cs, numbers.Integral) and not isinstance(self.Cs, bool):
      _check_number(self.Cs, "Cs", low=1, integer=True)
      return np.logspace(-4, 4, int(self.Cs))
    Cs = np.asarray(self.Cs, dtype=float)
    if Cs.ndim != 1 or Cs.size == 0 or not np.all(np.isfinite(Cs)) or np.any(Cs <= 0):
      raise ValueError(f"Cs must be an int or a 1-d array of finite C > 0, got {self.Cs!r}.")
    return Cs

  def _fold_scores(self, X, codes, y, train, test, Cs, scorer, sample_weight):
    K = len(self.classes_)
    order = np.argsort(Cs)
    sw_tr = None if sample_weight is None else sample_weight[train]
    total = float(len(train)) if sw_tr is None else float(np.sum(sw_tr))
    if not total > 0:
      raise ValueError("sample_weight is zero on every row of a training fold.")
    alphas = 1.0 / (total * Cs[order])  # decreasing: strongest penalty first
    pen = _logistic_penalty(self.penalty, self.l1_ratio, 1.0)
    y_tr = codes[train]
    if len(np.unique(y_tr)) < K:
      raise ValueError("a training fold lacks a class; use stratified folds (cv=None or "
                       "StratifiedKFold).")
    if sp.issparse(X):
      coefs, intercepts = self._sparse_path(X[train], y_tr.astype(X.dtype) if K == 2 else y_tr,
                                            alphas, sw_tr, "logistic" if K == 2 else "multinomial")
    else:
      X_tr, y_tr, s_tr = _padded_rows(self._padded_columns(X[train]), y_tr, sw_tr)
      res = _paths.path(X_tr, y_tr.astype(X.dtype) if K == 2 else y_tr, pen,
                        datafit="logistic" if K == 2 else "multinomial", alphas=alphas,
                        fit_intercept=bool(self.fit_intercept), tol=float(self.tol),
                        max_iter=int(self.max_iter), sample_weight=s_tr)
      coefs = _as_numpy(res.coefs, X.dtype)[:, :X.shape[1]]
      intercepts = _as_numpy(res.intercepts, X.dtype)
    scores = np.empty(len(Cs))
    probe = LogisticRegression()
    probe.classes_, probe.n_features_in_ = self.classes_, X.shape[1]
    for k, j in enumerate(order):
      if K == 2:
        probe.coef_, probe.intercept_ = coefs[k][None, :], np.atleast_1d(intercepts[k])
      else:
        probe.coef_, probe.intercept_ = coefs[k].T, intercepts[k]
      if sample_weight is None:
        scores[j] = scorer(probe, X[test], y[test])
      else:   # held-out rows weighted too, as scikit-learn's
        scores[j] = scorer(probe, X[test], y[test], sample_weight=sample_weight[test])
    return scores

  def _sparse_path(self, X, y, alphas, sample_weight, loss):
    """Fits on a sparse X along the decreasing ``alphas``, each warm-started
    from the previous one (the sparse solver is not a path)."""
    coefs, intercepts, init = [], [], None
    for a in alphas:
      res = _linear_fit(X, y, _logistic_penalty(self.penalty, self.l1_ratio, float(a)),
                        loss=loss, fit_intercept=bool(self.fit_intercept),
                        tol=float(self.tol), max_iter=int(self.max_iter),
                        sample_weight=sample_weight, init=init)
      init = res
      coefs.append(_as_numpy(res.coef, X.dtype))
      intercepts.append(_as_numpy(res.intercept, X.dtype))
    return np.stack(coefs), np.stack(intercepts)

  @_x64
  def fit(self, X, y, sample_weight=None):
    """Cross-validates C, then refits on all rows.

    Args:
      X: (n, p) data.
      y: (n,) labels.
      sample_weight: None or (n,) weights ≥ 0, not all 0: each fold is
        fitted with its training rows' weights (C Σᵢ sᵢℓᵢ + pen(w)) and
        scored with its held-out rows' weights, as scikit-learn's.

    Returns:
      self.
    """
    X, codes = self._validate(X, y)
    y = np.asarray(self.classes_[codes])
    _check_number(self.tol, "tol", low_open=True)
    _check_number(self.max_iter, "max_iter", low=1, integer=True)
    if sample_weight is not None:
      _data.check_sample_weight(sample_weight, X.shape[0], X.dtype)
      sample_weight = np.broadcast_to(np.asarray(sample_weight, dtype=X.dtype), (X.shape[0],))
    Cs = self._grid()
    _logistic_penalty(self.penalty, self.l1_ratio, 1.0)  # validates before the folds
    if sp.issparse(X):
      X = sp.csr_array(X)    # row slices for the folds
    folds = list(check_cv(self.cv, y, classifier=True).split(X, y))
    scorer = check_scoring(LogisticRegression(), scoring=self.scoring)
    scores = np.stack([self._fold_scores(X, codes, y, tr, te, Cs, scorer, sample_weight)
                       for tr, te in folds])
    best = int(np.argmax(scores.mean(axis=0)))
    self.Cs_ = Cs
    self.C_ = np.array([Cs[best]])
    self.scores_ = {c: scores for c in self.classes_}
    (self.coef_, self.intercept_), it = self._fit_codes(X, codes, Cs[best], sample_weight)
    self.n_iter_ = np.array([max(it, 1)])
    return self


# --- cross-validated regressors --------------------------------------------------------


class ElasticNetCV(_LinearRegressor):
  r"""Elastic net with α (and r) chosen by cross-validation (scikit-learn's ``ElasticNetCV``).

  Runs :func:`jaxreg.linear.cross_validate` for each ``l1_ratio``, keeps
  the (r, α) with the lowest mean held-out squared error, and refits there.

  Args:
    l1_ratio: r ∈ (0, 1], or a list of them.
    eps: α_min/α_max of the default grid.
    alphas: an int K (scikit-learn's grid of K values from α_max down to
      eps·α_max, computed on all rows) or explicit α > 0.
    fit_intercept, max_iter, tol, positive: as :class:`ElasticNet`.
    cv: None (5 folds, unshuffled), an int, a splitter or (train, test) pairs.

  Attributes:
    alpha_, l1_ratio_: the chosen values.
    alphas_: (K,) grid, or (len(l1_ratio), K) for a list.
    mse_path_: (K, n_folds), or (len(l1_ratio), K, n_folds) for a list.
    coef_, intercept_, n_iter_: of the refit.

  Example:
    >>> import numpy as np
    >>> from jaxreg.sklearn import ElasticNetCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 5)); y = 2 * X[:, 0] + 0.1 * rng.normal(size=60)
    >>> model = ElasticNetCV(l1_ratio=[0.5, 1.0], cv=3, alphas=10).fit(X, y)
    >>> model.mse_path_.shape
    (2, 10, 3)
  """

  _accept_sparse = True

  def __init__(self, *, l1_ratio=0.5, eps=1e-3, alphas=100, fit_intercept=True, max_iter=1000,
               tol=1e-4, cv=None, positive=False):
    self.l1_ratio = l1_ratio
    self.eps = eps
    self.alphas = alphas
    self.fit_intercept = fit_intercept
    self.max_iter = max_iter
    self.tol = tol
    self.cv = cv
    self.positive = positive

  def _ratios(self):
    ratios = np.atleast_1d(np.asarray(self.l1_ratio, dtype=float))
    if ratios.ndim != 1 or ratios.size == 0:
      raise ValueError(f"l1_ratio must be a number or a list of numbers, got {self.l1_ratio!r}.")
    return [_check_l1_ratio(float(r)) for r in ratios]

  def _grid_args(self):
    if isinstance(self.alphas, numbers.Integral) and not isinstance(self.alphas, bool):
      return None, _check_number(self.alphas, "alphas", low=1, integer=True)
    return np.asarray(self.alphas, dtype=float), None

  def _one(self, X, y, r, folds, alphas, n_alphas, sample_weight):
    kwargs = dict(alphas=alphas, cv=folds, eps=float(self.eps),
                  fit_intercept=bool(self.fit_intercept), tol=float(self.tol),
                  max_iter=int(self.max_iter), sample_weight=sample_weight)
    if n_alphas is not None:
      kwargs["n_alphas"] = int(n_alphas)
    if self.positive:
      if alphas is None:
        kwargs["alphas"] = np.asarray(_paths.positive_alpha_grid(
            X, y, r, 100 if n_alphas is None else n_alphas, float(self.eps),
            bool(self.fit_intercept), sample_weight))
        kwargs.pop("n_alphas", None)
      kwargs["penalty"] = _penalties.NonNegative(_penalties.ElasticNet(1.0, r))
    return _cv.cross_validate(X, y, l1_ratio=r, **kwargs)

  @_x64
  def fit(self, X, y, sample_weight=None):
    """Cross-validates, then refits at the chosen (l1_ratio, α).

    Args:
      X: (n, p) array-like, dense or sparse.
      y: (n,) targets.
      sample_weight: None or (n,) weights ≥ 0, as scikit-learn's (folds
        fitted with their training weights and scored with their test
        weights).

    Returns:
      self.
    """
    X, y = self._validate(X, y)
    ratios = self._ratios()
    _check_number(self.eps, "eps", low_open=True)
    _check_number(self.tol, "tol", low_open=True)
    _check_number(self.max_iter, "max_iter", low=1, integer=True)
    alphas, n_alphas = self._grid_args()
    folds = list(check_cv(self.cv).split(X, y))
    # A low floor: cross-validation keeps p × p Gram matrices (n-free shapes)
    # only while n ≥ p. A sparse X goes to the sparse solver as it is.
    Xp = X if sp.issparse(X) else _pad_columns(X, floor=8)
    results = [jax.tree_util.tree_map(lambda a: _as_numpy(a, a.dtype),
                                      self._one(Xp, y, r, folds, alphas, n_alphas,
                                                sample_weight))
               for r in ratios]
    best = int(np.argmin([np.min(res.mse_mean) for res in results]))
    res = results[best]
    self.l1_ratio_ = ratios[best]
    self.alpha_ = float(res.best_alpha)
    paths = [r_.alphas.astype(X.dtype) for r_ in results]
    mses = [r_.mse_path.astype(X.dtype) for r_ in results]
    multi = np.ndim(getattr(self, "l1_ratio", 1.0)) > 0
    self.alphas_ = np.stack(paths) if multi else paths[0]
    self.mse_path_ = np.stack(mses) if multi else mses[0]
    self._refit(Xp, y, sample_weight)
    self.coef_ = self.coef_[:X.shape[1]]
    return self

  def _refit_penalty(self):
    return _penalties.ElasticNet(self.alpha_, self.l1_ratio_)

  def _refit(self, X, y, sample_weight):
    pen = self._refit_penalty()
    if self.positive:
      pen = _penalties.NonNegative(pen)
    kwargs = dict(tol=float(self.tol), max_iter=int(self.max_iter))
    if sp.issparse(X):
      self._store(_linear_fit(X, y, pen, fit_intercept=bool(self.fit_intercept),
                              sample_weight=sample_weight, **kwargs), X)
    else:
      self._fit_squared(X, y, pen, sample_weight, **kwargs)


class LassoCV(ElasticNetCV):
  r"""Lasso with α chosen by cross-validation (scikit-learn's ``LassoCV``).

  Args:
    eps, alphas, fit_intercept, max_iter, tol, cv, positive: as
      :class:`ElasticNetCV`.

  Attributes:
    alpha_, alphas_ (K,), mse_path_ (K, n_folds), coef_, intercept_,
    n_iter_: as scikit-learn's.

  Example:
    >>> import numpy as np
    >>> from jaxreg.sklearn import LassoCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 5)); y = 2 * X[:, 0] + 0.1 * rng.normal(size=60)
    >>> model = LassoCV(cv=3, alphas=10).fit(X, y)
    >>> model.mse_path_.shape, np.flatnonzero(model.coef_ > 0.5).tolist()
    ((10, 3), [0])
  """

  def __init__(self, *, eps=1e-3, alphas=100, fit_intercept=True, max_iter=1000, tol=1e-4,
               cv=None, positive=False):
    self.eps = eps
    self.alphas = alphas
    self.fit_intercept = fit_intercept
    self.max_iter = max_iter
    self.tol = tol
    self.cv = cv
    self.positive = positive

  def _ratios(self):
    return [1.0]

  def _refit_penalty(self):
    return _penalties.L1(self.alpha_)
