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
2. the working set A: the support (and unpenalized coefficients) plus the
   candidates of the sequential strong rule, |X_jᵀR| ≥ 2·l1 − l1_prev. On a
   long path these are few and all are taken. After a big jump in α (one α,
   or a few widely spaced ones) nearly every feature passes the rule; then
   A is prioritized (celer): the support plus the features with the
   largest |X_jᵀR|/l1, max(target, 2·|support|) of them, where the target
   starts at 64 and grows (at most doubling) while violators remain;
3. A is compacted: its k features are gathered into K slots, K the
   smallest of a few static capacities (64, 128, 256, ..., and n, 2n in
   residual mode, then p) with K ≥ k, so each capacity compiles once. The
   slots hold the Gram block Q[A, A] (gathered from Q, or X_AᵀX_A built
   from the columns when K ≤ max(2n, 1024)) and a coordinate update costs
   O(K) instead of O(p) or O(n); for larger K in residual mode the columns
   X_A and the residual are kept instead, O(n);
4. cyclic coordinate descent sweeps the working set until the working-set
   problem's duality gap, evaluated in O(K) after every sweep, is below
   tolerance (0.3 × the current full gap first when A was cut down by
   priority). On Gram blocks up to 1024 slots a Newton step on the current
   sign pattern, (Q_SS + l2 I) w_S = q_S − l1·sign(w_S), with S compacted
   into K/2 slots, is tried when a sweep changed no sign (and every 8
   sweeps); where a sign would flip it stops at the first zero crossing and
   drops that coefficient (an active-set step, still a descent). This ends
   the slow linear tail of CD on ill-conditioned problems;
5. one full pass, Xᵀ(y − Xw), then measures the duality gap exactly as
   scikit-learn's ``enet_coordinate_descent`` does (formulation A for
   l1 > 0, formulation B for l1 = 0): the α is done once gap ≤ tol·‖y‖²;
   without violators of |X_jᵀR| ≤ l1 outside A the same block is solved on
   to the tolerance, otherwise A is rebuilt (step 2). With no violator the
   two gaps coincide, so usually one full pass per α suffices.

Per-coordinate weights l1_j (``jr.linear.fit`` with L1 weights, 0 meaning
unpenalized) use `weighted_gap`, which equals the gap above for equal
weights.

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


def weighted_gap(w, xtr, l1, l2, r_norm2, ry, d):
  """The gap for per-coordinate weights l1 (p,) ≥ 0, some possibly 0.

  Over the penalized coordinates this is formulation A with the dual norm
  max_j |X_jᵀR − l2 w_j| / l1_j. The rescaled residual is dual feasible for
  an unpenalized coordinate only where X_jᵀR = l2 w_j, so the first-order
  decrease still available there, Σ (X_jᵀR − l2 w_j)² / (‖X_j‖² + l2), is
  added. With every l1_j > 0 and equal this is :func:`duality_gap`.
  """
  eps = jnp.finfo(w.dtype).eps
  pen = l1 > 0
  w_l2 = jnp.dot(w, w)
  xta = xtr - l2 * w
  ratio = jnp.max(jnp.where(pen, jnp.abs(xta) / jnp.where(pen, l1, 1.0), 0.0), initial=0.0)
  primal = 0.5 * (r_norm2 + l2 * w_l2) + jnp.sum(l1 * jnp.abs(w))
  scale = jnp.where(ratio > 1.0, 1.0 / jnp.where(ratio > 0, ratio, 1.0), 1.0)
  dual = -0.5 * scale**2 * (r_norm2 + l2 * w_l2) + scale * ry
  dl = d + l2
  free = jnp.where(pen, 0.0, xta * xta / jnp.where(dl > 0, dl, 1.0))
  gap = primal - dual + jnp.sum(free)
  return jnp.where(jnp.abs(gap) <= 2 * eps * primal, 0.0, gap)


def _gap(w, xtr, l1, l2, r_norm2, ry, d):
  if jnp.ndim(l1) == 0:
    return duality_gap(w, xtr, l1, l2, r_norm2, ry)
  return weighted_gap(w, xtr, l1, l2, r_norm2, ry, d)


class _Ops(NamedTuple):
  full: callable      # w -> (Xᵀ(y − Xw), ‖y − Xw‖², yᵀ(y − Xw)), exact, O(p²) or O(np)
  refresh: callable   # (w, xtr, ii, ΔwA) -> `full(w)` after w changed by ΔwA on A
  block: callable     # (ii, K) -> the working set's data for `_sub_solve`
  diag: jax.Array     # ‖X_j‖²
  n: int              # rows of X (p for the Gram form: every block is a Gram block)


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

  return _Ops(full, refresh, block, jnp.diagonal(Q), Q.shape[0])


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
    if K <= max(_GRAM_ROWS * n, _GRAM_ALWAYS):
      # The working set's own Gram block: O(n·K²) once per working set,
      # after which a coordinate update costs O(K) instead of O(n). Up to
      # K = 2n this pays after about 8 sweeps (measured, n = 500), and
      # working sets that large come with tight tolerances; up to 1024 it
      # also brings the Newton steps that end CD's slow tail.
      return _GramBlock(XA.T @ XA, y @ XA, y2)
    return _ResidualBlock(XA.T, y)

  def refresh(w, xtr, ii, dwA):
    return full(w)

  return _Ops(full, refresh, block, jnp.sum(X * X, axis=0), n)


def _compact(mask, size):
  """Indices of True entries, front-packed into `size` slots, and their count."""
  idx = jnp.nonzero(mask, size=size, fill_value=mask.shape[0])[0].astype(jnp.int32)
  return idx, jnp.sum(mask, dtype=jnp.int32)


def _buckets(p, n, smallest=64, growth=2):
  """Static working-set capacities: 64, 128, 256, ... below p, then p.

  Each capacity is one branch of a ``lax.switch``, compiled once: a working
  set of k features runs in the smallest capacity ≥ k, so a sweep costs
  O(k·K) rather than O(k·p) while the program stays shape-static. Growing by
  2 wastes at most half of a sweep on padding. With X itself (residual
  mode, n < p) the capacities stop at n and 2n (then p): a lasso support
  has at most n features, and the working set is about twice the support.
  """
  sizes = []
  K = smallest
  while K < min(p, n):
    sizes.append(K)
    K *= growth
  if n < p:
    sizes += [s for s in (n, 2 * n) if smallest <= s < p]
  return tuple(sorted(set(sizes))) + (p,)


# Largest working-set capacity that tries Newton steps. Measured with XLA on
# CPU (float64): Cholesky 64: 0.04 ms, 128: 0.1 ms, 256: 0.4 ms, 512: 2 ms,
# against a CD sweep over a Gram block of the same size of 5, 10, 21 and
# 60-120 µs. The step is tried on the support compacted into K/2 slots (8×
# cheaper than K), when a sweep changed no sign or after 8 sweeps without a
# try, so it costs about as much as the sweeps between tries.
_NEWTON_MAX = 1024
# Working sets of up to max(2n, 1024) features get a Gram block in residual mode.
_GRAM_ROWS = 2
_GRAM_ALWAYS = 1024


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


def _sub_solve(data, wA, k, l1, l2, tol_abs, it, max_iter, c0=None, eager=True):
  """Cyclic CD on the working-set problem, compacted to K slots.

  The first k slots hold the working set (the rest are zero padding); ``l1``
  is a scalar or the working set's (K,) weights. After each sweep the
  duality gap of the working-set problem is evaluated from the maintained
  auxiliary vector (Q_A·w_A, or the residual). It equals the full problem's
  gap as long as no feature outside the working set violates
  |X_jᵀR| ≤ l1, which the caller checks afterwards.

  With the Gram block and K ≤ _NEWTON_MAX, a Newton step on the current
  sign pattern is tried every few sweeps (see `newton`): on ill-conditioned
  problems CD converges slowly once the support is found, and this step
  ends it. ``c0`` is the sweep count of earlier calls on the same block
  (it sets the Newton schedule); ``eager`` also tries the step whenever a
  sweep changed no sign (after a big jump in α, where many sweeps remain;
  on a warm-started path the fixed schedule is cheaper). Returns (w_A, it,
  sweep count).
  """
  K = wA.shape[0]
  valid = jnp.arange(K) < k
  d = data.diag()
  ok = valid & (d > 0)
  inv = jnp.where(ok, 1.0 / jnp.where(ok, d + l2, 1.0), 0.0)
  vector = jnp.ndim(l1) == 1
  l1_j = (lambda j: l1[j]) if vector else (lambda j: l1)

  def sweep(wA, aux):
    # One coordinate per loop iteration: measured on CPU, this beats
    # unrolled or blocked variants once an update costs O(K) with small K.
    def body(j, c):
      wA, aux = c
      new = _soft(data.grad_j(aux, j) + wA[j] * d[j], l1_j(j)) * inv[j]
      return wA.at[j].set(new), data.step(aux, j, new - wA[j])

    return lax.fori_loop(0, k, body, (wA, aux))

  def sub_gap(wA, aux):
    xtr, r2, ry = data.norms(wA, aux)
    return _gap(wA, xtr, l1, l2, r2, ry, d)

  # Newton steps: see `body` for when they are tried; a failed try costs
  # one Cholesky factorization, about as much as the sweeps between tries.
  use_newton = isinstance(data, _GramBlock) and K <= _NEWTON_MAX
  period = 4 if K < 128 else 8
  pen = (l1 > 0) if vector else jnp.ones((), bool)

  def newton_in(Ks):
    def newton(wA, aux):
      # Once cyclic CD has found the support S and the signs σ of the
      # working set's solution, that solution solves
      # (Q_SS + l2 I) w_S = q_S − l1 σ_S. The solve is accepted when it keeps
      # every sign: the smooth objective on that orthant is then minimised,
      # so the step cannot increase the objective. This finishes in one step
      # what CD approaches linearly, at a rate set by the conditioning of
      # Q_SS. S is compacted into Ks slots (Ks³ work rather than K³).
      S = wA != 0
      sg = jnp.sign(wA)
      si = jnp.nonzero(S, size=Ks, fill_value=K)[0]
      sv = si < K
      QS = data.QA.at[si[:, None], si[None, :]].get(mode="fill", fill_value=0)
      M = QS + jnp.diag(jnp.where(sv, l2, 1.0))
      l1S = l1.at[si].get(mode="fill", fill_value=0) if vector else l1
      rhs = jnp.where(sv, data.qA.at[si].get(mode="fill", fill_value=0)
                      - l1S * sg.at[si].get(mode="fill", fill_value=0), 0.0)
      wS = jax.scipy.linalg.cho_solve(jax.scipy.linalg.cho_factor(M), rhs)
      wN = jnp.zeros_like(wA).at[si].set(jnp.where(sv, wS, 0.0), mode="drop")
      # Where a sign would flip, the step stops at the first coefficient
      # that reaches 0 and drops it (an active-set step): the objective is
      # the same quadratic all along the segment inside the orthant, and
      # decreases towards its minimiser wN, so the step is a descent.
      cross = S & pen & (wN * sg <= 0)
      tj = jnp.where(cross, wA / jnp.where(cross, wA - wN, 1.0), 1.0)
      t = jnp.clip(jnp.min(tj), 0.0, 1.0)
      wT = jnp.where(cross & (tj <= t), 0.0, wA + t * (wN - wA))
      # A singular Q_SS gives NaNs, which leave w unchanged.
      keep = jnp.all(jnp.isfinite(wS))
      return jnp.where(keep, wT, wA), jnp.where(keep, data.QA @ wT, aux)
    return newton

  def newton(wA, aux):
    if K < 128:
      return newton_in(K)(wA, aux)
    # The support in half the capacity (8× cheaper); past 256, a support
    # that does not fit there gets no Newton step (a K × K factorization
    # costs as much as dozens of sweeps).
    fits = jnp.sum(wA != 0) <= K // 2
    if K > 256:
      return lax.cond(fits, newton_in(K // 2), lambda wA, aux: (wA, aux), wA, aux)
    return lax.cond(fits, newton_in(K // 2), newton_in(K), wA, aux)

  def cond(s):
    wA, aux, it, c, last, done = s
    return (~done) & (it < max_iter)

  def body(s):
    wA, aux, it, c, last, _ = s
    sg = jnp.sign(wA)
    wA, aux = sweep(wA, aux)
    c = c + 1
    if use_newton:
      # Tried `period` sweeps after the last try (or the start) and, if
      # `eager`, when a sweep left every sign unchanged (the pattern has
      # probably settled), at most every other sweep.
      settled = jnp.all(jnp.sign(wA) == sg) & (c - last >= 2) & eager
      go = settled | (c - last >= period)
      wA, aux = lax.cond(go, newton, lambda wA, aux: (wA, aux), wA, aux)
      last = jnp.where(go, c, last)
    return wA, aux, it + 1, c, last, sub_gap(wA, aux) <= tol_abs

  # At least one sweep: the caller only calls when the full gap is too large.
  zero = jnp.zeros((), jnp.int32)
  c0 = zero if c0 is None else c0
  # Small blocks try the first step after 2 sweeps (a factorization costs
  # little there), larger ones after `period`.
  last0 = c0 - 2 if K < 128 else c0
  wA, _, it, c, _, _ = lax.while_loop(cond, body, (wA, data.init(wA), it, c0, last0,
                                                   jnp.zeros((), bool)))
  return wA, it, c


def _solve_path(ops, p, l1s, l2s, l1_start, tol_abs, max_iter, w0=None):
  """Runs the warm-started working-set solver along (l1s, l2s).

  ``l1s`` is (A,) for a common weight, or (A, p) for per-coordinate weights
  (0 leaves a coefficient unpenalized; the gap is then `weighted_gap` and
  the strong rule is not used). ``w0`` is the warm start (zeros if None).
  """
  dtype = l2s.dtype
  vector = l1s.ndim == 2
  sizes = _buckets(p, ops.n)
  thresholds = jnp.asarray(sizes[:-1], jnp.int32)
  gram_cap = max(s for s in sizes if s <= max(_GRAM_ROWS * ops.n, sizes[0]))
  usable = ops.diag > 0
  gap_of = lambda w, xtr, l1, l2, r2, ry: _gap(w, xtr, l1, l2, r2, ry, ops.diag)

  def branch(K, index):
    def run(b, w, xtr, r2, ry, score, nc, l1, l2, it, gap, truncated):
      # The working set: the K highest scores (the support first, then the
      # features by violation |X_jᵀR|/l1), front-packed; slots past the
      # nc candidates hold the out-of-range index p.
      # All candidates fit (a path's usual case): their indices in order,
      # cheaper than the top-k selection, which is a sort.
      if K == p:
        ii = _compact(score > -jnp.inf, K)[0]
      else:
        ii = lax.cond(nc <= K, lambda sc: _compact(sc > -jnp.inf, K)[0],
                      lambda sc: lax.top_k(sc, K)[1].astype(jnp.int32), score)
      k = jnp.minimum(nc, K)
      ii = jnp.where(jnp.arange(K) < k, ii, p)
      data = ops.block(ii, K)
      l1A = l1.at[ii].get(mode="fill", fill_value=1) if vector else l1
      in_ws = jnp.zeros(p, bool).at[ii].set(True, mode="drop")
      wA = w.at[ii].get(mode="fill", fill_value=0)
      # A working set cut down from the candidates is solved to 0.3 × the
      # current gap first (celer's rule): violators usually remain, and the
      # set is rebuilt. Without violators outside it, the working-set gap is
      # the full gap and the same block is solved on to the tolerance.
      tol0 = jnp.where(truncated, jnp.maximum(tol_abs, 0.3 * gap), tol_abs)

      def cond(s):
        return (~s["done"]) & (s["it"] < max_iter)

      def body(s):
        wA = s["wA"]
        # The sweep count c carries over, so that the Newton schedule does
        # not restart when the same block is solved on.
        wA_new, it, c = _sub_solve(data, wA, k, l1A, l2, s["tol"], s["it"], max_iter, s["c"],
                                   truncated)
        wf = s["w"].at[ii].set(wA_new, mode="drop")
        # The full KKT check, one pass over all p features.
        xtr, r2, ry = ops.refresh(wf, s["xtr"], ii, wA_new - wA)
        gap = gap_of(wf, xtr, l1, l2, r2, ry)
        nviol = jnp.sum(usable & ~in_ws & (jnp.abs(xtr) > l1), dtype=jnp.int32)
        return dict(wA=wA_new, w=wf, xtr=xtr, r2=r2, ry=ry, it=it, c=c, gap=gap, tol=tol_abs,
                    nviol=nviol, done=(gap <= tol_abs) | (nviol > 0))

      zero = jnp.zeros((), jnp.int32)
      # Under jax.vmap a switch runs every branch: `b != index` ends the
      # loops at once in the lanes that did not pick this one.
      s = dict(wA=wA, w=w, xtr=xtr, r2=r2, ry=ry, it=it, c=zero, gap=gap, tol=tol0, nviol=zero,
               done=b != index)
      s = lax.while_loop(cond, body, s)
      return tuple(s[key] for key in ("w", "xtr", "r2", "ry", "it", "gap", "nviol"))
    return run

  branches = [branch(K, i) for i, K in enumerate(sizes)]

  def one_alpha(carry, l12):
    # Xᵀ(y − Xw), ‖R‖² and Rᵀy do not depend on α: the last check of the
    # previous α left them exact for the current w, so they are carried.
    w, xtr, r2, ry, l1_prev = carry
    l1, l2 = l12
    gap = gap_of(w, xtr, l1, l2, r2, ry)

    def cond(s):
      return (~s["done"]) & (s["it"] < max_iter)

    def body(s):
      w, xtr = s["w"], s["xtr"]
      # Always in the working set: the support and unpenalized coefficients.
      free = usable & ((w != 0) | (l1 == 0))
      # Candidates: the sequential strong rule (a zero coefficient is
      # unlikely to enter if |X_jᵀR| < 2·l1 − l1_prev) plus the violators
      # of |X_jᵀR| ≤ l1; with per-coordinate weights, every feature.
      if vector:
        cand = usable
      else:
        cand = usable & (free | (jnp.abs(xtr) >= jnp.minimum(2.0 * l1 - l1_prev, l1)))
      nc = jnp.sum(cand, dtype=jnp.int32)
      nnz = jnp.sum(free, dtype=jnp.int32)
      # Prioritized working set (celer): on a long path the candidates are
      # few and all taken; after a big jump in α they are nearly all p
      # features, and only max(target, 2·|support|) of them are taken, by
      # decreasing |X_jᵀR|/l1. The target doubles while violators remain.
      # The working set stays within the largest Gram-block capacity while
      # the support fits there with room to spare.
      want = jnp.maximum(s["target"], 2 * nnz)
      t = jnp.minimum(nc, jnp.where(2 * nnz <= gram_cap, jnp.minimum(want, gram_cap), want))
      ratio = jnp.abs(xtr) / jnp.where(l1 > 0, l1, 1.0)
      score = jnp.where(cand, jnp.where(free, jnp.inf, ratio), -jnp.inf)
      b = jnp.sum(t > thresholds)
      w, xtr, r2, ry, it, gap, nviol = lax.switch(
          b, branches, b, w, xtr, s["r2"], s["ry"], score, nc, l1, l2, s["it"], s["gap"], t < nc)
      # The next working set holds at least the support and the violators.
      nnz = jnp.sum(usable & ((w != 0) | (l1 == 0)), dtype=jnp.int32)
      return dict(w=w, xtr=xtr, r2=r2, ry=ry, it=it, gap=gap,
                  target=jnp.minimum(2 * t, jnp.maximum(t, nnz + nviol)), done=gap <= tol_abs)

    s = dict(w=w, xtr=xtr, r2=r2, ry=ry, it=jnp.zeros((), jnp.int32), gap=gap,
             target=jnp.asarray(sizes[0], jnp.int32), done=gap <= tol_abs)
    s = lax.while_loop(cond, body, s)
    nxt = l1_prev if vector else l1
    return (s["w"], s["xtr"], s["r2"], s["ry"], nxt), (s["w"], s["gap"], s["it"])

  w0 = jnp.zeros(p, dtype) if w0 is None else w0
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


def residual_solve(X, y, l1, l2, w0, tol_abs, max_iter):
  """One problem, from the warm start w0: per-coordinate ``l1`` (p,), scalar
  ``l2``, centered (X, y). Returns (w, gap, sweeps). For use inside other
  jitted programs (``jr.linear.fit``)."""
  out = _solve_path(_residual_ops(X, y), X.shape[1], l1[None], jnp.reshape(l2, (1,)),
                    jnp.asarray(jnp.inf, X.dtype), tol_abs, max_iter, w0=w0)
  return out.coefs[0], out.dual_gaps[0], out.n_iter[0]


#: The path from the Gram matrix Q = XᵀX and q = Xᵀy of centered data.
gram_path = jax.jit(_gram_path, static_argnames=("max_iter",))
#: The path maintaining the residual of centered (X, y).
residual_path = jax.jit(_residual_path, static_argnames=("max_iter",))
