r"""Implicit differentiation of the solution of an optimisation problem.

A training procedure maps hyperparameters θ (a penalty's α, for instance) to
parameters w*(θ) that satisfy a stationarity condition

.. math::  F(w^*(\theta), \theta) = \nabla_w \mathcal{L}(w^*) + \nabla_w
           \mathrm{pen}_\theta(w^*) = 0 .

By the implicit function theorem, wherever ∂F/∂w is invertible,

.. math::  \frac{\partial w^*}{\partial\theta} = -\Big(\frac{\partial F}{\partial w}
           \Big)^{-1}\frac{\partial F}{\partial\theta},

so the gradient of any outer objective (a validation loss) needs one linear
solve with the Hessian ∂F/∂w, whatever the number or kind of iterations that
produced w*. :func:`implicit_solution` wraps a solver so that JAX
differentiates it this way: the forward pass runs the solver (never
differentiated), the tangent system is solved by conjugate gradients with
Hessian-vector products (``jax.linearize`` of F, i.e. forward-over-reverse
when F is a gradient), all through ``jax.lax.custom_root`` — which makes the
derivative itself differentiable, so second derivatives in θ work too.

References:
  Bengio (2000), "Gradient-based optimization of hyperparameters".
  Pedregosa (2016), "Hyperparameter optimization with approximate gradient".
  Bertrand et al. (2020), "Implicit differentiation of lasso-type models for
  hyperparameter optimization".
  Blondel et al. (2022), "Efficient and modular implicit differentiation".
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree
from jax.scipy.sparse.linalg import cg

__all__ = ["implicit_solution", "default_tol"]


def default_tol(tree: Any) -> float:
  """A solver tolerance suited to the floating dtype of ``tree``'s leaves.

  Args:
    tree: a pytree of arrays (or a single array).

  Returns:
    1e-10 for 64-bit floats, 1e-5 otherwise (float32 cannot resolve relative
    changes much below its 1.2e-7 machine epsilon over many iterations).

  Example:
    >>> import jax.numpy as jnp
    >>> default_tol(jnp.zeros(3, jnp.float32))
    1e-05
  """
  leaves = jax.tree_util.tree_leaves(tree)
  dtype = jnp.result_type(*leaves) if leaves else jnp.result_type(float)
  return 1e-10 if jnp.finfo(dtype).bits >= 64 else 1e-5


def _tree_axpy(a, x, y):
  return jax.tree_util.tree_map(lambda u, v: a * u + v, x, y)


def implicit_solution(
    solve_fn: Callable[..., Any],
    optimality_fn: Callable[..., Any],
    *,
    tol: Optional[float] = None,
    maxiter: Optional[int] = None,
    damping: float = 0.0,
    refine_steps: int = 0,
) -> Callable[..., Any]:
  r"""Makes θ ↦ w*(θ) differentiable by implicit differentiation.

  Given a solver ``w* = solve_fn(theta, *args)`` and the optimality condition
  ``optimality_fn(w, theta, *args) = 0`` (typically the gradient of the
  training objective in w), returns ``solution(theta, *args)`` whose value is
  the solver's output and whose derivatives with respect to ``theta`` and
  ``args`` follow the implicit function theorem:

  .. math::  \bar\theta = -\Big(\frac{\partial F}{\partial\theta}\Big)^{\!\top}
             (H + \lambda I)^{-1}\,\bar w, \qquad H = \frac{\partial F}{\partial w}(w^*),

  with the solve done by conjugate gradients
  (``jax.scipy.sparse.linalg.cg``) on Hessian-vector products. The solver is
  never differentiated (its output passes through ``stop_gradient``), so it
  may use ``while_loop`` s, optax loops or external code written in JAX.
  Reverse mode (``jax.grad``), forward mode (``jax.jvp``) and second
  derivatives (``jax.hessian``) all work, as does ``jax.vmap``.

  CG needs H symmetric positive definite: true when F is the gradient of a
  strictly convex objective. For non-convex training (a neural network) H may
  be indefinite or singular at the trained weights; ``damping = λ > 0`` then
  solves with H + λI instead, which is stable but biases the hypergradient by
  O(λ); keep λ small next to the curvature that matters.

  Args:
    solve_fn: ``(theta, *args) -> w``, any pytree ``w`` (e.g. flax params).
    optimality_fn: ``(w, theta, *args) -> pytree like w``, zero at w*.
    tol: relative tolerance of the CG solves; by default 1e-10 in float64
      and 1e-5 in float32.
    maxiter: CG iteration cap (default: CG's own, 10 × number of unknowns).
    damping: λ ≥ 0 added to the Hessian in the tangent solves.
    refine_steps: Newton steps (each one CG solve) applied to the solver's
      output in the forward pass, to polish an approximate solution.

  Returns:
    ``solution(theta, *args) -> w*``.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> from jaxreg.implicit import implicit_solution
    >>> # w*(α) = argmin ½(w − 3)² + (α/2) w² = 3/(1 + α); dw*/dα = −3/(1 + α)².
    >>> solve = lambda alpha: 3.0 / (1.0 + alpha)
    >>> opt = lambda w, alpha: (w - 3.0) + alpha * w
    >>> sol = implicit_solution(solve, opt)
    >>> round(float(jax.grad(sol)(1.0)), 6)
    -0.75

  References:
    Bengio (2000), "Gradient-based optimization of hyperparameters";
    Pedregosa (2016), "Hyperparameter optimization with approximate
    gradient"; Blondel et al. (2022), "Efficient and modular implicit
    differentiation".
  """
  if not callable(solve_fn):
    raise TypeError(f"solve_fn must be callable, got {type(solve_fn).__name__}.")
  if not callable(optimality_fn):
    raise TypeError(f"optimality_fn must be callable, got {type(optimality_fn).__name__}.")
  if damping < 0:
    raise ValueError(f"damping must be >= 0, got {damping!r}.")
  if int(refine_steps) != refine_steps or refine_steps < 0:
    raise ValueError(f"refine_steps must be a non-negative integer, got {refine_steps!r}.")

  def solution(theta, *args):
    w0 = jax.lax.stop_gradient(solve_fn(theta, *args))
    ctol = default_tol(w0) if tol is None else tol

    def f(w):
      return optimality_fn(w, theta, *args)

    def linear_solve(matvec, b):
      if damping:
        op = lambda v: _tree_axpy(damping, v, matvec(v))
      else:
        op = matvec
      # The outer custom_linear_solve declares the operator symmetric, which
      # lets reverse mode transpose the solve (cg's own rule cannot transpose
      # an operator that closes over the linearisation point).
      inner = lambda mv, rhs: cg(mv, rhs, tol=ctol, atol=0.0, maxiter=maxiter)[0]
      # One flat vector: a pytree whose leaves are partly constant (e.g. an
      # intercept that does not depend on θ) cannot be transposed leafwise.
      flat_b, unravel = ravel_pytree(b)
      flat_op = lambda v: ravel_pytree(op(unravel(v)))[0]
      return unravel(jax.lax.custom_linear_solve(flat_op, flat_b, inner, symmetric=True))

    def solve(f_, x0):
      x = x0
      for _ in range(refine_steps):
        _, jvp_fn = jax.linearize(f_, x)
        step = linear_solve(jvp_fn, f_(x))
        x = _tree_axpy(-1.0, step, x)
      return x

    return jax.lax.custom_root(f, w0, solve, linear_solve)

  return solution
