r"""FISTA with function-value restart, for lock-step batched solves.

Minimises, over coefficients W (p, T) and intercepts b (T,),

    F(W, b) = f(XW + b) + P(W),

where f is a datafit's mean loss and P a penalty with a full proximal
operator, by accelerated proximal gradient steps on (W, b) together (the
intercept is an unpenalised extra variable of the same step):

    (W, b)ₖ₊₁ = prox_{P/L}((V, c)ₖ − ∇f(V, c)ₖ / L),
    tₖ₊₁ = (1 + √(1 + 4tₖ²)) / 2,
    (V, c)ₖ₊₁ = (W, b)ₖ₊₁ + ((tₖ − 1)/tₖ₊₁)((W, b)ₖ₊₁ − (W, b)ₖ),

restarting the momentum (t = 1, V = W) whenever F increases. The step is
1/L with L = c·‖[X, 1]‖₂²/n, c the datafit's curvature bound (the column of
ones only when the intercept is fitted); a datafit without a global bound
(Poisson) gets Beck & Teboulle's backtracking on L instead.

Every iteration costs one product with X and one with Xᵀ, and the whole
solve is a ``lax.while_loop`` over arrays of fixed shape, so ``jax.vmap``
over the penalty's α runs many solves in lock-step (each stops updating
once it has converged). The optimality violation (an extra product with
Xᵀ) is measured every ``check_every`` iterations.

References:
  Beck & Teboulle (2009), "A fast iterative shrinkage-thresholding algorithm
  for linear inverse problems", SIAM J. Imaging Sciences 2(1).
  O'Donoghue & Candès (2015), "Adaptive restart for accelerated gradient
  schemes", Foundations of Computational Mathematics 15(3).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax
from jax.experimental import sparse as jsparse

from jaxreg.linear.solvers import _common
from jaxreg.linear.solvers._common import SolverResult, max_violation

__all__ = ["solve"]

# Up to this many rows or columns the spectral norm is computed exactly
# (eigenvalues of the smaller Gram matrix, n·p·min(n, p) operations); above,
# by power iteration (2·n·p per iteration), which is then cheaper.
_EXACT_NORM_SIZE = 128
_POWER_ITERATIONS = 64


def spectral_norm_sq(A):
  """‖A‖₂², the largest eigenvalue of AᵀA.

  Exact (``eigvalsh`` of the smaller Gram matrix) when a side of A has at
  most 128 entries; otherwise 64 power iterations from a fixed random start,
  inflated by 2 % because power iteration approaches the norm from below
  and a step of 1/L must not exceed the inverse Lipschitz constant by much.

  Args:
    A: a 2-D array.

  Returns:
    A scalar of A's dtype.
  """
  n, m = A.shape
  if min(n, m) <= _EXACT_NORM_SIZE:
    gram = A.T @ A if m <= n else A @ A.T
    return jnp.max(jnp.linalg.eigvalsh(gram))
  return _power_norm_sq(lambda v: A @ v, lambda u: A.T @ u, m, A.dtype)


def _power_norm_sq(matvec, rmatvec, m, dtype):
  """‖A‖₂² by 64 power iterations on AᵀA from a fixed random start, inflated
  by 2 % (see `spectral_norm_sq`); A given by its products."""
  def power(_, v):
    w = rmatvec(matvec(v))
    return w / jnp.linalg.norm(w)

  v0 = jax.random.normal(jax.random.key(0), (m,), dtype)
  v0 = v0 / jnp.linalg.norm(v0)
  v = lax.fori_loop(0, _POWER_ITERATIONS, power, v0)
  return 1.02 * jnp.sum(matvec(v) ** 2)


def design_norm_sq(X, fit_intercept):
  """‖[X, 1]‖₂² (‖X‖₂² without the intercept); X dense or a
  ``jax.experimental.sparse.BCOO``, which is only multiplied, never
  concatenated or densified."""
  n, p = X.shape
  if not isinstance(X, jsparse.BCOO):
    return spectral_norm_sq(jnp.concatenate([X, jnp.ones((n, 1), X.dtype)], axis=1)
                            if fit_intercept else X)
  if not fit_intercept:
    return _power_norm_sq(lambda v: X @ v, lambda u: X.T @ u, p, X.dtype)
  return _power_norm_sq(lambda v: X @ v[:p] + v[p], lambda u: jnp.append(X.T @ u, jnp.sum(u)),
                        p + 1, X.dtype)


class _State(NamedTuple):
  W: jax.Array       # iterate x_k
  b: jax.Array
  eta: jax.Array     # X W + b
  V: jax.Array       # extrapolated point y_k
  c: jax.Array
  eta_v: jax.Array   # X V + c
  t: jax.Array       # momentum parameter
  F: jax.Array       # objective at x_k
  L: jax.Array       # current Lipschitz estimate (grows under backtracking)
  it: jax.Array
  violation: jax.Array  # at x_k, once measured
  active: jax.Array     # whether the last pass iterated
  gap: Any = None       # the duality gap at x_k, with a gap_tol


def solve(X, Y, datafit, coords, W0, b0, *, fit_intercept, tol, max_iter,
          step=None, check_every=10, gap_tol=None):
  r"""FISTA with function-value restart on f(XW + b) + P(W).

  Args:
    X: (n, p) design, dense or a ``jax.experimental.sparse.BCOO`` (only
      its products are used).
    Y: (n, T) targets as ``datafits.prepare_targets`` makes them.
    datafit: a datafit (``value``, ``gradient``, ``hessian_diag``,
      ``curvature``).
    coords: ``jaxreg.penalties.coordinates(penalty, p, T)``; FISTA uses its
      full ``prox`` and ``value``, and ``block_violation`` for the stop.
    W0: (p, T) starting coefficients.
    b0: (T,) starting intercepts (kept fixed when ``fit_intercept`` is
      False).
    fit_intercept: whether b is optimised.
    tol: stop once the largest block violation (with |∂f/∂b|) is ≤ tol.
    gap_tol: and, if given, the duality gap (:func:`._common.duality_gap`)
      is ≤ gap_tol.
    max_iter: the most iterations.
    step: a fixed step size (1/L) instead of the curvature bound or
      backtracking.
    check_every: iterations between two violation checks (each costs a
      product with Xᵀ).

  Returns:
    ``SolverResult`` (W, b, n_iter, violation, converged).

  Example:
    >>> import jax.numpy as jnp, jaxreg as jr
    >>> from jaxreg.linear import datafits
    >>> from jaxreg.linear.solvers import fista
    >>> X = jnp.array([[1., 0.], [0., 1.], [1., 1.]]); Y = jnp.array([[1.], [2.], [3.]])
    >>> coords = jr.penalties.coordinates(jr.L1(0.1), 2, 1)
    >>> res = fista.solve(X, Y, datafits.Squared(), coords, jnp.zeros((2, 1)),
    ...                   jnp.zeros(1), fit_intercept=True, tol=1e-6, max_iter=5000)
    >>> bool(res.converged)
    True

  References:
    Beck & Teboulle (2009); O'Donoghue & Candès (2015).
  """
  _common.check_gap_tol(gap_tol, datafit, coords)
  n, p = X.shape
  dtype = X.dtype
  W0 = jnp.asarray(W0, dtype)
  b0 = jnp.asarray(b0, dtype)
  tol = jnp.asarray(tol, dtype)
  curvature = getattr(datafit, "curvature", None)
  backtrack = step is None and curvature is None
  norm_sq = design_norm_sq(X, fit_intercept)

  if step is not None:
    L0 = 1.0 / jnp.asarray(step, dtype)
  elif curvature is not None:
    L0 = curvature * norm_sq / n
  else:
    # A local estimate to start backtracking from: the curvature at W0.
    h0 = datafit.hessian_diag(Y, X @ W0 + b0)
    L0 = jnp.max(h0) * norm_sq
  tiny = jnp.finfo(dtype).tiny
  L0 = jnp.maximum(jnp.asarray(L0, dtype), jnp.sqrt(tiny))

  def smooth(eta):
    return datafit.value(Y, eta)

  def grads(eta):
    G = datafit.gradient(Y, eta)
    gb = jnp.sum(G, axis=0) if fit_intercept else jnp.zeros_like(b0)
    return X.T @ G, gb

  def violation_at(W, b, eta, L):
    # Non-convex penalties measure the prox-gradient mapping at FISTA's own
    # step 1/L, whose fixed points are the points FISTA converges to.
    gW, gb = grads(eta)
    lip = jnp.full((coords.blocks.shape[0],), L, dtype)
    viol = max_violation(coords, W, gW, gb, lip, fit_intercept)
    if gap_tol is None:
      return viol, None
    return viol, _common.gap_at(datafit, coords, X, Y, eta, W, gW, lip, fit_intercept)

  def prox_step(V, c, gW, gb, L):
    Wn = coords.prox(V - gW / L, 1.0 / L)
    bn = c - gb / L if fit_intercept else c
    return Wn, bn, X @ Wn + bn

  def step_fn(s):
    gW, gb = grads(s.eta_v)
    if backtrack:
      f_v = smooth(s.eta_v)

      def too_long(bt):
        Wn, bn, eta_n, L, k = bt
        dW, db = Wn - s.V, bn - s.c
        model = (f_v + jnp.sum(gW * dW) + jnp.sum(gb * db)
                 + 0.5 * L * (jnp.sum(dW * dW) + jnp.sum(db * db)))
        f_n = smooth(eta_n)
        # A non-finite loss (exp overflow far from the data) is a step
        # too long as well.
        ok = jnp.isfinite(f_n) & (f_n <= model + 10 * jnp.finfo(dtype).eps * jnp.abs(f_v))
        return (~ok) & (k < 60)

      def lengthen(bt):
        L = 2.0 * bt[3]
        return (*prox_step(s.V, s.c, gW, gb, L), L, bt[4] + 1)

      Wn, bn, eta_n, L, _ = lax.while_loop(
          too_long, lengthen, (*prox_step(s.V, s.c, gW, gb, s.L), s.L, 0))
    else:
      L = s.L
      Wn, bn, eta_n = prox_step(s.V, s.c, gW, gb, L)
    F_n = smooth(eta_n) + coords.value(Wn)
    # Function-value restart: an increase of F means the momentum overshot.
    restart = ~(F_n <= s.F)
    t_n = jnp.where(restart, 1.0, 0.5 * (1.0 + jnp.sqrt(1.0 + 4.0 * s.t * s.t)))
    beta = jnp.where(restart, 0.0, (s.t - 1.0) / t_n)
    V = Wn + beta * (Wn - s.W)
    c = bn + beta * (bn - s.b)
    eta_v = eta_n + beta * (eta_n - s.eta)
    return s._replace(W=Wn, b=bn, eta=eta_n, V=V, c=c, eta_v=eta_v, t=t_n.astype(dtype),
                      F=F_n, L=L, it=s.it + 1)

  def guarded_step(_, s):
    # Steps past max_iter leave the state as it is (the chunk below has a
    # fixed length, so that vmap batches one loop, not a branch per step).
    new = step_fn(s)
    return jax.tree.map(lambda a, b: jnp.where(s.it < max_iter, a, b), new, s)

  def chunk(s):
    # Measure at x_k, then run check_every steps unless x_k is optimal or the
    # budget is spent: the last pass measures the final iterate.
    viol, gap = violation_at(s.W, s.b, s.eta, s.L)
    stepping = ~_common.done(viol, tol, gap, gap_tol) & (s.it < max_iter)
    s = lax.cond(stepping, lambda: lax.fori_loop(0, check_every, guarded_step, s),
                 lambda: s)
    return s._replace(violation=viol, gap=gap, active=stepping)

  eta0 = X @ W0 + b0
  F0 = smooth(eta0) + coords.value(W0)
  inf = jnp.asarray(jnp.inf, dtype)
  state = _State(W0, b0, eta0, W0, b0, eta0, jnp.ones((), dtype), F0, L0,
                 jnp.zeros((), jnp.int32), inf, jnp.ones((), bool),
                 None if gap_tol is None else inf)
  state = lax.while_loop(lambda s: s.active, chunk, state)
  return SolverResult(state.W, state.b, state.it, state.violation,
                      _common.done(state.violation, tol, state.gap, gap_tol), state.gap)
