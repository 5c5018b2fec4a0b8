r"""Datafits: the data terms of penalized linear models.

A linear model predicts η = X W + b, with coefficients W of shape (p, T),
intercepts b of shape (T,) and targets Y already shaped (n, T) (see
`prepare_targets`). A datafit F is the *mean* loss over the n rows, summed
over the T columns inside a row, and the solvers only ever see it through a
narrow interface, as in skglm:

- ``value(y, eta)``: F(η), a scalar;
- ``gradient(y, eta)``: ∂F/∂η, shape (n, T), the 1/n included, so that
  ∇_W F = Xᵀ gradient and ∂F/∂b = its column sums;
- ``hessian_diag(y, eta)``: ∂²F/∂η_it², shape (n, T), the 1/n included;
- ``curvature``: a constant c with n·hessian_diag ≤ c everywhere (None when no
  such bound exists), so that L_j = c‖X_j‖²/n bounds the curvature of F along
  the row W_j;
- ``intercept_start(y)``: the best intercept at W = 0 (a good start where it
  has no closed form);
- ``check_y(y)``: raises ValueError when the targets are not valid for it;
- ``quadratic``: True when F is a quadratic (Gram-matrix tricks apply).
- ``conjugate(y, u)``: the Fenchel conjugate F*(u) = sup_η ⟨u, η⟩ − F(η),
  for the duality gaps the solvers stop on (every datafit here is convex
  and has one), and ``feasible_dual(y, u)``: the gradient made a feasible
  dual point when the intercept is free (columns summing to 0, inside the
  domain of F*).

| datafit | value F(η) | gradient (×n) | curvature | intercept at W = 0 |
| --- | --- | --- | --- | --- |
| `Squared()` | (1/(2n)) Σᵢ ‖yᵢ − ηᵢ‖² | η − y | 1 | mean of y |
| `Logistic()` | (1/n) Σ log(1 + e^η) − yη, y ∈ {0, 1} | σ(η) − y | 1/4 | logit of the mean |
| `Multinomial()` | (1/n) Σᵢ logsumexp(ηᵢ) − yᵢᵀηᵢ, yᵢ one-hot | softmax(ηᵢ) − yᵢ | 1/2 | centred log class frequencies |
| `Poisson()` | (1/n) Σ e^η − yη + y log y − y, y ≥ 0 | e^η − y | None | log of the mean |
| `Huber(ε)` | (1/n) Σ H_ε(y − η) | −clip(y − η, −ε, ε) | 1 | (median of y, a start) |

With these scalings the objectives are scikit-learn's: `Squared` is the data
term of ``Lasso``/``ElasticNet``/``MultiTaskLasso``, `Logistic` and
`Multinomial` are the mean log-loss of ``LogisticRegression``, `Poisson` is
half the mean Poisson deviance as minimised by ``PoissonRegressor``, and
`Huber` is ``HuberRegressor``'s loss with the scale σ fixed at 1 (up to a
factor 2).

`Weighted(datafit, sample_weight)` turns any of them into the weighted mean
of its row losses (scikit-learn's ``sample_weight``); ``intercept_start`` and
``feasible_dual`` take the row weights as an optional last argument for it.

Every datafit is an immutable pytree (Huber's ε is its only leaf; Weighted's
are its datafit and its weights), so it can be passed to
``jax.jit``-compiled functions and mapped over with ``jax.vmap``.

References:
  Q. Bertrand, Q. Klopfenstein, P.-A. Bannier, G. Gidel, M. Massias (2022),
  "Beyond L1: Faster and Better Sparse Models with skglm", NeurIPS
  (the ``Datafit`` interface).
  scikit-learn's loss definitions: ``sklearn.metrics.log_loss``,
  ``sklearn.metrics.mean_poisson_deviance``, ``sklearn._loss`` and the
  ``HuberRegressor`` documentation.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import xlogy

from jaxreg.linear import _data

__all__ = [
    "Datafit",
    "Squared",
    "Logistic",
    "Multinomial",
    "Poisson",
    "Huber",
    "Weighted",
    "NAMES",
    "get",
    "prepare_targets",
]


def _n_rows(eta):
  # The number of rows as a float of eta's dtype, so 1/n does not promote.
  return jnp.asarray(eta.shape[0], eta.dtype)


def _concrete(x) -> bool:
  return not isinstance(x, jax.core.Tracer)


def _eps(dtype):
  return jnp.finfo(dtype).eps


def _rebalance(a, target, lo=None, hi=None, w=None):
  """Moves each column of ``a`` to a weighted sum Σᵢ wᵢaᵢ = ``target`` (w
  None: every wᵢ = 1) while keeping lo ≤ a ≤ hi (None: unbounded): an
  excess is taken from every entry in proportion to its room above ``lo``
  (spread evenly without one), a deficit added in proportion to its room
  below ``hi``. Exact whenever the bounds leave room for ``target``. The
  rooms are scaled, not subtracted from, so that entries far larger than
  the target (a saturated Poisson mean) do not cancel catastrophically."""
  w = jnp.ones(a.shape[:1], a.dtype) if w is None else w
  wc = w[:, None]
  total_w = jnp.sum(w)
  excess = jnp.sum(wc * a, axis=0) - target

  def scaled(bound, sign):
    if bound is None:
      return a - excess / total_w
    room = sign * (a - bound)
    total = jnp.sum(wc * room, axis=0)
    left = sign * (target - total_w * bound)  # the room once the column sums to target
    return bound + sign * room * (left / jnp.where(total > 0, total, 1.0))

  return jnp.where(excess > 0, scaled(lo, 1.0), scaled(hi, -1.0))


def _weighted_median(y, w):
  """Column medians of y (n, T) under row weights w (n,): the smallest
  value whose cumulative weight reaches half the total."""
  order = jnp.argsort(y, axis=0)
  ys = jnp.take_along_axis(y, order, axis=0)
  cw = jnp.cumsum(w[order], axis=0)
  k = jnp.argmax(cw >= 0.5 * cw[-1], axis=0)
  return jnp.take_along_axis(ys, k[None, :], axis=0)[0]


def _mean(y, w):
  """Column means of y, weighted by the row weights w (None: uniform)."""
  if w is None:
    return jnp.mean(y, axis=0)
  return jnp.sum(w[:, None] * y, axis=0) / jnp.sum(w)


class Datafit:
  """Base class: the interface every datafit follows (see the module docstring).

  Subclasses list their pytree leaves in ``_leaves``; instances are immutable.
  """

  name: str = ""
  quadratic: bool = False
  curvature: float | None = None
  _leaves: tuple[str, ...] = ()

  def __init_subclass__(cls, **kwargs):
    super().__init_subclass__(**kwargs)

    def flatten_with_keys(obj):
      return tuple((jax.tree_util.GetAttrKey(f), getattr(obj, f))
                   for f in cls._leaves), None

    def flatten(obj):
      return tuple(getattr(obj, f) for f in cls._leaves), None

    def unflatten(_, children):
      # No validation here: inside jit / vmap the leaves are tracers or
      # placeholder objects.
      obj = object.__new__(cls)
      for f, v in zip(cls._leaves, children):
        object.__setattr__(obj, f, v)
      return obj

    jax.tree_util.register_pytree_with_keys(cls, flatten_with_keys, unflatten,
                                            flatten)

  def __setattr__(self, key, value):
    raise AttributeError(f"{type(self).__name__} is immutable.")

  def __repr__(self):
    args = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._leaves)
    return f"{type(self).__name__}({args})"

  def __eq__(self, other):
    if type(other) is not type(self):
      return NotImplemented
    for f in self._leaves:
      a, b = getattr(self, f), getattr(other, f)
      if not (_concrete(a) and _concrete(b)):
        return a is b
      if not np.array_equal(np.asarray(a), np.asarray(b)):
        return False
    return True

  def __hash__(self):
    key = []
    for f in self._leaves:
      v = getattr(self, f)
      key.append(float(v) if _concrete(v) and np.ndim(v) == 0 else id(v))
    return hash((type(self), tuple(key)))

  def value(self, y, eta):
    """The mean loss F(η) over the n rows (a scalar)."""
    raise NotImplementedError

  def gradient(self, y, eta):
    """∂F/∂η, shape (n, T) (the 1/n included)."""
    raise NotImplementedError

  def hessian_diag(self, y, eta):
    """∂²F/∂η_it², shape (n, T) (the 1/n included)."""
    raise NotImplementedError

  def hessian_parts(self, y, eta):
    """Each row's T × T Hessian ∇²_{ηᵢ}F as diag(dᵢ) − uᵢuᵢᵀ: returns
    (d, u), both (n, T), or (d, None) where the outputs are independent
    (a diagonal Hessian: d is ``hessian_diag``). Solvers use it for exact,
    O(nT) Hessian-vector products."""
    return self.hessian_diag(y, eta), None

  def intercept_start(self, y, weights=None):
    """The optimal intercept (T,) at W = 0, or a good start for it; with
    ``weights`` (n,) ≥ 0, for the weighted mean loss Σᵢ wᵢℓᵢ / Σᵢ wᵢ."""
    raise NotImplementedError

  def check_y(self, y) -> None:
    """Raises ValueError when ``y`` is not an (n, T) array of valid targets.

    Only concrete arrays are checked; tracers pass (their values are unknown).
    """
    if not _concrete(y):
      return
    if (isinstance(y, jax.Array) and y.ndim == 2 and y.shape[0] > 0
        and jnp.issubdtype(y.dtype, jnp.floating)):
      # Checked on the device; only a flag, or for datafits with a domain
      # (counts, labels) the values, are read back, explicitly.
      if not _data.all_finite(y):
        raise ValueError(f"y must be finite (no NaN or inf) for the "
                         f"{self.name} datafit.")
      if type(self)._check_values is not Datafit._check_values:
        self._check_values(np.asarray(jax.device_get(y), np.float64))
      return
    arr = np.asarray(y)
    if arr.ndim != 2:
      raise ValueError(
          f"y must be a 2-D array of shape (n_samples, n_outputs) for the "
          f"{self.name} datafit, got shape {arr.shape}.")
    if arr.shape[0] == 0:
      raise ValueError("y must have at least one sample, got 0 rows.")
    if not np.issubdtype(arr.dtype, np.number) and arr.dtype != np.bool_:
      raise ValueError(f"y must be numeric, got dtype {arr.dtype}.")
    if not np.all(np.isfinite(arr)):
      raise ValueError(f"y must be finite (no NaN or inf) for the "
                       f"{self.name} datafit.")
    self._check_values(arr.astype(np.float64))

  def _check_values(self, y: np.ndarray) -> None:
    pass


class Squared(Datafit):
  r"""The least-squares datafit, one or several tasks.

  .. math::

    F(η) = \frac{1}{2n} \sum_{i=1}^n \lVert y_i − η_i \rVert_2^2,
    \qquad ∂F/∂η = (η − y)/n, \qquad ∂²F/∂η_{it}^2 = 1/n.

  This is the data term of scikit-learn's ``Lasso``, ``ElasticNet`` and, with
  T > 1 columns, ``MultiTaskLasso``/``MultiTaskElasticNet``. It is quadratic
  (``quadratic = True``) with curvature 1. At W = 0 the best intercept is the
  column mean of y.

  Its Fenchel conjugate, for duality gaps, is `conjugate`.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxreg.linear.datafits import Squared
    >>> y = jnp.array([[1.0], [3.0]])
    >>> round(float(Squared().value(y, jnp.zeros((2, 1)))), 4)  # (1 + 9) / 4
    2.5
    >>> Squared().intercept_start(y).tolist()
    [2.0]

  References:
    scikit-learn, ``sklearn.linear_model.Lasso`` (objective);
    Bertrand et al. (2022), skglm's ``Quadratic`` datafit.
  """

  name = "squared"
  quadratic = True
  curvature = 1.0

  def __init__(self):
    pass

  def value(self, y, eta):
    r = y - eta
    return 0.5 * jnp.sum(r * r) / _n_rows(eta)

  def gradient(self, y, eta):
    return (eta - y) / _n_rows(eta)

  def hessian_diag(self, y, eta):
    return jnp.ones_like(eta) / _n_rows(eta)

  def intercept_start(self, y, weights=None):
    return _mean(y, weights)

  def conjugate(self, y, u):
    r"""The Fenchel conjugate F*(u) = sup_η ⟨u, η⟩ − F(η).

    .. math::

      F^*(u) = \sum_{i,t} \left( \frac{n}{2} u_{it}^2 + u_{it} y_{it} \right),

    so that F(η) + F*(u) ≥ ⟨u, η⟩, with equality iff u = ∇F(η).
    """
    n = _n_rows(u)
    return jnp.sum(0.5 * n * u * u + u * y)

  def feasible_dual(self, y, u, weights=None):
    r"""A dual point for a model with a free intercept, from u = ∇F(η).

    With an intercept b the dual problem constrains Σᵢ u_i = 0 (per
    output); u = ∇F(η) meets it only where b is optimal. This returns a
    point that meets it and stays in the domain of F* (here: u minus its
    column means), equal to u when u already sums to zero, so the gap
    F(W, b) + F*(u') + P(W) + P*(−Xᵀu') is a true bound on the
    suboptimality at every (W, b).

    With ``weights`` w (n,) ≥ 0 the constraint is Σᵢ wᵢuᵢ = 0 instead (the
    dual of the weighted datafit, see `Weighted`): u minus its w-weighted
    column means.
    """
    return u - _mean(u, weights)


class Logistic(Datafit):
  r"""The binary logistic loss (mean log-loss), labels y ∈ {0, 1}.

  .. math::

    F(η) = \frac{1}{n} \sum_{i,t} \log(1 + e^{η_{it}}) − y_{it} η_{it},
    \qquad ∂F/∂η = (σ(η) − y)/n, \qquad ∂²F/∂η^2 = σ(η)(1 − σ(η))/n,

  with σ the sigmoid. It equals ``sklearn.metrics.log_loss`` of the
  probabilities σ(η), computed stably with ``logaddexp``. σ(1 − σ) ≤ 1/4,
  so ``curvature = 1/4``. At W = 0 the best intercept is the logit of the
  fraction of ones (clipped to stay finite when y is all 0 or all 1).

  Its Fenchel conjugate, for duality gaps, is `conjugate`.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxreg.linear.datafits import Logistic
    >>> y = jnp.array([[0.0], [1.0], [1.0], [1.0]])
    >>> round(float(Logistic().value(y, jnp.zeros((4, 1)))), 4)  # log 2
    0.6931
    >>> round(float(Logistic().intercept_start(y)[0]), 4)  # log(3/4 / (1/4))
    1.0986

  References:
    scikit-learn, ``sklearn.metrics.log_loss`` and ``LogisticRegression``;
    Bertrand et al. (2022), skglm's ``Logistic`` datafit.
  """

  name = "logistic"
  curvature = 0.25

  def __init__(self):
    pass

  def value(self, y, eta):
    return jnp.sum(jnp.logaddexp(0.0, eta) - y * eta) / _n_rows(eta)

  def gradient(self, y, eta):
    return (jax.nn.sigmoid(eta) - y) / _n_rows(eta)

  def hessian_diag(self, y, eta):
    s = jax.nn.sigmoid(eta)
    return s * (1.0 - s) / _n_rows(eta)

  def intercept_start(self, y, weights=None):
    e = _eps(y.dtype)
    m = jnp.clip(_mean(y, weights), e, 1.0 - e)
    return jnp.log(m) - jnp.log1p(-m)

  def conjugate(self, y, u):
    r"""The Fenchel conjugate F*(u) = sup_η ⟨u, η⟩ − F(η).

    With s = y + n u,

    .. math::

      F^*(u) = \frac{1}{n} \sum_{i,t} s \log s + (1 − s) \log(1 − s)

    when every s lies in [0, 1], +∞ otherwise; F(η) + F*(u) = ⟨u, η⟩ iff
    u = ∇F(η).
    """
    n = _n_rows(u)
    s = y + n * u
    # u = ∇F(η) = (σ(η) − y)/n is rounded: at a saturated σ, n·u can leave
    # [0, 1] by an ulp, which is not an infinite conjugate.
    slack = 4 * jnp.finfo(s.dtype).eps
    inside = jnp.all((s >= -slack) & (s <= 1 + slack))
    sc = jnp.clip(s, 0.0, 1.0)
    val = jnp.sum(xlogy(sc, sc) + xlogy(1.0 - sc, 1.0 - sc)) / n
    return jnp.where(inside, val, jnp.inf)

  def feasible_dual(self, y, u, weights=None):
    """A dual point with columns summing to 0 (see `Squared.feasible_dual`):
    the means a = y + n u are moved, within [0, 1], to sum to Σᵢ yᵢ
    (weighted by ``weights`` when given)."""
    n = _n_rows(u)
    target = jnp.sum(y if weights is None else weights[:, None] * y, axis=0)
    a = _rebalance(y + n * u, target, 0.0, 1.0, weights)
    return (a - y) / n

  def _check_values(self, y):
    if not np.all((y == 0) | (y == 1)):
      raise ValueError("y must contain only 0 and 1 for the logistic datafit "
                       "(use prepare_targets to map two labels to {0, 1}).")


class Multinomial(Datafit):
  r"""The multinomial logistic loss (softmax cross-entropy), y one-hot (n, K).

  .. math::

    F(η) = \frac{1}{n} \sum_i \operatorname{logsumexp}(η_i) − y_i^\top η_i,
    \qquad ∂F/∂η_i = (\operatorname{softmax}(η_i) − y_i)/n,

  and ``hessian_diag`` is the diagonal of each row's K × K block,
  p_ik(1 − p_ik)/n with p_i = softmax(η_i). It equals
  ``sklearn.metrics.log_loss`` of the probabilities softmax(η). The whole
  block is bounded by diag(p) − ppᵀ ⪯ ½ I (Böhning, 1992), so
  ``curvature = 1/2``. At W = 0 the best intercepts are the log class
  frequencies, centred (F is unchanged by adding a constant to every class);
  a class absent from y gets a clipped, finite start.

  Its Fenchel conjugate, for duality gaps, is `conjugate`.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxreg.linear.datafits import Multinomial
    >>> y = jnp.eye(3)[jnp.array([0, 1, 2, 2])]
    >>> round(float(Multinomial().value(y, jnp.zeros((4, 3)))), 4)  # log 3
    1.0986
    >>> [round(float(v), 4) for v in Multinomial().intercept_start(y)]
    [-0.231, -0.231, 0.4621]

  References:
    scikit-learn, ``sklearn.metrics.log_loss`` and ``LogisticRegression``
    (multinomial); D. Böhning (1992), "Multinomial logistic regression
    algorithm", Ann. Inst. Statist. Math.; Bertrand et al. (2022).
  """

  name = "multinomial"
  curvature = 0.5

  def __init__(self):
    pass

  def value(self, y, eta):
    lse = jax.nn.logsumexp(eta, axis=1)
    return jnp.sum(lse - jnp.sum(y * eta, axis=1)) / _n_rows(eta)

  def gradient(self, y, eta):
    return (jax.nn.softmax(eta, axis=1) - y) / _n_rows(eta)

  def hessian_diag(self, y, eta):
    p = jax.nn.softmax(eta, axis=1)
    return p * (1.0 - p) / _n_rows(eta)

  def hessian_parts(self, y, eta):
    """Row i's Hessian (diag(pᵢ) − pᵢpᵢᵀ)/n: d = p/n, u = p/√n."""
    p = jax.nn.softmax(eta, axis=1)
    n = _n_rows(eta)
    return p / n, p / jnp.sqrt(n)

  def intercept_start(self, y, weights=None):
    f = jnp.clip(_mean(y, weights), _eps(y.dtype), None)
    lf = jnp.log(f)
    return lf - jnp.mean(lf)

  def conjugate(self, y, u):
    r"""The Fenchel conjugate F*(u) = sup_η ⟨u, η⟩ − F(η).

    With a_i = y_i + n u_i (row i),

    .. math::

      F^*(u) = \frac{1}{n} \sum_{i,k} a_{ik} \log a_{ik}

    when every a_i lies in the probability simplex (a_i ≥ 0, Σ_k a_ik = 1:
    the conjugate of log-sum-exp is the negative entropy), +∞ otherwise;
    F(η) + F*(u) = ⟨u, η⟩ iff u = ∇F(η) (then a_i = softmax(η_i)).
    """
    n = _n_rows(u)
    a = y + n * u
    K = a.shape[1]
    # ∇F rounds: a saturated softmax leaves the simplex by a few ulps.
    slack = 4 * K * jnp.finfo(a.dtype).eps
    inside = jnp.all(a >= -slack) & jnp.all(jnp.abs(jnp.sum(a, axis=1) - 1.0) <= slack)
    ac = jnp.clip(a, 0.0, 1.0)
    return jnp.where(inside, jnp.sum(xlogy(ac, ac)) / n, jnp.inf)

  def feasible_dual(self, y, u, weights=None):
    """A dual point with columns summing to 0 (see `Squared.feasible_dual`),
    each row kept on the simplex: the probabilities a = y + n u of a class
    whose column sum exceeds its count N_k are scaled down (by the excess
    over its column sum), and the mass each row gives up is shared among
    the classes in deficit, in proportion to their deficits. Both the
    counts and every row's total come out exact. With ``weights``, sums
    and counts are weighted."""
    n = _n_rows(u)
    a = y + n * u
    wc = 1.0 if weights is None else weights[:, None]
    count = jnp.sum(wc * y, axis=0)
    col = jnp.sum(wc * a, axis=0)
    excess = col - count                                   # (K,), sums to 0
    keep = jnp.where(excess > 0, count / jnp.where(col > 0, col, 1.0), 1.0)
    given = a - a * keep                                   # (n, K)
    deficit = jnp.maximum(-excess, 0.0)
    share = deficit / jnp.maximum(jnp.sum(deficit), jnp.finfo(a.dtype).tiny)
    a = a - given + jnp.sum(given, axis=1, keepdims=True) * share
    return (a - y) / n

  def _check_values(self, y):
    if y.shape[1] < 2:
      raise ValueError("y must have at least 2 columns (classes) for the "
                       f"multinomial datafit, got {y.shape[1]}.")
    if not (np.all((y == 0) | (y == 1)) and np.all(y.sum(axis=1) == 1)):
      raise ValueError("y must be one-hot (one 1 per row, 0 elsewhere) for the "
                       "multinomial datafit (use prepare_targets to encode "
                       "labels).")


class Poisson(Datafit):
  r"""The Poisson loss with log link: half the mean Poisson deviance.

  .. math::

    F(η) = \frac{1}{n} \sum_{i,t} e^{η_{it}} − y_{it} η_{it}
           + y_{it} \log y_{it} − y_{it}   \quad (0 \log 0 := 0),

  so F(log μ) is ``mean_poisson_deviance(y, μ) / 2``, scikit-learn's
  ``PoissonRegressor`` objective; ∂F/∂η = (e^η − y)/n, ∂²F/∂η² = e^η/n.
  The curvature is unbounded (``curvature = None``): solvers need a line
  search or Newton steps. At W = 0 the best intercept is log(mean y); the
  mean must be positive (a column of zeros has no finite optimum: the start
  is then clipped at log(machine epsilon)).

  Its Fenchel conjugate, for duality gaps, is `conjugate`.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxreg.linear.datafits import Poisson
    >>> y = jnp.array([[0.0], [2.0]])
    >>> round(float(Poisson().intercept_start(y)[0]), 4)  # log 1
    0.0
    >>> round(float(Poisson().value(y, jnp.zeros((2, 1)))), 4)  # (2 + 2 log 2 − 2) / 2
    0.6931

  References:
    scikit-learn, ``sklearn.metrics.mean_poisson_deviance`` and
    ``PoissonRegressor``; Bertrand et al. (2022), skglm's ``Poisson``.
  """

  name = "poisson"
  curvature = None

  def __init__(self):
    pass

  def value(self, y, eta):
    return jnp.sum(jnp.exp(eta) - y * eta + xlogy(y, y) - y) / _n_rows(eta)

  def gradient(self, y, eta):
    return (jnp.exp(eta) - y) / _n_rows(eta)

  def hessian_diag(self, y, eta):
    return jnp.exp(eta) / _n_rows(eta)

  def intercept_start(self, y, weights=None):
    return jnp.log(jnp.clip(_mean(y, weights), _eps(y.dtype), None))

  def conjugate(self, y, u):
    r"""The Fenchel conjugate F*(u) = sup_η ⟨u, η⟩ − F(η).

    With a = y + n u (the mean the dual point stands for),

    .. math::

      F^*(u) = \frac{1}{n} \sum_{i,t} a \log a − a − y \log y + y
      \quad (0 \log 0 := 0)

    when every a ≥ 0, +∞ otherwise; F(η) + F*(u) = ⟨u, η⟩ iff u = ∇F(η)
    (then a = e^η).
    """
    n = _n_rows(u)
    a = y + n * u
    # a is rounded at the scale of y and n·u (a saturated mean e^η).
    slack = 4 * jnp.finfo(a.dtype).eps * (jnp.abs(y) + n * jnp.abs(u) + 1.0)
    inside = jnp.all(a >= -slack)
    ac = jnp.maximum(a, 0.0)
    val = jnp.sum(xlogy(ac, ac) - ac - xlogy(y, y) + y) / n
    return jnp.where(inside, val, jnp.inf)

  def feasible_dual(self, y, u, weights=None):
    """A dual point with columns summing to 0 (see `Squared.feasible_dual`):
    the means a = y + n u are scaled down to sum to Σᵢ yᵢ (the gradient at
    the best intercept for this W) or, in deficit, raised evenly (sums
    weighted by ``weights`` when given)."""
    n = _n_rows(u)
    target = jnp.sum(y if weights is None else weights[:, None] * y, axis=0)
    a = _rebalance(y + n * u, target, 0.0, None, weights)
    return (a - y) / n

  def _check_values(self, y):
    if np.any(y < 0):
      raise ValueError("y must be non-negative (counts) for the poisson "
                       "datafit.")


class Huber(Datafit):
  r"""The Huber loss with threshold ε (scale fixed at 1).

  .. math::

    F(η) = \frac{1}{n} \sum_{i,t} H_ε(y_{it} − η_{it}), \qquad
    H_ε(r) = \begin{cases} r^2/2 & |r| ≤ ε \\ ε|r| − ε^2/2 & |r| > ε \end{cases}

  ∂F/∂η = −clip(y − η, −ε, ε)/n; ∂²F/∂η² = 1/n where |y − η| ≤ ε, else 0,
  so ``curvature = 1``. scikit-learn's ``HuberRegressor`` minimises
  Σᵢ σ + 2σ H_ε(rᵢ/σ) + α‖w‖²; with σ = 1 and α = 0 that is n + 2n F. There
  is no closed-form intercept at W = 0; ``intercept_start`` gives the
  median of y as a start. ε is the pytree's only leaf (it can be traced or
  vmapped over).

  Its Fenchel conjugate, for duality gaps, is `conjugate`.

  Args:
    epsilon: the threshold ε > 0 between the quadratic and the linear part
      (default 1.35, scikit-learn's).

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxreg.linear.datafits import Huber
    >>> y = jnp.array([[0.5], [3.0]])
    >>> # (0.5²/2 + (3 − 1/2)) / 2 = (0.125 + 2.5) / 2
    >>> round(float(Huber(epsilon=1.0).value(y, jnp.zeros((2, 1)))), 4)
    1.3125

  References:
    P. J. Huber (1964), "Robust estimation of a location parameter";
    scikit-learn, ``sklearn.linear_model.HuberRegressor``;
    Bertrand et al. (2022), skglm's ``Huber`` datafit.
  """

  name = "huber"
  curvature = 1.0
  _leaves = ("epsilon",)

  def __init__(self, epsilon: Any = 1.35):
    if _concrete(epsilon):
      if epsilon is None or isinstance(epsilon, (str, bytes, bool)):
        raise ValueError(f"epsilon must be a positive number, got {epsilon!r}.")
      arr = np.asarray(epsilon)
      if not (np.issubdtype(arr.dtype, np.floating)
              or np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"epsilon must be a positive number, got {epsilon!r}.")
      if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"epsilon must be finite and > 0, got {epsilon!r}.")
      # Python numbers stay Python numbers (weakly typed: they take the dtype
      # of the data); arrays become JAX arrays so the pytree can be vmapped.
      if isinstance(epsilon, (int, float, np.floating, np.integer)):
        epsilon = float(epsilon)
      else:
        epsilon = jnp.asarray(epsilon)
    object.__setattr__(self, "epsilon", epsilon)

  def _eps_like(self, x):
    return jnp.asarray(self.epsilon, x.dtype)

  def value(self, y, eta):
    e = self._eps_like(eta)
    a = jnp.abs(y - eta)
    h = jnp.where(a <= e, 0.5 * a * a, e * a - 0.5 * e * e)
    return jnp.sum(h) / _n_rows(eta)

  def gradient(self, y, eta):
    e = self._eps_like(eta)
    return -jnp.clip(y - eta, -e, e) / _n_rows(eta)

  def hessian_diag(self, y, eta):
    e = self._eps_like(eta)
    inside = jnp.abs(y - eta) <= e
    return inside.astype(eta.dtype) / _n_rows(eta)

  def intercept_start(self, y, weights=None):
    # A start only (no closed form); the unweighted median unless weighted.
    if weights is None:
      return jnp.median(y, axis=0)
    return _weighted_median(y, weights)

  def conjugate(self, y, u):
    r"""The Fenchel conjugate F*(u) = sup_η ⟨u, η⟩ − F(η).

    H_ε is the Moreau envelope of ε|·|, so its conjugate is v²/2 on
    |v| ≤ ε (+∞ outside), and

    .. math::

      F^*(u) = \sum_{i,t} \frac{n}{2} u_{it}^2 + u_{it} y_{it}
      \quad \text{if every } n|u_{it}| ≤ ε, \quad +∞ \text{ otherwise}

    (the squared loss's conjugate on a box); F(η) + F*(u) = ⟨u, η⟩ iff
    u = ∇F(η).
    """
    n = _n_rows(u)
    e = self._eps_like(u)
    inside = jnp.all(n * jnp.abs(u) <= e * (1 + 4 * jnp.finfo(u.dtype).eps))
    return jnp.where(inside, jnp.sum(0.5 * n * u * u + u * y), jnp.inf)

  def feasible_dual(self, y, u, weights=None):
    """A dual point with columns summing to 0 (see `Squared.feasible_dual`):
    the clipped residuals n u are moved within [−ε, ε] to sum to 0
    (weighted by ``weights`` when given)."""
    n = _n_rows(u)
    e = self._eps_like(u)
    return _rebalance(n * u, 0.0, -e, e, weights) / n


class Weighted(Datafit):
  r"""A datafit with sample weights: the weighted mean of its row losses.

  .. math::

    F_s(η) = \frac{1}{n} \sum_{i=1}^n s_i\, ℓ(y_i, η_i),
    \qquad s = \frac{n\, w}{\sum_i w_i},

  with ℓ the row loss of ``datafit`` (F = (1/n) Σᵢ ℓ(yᵢ, ηᵢ)) and w ≥ 0 the
  sample weights, rescaled to sum to n as scikit-learn's ``ElasticNet``
  does, so the scale of w does not matter. A weight 0 removes its row (it
  may hold any finite target: it is never looked at), and an integer
  weight k counts its row k times. The gradient and Hessian diagonal are
  the base's scaled by sᵢ, the best intercept at W = 0 is the base's under
  the weights, and the conjugate is the weighted sum of the rows'
  conjugates,

  .. math::  F_s^*(u) = \sum_i \frac{s_i}{n}\, ℓ_i^*\Big(\frac{n u_i}{s_i}\Big)

  (a row of weight 0 needs uᵢ = 0), so duality gaps certify weighted fits
  too. There is no curvature bound (``curvature = None``: large weights
  make it arbitrary): solvers use the Hessian diagonal (proximal Newton)
  or a line search. The weights are a pytree leaf, so new weights of the
  same length reuse a compiled solver, and rows padded with weight 0
  change no solution.

  Args:
    datafit: the base datafit (an instance or a name; not itself Weighted).
    sample_weight: (n,) finite weights ≥ 0, not all 0.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxreg.linear.datafits import Logistic, Weighted
    >>> y = jnp.array([[0.0], [1.0], [1.0]])
    >>> df = Weighted(Logistic(), jnp.array([2.0, 1.0, 1.0]))  # row 0 twice
    >>> round(float(df.intercept_start(y)[0]), 4)   # logit(2/4)
    0.0

  References:
    scikit-learn, ``sample_weight`` in ``ElasticNet``, ``LogisticRegression``
    and ``PoissonRegressor``; skglm's ``WeightedQuadratic``.
  """

  _leaves = ("datafit", "sample_weight")

  def __init__(self, datafit: Any, sample_weight: Any):
    datafit = get(datafit)
    if isinstance(datafit, Weighted):
      raise ValueError("datafit is already Weighted; pass its base datafit and the product "
                       "of the weights.")
    if _concrete(sample_weight):
      a = np.asarray(sample_weight)
      if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise ValueError(f"sample_weight must be numeric, got dtype {a.dtype}.")
    w = jnp.asarray(sample_weight)
    if w.ndim != 1:
      raise ValueError(f"sample_weight must be a 1-D array (one weight per sample), got "
                       f"shape {w.shape}.")
    if _concrete(w):
      a = np.asarray(w)
      if not np.all(np.isfinite(a)):
        raise ValueError("sample_weight contains NaN or infinite values.")
      if np.any(a < 0):
        raise ValueError(f"sample_weight must be >= 0; entry {int(np.argmax(a < 0))} is "
                         f"{float(a[np.argmax(a < 0)])!r}.")
      if not np.sum(a) > 0:
        raise ValueError("sample_weight: every weight is zero, so no sample is left.")
    object.__setattr__(self, "datafit", datafit)
    object.__setattr__(self, "sample_weight", w)

  @property
  def name(self):
    return self.datafit.name

  def __eq__(self, other):
    if type(other) is not type(self):
      return NotImplemented
    a, b = self.sample_weight, other.sample_weight
    same_w = (np.array_equal(np.asarray(a), np.asarray(b)) if _concrete(a) and _concrete(b)
              else a is b)
    return self.datafit == other.datafit and same_w

  def __hash__(self):
    return hash((type(self), self.datafit, id(self.sample_weight)))

  def _s(self, eta):
    """The weights rescaled to sum to n, shaped (n, 1), in eta's dtype."""
    w = jnp.asarray(self.sample_weight, eta.dtype)
    if w.shape[0] != eta.shape[0]:
      raise ValueError(f"sample_weight has {w.shape[0]} entries but the data has "
                       f"{eta.shape[0]} rows.")
    return (w * (eta.shape[0] / jnp.sum(w)))[:, None]

  def _rows(self, fn, y, v):
    """fn(y_i, v_i) of the base on each row alone (n = 1): the row losses."""
    return jax.vmap(lambda yi, vi: fn(yi[None], vi[None]))(y, v)

  def value(self, y, eta):
    s = self._s(eta)[:, 0]
    return jnp.sum(s * self._rows(self.datafit.value, y, eta)) / _n_rows(eta)

  def gradient(self, y, eta):
    return self._s(eta) * self.datafit.gradient(y, eta)

  def hessian_diag(self, y, eta):
    return self._s(eta) * self.datafit.hessian_diag(y, eta)

  def hessian_parts(self, y, eta):
    s = self._s(eta)
    d, u = self.datafit.hessian_parts(y, eta)
    return s * d, None if u is None else jnp.sqrt(s) * u

  def intercept_start(self, y, weights=None):
    w = jnp.asarray(self.sample_weight, y.dtype)
    return self.datafit.intercept_start(y, w if weights is None else w * weights)

  def conjugate(self, y, u):
    s = self._s(u)
    n = _n_rows(u)
    live = s > 0
    v = n * u / jnp.where(live, s, 1.0)           # each row's own dual variable
    c = self._rows(self.datafit.conjugate, y, v)
    # A row of weight 0 contributes sup_η uᵢηᵢ: 0 at uᵢ = 0, +∞ otherwise.
    dead = jnp.where(jnp.all(u == 0, axis=1), 0.0, jnp.inf)
    return jnp.sum(jnp.where(live[:, 0], s[:, 0] / n * c, dead))

  def feasible_dual(self, y, u, weights=None):
    s = self._s(u)
    live = s > 0
    # u = s ⊙ (the base's gradient): the base's dual point under the weights,
    # scaled back (rows of weight 0 end at 0).
    v = self.datafit.feasible_dual(y, u / jnp.where(live, s, 1.0), s[:, 0])
    return jnp.where(live, s * v, 0.0)

  def check_y(self, y) -> None:
    self.datafit.check_y(y)


# Names accepted by `get`, and the class each one builds ("multitask" is the
# squared loss on an (n, T) target).
_REGISTRY = {
    "squared": Squared,
    "logistic": Logistic,
    "multinomial": Multinomial,
    "poisson": Poisson,
    "huber": Huber,
    "multitask": Squared,
}
NAMES = tuple(_REGISTRY)


def get(datafit: Any) -> Datafit:
  """Returns a datafit from an instance or a name.

  Args:
    datafit: a `Datafit` instance (returned as is) or one of the names
      "squared", "logistic", "multinomial", "poisson", "huber" (default
      ε = 1.35) and "multitask" (= "squared": it handles any number of
      columns).

  Returns:
    The datafit.

  Raises:
    ValueError: for anything else; the message names ``datafit`` and lists
      the accepted names.

  Example:
    >>> from jaxreg.linear import datafits
    >>> datafits.get("multitask")
    Squared()
    >>> datafits.get(datafits.Huber(2.0))
    Huber(epsilon=2.0)
  """
  if isinstance(datafit, Datafit):
    return datafit
  if isinstance(datafit, str) and datafit.lower() in _REGISTRY:
    return _REGISTRY[datafit.lower()]()
  raise ValueError(f"datafit must be a Datafit or one of {', '.join(NAMES)}; "
                   f"got {datafit!r}.")


def _float_array(arr: np.ndarray):
  # Floating targets keep their precision (as far as JAX allows); integer and
  # boolean targets become JAX's default float.
  if np.issubdtype(arr.dtype, np.floating):
    return jnp.asarray(arr)
  return jnp.asarray(arr, dtype=jnp.result_type(float))


def _labels(y: np.ndarray, datafit: Datafit) -> np.ndarray:
  if y.ndim == 2 and y.shape[1] == 1:
    y = y[:, 0]
  if y.ndim != 1:
    raise ValueError(f"y must be a 1-D array of class labels for the "
                     f"{datafit.name} datafit, got shape {y.shape}.")
  if not (np.issubdtype(y.dtype, np.number) or y.dtype == np.bool_):
    raise ValueError(f"y must hold numeric class labels, got dtype {y.dtype}.")
  if not np.all(np.isfinite(y.astype(np.float64))):
    raise ValueError("y must be finite (no NaN or inf).")
  return y


def prepare_targets(datafit: Any, y: Any):
  """Turns a user's targets into the (n, T) array the datafits use.

  - squared ("multitask"), huber, poisson: a 1-D y becomes one column (n, 1);
    a 2-D y (several tasks) is kept as is.
  - logistic: y holds exactly two distinct numeric labels (e.g. {−1, 1}); the
    larger maps to 1, the smaller to 0.
  - multinomial: numeric class labels become one-hot columns, one per
    distinct label in sorted order.

  The result is checked with the datafit's `Datafit.check_y`.

  Args:
    datafit: a datafit or its name (see `get`).
    y: array-like of shape (n,) or (n, T).

  Returns:
    ``(Y, info)``: Y a float JAX array of shape (n, T), and a dict with
    ``"classes"`` (the sorted labels, a NumPy array, like scikit-learn's
    ``classes_``; None for regression datafits) and ``"n_outputs"`` (T).

  Raises:
    ValueError: naming ``y`` when the targets do not suit the datafit, or
      naming ``datafit`` when it is unknown.

  Example:
    >>> from jaxreg.linear.datafits import prepare_targets
    >>> Y, info = prepare_targets("logistic", [-1, 1, 1])
    >>> Y[:, 0].tolist(), info["classes"].tolist()
    ([0.0, 1.0, 1.0], [-1, 1])
  """
  df = get(datafit)
  if isinstance(df, Weighted):
    df = df.datafit
  if (isinstance(y, jax.Array) and not isinstance(df, (Logistic, Multinomial))
      and y.ndim in (1, 2) and y.shape[0] > 0 and jnp.issubdtype(y.dtype, jnp.floating)):
    # Targets already on a device stay there: no round trip through the host.
    out = y[:, None] if y.ndim == 1 else y
    df.check_y(out)
    return out, {"classes": None, "n_outputs": int(out.shape[1])}
  try:
    # Labels are found on the host (np.unique): device targets are read back
    # explicitly, and the encoded targets sent back explicitly.
    arr = np.asarray(jax.device_get(y) if isinstance(y, jax.Array) else y)
  except (TypeError, ValueError) as e:
    raise ValueError(f"y must be an array of numbers, got "
                     f"{type(y).__name__}.") from e
  if arr.ndim == 0 or arr.shape[0] == 0:
    raise ValueError(f"y must hold at least one sample, got shape {arr.shape}.")
  classes = None
  if isinstance(df, (Logistic, Multinomial)):
    labels = _labels(arr, df)
    classes, codes = np.unique(labels, return_inverse=True)
    codes = codes.reshape(-1)
    if isinstance(df, Logistic):
      if classes.size != 2:
        raise ValueError(
            f"y must hold exactly 2 distinct labels for the logistic datafit, "
            f"got {classes.size}: {classes.tolist()[:10]} (use 'multinomial' "
            f"for more classes).")
      Y = codes.astype(np.float64)[:, None]
    else:
      if classes.size < 2:
        raise ValueError(
            f"y must hold at least 2 distinct labels for the multinomial "
            f"datafit, got {classes.size}.")
      Y = np.eye(classes.size)[codes]
    out = jax.device_put(Y.astype(jnp.result_type(float)))
  else:
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
      raise ValueError(f"y must be numeric, got dtype {arr.dtype}.")
    if arr.ndim == 1:
      arr = arr[:, None]
    elif arr.ndim != 2:
      raise ValueError(f"y must be 1-D or 2-D, got shape {arr.shape}.")
    out = _float_array(arr)
  df.check_y(out)
  return out, {"classes": classes, "n_outputs": int(out.shape[1])}
