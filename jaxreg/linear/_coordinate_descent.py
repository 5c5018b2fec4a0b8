r"""Coordinate descent for elastic-net paths, as one jitted XLA program.

Solves, for each (l1, l2) on a path, the sum-form problem

    ½‖y − Xw‖² + l1‖w‖₁ + (l2/2)‖w‖²

on centered data, where l1 = n·α·r and l2 = n·α·(1 − r) for jaxreg's
(1/(2n))-scaled objective. Two representations of the data are supported:

* ``gram``: Q = XᵀX and q = Xᵀy are formed once; a coordinate update costs
  O(p) through the row Q[j] and the maintained vector Qw. Best when n ≥ p,
  and the shapes do not depend on n, so cross-validation folds of unequal
  sizes batch together.
* ``residual``: the residual R = y − Xw is maintained; an update costs O(n).
  Best when p ≫ n, where a p × p Gram would dominate the run time.

Strategy (glmnet's, with scikit-learn's stopping rule):

1. warm start from the previous α's solution;
2. the sequential strong rule picks the initial working set;
3. cyclic sweeps run over the working set only;
4. the duality gap, measured exactly as scikit-learn's
   ``enet_coordinate_descent`` measures it (formulation A for l1 > 0,
   formulation B for l1 = 0), stops the solver once gap ≤ tol·‖y‖²;
   otherwise coordinates that violate the optimality conditions join the
   working set and the sweeps continue.

References:
  Friedman, Hastie & Tibshirani (2010), "Regularization paths for
  generalized linear models via coordinate descent" (glmnet).
  Tibshirani et al. (2012), "Strong rules for discarding predictors in
  lasso-type problems".
  Fercoq, Gramfort & Salmon (2015), "Mind the duality gap: safer rules for
  the lasso".
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax


class PathArrays(NamedTuple):
  coefs: jax.Array
  dual_gaps: jax.Array
  n_iter: jax.Array


def _soft(x, t):
  return jnp.sign(x) * jnp.maximum(jnp.abs(x) - t, 0.0)


def duality_gap(w, xtr, l1, l2, r_norm2, ry):
  """scikit-learn's duality gap of ½‖y − Xw‖² + l1‖w‖₁ + (l2/2)‖w‖².

  ``xtr`` is Xᵀ(y − Xw). With l1 > 0 the dual point is the residual rescaled
  into the feasible set (formulation A); with l1 = 0 < l2 the unconstrained
  dual of ridge (formulation B); with both 0, ‖XᵀR‖².
  """
  eps = jnp.finfo(w.dtype).eps
  w_l2 = jnp.dot(w, w)
  w_l1 = jnp.sum(jnp.abs(w))
  xta = xtr - l2 * w
  dual_norm = jnp.max(jnp.abs(xta), initial=0.0)
  primal = 0.5 * (r_norm2 + l2 * w_l2) + l1 * w_l1
  scale = jnp.where(dual_norm > l1, l1 / jnp.where(dual_norm > 0, dual_norm, 1.0), 1.0)
  dual_a = -0.5 * scale**2 * (r_norm2 + l2 * w_l2) + scale * ry
  xtr2 = jnp.dot(xtr, xtr)
  dual_b = -0.5 * r_norm2 + ry - 0.5 * xtr2 / jnp.where(l2 > 0, l2, 1.0)
  gap = jnp.where(l1 > 0, primal - dual_a, jnp.where(l2 > 0, primal - dual_b, xtr2))
  # Rounding makes tiny gaps of either sign; scikit-learn zeroes them too.
  return jnp.where((l1 + l2 > 0) & (jnp.abs(gap) <= 2 * eps * primal), 0.0, gap)


class _Ops(NamedTuple):
  grad: callable      # aux -> Xᵀ(y − Xw)
  update: callable    # (w, aux, j, l1, l2, valid) -> (w, aux, |Δ|)
  norms: callable     # aux, w -> (‖R‖², Rᵀy)
  diag: jax.Array     # ‖X_j‖²


def _gram_ops(Q, q, y2):
  diag = jnp.diagonal(Q)

  def grad(w, qw):
    return q - qw

  def update(w, qw, j, l1, l2, valid):
    d = diag[j]
    wj = w[j]
    tmp = q[j] - qw[j] + wj * d
    new = jnp.where(valid & (d > 0), _soft(tmp, l1) / jnp.where(d > 0, d + l2, 1.0), wj)
    delta = new - wj
    qw = qw + delta * lax.dynamic_index_in_dim(Q, j, keepdims=False)
    return w.at[j].set(new), qw, jnp.abs(delta)

  def norms(w, qw):
    qtw = jnp.dot(q, w)
    return y2 + jnp.dot(w, qw) - 2.0 * qtw, y2 - qtw

  return _Ops(grad, update, norms, diag)


def _residual_ops(XT, y):
  diag = jnp.sum(XT * XT, axis=1)

  def grad(w, r):
    return XT @ r

  def update(w, r, j, l1, l2, valid):
    d = diag[j]
    wj = w[j]
    xj = lax.dynamic_index_in_dim(XT, j, keepdims=False)
    tmp = jnp.dot(xj, r) + wj * d
    new = jnp.where(valid & (d > 0), _soft(tmp, l1) / jnp.where(d > 0, d + l2, 1.0), wj)
    delta = new - wj
    return w.at[j].set(new), r - delta * xj, jnp.abs(delta)

  def norms(w, r):
    return jnp.dot(r, r), jnp.dot(r, y)

  return _Ops(grad, update, norms, diag)


def _compact(mask):
  """Indices of True entries, front-packed into a fixed-size array, and their count."""
  p = mask.shape[0]
  idx = jnp.nonzero(mask, size=p, fill_value=0)[0].astype(jnp.int32)
  return idx, jnp.sum(mask, dtype=jnp.int32)


def _solve_path(ops, w0, aux0, l1s, l2s, l1_start, tol_abs, tol_rel, max_iter, check_every,
                unroll):
  """Runs the warm-started working-set solver along (l1s, l2s)."""
  p = w0.shape[0]
  usable = ops.diag > 0

  def gap_and_grad(w, aux, l1, l2):
    xtr = ops.grad(w, aux)
    r2, ry = ops.norms(w, aux)
    return duality_gap(w, xtr, l1, l2, r2, ry), xtr

  def one_alpha(carry, l12):
    # xtr = Xᵀ(y − Xw) does not depend on α: the last check of the previous
    # α left it exact for the current w, so it is carried, not recomputed.
    w, aux, xtr, l1_prev = carry
    l1, l2 = l12
    r2, ry = ops.norms(w, aux)
    gap = duality_gap(w, xtr, l1, l2, r2, ry)
    # Sequential strong rule: a zero coefficient is unlikely to enter if
    # |X_jᵀR| < 2·l1 − l1_prev; mistakes are caught by the KKT check below.
    active = usable & ((w != 0) | (jnp.abs(xtr) >= 2.0 * l1 - l1_prev))
    idx, k = _compact(active)

    def cond(s):
      return (~s["done"]) & (s["it"] < max_iter)

    def body(s):
      def block(t, c):
        # `unroll` coordinates per loop iteration: XLA's per-iteration cost
        # dominates an O(n) or O(p) update, so a few masked no-op updates
        # past the end of the working set are cheaper than more iterations.
        w, aux, dmax, wmax = c
        for u in range(unroll):
          i = t * unroll + u
          j = s["idx"][jnp.minimum(i, p - 1)]
          w, aux, dj = ops.update(w, aux, j, l1, l2, i < s["k"])
          dmax = jnp.maximum(dmax, dj)
          wmax = jnp.maximum(wmax, jnp.abs(w[j]))
        return w, aux, dmax, wmax

      zero = jnp.zeros((), w0.dtype)
      n_blocks = (s["k"] + unroll - 1) // unroll
      w, aux, dmax, wmax = lax.fori_loop(0, n_blocks, block, (s["w"], s["aux"], zero, zero))
      it = s["it"] + 1
      check = ((dmax <= tol_rel * wmax) | (wmax == 0) | (it % check_every == 0)
               | (it >= max_iter))

      def do_check(_):
        gap, xtr = gap_and_grad(w, aux, l1, l2)
        viol = usable & ~s["active"] & (jnp.abs(xtr) > l1)
        active = s["active"] | viol
        idx, k = _compact(active)
        return gap, xtr, active, idx, k

      def no_check(_):
        return s["gap"], s["xtr"], s["active"], s["idx"], s["k"]

      gap, xtr, active, idx, k = lax.cond(check, do_check, no_check, None)
      return dict(w=w, aux=aux, xtr=xtr, active=active, idx=idx, k=k, it=it, gap=gap,
                  done=check & (gap <= tol_abs))

    s = dict(w=w, aux=aux, xtr=xtr, active=active, idx=idx, k=k, it=jnp.zeros((), jnp.int32),
             gap=gap, done=gap <= tol_abs)
    s = lax.while_loop(cond, body, s)
    # The last sweep always ends with a check (done, or it ≥ max_iter), so
    # s["xtr"] matches the final w.
    return (s["w"], s["aux"], s["xtr"], l1), (s["w"], s["gap"], s["it"])

  xtr0 = ops.grad(w0, aux0)
  _, (coefs, gaps, n_iter) = lax.scan(one_alpha, (w0, aux0, xtr0, l1_start), (l1s, l2s))
  return PathArrays(coefs, gaps, n_iter)


def _default_unroll(length):
  # Measured on CPU: with short update vectors (small p in Gram mode, small n
  # in residual mode) the plain loop is fastest; with long ones, unrolling
  # by 8 is 2-3× faster.
  return 1 if length < 64 else 8


def _gram_path(Q, q, y2, l1s, l2s, l1_start, tol_abs, tol_rel, max_iter, check_every=1,
               unroll=None):
  unroll = unroll or _default_unroll(Q.shape[0])
  ops = _gram_ops(Q, q, y2)
  w0 = jnp.zeros_like(q)
  return _solve_path(ops, w0, w0, l1s, l2s, l1_start, tol_abs, tol_rel, max_iter, check_every,
                     unroll)


def _residual_path(X, y, l1s, l2s, l1_start, tol_abs, tol_rel, max_iter, check_every=10,
                   unroll=None):
  unroll = unroll or _default_unroll(X.shape[0])
  ops = _residual_ops(X.T, y)
  w0 = jnp.zeros(X.shape[1], X.dtype)
  return _solve_path(ops, w0, y, l1s, l2s, l1_start, tol_abs, tol_rel, max_iter, check_every,
                     unroll)


_static = ("max_iter", "check_every", "unroll")

#: The path from the Gram matrix Q = XᵀX and q = Xᵀy of centered data.
gram_path = jax.jit(_gram_path, static_argnames=_static)
#: The path maintaining the residual of centered (X, y).
residual_path = jax.jit(_residual_path, static_argnames=_static)
