"""The generic engine behind ``jr.linear``: any datafit × any penalty.

It turns a user's (X, y, penalty, datafit) into the solvers' arrays
(X (n, p), Y (n, T), the penalty's solver view), picks the solver, scales
the tolerance, runs single fits and warm-started paths, and makes a fit
differentiable in the penalty by implicit differentiation of the
proximal-gradient fixed point.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxreg import _checks
from jaxreg import penalties as _penalties
from jaxreg._placement import to_device
from jaxreg.linear import _data
from jaxreg.linear import datafits as _datafits
from jaxreg.implicit import implicit_solution
from jaxreg.linear.solvers import _common, coordinate_descent, fista, prox_newton

SOLVERS = ("auto", "cd", "prox_newton", "fista")

# FISTA iterations worth one coordinate-descent sweep, for budgets stated in
# sweeps (the ratio of the engine's default budgets, 20000 and 1000): one
# iteration costs about a sweep, but converges more slowly.
FISTA_STEPS_PER_SWEEP = 20


class Problem(NamedTuple):
  """A validated problem: arrays for the solvers, and whether y was one column."""

  X: jax.Array
  Y: jax.Array
  datafit: Any
  coords: Any
  single_output: bool


def check_solver(solver, datafit):
  """The solver name for this datafit (``"auto"`` resolved)."""
  if solver not in SOLVERS:
    raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}.")
  if solver == "auto":
    # Huber: where few residuals are in the quadratic zone its curvature bound
    # is far above the curvature, and coordinate descent with 1/L steps crawls.
    # Weighted squared loss has no curvature bound (see datafits.Weighted).
    return ("cd" if datafit.name == "squared" and datafit.curvature is not None
            else "prox_newton")
  if solver == "cd" and datafit.curvature is None:
    raise ValueError(f"solver='cd' needs a datafit with a curvature bound; "
                     f"{type(datafit).__name__} has none (use 'prox_newton' or 'auto').")
  return solver


def prepare(X, y, penalty, datafit, name_X="X", name_y="y"):
  """Validates the inputs; returns a :class:`Problem`."""
  # Its numbers (a Huber ε, Poisson weights) go to the device once, explicitly.
  datafit = to_device(_datafits.get(datafit))
  single = jnp.ndim(y) == 1
  X, _ = _data.check_Xy(X, y, name_X, name_y, dtype_from="X", multi_output=True)
  Y, _ = _datafits.prepare_targets(datafit, y)
  Y = jnp.asarray(Y, X.dtype)
  single = single and Y.shape[1] == 1
  coords = _penalties.coordinates(penalty, X.shape[1], Y.shape[1])
  return Problem(X, Y, datafit, coords, single)


def prepare_sparse(X, y, penalty, datafit, sample_weight=None, name_X="X", name_y="y"):
  """:func:`prepare` for a sparse X (``scipy.sparse`` or ``BCOO``): the
  :class:`Problem` holds X as a ``jax.experimental.sparse.BCOO``, which
  FISTA only multiplies (O(nnz) per product, never densified), and the
  weights in a :class:`~jaxreg.linear.datafits.Weighted` datafit."""
  Xs, s = _data.check_sparse_X(X, sample_weight, name_X)
  n, p = Xs.shape
  _data._check_numeric(y, name_y)
  if jnp.ndim(y) not in (1, 2) or jnp.shape(y)[0] != n:
    raise ValueError(f"{name_y} must be (n,) or (n, T) with one row per row of {name_X} "
                     f"({n} rows), got shape {jnp.shape(y)}.")
  if _checks.is_concrete(y) and not np.all(np.isfinite(np.asarray(y))):
    raise ValueError(f"{name_y} contains NaN or infinite values.")
  datafit = _datafits.get(datafit)
  Y, _ = _datafits.prepare_targets(datafit, y)
  Y = jnp.asarray(Y, Xs.dtype)
  if s is not None:
    s = jnp.asarray(s)
    datafit = (_datafits.Weighted(datafit.datafit, datafit.sample_weight * s)
               if isinstance(datafit, _datafits.Weighted) else _datafits.Weighted(datafit, s))
  coords = _penalties.coordinates(penalty, p, Y.shape[1])
  return Problem(bcoo(Xs), Y, datafit, coords, jnp.ndim(y) == 1 and Y.shape[1] == 1)


def bcoo(Xs):
  """A SciPy sparse matrix as a ``jax.experimental.sparse.BCOO`` whose
  number of stored entries is padded (explicit zeros at (0, 0), which add
  nothing to a product) to a size nearby counts share, so that the folds of
  a cross-validation, or data sets that differ by a few entries, reuse one
  compiled program."""
  from jax.experimental import sparse as jsparse
  coo = Xs.tocoo()
  nnz = coo.nnz
  size = _data.padded_size(nnz, 256, 4, 256)
  data = np.zeros(size, Xs.dtype)
  data[:nnz] = coo.data
  idx = np.zeros((size, 2), np.int32)
  idx[:nnz, 0], idx[:nnz, 1] = coo.row, coo.col
  return jsparse.BCOO((jnp.asarray(data), jnp.asarray(idx)), shape=Xs.shape)


def null_gradient(prob, fit_intercept):
  """The intercept-only model and the datafit's gradient in W there."""
  X, Y, df = prob.X, prob.Y, prob.datafit
  T = Y.shape[1]
  b0 = (jnp.asarray(df.intercept_start(Y), X.dtype) if fit_intercept
        else jnp.zeros((T,), X.dtype))
  eta = jnp.zeros(Y.shape, X.dtype) + b0
  return b0, X.T @ df.gradient(Y, eta)


def alpha_max(prob, G0):
  """The smallest α for which W = 0 is optimal (the top of a path)."""
  coords = prob.coords
  per = jax.vmap(coords.block_alpha_max)(coords.gather(G0), jnp.arange(coords.n_blocks))
  return jnp.max(jnp.where(jnp.isfinite(per), per, 0.0))


def tol_scale(G0):
  """The null model's largest gradient: the unit of the relative ``tol``."""
  s = jnp.max(jnp.abs(G0))
  return jnp.where(s > 0, s, 1.0)


def kkt_scale(X, weights=None):
  """max(1, max_j (1/n)Σᵢ|X_ij|): no gradient of the mean log-loss, whose
  residuals σ(η) − y lie in [−1, 1], can exceed it (the intercept's column
  of ones gives the 1), so the logistic entry points measure their
  optimality violations relative to it. With row ``weights``, the weighted
  mean (the bound of the weighted mean log-loss)."""
  if weights is None:
    return jnp.maximum(jnp.max(jnp.mean(jnp.abs(X), axis=0)), 1.0)
  return jnp.maximum(jnp.max(weights @ jnp.abs(X)) / jnp.sum(weights), 1.0)


def gap_scale(prob, b0):
  """The unit of the relative gap tolerance: the intercept-only model's mean
  deviance 2·f(b₀) (‖y_c‖²/n for the squared loss: scikit-learn's gap
  tolerance tol·‖y_c‖² in sum form); None where no gap is known."""
  if not _common.has_gap(prob.datafit, prob.coords):
    return None
  eta = jnp.zeros(prob.Y.shape, prob.X.dtype) + b0
  dev = 2.0 * prob.datafit.value(prob.Y, eta)
  return jnp.where(dev > 0, dev, 1.0)


def run_solver(name, X, Y, datafit, coords, W0, b0, fit_intercept, tol, max_iter, gap_tol=None):
  mod = {"cd": coordinate_descent, "prox_newton": prox_newton, "fista": fista}[name]
  return mod.solve(X, Y, datafit, coords, W0, b0, fit_intercept=fit_intercept, tol=tol,
                   max_iter=max_iter, gap_tol=gap_tol)


class PathArrays(NamedTuple):
  W: jax.Array           # (K, p, T)
  b: jax.Array           # (K, T)
  n_iter: jax.Array      # (K,)
  violation: jax.Array   # (K,)
  converged: jax.Array   # (K,)
  gap: Any = None        # (K,) where a gap is known and checked


def solve_path(prob, alphas, *, fit_intercept, tol, max_iter, solver, scale=None, gap=True):
  """Warm-started solves along ``alphas`` (in the given order), one program.

  ``tol`` is relative: each solve stops once its largest violation is at most
  tol × ``scale``, by default the null model's largest gradient, and (with
  ``gap`` and where one is known) its duality gap at most tol × :func:`gap_scale`.
  """
  X, Y, df, coords = prob.X, prob.Y, prob.datafit, prob.coords
  p, T = X.shape[1], Y.shape[1]
  name = check_solver(solver, df)
  b0, G0 = null_gradient(prob, fit_intercept)
  tol_abs = tol * (tol_scale(G0) if scale is None else scale)
  unit = gap_scale(prob, b0) if gap else None
  gap_tol = None if unit is None else tol * unit

  def step(carry, a):
    W, b = carry
    res = run_solver(name, X, Y, df, coords.with_alpha(a), W, b, fit_intercept, tol_abs,
                     max_iter, gap_tol)
    return (res.W, res.b), (res.W, res.b, res.n_iter, res.violation, res.converged, res.gap)

  W0 = jnp.zeros((p, T), X.dtype)
  _, out = lax.scan(step, (W0, b0), jnp.asarray(alphas, X.dtype))
  return PathArrays(*out)


def solve_one(prob, *, fit_intercept, tol, max_iter, solver, W0=None, b0=None):
  """One fit at the penalty's own α (relative ``tol`` as in :func:`solve_path`)."""
  X, Y, df, coords = prob.X, prob.Y, prob.datafit, prob.coords
  p, T = X.shape[1], Y.shape[1]
  name = check_solver(solver, df)
  b_null, G0 = null_gradient(prob, fit_intercept)
  W0 = jnp.zeros((p, T), X.dtype) if W0 is None else W0
  b0 = b_null if b0 is None else b0
  unit = gap_scale(prob, b_null)
  return run_solver(name, X, Y, df, coords, W0, b0, fit_intercept, tol * tol_scale(G0),
                    max_iter, None if unit is None else tol * unit)


def implicit(datafit, coords, X, Y, W, b, fit_intercept):
  r"""``(W, b)`` made differentiable in the penalty, X and Y.

  At a solution with support S (the non-zero rows of W, a stable set away
  from kinks), the optimality conditions of the smooth problem restricted to
  S are

  .. math::  \nabla_S f(X_S W_S + b) + \nabla P(W_S) = 0, \qquad
             \textstyle\sum_i \partial_\eta f_i = 0 \ \text{(intercept)},

  and W off S stays 0. :func:`jaxreg.implicit.implicit_solution`
  differentiates them (conjugate gradients on the Jacobian, symmetric by
  construction: the off-support block is the identity). Derivatives of a
  non-convex penalty's solution are those of the local minimum found, valid
  while its support does not change.
  """
  W = lax.stop_gradient(W)
  b = lax.stop_gradient(b)
  keep = jnp.any(W != 0, axis=1, keepdims=True).astype(W.dtype) * jnp.ones_like(W)

  def optimality(z, coords, X, Y, keep):
    Wz, bz = z
    Wm = keep * Wz
    eta = X @ Wm + bz
    r = datafit.gradient(Y, eta)
    gW = X.T @ r + jax.grad(coords.value)(Wm)
    FW = keep * gW + (1.0 - keep) * Wz
    Fb = jnp.sum(r, axis=0) if fit_intercept else bz
    return FW, Fb

  sol = implicit_solution(lambda coords, X, Y, keep: (W, b), optimality)
  return sol(coords, X, Y, lax.stop_gradient(keep))
