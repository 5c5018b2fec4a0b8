r"""Coordinate descent for elastic-net paths, as one jitted XLA program.

Solves, for each (l1, l2) on a path, the sum-form problem

    ½‖y − Xw‖² + l1‖w‖₁ + (l2/2)‖w‖²

on centered data, where l1 = n·α·r and l2 = n·α·(1 − r) for jaxreg's
(1/(2n))-scaled objective. Two representations of the data are supported:

* ``gram``: Q = XᵀX and q = Xᵀy are formed once. Best when n ≥ p, and the
  shapes do not depend on n, so cross-validation folds of unequal sizes
  batch together.
* ``residual``: the centered X and y themselves. Best when p ≫ n, where a
  p × p Gram would dominate the run time.

Strategy (glmnet's and celer's working sets, scikit-learn's stopping rule):

1. warm start from the previous α's solution;
2. the sequential strong rule picks the initial working set A;
3. the working set is compacted: its k features are gathered into K slots,
   K the smallest of a few static capacities (64, 256, 1024, ..., p) with
   K ≥ k, so each capacity compiles once. The slots hold the Gram block
   Q[A, A] (gathered from Q, or X_AᵀX_A built from the columns when K ≤ n)
   and a coordinate update costs O(K) instead of O(p) or O(n); for K > n in
   residual mode the columns X_A and the residual are kept instead, O(n);
4. cyclic coordinate descent sweeps the working set until the working-set
   problem's duality gap, evaluated in O(K) after every sweep, is below
   tolerance; on small working sets (K ≤ 64) a Newton step on the current
   sign pattern, (Q_SS + l2 I) w_S = q_S − l1·sign(w_S), is tried every few
   sweeps and kept when it preserves every sign, which ends the slow linear
   tail of CD on ill-conditioned problems;
5. one full pass, Xᵀ(y − Xw), then measures the duality gap exactly as
   scikit-learn's ``enet_coordinate_descent`` does (formulation A for
   l1 > 0, formulation B for l1 = 0): the α is done once gap ≤ tol·‖y‖²;
   otherwise the features that violate |X_jᵀR| ≤ l1 join the working set
   and step 3 repeats. With no violator the two gaps coincide, so usually
   one full pass per α suffices.

References:
  Friedman, Hastie & Tibshirani (2010), "Regularization paths for
  generalized linear models via coordinate descent" (glmnet).
  Tibshirani et al. (2012), "Strong rules for discarding predictors in
  lasso-type problems".
  Fercoq, Gramfort & Salmon (2015), "Mind the duality gap: safer rules for
  the lasso".
  Massias, Gramfort & Salmon (2018), "Celer: a fast solver for the lasso
  with dual extrapolation" (working sets solved to the full tolerance).
  Osborne, Presnell & Turlach (2000), "A new approach to variable selection
  in least squares problems" (the solution on a fixed sign pattern solves
  a linear system).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import jax.scipy.linalg
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
  full: callable      # w -> (Xᵀ(y − Xw), ‖y − Xw‖², yᵀ(y − Xw)), exact, O(p²) or O(np)
  refresh: callable   # (w, xtr, ii, ΔwA) -> `full(w)` after w changed by ΔwA on A
  block: callable     # (ii, K) -> the working set's data for `_sub_solve`
  usable: jax.Array   # ‖X_j‖² > 0


def _gram_ops(Q, q, y2):
  def norms(w, xtr):
    qtw = jnp.dot(q, w)
    return xtr, y2 - qtw - jnp.dot(w, xtr), y2 - qtw

  def full(w):
    return norms(w, q - Q @ w)

  def refresh(w, xtr, ii, dwA):
    # Only the working set's coefficients moved: Q is symmetric, so its
    # rows Q[A] give the change of Qw in O(K·p) instead of O(p²).
    return norms(w, xtr - dwA @ Q.at[ii].get(mode="fill", fill_value=0))

  def block(ii, K):
    QA = Q.at[ii[:, None], ii[None, :]].get(mode="fill", fill_value=0)
    return _GramBlock(QA, q.at[ii].get(mode="fill", fill_value=0), y2)

  return _Ops(full, refresh, block, jnp.diagonal(Q) > 0)


def _residual_ops(X, y):
  n = X.shape[0]
  y2 = jnp.dot(y, y)

  # Products are written as X @ w and r @ X: on CPU, XLA's matrix-vector
  # kernels are about twice as fast in this orientation as through X.T.
  def full(w):
    r = y - X @ w
    return r @ X, jnp.dot(r, r), jnp.dot(r, y)

  def block(ii, K):
    XA = X.at[:, ii].get(mode="fill", fill_value=0)
    if K <= n:
      # The working set's own Gram block: O(n·K²) once per working set,
      # after which a coordinate update costs O(K) instead of O(n).
      return _GramBlock(XA.T @ XA, y @ XA, y2)
    return _ResidualBlock(XA.T, y)

  def refresh(w, xtr, ii, dwA):
    return full(w)

  return _Ops(full, refresh, block, jnp.sum(X * X, axis=0) > 0)


def _compact(mask, size):
  """Indices of True entries, front-packed into `size` slots, and their count."""
  idx = jnp.nonzero(mask, size=size, fill_value=mask.shape[0])[0].astype(jnp.int32)
  return idx, jnp.sum(mask, dtype=jnp.int32)


def _buckets(p, smallest=64, growth=4):
  """Static working-set capacities: 64, 256, 1024, ... below p, then p.

  Each capacity is one branch of a ``lax.switch``, compiled once: a working
  set of k features runs in the smallest capacity ≥ k, so a sweep costs
  O(k·K) rather than O(k·p) while the program stays shape-static. Growing by
  4 keeps the branches (and the compile time) few; the padding costs little
  because an O(K) update with K ≤ 4k is dominated by per-iteration overhead.
  """
  sizes = []
  K = smallest
  while K < p:
    sizes.append(K)
    K *= growth
  return tuple(sizes) + (p,)


# Largest working-set capacity that tries Newton steps: XLA's CPU Cholesky
# takes ~10 µs at 64 but milliseconds at 256, more than the sweeps it saves.
_NEWTON_MAX = 64


class _GramBlock(NamedTuple):
  """Working-set data as its Gram block: updates cost O(K)."""
  QA: jax.Array   # (K, K) X_Aᵀ X_A
  qA: jax.Array   # (K,) X_Aᵀ y
  y2: jax.Array

  def init(self, wA):
    return self.QA @ wA

  def diag(self):
    return jnp.diagonal(self.QA)

  def grad_j(self, aux, j):
    return self.qA[j] - aux[j]

  def step(self, aux, j, delta):
    return aux + delta * self.QA[j]

  def norms(self, wA, aux):
    """(X_Aᵀ R, ‖R‖², Rᵀy) with R = y − X_A w_A."""
    qtw = jnp.dot(self.qA, wA)
    return self.qA - aux, self.y2 + jnp.dot(wA, aux) - 2.0 * qtw, self.y2 - qtw


class _ResidualBlock(NamedTuple):
  """Working-set data as its columns (transposed), with the residual
  maintained: updates cost O(n), for working sets larger than n."""
  XAT: jax.Array  # (K, n)
  y: jax.Array

  def init(self, wA):
    return self.y - wA @ self.XAT

  def diag(self):
    return jnp.sum(self.XAT * self.XAT, axis=1)

  def grad_j(self, aux, j):
    return jnp.dot(self.XAT[j], aux)

  def step(self, aux, j, delta):
    return aux - delta * self.XAT[j]

  def norms(self, wA, aux):
    return self.XAT @ aux, jnp.dot(aux, aux), jnp.dot(aux, self.y)


def _sub_solve(data, wA, k, l1, l2, tol_abs, it, max_iter):
  """Cyclic CD on the working-set problem, compacted to K slots.

  The first k slots hold the working set (the rest are zero padding). After
  each sweep the duality gap of the working-set problem is evaluated from
  the maintained auxiliary vector (Q_A·w_A, or the residual). It equals the
  full problem's gap as long as no feature outside the working set violates
  |X_jᵀR| ≤ l1, which the caller checks afterwards.

  With the Gram block and K ≤ 64, a Newton step on the current sign pattern
  is tried every few sweeps (see `newton`): on ill-conditioned problems CD
  converges slowly once the support is found, and this step ends it.
  """
  K = wA.shape[0]
  valid = jnp.arange(K) < k
  d = data.diag()
  ok = valid & (d > 0)
  inv = jnp.where(ok, 1.0 / jnp.where(ok, d + l2, 1.0), 0.0)

  def sweep(wA, aux):
    # One coordinate per loop iteration: measured on CPU, this beats
    # unrolled or blocked variants once an update costs O(K) with small K.
    def body(j, c):
      wA, aux = c
      new = _soft(data.grad_j(aux, j) + wA[j] * d[j], l1) * inv[j]
      return wA.at[j].set(new), data.step(aux, j, new - wA[j])

    return lax.fori_loop(0, k, body, (wA, aux))

  def sub_gap(wA, aux):
    xtr, r2, ry = data.norms(wA, aux)
    return duality_gap(wA, xtr, l1, l2, r2, ry)

  # Newton step tried at sweeps first, first + period, ...: its cost, one
  # K × K Cholesky factorization, is spread over about as many sweeps.
  use_newton = isinstance(data, _GramBlock) and K <= _NEWTON_MAX
  period = max(4, K // 16)
  first = max(2, period // 2)

  def newton(wA, aux):
    # Once cyclic CD has found the support S and the signs σ of the working
    # set's solution, that solution solves (Q_SS + l2 I) w_S = q_S − l1 σ_S.
    # The solve is accepted when it keeps every sign: the smooth objective
    # on that orthant is then minimised, so the step cannot increase the
    # objective. This finishes in one step what CD approaches linearly, at
    # a rate set by the conditioning of Q_SS.
    S = wA != 0
    sg = jnp.sign(wA)
    M = jnp.where(S[:, None] & S[None, :], data.QA, 0.0) + jnp.diag(jnp.where(S, l2, 1.0))
    rhs = jnp.where(S, data.qA - l1 * sg, 0.0)
    wN = jax.scipy.linalg.cho_solve(jax.scipy.linalg.cho_factor(M), rhs)
    wN = jnp.where(S, wN, 0.0)
    # A singular Q_SS gives NaNs, which fail the test and leave w unchanged.
    keep = jnp.all(jnp.where(S, wN * sg > 0, True))
    return jnp.where(keep, wN, wA), jnp.where(keep, data.QA @ wN, aux)

  def cond(s):
    wA, aux, it, c, done = s
    return (~done) & (it < max_iter)

  def body(s):
    wA, aux, it, c, _ = s
    wA, aux = sweep(wA, aux)
    c = c + 1
    if use_newton:
      wA, aux = lax.cond((c >= first) & ((c - first) % period == 0), newton,
                         lambda wA, aux: (wA, aux), wA, aux)
    return wA, aux, it + 1, c, sub_gap(wA, aux) <= tol_abs

  # At least one sweep: the caller only calls when the full gap is too large.
  zero = jnp.zeros((), jnp.int32)
  wA, _, it, _, _ = lax.while_loop(cond, body, (wA, data.init(wA), it, zero, jnp.zeros((), bool)))
  return wA, it


def _solve_path(ops, p, l1s, l2s, l1_start, tol_abs, max_iter):
  """Runs the warm-started working-set solver along (l1s, l2s)."""
  dtype = l1s.dtype
  sizes = _buckets(p)
  # Pad the compacted index list to the largest capacity; the padding
  # index p is out of range, so gathers read 0 and scatters drop it.
  cap = sizes[-1]

  def branch(K):
    def run(w, xtr, idx, k, l1, l2, it):
      ii = idx[:K]
      wA0 = w.at[ii].get(mode="fill", fill_value=0)
      wA, it = _sub_solve(ops.block(ii, K), wA0, k, l1, l2, tol_abs, it, max_iter)
      w = w.at[ii].set(wA, mode="drop")
      # The full KKT check, one pass over all p features per working-set solve.
      return (w, *ops.refresh(w, xtr, ii, wA - wA0), it)
    return run

  branches = [branch(K) for K in sizes]
  thresholds = jnp.asarray(sizes[:-1], jnp.int32)

  def one_alpha(carry, l12):
    # Xᵀ(y − Xw), ‖R‖² and Rᵀy do not depend on α: the last check of the
    # previous α left them exact for the current w, so they are carried.
    w, xtr, r2, ry, l1_prev = carry
    l1, l2 = l12
    gap = duality_gap(w, xtr, l1, l2, r2, ry)
    # Sequential strong rule: a zero coefficient is unlikely to enter if
    # |X_jᵀR| < 2·l1 − l1_prev; mistakes are caught by the KKT check below.
    active = ops.usable & ((w != 0) | (jnp.abs(xtr) >= 2.0 * l1 - l1_prev))

    def cond(s):
      return (~s["done"]) & (s["it"] < max_iter)

    def body(s):
      idx, k = _compact(s["active"], cap)
      b = jnp.sum(k > thresholds)
      w, xtr, r2, ry, it = lax.switch(b, branches, s["w"], s["xtr"], idx, k, l1, l2, s["it"])
      gap = duality_gap(w, xtr, l1, l2, r2, ry)
      viol = ops.usable & ~s["active"] & (jnp.abs(xtr) > l1)
      return dict(w=w, xtr=xtr, r2=r2, ry=ry, active=s["active"] | viol, it=it, gap=gap,
                  done=gap <= tol_abs)

    s = dict(w=w, xtr=xtr, r2=r2, ry=ry, active=active, it=jnp.zeros((), jnp.int32), gap=gap,
             done=gap <= tol_abs)
    s = lax.while_loop(cond, body, s)
    return (s["w"], s["xtr"], s["r2"], s["ry"], l1), (s["w"], s["gap"], s["it"])

  w0 = jnp.zeros(p, dtype)
  xtr0, r20, ry0 = ops.full(w0)
  _, (coefs, gaps, n_iter) = lax.scan(one_alpha, (w0, xtr0, r20, ry0, l1_start), (l1s, l2s))
  return PathArrays(coefs, gaps, n_iter)


def _gram_path(Q, q, y2, l1s, l2s, l1_start, tol_abs, tol_rel, max_iter):
  # `tol_rel` is unused: the working-set gap is cheap enough to check after
  # every sweep. The argument stays for callers that pass it.
  del tol_rel
  return _solve_path(_gram_ops(Q, q, y2), Q.shape[0], l1s, l2s, l1_start, tol_abs, max_iter)


def _residual_path(X, y, l1s, l2s, l1_start, tol_abs, tol_rel, max_iter):
  del tol_rel
  return _solve_path(_residual_ops(X, y), X.shape[1], l1s, l2s, l1_start, tol_abs, max_iter)


#: The path from the Gram matrix Q = XᵀX and q = Xᵀy of centered data.
gram_path = jax.jit(_gram_path, static_argnames=("max_iter",))
#: The path maintaining the residual of centered (X, y).
residual_path = jax.jit(_residual_path, static_argnames=("max_iter",))
