"""What every solver shares: its result, the objective and the intercept step."""

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


def objective(X, Y, datafit, coords, W, b):
  """datafit(Y, XW + b) + penalty(W): the function every solver minimises."""
  return datafit.value(Y, X @ W + b) + coords.value(W)


def intercept_violation(datafit, Y, eta, fit_intercept):
  """|∂/∂b| of the datafit (max over outputs); 0 without an intercept."""
  if not fit_intercept:
    return jnp.zeros((), eta.dtype)
  return jnp.max(jnp.abs(jnp.sum(datafit.gradient(Y, eta), axis=0)))
