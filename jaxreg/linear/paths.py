r"""Regularization paths: ridge, lasso, elastic net and logistic regression.

Squared-loss objective, scikit-learn's scaling (n = number of samples):

    (1/(2n))‖y − Xw − b‖² + α·r‖w‖₁ + α(1 − r)/2 ‖w‖²

Logistic objective, labels mapped to {0, 1}:

    (1/n) Σᵢ log(1 + exp(−sᵢ(xᵢᵀw + b))) + α·r‖w‖₁ + α(1 − r)/2 ‖w‖²,  sᵢ = ±1

Every path returns a :class:`PathResult` with the α grid in decreasing order
(the order warm starts follow), one row of coefficients per α, the
intercepts, a convergence certificate per α and the iteration counts.
"""

from __future__ import annotations

import functools
from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from jaxreg import _checks, _traced_cache
from jaxreg.linear import _coordinate_descent as _cd
from jaxreg.linear import _data, _engine, _sparse
from jaxreg.linear.solvers import sparse_working_set as _sparse_ws
from jaxreg import penalties as _penalties
from jaxreg.linear import datafits as _datafits
from jaxreg._placement import on_device
from jaxreg.linear._data import center, check_Xy
from jaxreg.linear.fit import ConvergenceWarning, _sparse_settings, _warn_unconverged

__all__ = ["ConvergenceWarning", "PathResult", "path", "ridge_path", "enet_path", "lasso_path", "logistic_path"]


class PathResult(NamedTuple):
  """A regularization path.

  Attributes:
    alphas: (K,) the α grid, decreasing.
    coefs: (K, p) coefficients, one row per α.
    intercepts: (K,) intercepts (0 when ``fit_intercept=False``).
    dual_gaps: (K,) convergence certificate per α: for ``enet_path`` the
      duality gap in the units of scikit-learn ≥ 1.8's ``enet_path`` and
      ``Lasso.dual_gap_`` (those of the (1/(2n))-scaled objective: the gap
      of ½‖y_c − X_c w‖² + n·pen(w) divided by n); 0 for ``ridge_path``
      (its solutions are exact up to rounding); the largest violation of the
      optimality conditions for ``logistic_path``.
    n_iter: (K,) iterations (coordinate sweeps, or Newton steps) per α, at
      most ``max_iter``.
    converged: (K,) bool, whether each α met the stopping rule before
      ``max_iter``; a False entry also raises a
      :class:`~jaxreg.linear.fit.ConvergenceWarning` outside ``jax.jit``.
  """

  alphas: jax.Array
  coefs: jax.Array
  intercepts: jax.Array
  dual_gaps: jax.Array
  n_iter: jax.Array
  converged: jax.Array


# --- input checks ------------------------------------------------------------

def _check_l1_ratio(l1_ratio):
  if isinstance(l1_ratio, jax.core.Tracer):
    raise TypeError("l1_ratio must be a Python number here (it selects the grid).")
  try:
    r = float(l1_ratio)
  except (TypeError, ValueError) as e:
    raise TypeError(f"l1_ratio must be a number in [0, 1], got {l1_ratio!r}.") from e
  if not 0.0 <= r <= 1.0:
    raise ValueError(f"l1_ratio must lie in [0, 1], got {l1_ratio!r}.")
  return r


def _check_positive_int(value, name, minimum=1):
  if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
    raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
  return int(value)


def _check_positive_float(value, name):
  try:
    v = float(value)
  except (TypeError, ValueError) as e:
    raise TypeError(f"{name} must be a positive number, got {value!r}.") from e
  if not (v > 0 and np.isfinite(v)):
    raise ValueError(f"{name} must be a finite number > 0, got {value!r}.")
  return v


def check_alphas(alphas, dtype, allow_zero=False):
  """A 1-D array of positive α (≥ 0 with ``allow_zero``), sorted decreasing
  (traced values pass unchecked)."""
  alphas = jnp.atleast_1d(jnp.asarray(alphas, dtype))
  if alphas.ndim != 1 or alphas.shape[0] == 0:
    raise ValueError(f"alphas must be a non-empty 1-D array, got shape {alphas.shape}.")
  if _checks.is_concrete(alphas):
    a = np.asarray(alphas)
    if not np.all(np.isfinite(a)) or np.any(a < 0 if allow_zero else a <= 0):
      bound = ">= 0" if allow_zero else "> 0"
      raise ValueError(f"alphas must be finite and {bound}, got {a!r}.")
  return -jnp.sort(-alphas)


def alpha_grid(Xc, yc, l1_ratio, n_alphas, eps, positive=False):
  """scikit-learn's default grid: α_max = max|Xᵀy|/(n·r) down to eps·α_max
  (max(0, max Xᵀy)/(n·r) with ``positive``, as scikit-learn ≥ 1.8)."""
  return grid_from_correlations(Xc.T @ yc, Xc.shape[0], l1_ratio, n_alphas, eps, positive)


def grid_from_correlations(corr, n, l1_ratio, n_alphas, eps, positive=False):
  """`alpha_grid` from the correlations X_cᵀy_c, however they were computed
  (a sparse X gives them without X_c)."""
  corr = jnp.asarray(corr)
  top = jnp.maximum(jnp.max(corr), 0.0) if positive else jnp.max(jnp.abs(corr))
  alpha_max = top / (n * l1_ratio)
  res = jnp.finfo(corr.dtype).resolution
  grid = jnp.exp(jnp.linspace(0.0, jnp.log(eps), n_alphas)).astype(corr.dtype) * alpha_max
  # All-zero data (α_max = 0) gets scikit-learn's constant tiny grid.
  return jnp.where(alpha_max <= res, jnp.full((n_alphas,), res, corr.dtype), grid)


def tol_floor(dtype):
  """The smallest relative gap tolerance the dtype can certify.

  The gap is assembled from sums of size ‖y‖², so rounding leaves an error of
  a few ε·‖y‖²: tolerances below 100·ε (1.2e-5 in float32, 2.2e-14 in
  float64) are raised to that floor.
  """
  return 100.0 * float(jnp.finfo(dtype).eps)


# --- ridge -------------------------------------------------------------------

def _spectral_filter(lam, n_alpha, cutoff):
  """1/(λ + nα), with the directions of λ ≤ cutoff dropped where α = 0 (the
  minimum-norm solution, as ``lstsq``)."""
  denom = lam[None, :] + n_alpha[:, None]
  keep = (n_alpha[:, None] > 0) | (lam[None, :] > cutoff)
  return jnp.where(keep & (denom > 0), 1.0 / jnp.where(denom > 0, denom, 1.0), 0.0)


@jax.jit
def _ridge_core(Xc, yc, alphas):
  n, p = Xc.shape
  eps = jnp.finfo(Xc.dtype).eps
  if n >= p:
    # n ≥ p: the p × p eigendecomposition of XᵀX is the cheaper factorization.
    evals, V = jnp.linalg.eigh(Xc.T @ Xc)
    evals = jnp.maximum(evals, 0.0)
    b = V.T @ (Xc.T @ yc)
    # eigh resolves eigenvalues to about ε·λ_max: smaller ones are rank
    # deficiency, dropped at α = 0.
    f = _spectral_filter(evals, n * alphas, max(n, p) * eps * jnp.max(evals, initial=0.0))
    coefs = (b[None, :] * f) @ V.T
  else:
    U, s, Vt = jnp.linalg.svd(Xc, full_matrices=False)
    b = s * (U.T @ yc)
    # lstsq's cutoff on singular values, max(n, p)·ε·s_max, squared.
    cut = (max(n, p) * eps * jnp.max(s, initial=0.0)) ** 2
    coefs = (b[None, :] * _spectral_filter(s * s, n * alphas, cut)) @ Vt
  return coefs


def ridge_path(X, y, alphas, fit_intercept: bool = True) -> PathResult:
  r"""The ridge path: every α from one factorization of X.

  Minimizes, for each α,

      (1/(2n))‖y − Xw − b‖² + (α/2)‖w‖²

  which is scikit-learn's ``Ridge(alpha=n·α)``. With n ≥ p the
  eigendecomposition of XᵀX = VΛVᵀ gives w(α) = V (Λ + nαI)⁻¹ VᵀXᵀy; with
  p > n the thin SVD X = USVᵀ gives w(α) = V diag(s/(s² + nα)) Uᵀy. Either
  way the cost of K extra α values is a K × p × p matrix product.

  A sparse X (``scipy.sparse``, ``BCOO``) is never densified: each α is
  solved by LSQR on the centred operator (damping √(nα)), to rounding level;
  ``n_iter`` then counts its iterations.

  Args:
    X: (n, p) design matrix, dense or sparse.
    y: (n,) targets.
    alphas: strengths ≥ 0, any order (returned decreasing). At α = 0 the
      least-squares solution of minimum norm (that of ``numpy.linalg.lstsq``)
      is returned when it is not unique (p ≥ n, or collinear columns).
    fit_intercept: center X and y and fit an unpenalized intercept.

  Returns:
    A :class:`PathResult`; ``dual_gaps`` and ``n_iter`` are zeros (the
    solution is exact up to rounding), ``converged`` all True.

  Example:
    >>> import jax.numpy as jnp, jaxreg as jr
    >>> X = jnp.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [2.0, 1.0]])
    >>> y = jnp.array([1.0, 1.0, 2.0, 3.0])
    >>> jr.linear.ridge_path(X, y, jnp.array([1e-6, 1.0])).coefs.shape
    (2, 2)

  References:
    Hoerl & Kennard (1970), "Ridge regression"; scikit-learn's ``Ridge``
    (solver="svd").
  """
  if _sparse.is_sparse(X):
    return _sparse_ridge_path(X, y, alphas, fit_intercept)
  X, y = check_Xy(X, y)
  alphas = check_alphas(alphas, X.dtype, allow_zero=True)
  Xc, yc, x_mean, y_mean, _ = center(X, y, fit_intercept)
  coefs = _ridge_core(Xc, yc, alphas)
  intercepts = y_mean - coefs @ x_mean
  k = alphas.shape[0]  # exact: no gap, no iterations, converged
  gaps, n_iter, converged = jax.device_put((np.zeros(k, X.dtype), np.zeros(k, np.int32),
                                            np.ones(k, bool)))
  return PathResult(alphas, coefs, intercepts, gaps, n_iter, converged)


def _sparse_ridge_path(X, y, alphas, fit_intercept):
  """:func:`ridge_path` on a sparse X: per α, LSQR on X_c (centred through
  the column means, never formed) with damping √(nα), which minimises
  ½‖y_c − X_c w‖² + (nα/2)‖w‖² and, at α = 0, returns the minimum-norm
  least-squares solution (it starts from 0)."""
  from scipy.sparse.linalg import LinearOperator, lsqr
  des, yc, y_mean = sparse_problem(X, y, None, fit_intercept)
  dtype = yc.dtype
  alphas = np.asarray(check_alphas(alphas, dtype, allow_zero=True))
  n, p = des.shape
  op = LinearOperator((n, p), matvec=lambda w: des.matvec(np.ravel(w).astype(dtype)),
                      rmatvec=lambda r: des.rmatvec(np.ravel(r).astype(dtype)), dtype=dtype)
  # Rounding level of the working precision: LSQR stops when the relative
  # residual of the normal equations falls below it.
  rtol = float(10 * np.finfo(dtype).eps)
  coefs, iters, ok = [], [], []
  for a in alphas:
    out = lsqr(op, yc, damp=float(np.sqrt(n * a)), atol=rtol, btol=rtol, conlim=1e16,
               iter_lim=10 * (n + p))
    coefs.append(out[0].astype(dtype))
    iters.append(out[2])
    ok.append(out[1] in (0, 1, 2, 4, 5))
  coefs = np.stack(coefs)
  intercepts = y_mean - coefs @ des.x_mean
  converged = np.asarray(ok)
  _warn_unconverged(converged, "ridge_path", "LSQR reached its iteration limit.")
  as_j = jnp.asarray
  return PathResult(as_j(alphas), as_j(coefs), as_j(intercepts), as_j(np.zeros(len(alphas), dtype)),
                    as_j(np.asarray(iters, np.int32)), as_j(converged))


# --- elastic net -------------------------------------------------------------

def _use_gram(n, p, precompute):
  if isinstance(precompute, str) and precompute == "auto":
    return n >= p
  if isinstance(precompute, (bool, np.bool_)):
    return bool(precompute)
  raise ValueError(f"precompute must be 'auto', True or False, got {precompute!r}.")


def _check_gram(G, Xc, name="precompute"):
  """A precomputed Gram matrix: (p, p), finite, symmetric, and XᵀX of the X
  the solver uses (centered when fitting an intercept), checked on the
  diagonal as scikit-learn checks one entry. Rounding in forming Σᵢ x_ij²
  is at most n·ε relative, hence the tolerances."""
  if isinstance(G, jax.core.Tracer):
    raise TypeError(f"{name} must be a concrete array here, not a traced value.")
  Gn = np.asarray(G)
  if Gn.dtype == object or not np.issubdtype(Gn.dtype, np.number):
    raise TypeError(f"{name} must be a numeric (p, p) array, got dtype {Gn.dtype}.")
  n, p = Xc.shape
  if Gn.shape != (p, p):
    raise ValueError(f"{name} must be the ({p}, {p}) Gram matrix XᵀX, got shape {Gn.shape}.")
  if not np.all(np.isfinite(Gn)):
    raise ValueError(f"{name} contains NaN or infinite values.")
  dtype = np.dtype(Xc.dtype)
  Gn = Gn.astype(dtype)
  rtol = 10.0 * max(n, p) * float(np.finfo(dtype).eps)
  scale = float(np.max(np.abs(np.diagonal(Gn)), initial=0.0))
  if not np.allclose(Gn, Gn.T, rtol=0.0, atol=rtol * scale):
    raise ValueError(f"{name} must be symmetric (a Gram matrix XᵀX).")
  d = np.sum(np.asarray(Xc, dtype) ** 2, axis=0)
  if not np.allclose(np.diagonal(Gn), d, rtol=rtol, atol=rtol * max(scale, 1e-300)):
    raise ValueError(
        f"{name} does not match X: its diagonal differs from Σᵢ x_ij² of X (centered when "
        "fit_intercept=True; pass XᵀX of the centered X, as scikit-learn expects).")
  return jnp.asarray(Gn)


def enet_path(X, y, l1_ratio: float = 1.0, alphas=None, n_alphas: int = 100,
              eps: float = 1e-3, fit_intercept: bool = True, tol: float = 1e-4,
              max_iter: int = 1000, precompute="auto", *, positive: bool = False,
              sample_weight=None) -> PathResult:
  r"""The elastic-net path by warm-started, working-set coordinate descent.

  Minimizes, for each α on the path,

      (1/(2n))‖y − Xw − b‖² + α·r‖w‖₁ + α(1 − r)/2 ‖w‖²

  exactly scikit-learn's ``ElasticNet(alpha=α, l1_ratio=r)`` objective. The
  whole path runs as one compiled XLA program: a scan over α, and per α
  coordinate sweeps restricted to a working set (seeded by the sequential
  strong rule, grown by KKT checks). After a large jump in α (a single α,
  or a few widely spaced ones) the working set is prioritized instead, as
  in celer: the support plus the features that violate the optimality
  conditions most, about twice the support, grown while violators remain.
  The working set is compacted into a few static capacities with its own
  Gram block, so an update costs O(|A|) rather than O(p) or O(n), and a
  Newton step on the sign pattern ends the sweeps once the support is
  found. The Gram matrix of X is formed when n ≥ p; otherwise X is used
  directly (p > n). Compiled programs are cached per shape and dtype.

  Stopping rule: scikit-learn's two conditions. The last coordinate sweep
  changed no coefficient by more than tol·max|w|, and the duality gap of
  the sum form ½‖y − Xw‖² + nαr‖w‖₁ + nα(1−r)/2‖w‖² (centered data)
  satisfies gap ≤ tol·‖y‖²; the working set's gap is checked after each
  sweep and the full gap (with the KKT check of all features) once it
  passes. Every α gets at least one sweep. ``tol`` is raised to 100·ε of
  the dtype (1.2e-5 in float32, 2.2e-14 in float64), the smallest gap
  rounding lets one certify. An α that reaches ``max_iter`` sweeps first
  has ``converged`` False and raises a
  :class:`~jaxreg.linear.fit.ConvergenceWarning`.

  Args:
    X: (n, p) design matrix.
    y: (n,) targets.
    l1_ratio: r ∈ [0, 1]; 1 is the lasso. r = 0 needs explicit ``alphas``.
    alphas: positive strengths (any order, returned decreasing); None builds
      scikit-learn's grid: ``n_alphas`` values log-spaced from
      α_max = max|Xᵀy_c|/(n·r) (y centered when fitting an intercept), the
      smallest α with w = 0, down to eps·α_max.
    n_alphas: grid size when ``alphas`` is None.
    eps: ratio α_min/α_max of the default grid.
    fit_intercept: center X and y; the intercept is ȳ − x̄ᵀw.
    tol: finite relative tolerance > 0 (see above).
    max_iter: positive integer, maximum number of sweeps per α.
    precompute: "auto" (the Gram matrix when n ≥ p), True, False, or the
      (p, p) Gram matrix XᵀX itself, used as given (as scikit-learn's
      ``enet_path`` does) after checks of its shape, symmetry and diagonal;
      with ``fit_intercept=True`` it must be that of the centered X.
    positive: constrain the coefficients to be ≥ 0 (scikit-learn's
      ``positive=True``, whose default grid starts at the largest positive
      correlation, max(0, max Xᵀy_c)/(n·r)). Solved by :func:`path` with
      ``jr.NonNegative(jr.ElasticNet(·, r))``, whose duality gap is the
      same stopping rule.
    sample_weight: None or (n,) weights ≥ 0, scikit-learn's semantics (the
      data term becomes the weighted mean; 0 removes a row): the path of the
      √s-scaled, s-centred rows, its intercepts ȳ − x̄ᵀw from the weighted
      means.

  A sparse ``X`` (``scipy.sparse``, ``BCOO``) goes to
  :func:`sparse_enet_path`, never densified.

  Returns:
    A :class:`PathResult` with ``dual_gaps`` in the units of scikit-learn
    ≥ 1.8 (the sum-form gap divided by n: compare with tol·‖y_c‖²/n),
    ``n_iter`` the sweeps per α (at least 1, at most ``max_iter``) and
    ``converged`` per α.

  Example:
    >>> import jax.numpy as jnp, jaxreg as jr
    >>> X = jnp.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 0.5]])
    >>> y = jnp.array([1.0, 0.5, 1.5, 2.2])
    >>> path = jr.linear.enet_path(X, y, l1_ratio=0.5, n_alphas=5)
    >>> path.coefs.shape, bool(jnp.all(path.coefs[0] == 0))
    ((5, 2), True)

  References:
    Friedman, Hastie & Tibshirani (2010), glmnet; Tibshirani et al. (2012),
    strong rules; Massias, Gramfort & Salmon (2018), celer (working sets);
    Osborne, Presnell & Turlach (2000) (sign-pattern solves);
    scikit-learn's ``enet_path`` and its duality gap.
  """
  if _sparse.is_sparse(X):
    if positive:
      return _sparse_positive_path(X, y, l1_ratio, alphas, n_alphas, eps, fit_intercept, tol,
                                   max_iter, sample_weight)
    return sparse_enet_path(X, y, l1_ratio, alphas, n_alphas, eps, fit_intercept, tol,
                            max_iter, sample_weight=sample_weight)
  if sample_weight is not None or positive:
    return _constrained_or_weighted(X, y, l1_ratio, alphas, n_alphas, eps, fit_intercept, tol,
                                    max_iter, positive, sample_weight)
  X, y = check_Xy(X, y)
  r = _check_l1_ratio(l1_ratio)
  max_iter = _check_positive_int(max_iter, "max_iter")
  tol = max(_check_positive_float(tol, "tol"), tol_floor(X.dtype))
  n, p = X.shape
  if alphas is None:
    if r == 0:
      raise ValueError("l1_ratio=0 needs explicit alphas (the default grid divides by l1_ratio).")
    n_alphas = _check_positive_int(n_alphas, "n_alphas")
    eps = _check_positive_float(eps, "eps")
  else:
    alphas = check_alphas(alphas, X.dtype)
    n_alphas = None
  G = None
  if isinstance(precompute, (np.ndarray, jax.Array, list, tuple)):
    Xc = center(X, y, fit_intercept)[0]
    G = _check_gram(precompute, Xc).astype(X.dtype)
    gram = True
  else:
    gram = _use_gram(n, p, precompute)
  args = (X, y, alphas, on_device(r, X.dtype), on_device(eps, X.dtype),
          on_device(tol, X.dtype))
  static = dict(n_alphas=n_alphas, fit_intercept=bool(fit_intercept), gram=gram)
  if G is None:
    # A later process with the same shapes skips tracing (see _traced_cache).
    prob = _traced_cache.call("enet_prepare", _prepare, args, static, (_Problem,))
  else:
    prob = _prepare(*args, **static, G=G)
  A, b = _padded(prob.A, prob.b, p, gram)
  if gram:
    out = _traced_cache.call(
        "gram_path", _cd.gram_path, (A, b, prob.y2, prob.l1s, prob.l2s,
                                     prob.l1_start, prob.tol_abs, prob.tol_rel),
        dict(max_iter=max_iter), (_cd.PathArrays,))
  else:
    out = _traced_cache.call(
        "residual_path", _cd.residual_path, (A, b, prob.l1s, prob.l2s,
                                             prob.l1_start, prob.tol_abs, prob.tol_rel),
        dict(max_iter=max_iter), (_cd.PathArrays,))
  if out.coefs.shape[1] != p:
    out = out._replace(coefs=out.coefs[:, :p])
  intercepts = _intercepts(out.coefs, prob.x_mean, prob.y_mean)
  _warn_unconverged(out.converged, "enet_path", f"some α reached max_iter={max_iter} sweeps; "
                    "raise max_iter or tol.")
  return PathResult(prob.alphas, out.coefs, intercepts, out.dual_gaps / on_device(n, X.dtype),
                    out.n_iter, out.converged)


def _constrained_or_weighted(X, y, l1_ratio, alphas, n_alphas, eps, fit_intercept, tol, max_iter,
                             positive, sample_weight):
  """`enet_path` with ``sample_weight`` (by weighted rows) and/or ``positive``
  (by `path` with ``NonNegative``)."""
  X, y = check_Xy(X, y)
  r = _check_l1_ratio(l1_ratio)
  n = X.shape[0]
  x_mean = y_mean = None
  if alphas is None and positive:
    alphas = positive_alpha_grid(X, y, r, n_alphas, eps, fit_intercept, sample_weight)
  if sample_weight is not None:
    s = _data.check_sample_weight(sample_weight, n, X.dtype)
    X, y, x_mean, y_mean = _data.weighted_rows(X, y, s, bool(fit_intercept))
    fit_intercept = False
  if positive:
    res = path(X, y, _penalties.NonNegative(_penalties.ElasticNet(1.0, r)), alphas=alphas,
               fit_intercept=fit_intercept, tol=tol, max_iter=max_iter)
  else:
    res = enet_path(X, y, r, alphas=alphas, n_alphas=n_alphas, eps=eps,
                    fit_intercept=fit_intercept, tol=tol, max_iter=max_iter)
  if x_mean is not None:
    res = res._replace(intercepts=y_mean - res.coefs @ x_mean)
  return res


def positive_alpha_grid(X, y, l1_ratio, n_alphas=100, eps=1e-3, fit_intercept=True,
                        sample_weight=None):
  """scikit-learn's grid for ``positive=True``: ``n_alphas`` log-spaced α
  from max(0, max_j X_cᵀy_c)/(n·r) (the largest positive correlation of the
  centred — and, with weights, weighted — data) down to eps times it.

  Args:
    X: (n, p), dense or sparse (never densified).
    y: (n,) targets.
    l1_ratio: r ∈ (0, 1].
    n_alphas, eps: grid size and α_min / α_max.
    fit_intercept: centre first.
    sample_weight: None or (n,) weights ≥ 0 (scikit-learn's semantics).

  Returns:
    (n_alphas,) decreasing α.
  """
  r = _check_l1_ratio(l1_ratio)
  if r == 0:
    raise ValueError("l1_ratio=0 needs explicit alphas (the default grid divides by l1_ratio).")
  n_alphas = _check_positive_int(n_alphas, "n_alphas")
  eps = _check_positive_float(eps, "eps")
  if _sparse.is_sparse(X):
    des, yc, _ = sparse_problem(X, y, sample_weight, fit_intercept)
    corr, n = des.rmatvec(yc), des.shape[0]
  else:
    X, y = check_Xy(X, y)
    n = X.shape[0]
    s = _data.check_sample_weight(sample_weight, n, X.dtype)
    Xc, yc = (center(X, y, fit_intercept) if s is None
              else _data.weighted_rows(X, y, s, bool(fit_intercept)))[:2]
    corr = Xc.T @ yc
  return grid_from_correlations(corr, n, r, n_alphas, eps, positive=True)


def _sparse_positive_path(X, y, l1_ratio, alphas, n_alphas, eps, fit_intercept, tol, max_iter,
                          sample_weight):
  """`enet_path` with ``positive`` on a sparse X: :func:`path` with
  ``NonNegative(ElasticNet)`` (FISTA on a BCOO), on scikit-learn's grid for
  positive=True (the largest positive correlation)."""
  r = _check_l1_ratio(l1_ratio)
  if alphas is None:
    alphas = positive_alpha_grid(X, y, r, n_alphas, eps, fit_intercept, sample_weight)
  return path(X, y, _penalties.NonNegative(_penalties.ElasticNet(1.0, r)), alphas=alphas,
              fit_intercept=fit_intercept, tol=tol, max_iter=max_iter,
              sample_weight=sample_weight)


def sparse_problem(X, y, sample_weight, fit_intercept):
  """A sparse X and its y checked, then centred and weighted
  (:func:`jaxreg.linear._sparse.design`): ``(design, y_c, y_mean)``."""
  Xs, s = _data.check_sparse_X(X, sample_weight)
  _data._check_numeric(y, "y")
  yv = np.asarray(y)
  if yv.ndim != 1 or yv.shape[0] != Xs.shape[0]:
    raise ValueError(f"y must be 1-D with one target per row of X ({Xs.shape[0]} rows), got "
                     f"shape {yv.shape}.")
  if not np.all(np.isfinite(yv)):
    raise ValueError("y contains NaN or infinite values.")
  return _sparse.design(Xs, yv.astype(Xs.dtype), s, bool(fit_intercept))


def sparse_enet_path(X, y, l1_ratio=1.0, alphas=None, n_alphas=100, eps=1e-3, fit_intercept=True,
                     tol=1e-4, max_iter=1000, sample_weight=None, w0=None) -> PathResult:
  """:func:`enet_path` for a sparse X (``scipy.sparse`` or ``BCOO``), never
  densified; also with ``sample_weight`` (scikit-learn's semantics) and a
  warm start ``w0``.

  Same objective, grid, stopping rule and result as :func:`enet_path`; the
  solver is :mod:`jaxreg.linear.solvers.sparse_working_set` (working sets
  on the host, each solved in JAX on its Gram block or its sparse columns),
  so it is not jit-able. Nothing n × p is formed.

  Example:
    >>> import numpy as np, scipy.sparse as sp, jaxreg as jr
    >>> X = sp.random(50, 200, density=0.05, random_state=0, format="csr")
    >>> y = X @ np.r_[np.ones(5), np.zeros(195)]
    >>> path = jr.linear.enet_path(X, y, n_alphas=5)
    >>> path.coefs.shape
    (5, 200)
  """
  des, yc, y_mean = sparse_problem(X, y, sample_weight, fit_intercept)
  dtype = yc.dtype
  r = _check_l1_ratio(l1_ratio)
  max_iter = _check_positive_int(max_iter, "max_iter")
  tol = max(_check_positive_float(tol, "tol"), tol_floor(dtype))
  n = des.shape[0]
  if alphas is None:
    if r == 0:
      raise ValueError("l1_ratio=0 needs explicit alphas (the default grid divides by l1_ratio).")
    n_alphas = _check_positive_int(n_alphas, "n_alphas")
    eps = _check_positive_float(eps, "eps")
    alphas = np.asarray(grid_from_correlations(des.rmatvec(yc), n, r, n_alphas, eps), dtype)
  else:
    alphas = np.asarray(check_alphas(alphas, dtype))
  out = _sparse_ws.enet_path(des, yc, (n * r) * alphas, (n * (1.0 - r)) * alphas, tol, max_iter,
                             w0=w0)
  intercepts = y_mean - out.coefs @ des.x_mean
  _warn_unconverged(out.converged, "enet_path", f"some α reached max_iter={max_iter} sweeps; "
                    "raise max_iter or tol.")
  as_j = jnp.asarray
  return PathResult(as_j(alphas), as_j(out.coefs), as_j(intercepts), as_j(out.dual_gaps / n),
                    as_j(out.n_iter), as_j(out.converged))


# Above this many features the solver is compiled for p rounded up to the
# grid 1024·2^(k/8) (then to a multiple of 128): a data set a few percent
# narrower or wider (a feature dropped, another selection of columns) often
# reuses the compiled program, 7 s of first call on 200 × 5000, for at most
# 12% more columns (9% past 2048), all zero. Below it the working-set
# capacities depend on p itself (they are compiled branches), and padding
# would add branches rather than save compiles.
_P_BUCKETED = 1024


def _bucket_p(p):
  """The number of columns the path solver is compiled for."""
  return p if p <= _P_BUCKETED else _data.padded_size(p, _P_BUCKETED, 8, 128)


def _padded(A, b, p, gram):
  """The solver's data with zero features appended up to `_bucket_p`(p):
  a zero column has a zero diagonal, so it never enters a working set and
  its coefficient stays 0."""
  pad = _bucket_p(p) - p
  if not pad:
    return A, b
  if gram:
    return jnp.pad(A, ((0, pad), (0, pad))), jnp.pad(b, (0, pad))
  return jnp.pad(A, ((0, 0), (0, pad))), b


class _Problem(NamedTuple):
  A: jax.Array          # Gram matrix XᵀX (gram) or centered X (residual)
  b: jax.Array          # Xᵀy (gram) or centered y (residual)
  y2: jax.Array
  l1s: jax.Array
  l2s: jax.Array
  l1_start: jax.Array
  tol_abs: jax.Array
  tol_rel: jax.Array
  alphas: jax.Array
  x_mean: jax.Array
  y_mean: jax.Array


def _gram(X, n_blocks=4):
  """XᵀX from the upper block triangle of a 4 × 4 split of the columns.

  XLA's CPU matrix product does not exploit the symmetry of XᵀX (a BLAS
  ``syrk`` would); computing only the blocks on and above the diagonal and
  mirroring the rest does 10/16 of the multiply-adds, measured ~25% faster
  on 2000 × 500. Small p keeps the single product.
  """
  p = X.shape[1]
  if p < 128:
    return X.T @ X
  edges = [round(i * p / n_blocks) for i in range(n_blocks + 1)]
  cols = [X[:, edges[i]:edges[i + 1]] for i in range(n_blocks)]
  upper = {(i, j): cols[i].T @ cols[j] for i in range(n_blocks) for j in range(i, n_blocks)}
  return jnp.block([[upper[(i, j)] if i <= j else upper[(j, i)].T for j in range(n_blocks)]
                    for i in range(n_blocks)])


@functools.partial(jax.jit, static_argnames=("n_alphas", "fit_intercept", "gram"))
def _prepare(X, y, alphas, r, eps, tol, n_alphas, fit_intercept, gram, G=None):
  """Centering, the grid, the Gram matrix and the sum-form penalties, in one
  compiled program (the solver itself is a separate, shared one)."""
  n = X.shape[0]
  Xc, yc, x_mean, y_mean, _ = center(X, y, fit_intercept)
  if alphas is None:
    alphas = alpha_grid(Xc, yc, r, n_alphas, eps)
  y2 = jnp.dot(yc, yc)
  xty = Xc.T @ yc
  if gram:
    A, b = (_gram(Xc) if G is None else G), xty
  else:
    A, b = Xc, yc
  # The strong rule's "previous α" for the first grid point is α_max.
  return _Problem(A, b, y2, (n * r) * alphas, (n * (1.0 - r)) * alphas,
                  jnp.max(jnp.abs(xty)), tol * y2, tol, alphas, x_mean, y_mean)


@jax.jit
def _intercepts(coefs, x_mean, y_mean):
  return y_mean - coefs @ x_mean


def lasso_path(X, y, alphas=None, n_alphas: int = 100, eps: float = 1e-3,
               fit_intercept: bool = True, tol: float = 1e-4, max_iter: int = 1000,
               precompute="auto", *, positive: bool = False,
               sample_weight=None) -> PathResult:
  r"""The lasso path: :func:`enet_path` with l1_ratio = 1.

  Minimizes, for each α on the path,

      (1/(2n))‖y − Xw − b‖² + α‖w‖₁

  scikit-learn's ``Lasso(alpha=α)`` objective. See :func:`enet_path` for the
  algorithm, the default grid and the stopping rule.

  Args:
    X: (n, p) design matrix.
    y: (n,) targets.
    alphas: positive strengths, or None for the default grid.
    n_alphas: grid size when ``alphas`` is None.
    eps: α_min/α_max of the default grid.
    fit_intercept: center X and y and fit an intercept.
    tol: relative duality-gap tolerance.
    max_iter: maximum sweeps per α.
    precompute: "auto", True or False (use the Gram matrix).
    positive, sample_weight: as :func:`enet_path`.

  Returns:
    A :class:`PathResult`.

  Example:
    >>> import jax.numpy as jnp, jaxreg as jr
    >>> X = jnp.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 0.5]])
    >>> y = jnp.array([1.0, 0.5, 1.5, 2.2])
    >>> path = jr.linear.lasso_path(X, y, n_alphas=5)
    >>> path.alphas.shape, path.coefs.shape
    ((5,), (5, 2))

  References:
    Tibshirani (1996), the lasso; Friedman et al. (2010), glmnet;
    scikit-learn's ``lasso_path``.
  """
  return enet_path(X, y, l1_ratio=1.0, alphas=alphas, n_alphas=n_alphas, eps=eps,
                   fit_intercept=fit_intercept, tol=tol, max_iter=max_iter,
                   precompute=precompute, positive=positive, sample_weight=sample_weight)


# --- logistic ----------------------------------------------------------------

def logistic_path(X, y, penalty: str = "l1", l1_ratio: Optional[float] = None,
                  alphas=None, n_alphas: int = 100, eps: float = 1e-3,
                  fit_intercept: bool = True, tol: float = 1e-8,
                  max_iter: int = 100, *, sample_weight=None) -> PathResult:
  r"""The regularization path of binary logistic regression.

  Minimizes, for each α on the path,

      (1/n) Σᵢ log(1 + exp(−sᵢ(xᵢᵀw + b))) + α·r‖w‖₁ + α(1 − r)/2 ‖w‖²

  with sᵢ = ±1 the labels, which is scikit-learn's
  ``LogisticRegression(C=1/(n·α))`` (penalty "l1": r = 1, "l2": r = 0,
  "elasticnet": r = ``l1_ratio``). The intercept is not penalized.

  Algorithm: proximal Newton (glmnet's IRLS), the generic
  :mod:`jaxreg.linear.solvers.prox_newton` of :func:`path`. Each step builds
  the weighted least-squares model of the log-loss at the current point and
  minimizes it plus the penalty by coordinate descent on a working set
  (the nonzero coefficients and the worst violators; the intercept by an
  exact Newton step); a backtracking search on the true objective keeps
  every step a descent. Warm starts follow the decreasing α grid.

  Args:
    X: (n, p) design matrix.
    y: (n,) labels with exactly two distinct values; the larger one is the
      positive class.
    penalty: "l1", "l2" or "elasticnet".
    l1_ratio: r for "elasticnet" (required there, ignored otherwise).
    alphas: positive strengths, or None for the default grid from
      α_max = max|Xᵀ(y − ȳ)|/(n·r) (the smallest α with w = 0) down to
      eps·α_max. With penalty "l2" explicit alphas are required.
    n_alphas: grid size when ``alphas`` is None.
    eps: α_min/α_max of the default grid.
    fit_intercept: fit an unpenalized intercept.
    tol: finite tolerance > 0, raised to 100·ε of the dtype: an α is done
      when the largest violation of the optimality conditions is at most
      tol·max(1, max_j (1/n)Σᵢ|X_ij|), the largest gradient the mean
      log-loss can have (a test of optimality, not of a small step).
    max_iter: positive integer, maximum Newton steps per α.
    sample_weight: None or (n,) finite weights ≥ 0, not all 0: the mean
      log-loss becomes the weighted mean (1/Σsᵢ)Σᵢ sᵢℓᵢ, so α = 1/(C·Σsᵢ)
      is ``LogisticRegression(C).fit(X, y, sample_weight=s)``.

  Returns:
    A :class:`PathResult`; ``dual_gaps`` holds the largest violation of the
    optimality conditions (the distance of −∇loss to the penalty's
    subdifferential, ∞-norm) at each solution, ``n_iter`` the Newton steps,
    ``converged`` whether that violation met the tolerance.

  Example:
    >>> import jax.numpy as jnp, jaxreg as jr
    >>> X = jnp.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
    >>> y = jnp.array([0, 0, 1, 1])
    >>> path = jr.linear.logistic_path(X, y, n_alphas=4)
    >>> path.coefs.shape
    (4, 2)

  References:
    Friedman, Hastie & Tibshirani (2010), glmnet; Lee, Sun & Saunders
    (2014), "Proximal Newton-type methods"; Yuan, Ho & Lin (2012), newGLMNET.
  """
  X, y = check_Xy(X, y)
  if penalty == "l1":
    r = 1.0
  elif penalty == "l2":
    r = 0.0
  elif penalty == "elasticnet":
    if l1_ratio is None:
      raise ValueError('penalty="elasticnet" needs l1_ratio.')
    r = _check_l1_ratio(l1_ratio)
  else:
    raise ValueError(f'penalty must be "l1", "l2" or "elasticnet", got {penalty!r}.')
  max_iter = _check_positive_int(max_iter, "max_iter")
  tol = max(_check_positive_float(tol, "tol"), tol_floor(X.dtype))
  if _checks.is_concrete(y):
    labels = np.unique(np.asarray(jax.device_get(y)))  # on the host, explicitly
    if labels.size != 2:
      raise ValueError(f"y must hold exactly two distinct labels, got {labels.size}: {labels[:5]!r}.")
    y01 = (y == jax.device_put(labels[1])).astype(X.dtype)
  else:
    y01 = y
  n = X.shape[0]
  sw = _data.check_sample_weight(sample_weight, n, X.dtype)
  datafit = _datafits.Logistic() if sw is None else _datafits.Weighted(_datafits.Logistic(), sw)
  if alphas is None:
    if r == 0:
      raise ValueError('penalty="l2" (l1_ratio=0) needs explicit alphas.')
    n_alphas = _check_positive_int(n_alphas, "n_alphas")
    eps = _check_positive_float(eps, "eps")
    s = on_device(np.ones(n), X.dtype) if sw is None else sw
    alphas = _logistic_grid(X, y01, s, on_device(r, X.dtype), on_device(eps, X.dtype),
                            fit_intercept=bool(fit_intercept), n_alphas=n_alphas)
  else:
    alphas = check_alphas(alphas, X.dtype)
  pen = _penalties.L1(1.0) if r == 1.0 else (
      _penalties.L2(1.0) if r == 0.0 else _penalties.ElasticNet(1.0, r))
  coords = _penalties.coordinates(pen, X.shape[1], 1)
  out = _logistic_path(X, jnp.reshape(y01, (-1, 1)).astype(X.dtype), datafit, coords, alphas,
                       on_device(tol, X.dtype), fit_intercept=bool(fit_intercept),
                       max_iter=max_iter)
  _warn_unconverged(out.converged, "logistic_path", f"some α reached max_iter={max_iter} Newton "
                    "steps; raise max_iter or tol.")
  return PathResult(alphas, out.W[..., 0], out.b[..., 0], out.violation, out.n_iter,
                    out.converged)


@functools.partial(jax.jit, static_argnames=("fit_intercept", "n_alphas"))
def _logistic_grid(X, y01, s, r, eps, *, fit_intercept, n_alphas):
  """α_max·(1 … eps), geometric: α_max = ‖Xᵀ(s ⊙ (y − ȳ))‖_∞ / (n r)."""
  n = X.shape[0]
  ybar = s @ y01 / n if fit_intercept else 0.5
  alpha_max = jnp.max(jnp.abs(X.T @ (s * (y01 - ybar)))) / (n * r)
  return jnp.geomspace(1.0, eps, n_alphas).astype(X.dtype) * alpha_max


@functools.partial(jax.jit, static_argnames=("fit_intercept", "max_iter"))
def _logistic_path(X, Y, datafit, coords, alphas, tol, *, fit_intercept, max_iter):
  """The generic engine's warm-started proximal Newton path for the log-loss
  (weighted or not), its violations measured against `_engine.kkt_scale`(X)."""
  prob = _engine.Problem(X, Y, datafit, coords, True)
  return _engine.solve_path(prob, alphas, fit_intercept=fit_intercept, tol=tol,
                            max_iter=max_iter, solver="prox_newton",
                            scale=_engine.kkt_scale(X, getattr(datafit, "sample_weight", None)),
                            gap=False)


# --- any datafit × any penalty -------------------------------------------------


@functools.partial(jax.jit, static_argnames=("fit_intercept", "max_iter", "solver"))
def _generic_path(X, Y, datafit, coords, alphas, tol, *, fit_intercept, max_iter, solver):
  prob = _engine.Problem(X, Y, datafit, coords, False)
  return _engine.solve_path(prob, alphas, fit_intercept=fit_intercept, tol=tol,
                            max_iter=max_iter, solver=solver)


@functools.partial(jax.jit, static_argnames=("fit_intercept", "n_alphas"))
def _generic_grid(X, Y, datafit, coords, eps, *, fit_intercept, n_alphas):
  prob = _engine.Problem(X, Y, datafit, coords, False)
  _, G0 = _engine.null_gradient(prob, fit_intercept)
  a_max = _engine.alpha_max(prob, G0)
  return a_max * jnp.logspace(0.0, jnp.log10(eps), n_alphas, dtype=X.dtype)


def weighted_problem(prob, sample_weight, fit_intercept):
  """An engine problem with sample weights, as ``(prob, means, fit_intercept)``.

  The squared loss becomes an unweighted problem on √s-scaled, s-centred
  rows (``means`` = (x̄, ȳ), the weighted means the intercept is recovered
  from as b = ȳ − x̄ᵀW, and ``fit_intercept`` False), so every solver and
  the Gram tricks apply; any other datafit becomes
  :class:`~jaxreg.linear.datafits.Weighted` (``means`` None). Without
  weights the problem is returned as is.
  """
  if sample_weight is None:
    return prob, None, fit_intercept
  sw = _data.check_sample_weight(sample_weight, prob.X.shape[0], prob.X.dtype)
  if type(prob.datafit) is _datafits.Squared:
    Xt, Yt, x_mean, y_mean = _data.weighted_rows(prob.X, prob.Y, sw, fit_intercept)
    return prob._replace(X=Xt, Y=Yt), (x_mean, y_mean), False
  return prob._replace(datafit=_datafits.Weighted(prob.datafit, sw)), None, fit_intercept


def path(X, y, penalty, datafit="squared", alphas=None, n_alphas: int = 100, eps: float = 1e-3,
         fit_intercept: bool = True, tol: float = 1e-4, max_iter: int = 1000,
         solver: str = "auto", *, sample_weight=None) -> PathResult:
  r"""The regularization path of any datafit × any penalty.

  For each α on the path, minimizes

  .. math::  f(Y, XW + b) + P_\alpha(W)

  where f is the datafit's mean loss (``"squared"`` (1/(2n))‖y − Xw − b‖²,
  ``"logistic"``, ``"multinomial"``, ``"poisson"``, ``"huber"``,
  ``"multitask"``; see :mod:`jaxreg.linear.datafits`) and P_α the penalty
  with its α replaced (``L1`` with weights, ``L2``, ``ElasticNet``, ``Lp``,
  ``GroupLasso`` with ``groups`` or ``axis=1`` for tasks, ``MCP``, ``SCAD``,
  ``Box`` / ``NonNegative``; a 1-d boolean ``mask`` leaves rows
  unpenalized). The α are solved in decreasing order, each warm-started
  from the previous solution, in one compiled program (a scan over α):
  a new grid of the same length, a new α or new data of the same shape do
  not recompile.

  Solvers: ``"cd"`` working-set block coordinate descent (the default for
  the squared loss), ``"prox_newton"`` proximal Newton (the default for the
  others), ``"fista"`` accelerated
  proximal gradient. All stop on the same rule: the largest block
  violation of the optimality conditions (the distance from −∇f to the
  penalty's subdifferential; the prox-gradient mapping for ``Lp`` with
  p < 1), the intercept's gradient included, at most tol × the largest
  gradient of the intercept-only model, max|Xᵀ∇f(b₀)|, and, where the
  problem is convex and its dual is known — every datafit with ``L1``,
  ``L2``, ``ElasticNet`` or ``GroupLasso``, the separable ones also inside
  ``Box`` / ``NonNegative`` —
  the duality gap at most tol × the intercept-only model's mean deviance
  2f(b₀) (tol·‖y_c‖²/n for the squared loss, scikit-learn's gap rule).
  The dual point is the gradient ∇f(η), made to sum to zero when the
  intercept is fitted (``datafit.feasible_dual``) and rescaled into the
  dual feasible set, so the gap bounds the suboptimality; unpenalized
  blocks add the first-order decrease still available there (as
  scikit-learn's weighted gap). Like scikit-learn's two
  conditions (gap and coefficient change), the gap certifies the
  objective, the violation the coefficients.

  Non-convex penalties (``MCP``, ``SCAD``, ``Lp`` with p < 1) give a
  stationary point, the one warm starts along the path lead to.

  Args:
    X: (n, p) design matrix.
    y: (n,) targets, or (n, T) for ``"multitask"``; labels for
      ``"logistic"`` (two values) and ``"multinomial"``.
    penalty: a jaxreg penalty; its α is replaced by each of ``alphas``.
    datafit: a name above or a datafit object.
    alphas: strengths ≥ 0 (returned in decreasing order); None builds
      ``n_alphas`` log-spaced values from α_max (the smallest α whose
      solution is W = 0, for the L1-like penalties) down to eps·α_max.
    n_alphas: grid size when ``alphas`` is None.
    eps: α_min / α_max of the default grid.
    fit_intercept: fit an unpenalized intercept (by centering for the
      squared loss).
    tol: relative tolerance > 0 (see above).
    max_iter: maximum coordinate sweeps (or outer iterations) per α.
    solver: ``"auto"``, ``"cd"``, ``"prox_newton"`` or ``"fista"``.
    sample_weight: None or (n,) finite weights ≥ 0, not all 0: f becomes
      the weighted mean of the row losses (scikit-learn's semantics; see
      :class:`~jaxreg.linear.datafits.Weighted`). The squared loss is
      reduced to an unweighted one on √s-scaled, s-centred rows, so every
      solver applies; the default grid's α_max is the weighted one.

  Returns:
    :class:`PathResult`: ``coefs`` (K, p) — (K, p, T) for multitask and
    multinomial — ``intercepts`` (K,) or (K, T), ``dual_gaps`` the final
    duality gap per α where one is known, else the final optimality
    violation (see above),
    ``n_iter``, ``converged``.

  Example:
    >>> import numpy as np, jaxreg as jr
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((30, 8)); y = X[:, 0] - 2 * X[:, 1]
    >>> res = jr.linear.path(X, y, jr.MCP(1.0, gamma=3.0), n_alphas=5)
    >>> res.coefs.shape
    (5, 8)

  References:
    Bertrand et al. (2022), "Beyond L1: faster and better sparse models with
    skglm"; Breheny & Huang (2011), "Coordinate descent algorithms for
    nonconvex penalized regression" (ncvreg).
  """
  if _sparse.is_sparse(X):
    lasso = isinstance(penalty, _penalties.L1) and penalty.weights is None
    enet = isinstance(penalty, _penalties.ElasticNet) and float(penalty.l1_ratio) > 0
    if (datafit == "squared" and (lasso or enet) and penalty.mask is None and solver == "auto"
        and jnp.ndim(y) == 1):
      # The lasso and elastic net have their own sparse solver (working sets).
      return sparse_enet_path(X, y, 1.0 if lasso else float(penalty.l1_ratio), alphas=alphas,
                              n_alphas=n_alphas, eps=eps, fit_intercept=fit_intercept, tol=tol,
                              max_iter=max_iter, sample_weight=sample_weight)
    prob = _engine.prepare_sparse(X, y, penalty, datafit, sample_weight)
    tol, max_iter = _sparse_settings(tol, max_iter, solver, prob.Y.dtype)
    means, solver = None, "fista"
  else:
    prob = _engine.prepare(X, y, penalty, datafit)
  n_alphas = _check_positive_int(n_alphas, "n_alphas")
  max_iter = _check_positive_int(max_iter, "max_iter")
  tol = _check_positive_float(tol, "tol")
  fit_intercept = bool(fit_intercept)
  dtype = prob.Y.dtype
  if not _sparse.is_sparse(X):
    prob, means, fit_intercept = weighted_problem(prob, sample_weight, fit_intercept)
  _engine.check_solver(solver, prob.datafit)
  if alphas is None:
    eps = _check_positive_float(eps, "eps")
    grid = _generic_grid(prob.X, prob.Y, prob.datafit, prob.coords, on_device(eps, dtype),
                         fit_intercept=fit_intercept, n_alphas=n_alphas)
  else:
    grid = check_alphas(alphas, dtype, allow_zero=True)
  tol = max(tol, float(100 * jnp.finfo(dtype).eps))
  out = _generic_path(prob.X, prob.Y, prob.datafit, prob.coords, grid, on_device(tol, dtype),
                      fit_intercept=fit_intercept, max_iter=max_iter, solver=solver)
  W, b = out.W, out.b
  if means is not None:
    b = means[1] - jnp.einsum("kpt,p->kt", W, means[0])
  if prob.single_output:
    W, b = W[..., 0], b[..., 0]
  _warn_unconverged(out.converged, "jr.linear.path",
                    f"an α reached max_iter={max_iter}; raise max_iter or tol.")
  certificate = out.violation if out.gap is None else out.gap
  return PathResult(grid, W, b, certificate, out.n_iter, out.converged)
