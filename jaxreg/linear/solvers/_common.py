"""What every solver shares: its result, and the optimality violations and
duality gaps it stops on."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp


class SolverResult(NamedTuple):
  """A solver's output.

  Attributes:
    W: coefficients, shape (p, T).
    b: intercepts, shape (T,) (zeros when no intercept is fitted).
    n_iter: epochs (or outer iterations) run.
    violation: the largest block optimality violation at ``W, b``
      (including the intercept's gradient), the quantity ``tol`` bounds.
    converged: ``violation <= tol``, and ``gap <= gap_tol`` when a gap
      tolerance was given (or no violation left at all).
    gap: the duality gap at ``W, b`` when a ``gap_tol`` was given, else None.
  """

  W: jax.Array
  b: jax.Array
  n_iter: jax.Array
  violation: jax.Array
  converged: jax.Array
  gap: Any = None


def block_violations(coords, W, grad_W, lipschitz):
  """Each block's optimality violation, shape (n_blocks,).

  Args:
    coords: the penalty's solver view.
    W: (p, T) coefficients.
    grad_W: (p, T) datafit gradient Xᵀ∇f(η).
    lipschitz: (n_blocks,) block Lipschitz constants (the step of the
      prox-gradient mapping that non-convex penalties measure).
  """
  ids = jnp.arange(coords.n_blocks)
  return jax.vmap(coords.block_violation)(coords.gather(W), coords.gather(grad_W), ids,
                                          lipschitz)


def largest_violation(block_viol, grad_b, fit_intercept):
  """max(block violations, |∂f/∂b| when the intercept is fitted)."""
  out = jnp.max(block_viol) if block_viol.shape[0] else jnp.zeros((), grad_b.dtype)
  if fit_intercept:
    out = jnp.maximum(out, jnp.max(jnp.abs(grad_b)))
  return out


def max_violation(coords, W, grad_W, grad_b, lipschitz, fit_intercept):
  """The largest block optimality violation, the intercept's included.

  Returns:
    A nonnegative scalar; 0 exactly at a stationary point.
  """
  return largest_violation(block_violations(coords, W, grad_W, lipschitz), grad_b,
                           fit_intercept)


def has_gap(datafit, coords):
  """Whether the solvers can certify this pair by a duality gap: a datafit
  with a conjugate (and ``feasible_dual``, for a free intercept) and a
  "norm + ridge" penalty, possibly in a box (``coords.has_dual``)."""
  return (hasattr(datafit, "conjugate") and hasattr(datafit, "feasible_dual")
          and coords.has_dual)


def duality_gap(coords, W, grad_W, smooth_gap, lipschitz):
  r"""The duality gap of f(XW) + P(W) at W, for a "norm + ridge" penalty (in a box).

  With P = Σ_b l1_b‖W_b‖ + ½Σ_b l2_b‖W_b‖² (``coords.norm_parts``), plus a
  box constraint where there is one, and
  G = Xᵀu for a dual point u (``grad_W``; u = ∇f(η), or its
  :func:`gap_at` correction for a free intercept), the point is rescaled to
  s·u, s ∈ (0, 1] the largest making s·G feasible for the blocks without a
  ridge term (‖s·G_b‖_* ≤ l1_b, over the directions a box leaves open), and

  .. math::  \mathrm{gap} = f(\eta) + f^*(s u) + P(W) + P^*(-s X^\top u)

  (weak duality: ≥ the suboptimality of W; 0 exactly at the solution). For
  the squared loss and the lasso this is scikit-learn's gap (formulation A).
  A block with l1_b = l2_b = 0 (unpenalized) makes s·u feasible only where
  its gradient vanishes; as scikit-learn's weighted gap does, the
  first-order decrease still available there, ‖G_b‖²/L_b (L_b the block's
  Lipschitz constant), is added instead: for those blocks the gap is a
  measure, not a bound.

  Args:
    coords: the penalty's solver view (``coords.has_dual``).
    W: (p, T) coefficients.
    grad_W: (p, T) Xᵀu.
    smooth_gap: s ↦ f(η) + f*(s·u), the datafit's part.
    lipschitz: (n_blocks,) block Lipschitz constants.

  Returns:
    The gap, a nonnegative scalar.

  References:
    Fercoq, Gramfort & Salmon (2015), "Mind the duality gap: safer rules
    for the lasso"; Massias, Gramfort & Salmon (2018), "Celer".
  """
  dtype = W.dtype
  l1, l2 = coords.norm_parts(dtype)
  bounded = (l1 > 0) & (l2 == 0)
  # The dual variable of the penalty is V = −Xᵀu (the sign matters in a box).
  V = -grad_W
  ratio = jnp.max(jnp.where(bounded, coords.dual_norms(V) / jnp.where(bounded, l1, 1.0),
                            0.0), initial=0.0)
  s = jnp.where(ratio > 1.0, 1.0 / jnp.where(ratio > 1.0, ratio, 1.0), 1.0)
  free = (l1 == 0) & (l2 == 0) & (lipschitz > 0)
  g2 = coords.free_excess(V)
  gap = (smooth_gap(s) + coords.value(W) + coords.conjugate(s * V)
         + jnp.sum(jnp.where(free, g2 / jnp.where(free, lipschitz, 1.0), 0.0)))
  return jnp.maximum(gap, 0.0)


def squared_smooth_gap(r2, ry):
  """The squared loss's part of the gap, s ↦ ½r2 + ½s²r2 − s·ry, from
  r2 = ‖R‖²/n and ry = ⟨R, Y⟩/n (R = Y − η): what the Gram mode keeps."""
  return lambda s: 0.5 * (1.0 + s * s) * r2 - s * ry


def check_gap_tol(gap_tol, datafit, coords):
  """Validates a solver's ``gap_tol``: None, or where a gap is known (:func:`has_gap`)."""
  if gap_tol is not None and not has_gap(datafit, coords):
    raise ValueError(f"gap_tol needs a datafit with a conjugate and an L1, L2, ElasticNet or "
                     f"GroupLasso penalty (or a Box around L1, L2, ElasticNet); got "
                     f"{type(datafit).__name__} and {type(coords.penalty).__name__}.")


def done(violation, tol, gap=None, gap_tol=None):
  """The stopping rule: the largest violation within ``tol`` and, with a
  ``gap_tol``, the duality gap within it (scikit-learn's two conditions: a
  certified objective, and coefficients that have stopped moving); or no
  violation left at all, whatever rounding does to the gap."""
  ok = violation <= tol
  if gap_tol is not None:
    ok = ok & (gap <= gap_tol)
  return ok | (violation == 0)


def gap_at(datafit, coords, X, Y, eta, W, grad_W, lipschitz, fit_intercept):
  """:func:`duality_gap` at the linear predictor η = XW + b.

  ``grad_W`` is Xᵀ∇f(η). With a free intercept the dual point must have
  columns summing to 0, which ∇f(η) has only at the best b: it is replaced
  by ``datafit.feasible_dual`` (the same point once b is optimal), so that
  the gap bounds the suboptimality at every (W, b), and Xᵀ of the
  correction is subtracted from ``grad_W`` (one more product with X).
  """
  g = datafit.gradient(Y, eta)
  u = g
  if fit_intercept:
    u = datafit.feasible_dual(Y, g)
    grad_W = grad_W - X.T @ (g - u)
  value = datafit.value(Y, eta)
  return duality_gap(coords, W, grad_W, lambda s: value + datafit.conjugate(Y, s * u),
                     lipschitz)
