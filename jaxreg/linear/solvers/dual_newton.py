r"""Batched elastic nets by semismooth Newton on the n-dimensional dual.

For centred data (X, y) with n rows, l1 = α r ≥ 0 and l2 = α(1 − r) > 0,
the primal

.. math::  \min_w\ \frac{1}{2n}\|y - Xw\|^2 + l_1\|w\|_1 + \frac{l_2}{2}\|w\|^2

has the dual (θ = (y − Xw)/n, the scaled residual)

.. math::  \min_\theta\ D(\theta) = \frac{n}{2}\|\theta\|^2 - y^\top\theta
           + \frac{1}{2 l_2}\sum_j \big(|x_j^\top\theta| - l_1\big)_+^2,
           \qquad w = S(X^\top\theta, l_1) / l_2,

with S the soft threshold (set the gradient nθ − y + X S(Xᵀθ, l1)/l2 to zero
and compare with the primal optimality condition Xᵀ(y − Xw)/n − l2 w ∈
l1 ∂‖w‖₁). D is strongly convex (modulus n), C¹ and piecewise quadratic,
with generalized Hessian H = nI + X_A X_Aᵀ/l2 on the active set
A = {j : |x_jᵀθ| > l1}. Semismooth Newton with an Armijo line search
converges globally, and finitely: once a full step keeps A and the signs,
the new point is the exact minimiser of D (Qi & Sun 1993; Li, Sun & Toh
2018). The system is n × n whatever p or |A| is, so a chunk of problems
advances in lock-step with batched products and n × n Cholesky
factorizations, a handful of large batched operations per step (what XLA
wants on a CPU and a GPU alike) instead of p sequential coordinate updates.

Per step and problem: Xᵀd (which also updates c = Xᵀθ and evaluates every
line-search candidate in O(p)), X·S(c) for the gradient and two triangular
solves with the Cholesky factor L of H. L is kept while the active sets
stay put; while they move by at most a few features since L was formed,
the step uses L plus a Woodbury correction (one K × K solve); only larger
moves, in the first steps, rebuild it: the n × n product X_A X_Aᵀ (n²p
multiply-adds) and a batched Cholesky factorization, the main cost. For
float64 data that factor is computed in float32 when a cheap bound on κ(H)
allows: the gradient, the line search and the iterates stay in float64, so
the iteration still converges to the float64 solution, linearly at a rate
≲ κ(H)·2⁻²⁴ once the active sets settle (a step or two more, each costing
only products with X), for about 10% less time on a CPU.

Only valid for l2 > 0 (the lasso's dual is not smooth); such problems are
reported as not converged, for the caller to solve otherwise.

References:
  Qi & Sun (1993), "A nonsmooth version of Newton's method".
  Li, Sun & Toh (2018), "A highly efficient semismooth Newton augmented
  Lagrangian method for solving lasso problems".
  Zou & Hastie (2005), "Regularization and variable selection via the
  elastic net".
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxreg.penalties import soft_threshold

__all__ = ["enet_dual_newton"]

# Step sizes tried by the line search, all at once: each costs O(p) once
# Xᵀd is known, so backtracking one at a time would only add loop steps.
_STEPS = 12
# Largest number of active-set changes (per problem, since the last
# factorization) handled by a low-rank update of the factor instead of a
# new one.
_RANK = 8
# Largest bound on κ(H) for which float64 problems are factored in float32:
# the linear rate κ·2⁻²⁴ of the resulting iteration then stays below 1e-2.
_KAPPA_32 = 1e5
# Scalings γ of the first dual point γ·y/n (that of w = 0) tried up front.
_GAMMAS = 32


def _q(c, l1):
  return jnp.square(jnp.maximum(jnp.abs(c) - l1, 0.0))


def _pattern(c, l1):
  return jnp.where(jnp.abs(c) > l1, jnp.sign(c), 0.0)


_soft = soft_threshold


def _factor(X, Xt, act, n, l2):
  """Cholesky factor of H = nI + X_A X_Aᵀ/l2, batched."""
  dt = X.dtype
  # Mask and 1/l2 in one pass over X; the right operand is pre-transposed
  # (p, n), which spares the product a transposing copy each time.
  Xa = X * (act.astype(dt) / l2[:, None])[:, None, :]
  H = jnp.einsum("bip,bpj->bij", Xa, Xt) + jnp.asarray(n, dt) * jnp.eye(X.shape[1], dtype=dt)
  # Symmetric by construction: skip jnp.linalg.cholesky's symmetrizing pass.
  return jax.lax.linalg.cholesky(H, symmetrize_input=False)


def _refactor(X, Xt, X32, act, n, l2):
  """_factor, in float32 when X32 = (X, Xᵀ, use) says so, in X's dtype."""
  if X32 is None:
    return _factor(X, Xt, act, n, l2)
  Xs, Xts, use = X32
  return jax.lax.cond(
      use, lambda: _factor(Xs, Xts, act, n, l2.astype(Xs.dtype)).astype(X.dtype),
      lambda: _factor(X, Xt, act, n, l2))


def _solve(L, g):
  tri = jax.lax.linalg.triangular_solve
  z = tri(L, g[..., None], left_side=True, lower=True)
  return tri(L, z, left_side=True, lower=True, transpose_a=True)[..., 0]


def _lowrank_solve(L, X, g, diff, act, l2):
  """−H⁻¹g for H = LLᵀ + U S Uᵀ, U the columns of X in `diff` (at most _RANK).

  S = ±1/l2 for columns that joined or left the active set since L. With
  V = L⁻¹U and z = −L⁻¹g, Woodbury's identity in its push-through form,
  (I + VSVᵀ)⁻¹ = I − V(I + SVᵀV)⁻¹SVᵀ, needs one K × K solve; unused slots
  have S = 0 and only add identity rows to it.
  """
  dt = X.dtype
  k = jnp.arange(_RANK)
  # One-hot selection of the changed columns: a small product, where a
  # gather or a top_k costs more on a CPU.
  slot = jnp.cumsum(diff, axis=1) - 1
  P = (diff[:, :, None] & (slot[:, :, None] == k)).astype(dt)
  sgn = jnp.einsum("bpk,bp->bk", P, jnp.where(act, 1.0, -1.0).astype(dt)) / l2[:, None]
  U = jnp.einsum("bnp,bpk->bnk", X, P)
  tri = jax.lax.linalg.triangular_solve
  Z = tri(L, jnp.concatenate([-g[..., None], U], axis=2), left_side=True, lower=True)
  z, V = Z[..., 0], Z[..., 1:]
  M = jnp.eye(_RANK, dtype=dt) + sgn[:, :, None] * jnp.einsum("bnk,bnl->bkl", V, V)
  rhs = sgn * jnp.einsum("bnk,bn->bk", V, z)
  z = z - jnp.einsum("bnk,bk->bn", V, jnp.linalg.solve(M, rhs[..., None])[..., 0])
  return tri(L, z[..., None], left_side=True, lower=True, transpose_a=True)[..., 0]


def enet_dual_newton(X, y, l1, l2, tol, max_iter):
  """Solves a chunk of centred elastic nets (1/(2n) scaling) in lock-step.

  Args:
    X: (B, n, p) centred designs.
    y: (B, n) centred targets.
    l1, l2: (B,) penalty strengths, l1 ≥ 0 and l2 > 0.
    tol: a problem is done once the full Newton step would change w by at
      most tol·max|w|.
    max_iter: cap on Newton steps.

  Returns:
    (w (B, p), n_iter (B,), ok (B,)): ok is False where l2 ≤ 0, where
    max_iter was reached, or where w fails the primal optimality check.
  """
  B, n, p = X.shape
  dtype = X.dtype
  nf = jnp.asarray(n, dtype)
  valid = (l2 > 0) & (l1 >= 0)
  # Invalid problems are carried along finite and reported, not solved.
  l2 = jnp.where(valid, l2, 1.0)
  l1 = jnp.where(valid, l1, 0.0)
  l1c = l1[:, None]
  tiny = jnp.finfo(dtype).tiny
  Xt = jnp.swapaxes(X, 1, 2)
  X32, step_tol = None, tol
  if jnp.finfo(dtype).bits > 32:
    # κ(H) ≤ 1 + ‖X‖²_F/(n l2): cheap, and safe for any data.
    use = jnp.all(1.0 + jnp.sum(X * X, axis=(1, 2)) / (nf * l2) <= _KAPPA_32)
    X32 = (X.astype(jnp.float32), Xt.astype(jnp.float32), use)
    # With the inexact factor the Newton step is no longer the exact
    # distance to the solution: ask 100× more of it.
    step_tol = jnp.where(use, 1e-2 * tol, tol)

  # Start on the ray of w = 0's dual point y/n, at its best point (D is a
  # cheap convex function of the scale γ there): about one Newton step
  # fewer than from y/n itself, whose active set is nearly all features.
  c0 = jnp.einsum("bnp,bn->bp", X, y) / nf
  yy = jnp.sum(y * y, axis=1) / nf
  gam = jnp.linspace(1.0 / _GAMMAS, 1.0, _GAMMAS, dtype=dtype)
  phi = (0.5 * gam * gam - gam) * yy[:, None] + 0.5 * jnp.sum(
      _q(gam[None, :, None] * c0[:, None, :], l1[:, None, None]), axis=2) / l2[:, None]
  g0 = gam[jnp.argmin(phi, axis=1)]
  theta = g0[:, None] * y / nf
  c = g0[:, None] * c0
  act = jnp.abs(c) > l1c
  L = _refactor(X, Xt, X32, act, n, l2)
  ts = 0.5 ** jnp.arange(_STEPS, dtype=dtype)

  def cond(st):
    it, done = st[4], st[5]
    return jnp.any(~done) & (it < max_iter)

  def body(st):
    theta, c, act_L, L, it, done, iters, stalls = st
    act = jnp.abs(c) > l1c
    # The factor L is that of the active sets act_L. Where an unfinished
    # problem has more than _RANK changes since, the chunk refactors; fewer
    # changes are a low-rank update; once the sets settle, L is the Hessian
    # (to float32 rounding where X32 is used).
    diff = (act != act_L) & ~done[:, None]
    refactor = jnp.max(jnp.sum(diff, axis=1)) > _RANK
    L, act_L = jax.lax.cond(refactor, lambda: (_refactor(X, Xt, X32, act, n, l2), act),
                            lambda: (L, act_L))
    diff = diff & ~refactor
    u = _soft(c, l1c)
    r = nf * theta - y
    g = r + jnp.einsum("bnp,bp->bn", X, u) / l2[:, None]
    d = jax.lax.cond(jnp.any(diff), lambda: _lowrank_solve(L, X, g, diff, act, l2),
                     lambda: -_solve(L, g))
    e = jnp.einsum("bnp,bn->bp", X, d)
    # Measured on the full Newton step, not the damped one: at the
    # solution D's changes are at roundoff level and Armijo may reject t = 1.
    full_u = _soft(c + e, l1c)
    du = jnp.max(jnp.abs(full_u - u), axis=1)
    conv = du <= step_tol * jnp.maximum(jnp.max(jnp.abs(full_u), axis=1), tiny)
    # D(θ + t d) − D(θ) for every candidate t.
    ct = c[:, None, :] + ts[None, :, None] * e[:, None, :]
    dq = jnp.sum(_q(ct, l1[:, None, None]), axis=2) - jnp.sum(_q(c, l1c), axis=1)[:, None]
    dphi = (0.5 * nf * jnp.sum(d * d, axis=1)[:, None] * ts * ts
            + jnp.sum(d * r, axis=1)[:, None] * ts + 0.5 * dq / l2[:, None])
    armijo = dphi <= 1e-4 * ts * jnp.sum(g * d, axis=1)[:, None]
    # The pieces of D are convex (each c_j above, below or within ±l1): if
    # the full step ends in the piece it starts from, D is quadratic along
    # it and t = 1 is the minimiser (to the factor's precision), whatever
    # roundoff makes of Armijo.
    same = jnp.all(_pattern(c + e, l1c) == _pattern(c, l1c), axis=1)
    # No candidate decreases D: its change is lost in roundoff, so the full
    # step is taken (Newton's contraction still holds there); after a few
    # such steps θ is as good as this precision allows and the final
    # optimality check has the word.
    stalled = ~jnp.any(armijo, axis=1)
    t = jnp.where(conv | same | stalled, 1.0, ts[jnp.argmax(armijo, axis=1)])
    live = ~done
    theta = jnp.where(live[:, None], theta + t[:, None] * d, theta)
    c = jnp.where(live[:, None], c + t[:, None] * e, c)
    iters = iters + live.astype(jnp.int32)
    stalls = stalls + (live & stalled).astype(jnp.int32)
    return theta, c, act_L, L, it + 1, done | conv | (stalls >= 3), iters, stalls

  zeros = jnp.zeros((B,), jnp.int32)
  st = (theta, c, act, L, jnp.zeros((), jnp.int32), ~valid, zeros, zeros)
  theta, c, _, _, _, done, iters, _ = jax.lax.while_loop(cond, body, st)
  # c was updated step by step; the answer comes from a fresh product.
  c = jnp.einsum("bnp,bn->bp", X, theta)
  w = _soft(c, l1c) / l2[:, None]
  # Primal optimality, Xᵀ(y − Xw)/n − l2 w ∈ l1 ∂‖w‖₁, to the slack of the
  # Newton polish in fit.py: a safety net for the caller's fallback.
  grad = jnp.einsum("bnp,bn->bp", X, y - jnp.einsum("bnp,bp->bn", X, w)) / nf - l2[:, None] * w
  slack = 10.0 * tol * (1.0 + jnp.max(jnp.abs(c0), axis=1))
  viol = jnp.where(w != 0, jnp.abs(grad - l1c * jnp.sign(w)), jnp.abs(grad) - l1c)
  kkt = jnp.all(viol <= slack[:, None], axis=1)
  ok = done & valid & kkt & jnp.all(jnp.isfinite(w), axis=1)
  return w, iters, ok
