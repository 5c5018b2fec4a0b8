"""What every solver shares: its result and the optimality violations it stops on."""

from __future__ import annotations

from typing import NamedTuple

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
    converged: ``violation <= tol``.
  """

  W: jax.Array
  b: jax.Array
  n_iter: jax.Array
  violation: jax.Array
  converged: jax.Array


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
