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
   smallest of a few static capacities (64, 256, 1024, ..., and n, 2n, 4n in
   residual mode, then p) with K ≥ k, so each capacity compiles once. In
   residual mode the prioritized working set stays within 4n while the
   support does (the p-wide capacity, swept column by column, is the last
   resort). The
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
   sweeps), with an exact line search that stops at the first zero
   crossing and drops that coefficient (an active-set step, still a
   descent; steps repeat while they drop). On a support with more
   coefficients than the rank of X_S (p ≫ n) the step follows the null
   space of X_S to the orthant's boundary. This ends the slow linear tail
   of CD on ill-conditioned problems; every 6 sweeps an Anderson
   extrapolation of the last iterates is also tried (kept if it lowers the
   objective);
5. one full pass, Xᵀ(y − Xw), then measures the duality gap exactly as
   scikit-learn's ``enet_coordinate_descent`` does (formulation A for
   l1 > 0, formulation B for l1 = 0): the α is done once gap ≤ tol·‖y‖²
   and, scikit-learn's other condition, the last sweep moved no
   coefficient by more than tol·max|w| (at least one sweep per α);
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
  Bertrand & Massias (2021), "Anderson acceleration of coordinate descent"
  (skglm's AndersonCD).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxreg.linear.solvers.coordinate_descent import capacities as _capacities
from jaxreg.penalties import soft_threshold
import jax.scipy.linalg
from jax import lax


class PathArrays(NamedTuple):
  coefs: jax.Array
  dual_gaps: jax.Array
  n_iter: jax.Array
  converged: jax.Array  # (K,) bool: both stopping conditions met (see `_solve_path`)


_soft = soft_threshold


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


def _buckets(p, n):
  """Static working-set capacities: 64, 256, 1024, ... below min(n, p), then p.

  Each capacity is one branch of a ``lax.switch``, compiled once: a working
  set of k features runs in the smallest capacity ≥ k, so a sweep costs
  O(k·K) rather than O(k·p) while the program stays shape-static. The
  sizes follow the generic solver's
  :func:`~jaxreg.linear.solvers.coordinate_descent.capacities` (growing by
  4 rather than 2, one within 1.25× of the next dropped, 1.6× below 256:
  that took the first call of a 100-α lasso path from 7.6 to 6.0 s on
  2000 × 500, 7.2 to 4.8 s on 5000 × 300 and 4.5 to 1.8 s on 20000 × 100;
  the warm path on 2000 × 500, without its 128 capacity, runs 10-25%
  slower, the other shapes within noise). With
  X itself (residual mode, n < p) the capacities above 64 are n, 2n and 4n
  (then p): a lasso solution has at most n non-zeros (in general
  position), and the working set is about twice the support; the iterates
  on the way can carry more (up to the first working set's size), which
  4n leaves room for.
  """
  extra = (n, 2 * n, 4 * n) if n < p else ()
  return _capacities(p, extra, smallest=64, below=n)


# Largest working-set capacity that tries Newton steps. Measured with XLA on
# CPU (float64): Cholesky 64: 0.04 ms, 128: 0.1 ms, 256: 0.4 ms, 512: 2 ms,
# against a CD sweep over a Gram block of the same size of 5, 10, 21 and
# 60-120 µs. The step is tried on the support compacted into K/2 slots (8×
# cheaper than K), when a sweep changed no sign or after 8 sweeps without a
# try, so it costs about as much as the sweeps between tries.
_NEWTON_MAX = 1024
# Newton steps in a row while each drops a coefficient (active-set steps).
_NEWTON_STEPS = 16
# Sweeps combined by one Anderson extrapolation (skglm uses 5).
_ANDERSON = 5
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


class _SparseBlock(NamedTuple):
  """Working-set data as sparse columns (padded, ELL): an update costs
  O(nnz of the column), with the centring and weights kept implicit.

  The columns are X_c[:, j] = √s ⊙ (X[:, j] − x̄_j), stored as their stored
  entries times √s at their rows, in G groups by length: group g holds its
  columns in slots o_g … o_g + K_g − 1 (o_g = K_0 + … + K_{g−1}), each
  zero-padded to the group's width m_g, and only its first ``used[g]`` slots
  are columns (the rest are zero: d = 0, never updated). A sweep visits the
  groups in turn, so an update costs O(m_g), not O(max_g m_g). The residual
  r = y_c − X_c w is kept as r̃ + μ√s with T = √sᵀr̃, so an update
  touches only the column's rows: r̃ -= δ·x̃_j, μ += δ x̄_j, T -= δ u_j,
  where u_j = Σᵢ sᵢ X_ij.
  """
  rows: tuple        # G arrays (K_g, m_g) int32
  vals: tuple        # G arrays (K_g, m_g)
  used: jax.Array    # (G,) int32: the slots in use, the first of each group
  xbar: jax.Array    # (K,) the columns' (weighted) means, 0 without intercept
  u: jax.Array       # (K,) Σᵢ sᵢ X_ij
  d: jax.Array       # (K,) ‖X_c[:, j]‖²
  root_s: jax.Array  # (n,) √s
  y: jax.Array       # (n,) y_c

  def _starts(self):
    """o_0, …, o_G (static: from the shapes)."""
    starts = [0]
    for r in self.rows:
      starts.append(starts[-1] + r.shape[0])
    return starts

  def _updates(self):
    """(grad_j, step) for slots of each group: X_c[:, j]ᵀr, and the
    residual after w_j += δ, at the group's width."""
    n = self.y.shape[0]

    def of(g, o):
      rows, vals = self.rows[g], self.vals[g]

      def grad_j(aux, j):
        rt, mu, T = aux
        dot = jnp.dot(vals[j - o], rt[rows[j - o]])
        return dot + mu * self.u[j] - self.xbar[j] * (T + mu * n)

      def step(aux, j, delta):
        rt, mu, T = aux
        rt = rt.at[rows[j - o]].add(-delta * vals[j - o])
        return rt, mu + delta * self.xbar[j], T - delta * self.u[j]
      return grad_j, step

    return [of(g, o) for g, o in enumerate(self._starts()[:-1])]

  def segments(self):
    """[(first slot, end, grad_j, step)] for the slots in use, a group
    each: a sweep runs one loop a group, each update at its width."""
    starts = self._starts()
    return [(o, o + self.used[g], *fns) for g, (o, fns) in enumerate(zip(starts, self._updates()))]

  def _group(self, j):
    return jnp.searchsorted(jnp.asarray(self._starts()[1:-1]), j, side="right")

  def grad_j(self, aux, j):
    # Any slot, through a branch on its group; sweeps use `segments`.
    return lax.switch(self._group(j), [g for g, _ in self._updates()], aux, j)

  def step(self, aux, j, delta):
    return lax.switch(self._group(j), [s for _, s in self._updates()], aux, j, delta)

  def diag(self):
    return self.d

  def _flat_rows(self):
    return jnp.concatenate([r.ravel() for r in self.rows])

  def init(self, wA):
    # One scatter for all groups: one a group compiles slower (measured,
    # about 0.1 s a group), and runs no faster.
    dw = jnp.concatenate([(wA[o:o + r.shape[0], None] * v).ravel()
                          for o, r, v in zip(self._starts(), self.rows, self.vals)])
    rt = self.y.at[self._flat_rows()].add(-dw)
    return rt, jnp.dot(wA, self.xbar), jnp.dot(self.root_s, rt)

  def norms(self, wA, aux):
    rt, mu, _ = aux
    r = rt + mu * self.root_s
    rf = r[self._flat_rows()]      # one gather for all groups, as in `init`
    xr, at = [], 0
    for v in self.vals:
      xr.append(jnp.sum(v * rf[at:at + v.size].reshape(v.shape), axis=1))
      at += v.size
    xr = jnp.concatenate(xr)
    return xr - self.xbar * jnp.dot(self.root_s, r), jnp.dot(r, r), jnp.dot(r, self.y)


def _sub_solve(data, wA, k, l1, l2, tol_abs, it, max_iter, c0=None, eager=True, tol_rel=None,
               strict=True, accelerate=True):
  """Cyclic CD on the working-set problem, compacted to K slots.

  The first k slots hold the working set (the rest are zero padding; a
  `_SparseBlock` marks its own slots in use, and k is its slot count); ``l1``
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
  on a warm-started path the fixed schedule is cheaper). The block is done
  when its gap is at most ``tol_abs`` and the last sweep (with any Newton or
  extrapolation step after it) moved no coefficient by more than
  ``tol_rel``·max|w_A| (scikit-learn's two conditions; with ``strict``
  False, a loose intermediate solve, only the first; with ``tol_abs`` None,
  only the second). ``accelerate`` (static) False turns off the Newton
  steps and the extrapolation: under ``jax.vmap`` their conditional
  branches would run after every sweep in every lane, so batched callers
  get plain cyclic CD. Returns (w_A, it, sweep count, whether that last
  step was small).
  """
  K = wA.shape[0]
  valid = jnp.arange(K) < k
  d = data.diag()
  ok = valid & (d > 0)
  inv = jnp.where(ok, 1.0 / jnp.where(ok, d + l2, 1.0), 0.0)
  vector = jnp.ndim(l1) == 1
  l1_j = (lambda j: l1[j]) if vector else (lambda j: l1)

  # Slot ranges, each with its own update: the k slots in use, or, on
  # sparse columns, one range per width group (a group's update costs its
  # width, and one loop a group needs no branch per coordinate).
  if isinstance(data, _SparseBlock):
    segments = data.segments()
  else:
    segments = [(0, k, data.grad_j, data.step)]

  def sweep(wA, aux):
    # One coordinate per loop iteration: measured on CPU, this beats
    # unrolled or blocked variants once an update costs O(K) with small K.
    def update(grad_j, step):
      def body(j, c):
        wA, aux = c
        new = _soft(grad_j(aux, j) + wA[j] * d[j], l1_j(j)) * inv[j]
        return wA.at[j].set(new), step(aux, j, new - wA[j])
      return body

    for lo, hi, grad_j, step in segments:
      wA, aux = lax.fori_loop(lo, hi, update(grad_j, step), (wA, aux))
    return wA, aux

  def sub_gap(wA, aux):
    xtr, r2, ry = data.norms(wA, aux)
    return _gap(wA, xtr, l1, l2, r2, ry, d)

  # Newton steps: see `body` for when they are tried; a failed try costs
  # one Cholesky factorization, about as much as the sweeps between tries.
  use_newton = accelerate and isinstance(data, _GramBlock) and K <= _NEWTON_MAX
  period = 4 if K < 128 else 8
  pen = (l1 > 0) if vector else jnp.ones((), bool)

  def newton_in(Ks):
    def step(wA):
      # Once cyclic CD has found the support S and the signs σ of the
      # working set's solution, that solution solves
      # (Q_SS + l2 I) w_S = q_S − l1 σ_S: on that orthant the objective is
      # the quadratic f(w) = ½wᵀ(Q + l2 I)w − (q − l1 σ)ᵀw. The step
      # d = −(Q_SS + l2 I + δI)⁻¹ ∇f is the Newton step (δ, a rounding-level
      # ridge, only keeps the factorization defined), followed by an exact
      # line search on f, stopped at the first coefficient that reaches 0,
      # which is dropped (an active-set step). Every step is a descent.
      # With a non-singular Q_SS it lands on the orthant's minimiser in one
      # step, what CD approaches linearly at a rate set by the conditioning
      # of Q_SS. When |S| exceeds the rank of X_S (p ≫ n, where CD iterates
      # carry more non-zeros than rows), the ridge turns d into a direction
      # along the null space of X_S in which σᵀw decreases: the line search
      # then walks to the orthant's boundary and drops a coefficient,
      # moving towards a support of full column rank, where CD alone would
      # crawl. S is compacted into Ks slots (Ks³ work rather than K³).
      S = wA != 0
      sg = jnp.sign(wA)
      si = jnp.nonzero(S, size=Ks, fill_value=K)[0]
      sv = si < K
      get = lambda v: v.at[si].get(mode="fill", fill_value=0)
      QS = data.QA.at[si[:, None], si[None, :]].get(mode="fill", fill_value=0)
      l1S = get(l1) if vector else l1
      wS = get(wA)
      gS = jnp.where(sv, QS @ wS + l2 * wS - get(data.qA) + l1S * get(sg), 0.0)
      dq = jnp.where(sv, jnp.diagonal(QS), 0.0)
      delta = 100.0 * jnp.finfo(wA.dtype).eps * jnp.max(dq, initial=0.0) + jnp.finfo(wA.dtype).tiny
      M = QS + jnp.diag(jnp.where(sv, l2 + delta, 1.0))
      dS = -jax.scipy.linalg.cho_solve(jax.scipy.linalg.cho_factor(M), gS)
      dS = jnp.where(sv, dS, 0.0)
      slope = jnp.dot(gS, dS)
      curv = jnp.dot(dS, QS @ dS) + l2 * jnp.dot(dS, dS)
      t_opt = jnp.where(curv > 0, -slope / jnp.where(curv > 0, curv, 1.0), jnp.inf)
      d = jnp.zeros_like(wA).at[si].set(dS, mode="drop")
      cross = S & pen & (d * sg < 0)
      tj = jnp.where(cross, -wA / jnp.where(cross, d, 1.0), jnp.inf)
      t = jnp.minimum(t_opt, jnp.min(tj))
      # Rounding can make a nearly-singular system give a direction that
      # is not a descent: then nothing moves.
      ok = (slope < 0) & jnp.isfinite(t) & (t > 0) & jnp.all(jnp.isfinite(dS))
      t = jnp.where(ok, t, 0.0)
      dropped = cross & (tj <= t)
      wT = jnp.where(dropped, 0.0, wA + t * d)
      return jnp.where(ok, wT, wA), ok & jnp.any(dropped)

    def newton(wA, aux):
      # A step that dropped a coefficient is followed at once by a step on
      # the smaller support: CD sweeps in between would restore the
      # coefficient (the fit, hence its gradient, has not changed along a
      # null direction), and the drop would repeat without end.
      def cond(c):
        return c[1] & (c[2] < _NEWTON_STEPS)

      def body(c):
        w, _, i = c
        w, dropped = step(w)
        return w, dropped, i + 1

      w, _, _ = lax.while_loop(cond, body, (wA, jnp.ones((), bool), jnp.zeros((), jnp.int32)))
      return w, data.QA @ w
    return newton

  def newton(wA, aux):
    if K < 128:
      return newton_in(K)(wA, aux)
    # The support in half the capacity (8× cheaper); past 256, a support
    # that does not fit there gets no Newton step (a K × K factorization
    # costs as much as dozens of sweeps). Up to 256 it gets one over all K
    # slots: without it the 100-α lasso path on 2000 × 500 ran 25% slower
    # (each size of the step compiled costs about half a second of the
    # first call).
    fits = jnp.sum(wA != 0) <= K // 2
    if K > 256:
      return lax.cond(fits, newton_in(K // 2), lambda wA, aux: (wA, aux), wA, aux)
    return lax.cond(fits, newton_in(K // 2), newton_in(K), wA, aux)

  def objective(wA, aux):
    _, r2, _ = data.norms(wA, aux)
    return 0.5 * (r2 + l2 * jnp.dot(wA, wA)) + jnp.sum(l1 * jnp.abs(wA))

  def anderson(wA, aux, buf, nb):
    # Anderson extrapolation of the last _ANDERSON + 1 sweeps (skglm's
    # AndersonCD): the affine combination Σ cᵢ wᵢ (Σ cᵢ = 1) of the iterates
    # whose combined differences are smallest. Kept only when it lowers the
    # objective, so every accepted point is still a descent. Where CD
    # converges linearly at a slow rate (ill-conditioned or rank-deficient
    # working sets, where the sign-pattern Newton step does not apply)
    # this removes most of the sweeps.
    U = buf[1:] - buf[:-1]
    G = U @ U.T
    # A relative ridge keeps the system solvable once the differences are
    # nearly collinear (CD close to convergence).
    G = G + (jnp.finfo(G.dtype).eps * 1e3 * jnp.trace(G) + jnp.finfo(G.dtype).tiny) * jnp.eye(
        G.shape[0], dtype=G.dtype)
    z = jnp.linalg.solve(G, jnp.ones(G.shape[0], G.dtype))
    cz = z / jnp.sum(z)
    w_acc = jnp.where(valid, cz @ buf[1:], 0.0)
    aux_acc = data.init(w_acc)
    better = jnp.all(jnp.isfinite(w_acc)) & (objective(w_acc, aux_acc) < objective(wA, aux))
    return (jnp.where(better, w_acc, wA), jax.tree_util.tree_map(
        lambda a, b: jnp.where(better, a, b), aux_acc, aux))

  def cond(s):
    wA, aux, it, c, last, buf, nb, small, done = s
    return (~done) & (it < max_iter)

  def body(s):
    wA, aux, it, c, last, buf, nb, _, _ = s
    w_start = wA
    sg = jnp.sign(wA)
    wA, aux = sweep(wA, aux)
    c = c + 1
    reset = jnp.zeros((), bool)
    if use_newton:
      # Tried `period` sweeps after the last try (or the start) and, if
      # `eager`, when a sweep left every sign unchanged (the pattern has
      # probably settled), at most every other sweep.
      settled = jnp.all(jnp.sign(wA) == sg) & (c - last >= 2) & eager
      go = settled | (c - last >= period)
      wA, aux = lax.cond(go, newton, lambda wA, aux: (wA, aux), wA, aux)
      last = jnp.where(go, c, last)
      # A Newton step is not a CD iterate: the extrapolation starts over.
      reset = go
    if accelerate:
      buf = jnp.roll(buf, -1, axis=0).at[-1].set(wA)
      nb = jnp.where(reset, 0, nb + 1)
      full = nb > _ANDERSON
      wA, aux = lax.cond(full, anderson, lambda wA, aux, buf, nb: (wA, aux), wA, aux, buf, nb)
      nb = jnp.where(full, 0, nb)
    if tol_rel is None:
      small = jnp.ones((), bool)
    else:
      small = (jnp.max(jnp.abs(wA - w_start), initial=0.0)
               <= tol_rel * jnp.max(jnp.abs(wA), initial=0.0))
    if tol_abs is None:
      done = small
    else:
      done = (small | jnp.logical_not(strict)) & (sub_gap(wA, aux) <= tol_abs)
    return wA, aux, it + 1, c, last, buf, nb, small, done

  # At least one sweep: the caller only calls when the full gap is too large.
  zero = jnp.zeros((), jnp.int32)
  c0 = zero if c0 is None else c0
  # Small blocks try the first step after 2 sweeps (a factorization costs
  # little there), larger ones after `period`.
  last0 = c0 - 2 if K < 128 else c0
  buf0 = jnp.zeros((_ANDERSON + 1 if accelerate else 0, K), wA.dtype)
  false = jnp.zeros((), bool)
  wA, _, it, c, _, _, _, small, _ = lax.while_loop(
      cond, body, (wA, data.init(wA), it, c0, last0, buf0, zero, false, false))
  return wA, it, c, small


def _solve_path(ops, p, l1s, l2s, l1_start, tol_abs, max_iter, w0=None, tol_rel=None):
  """Runs the warm-started working-set solver along (l1s, l2s).

  ``l1s`` is (A,) for a common weight, or (A, p) for per-coordinate weights
  (0 leaves a coefficient unpenalized; the gap is then `weighted_gap` and
  the strong rule is not used). ``w0`` is the warm start (zeros if None).

  An α is done when, as in scikit-learn's ``enet_coordinate_descent``, the
  last coordinate sweep moved no coefficient by more than
  ``tol_rel``·max|w| and the duality gap is at most ``tol_abs``; every α
  gets at least one sweep (``tol_rel=None`` drops the first condition).
  ``converged`` records that, and ``n_iter`` (the
  sweeps of that α) never exceeds ``max_iter``.
  """
  dtype = l2s.dtype
  vector = l1s.ndim == 2
  sizes = _buckets(p, ops.n)
  thresholds = jnp.asarray(sizes[:-1], jnp.int32)
  gram_cap = max(s for s in sizes if s <= max(_GRAM_ROWS * ops.n, sizes[0]))
  # The largest capacity below p. Prioritized working sets stay within it
  # while the support does: the support never outgrows its working set, so
  # from a start within it the solve never falls back to sweeping all p
  # features, where neither Gram blocks nor Newton steps apply and CD on an
  # ill-conditioned p ≫ n problem crawls.
  ws_cap = sizes[-2] if (len(sizes) > 1 and ops.n < p) else p
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
        # The step condition only matters for the final solve to tol_abs.
        wA_new, it, c, small = _sub_solve(data, wA, k, l1A, l2, s["tol"], s["it"], max_iter,
                                          s["c"], truncated, tol_rel, s["tol"] <= tol_abs)
        wf = s["w"].at[ii].set(wA_new, mode="drop")
        # The full KKT check, one pass over all p features.
        xtr, r2, ry = ops.refresh(wf, s["xtr"], ii, wA_new - wA)
        gap = gap_of(wf, xtr, l1, l2, r2, ry)
        nviol = jnp.sum(usable & ~in_ws & (jnp.abs(xtr) > l1), dtype=jnp.int32)
        return dict(wA=wA_new, w=wf, xtr=xtr, r2=r2, ry=ry, it=it, c=c, gap=gap, tol=tol_abs,
                    nviol=nviol, small=small, done=((gap <= tol_abs) & small) | (nviol > 0))

      zero = jnp.zeros((), jnp.int32)
      # Under jax.vmap a switch runs every branch: `b != index` ends the
      # loops at once in the lanes that did not pick this one.
      s = dict(wA=wA, w=w, xtr=xtr, r2=r2, ry=ry, it=it, c=zero, gap=gap, tol=tol0, nviol=zero,
               small=jnp.zeros((), bool), done=b != index)
      s = lax.while_loop(cond, body, s)
      return tuple(s[key] for key in ("w", "xtr", "r2", "ry", "it", "gap", "nviol", "small"))
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
      if ops.n < p:
        cap = jnp.where(nnz < ws_cap, ws_cap, p)
      else:
        cap = jnp.where(2 * nnz <= gram_cap, gram_cap, p)
      t = jnp.minimum(nc, jnp.minimum(want, cap))
      ratio = jnp.abs(xtr) / jnp.where(l1 > 0, l1, 1.0)
      score = jnp.where(cand, jnp.where(free, jnp.inf, ratio), -jnp.inf)
      b = jnp.sum(t > thresholds)
      w, xtr, r2, ry, it, gap, nviol, small = lax.switch(
          b, branches, b, w, xtr, s["r2"], s["ry"], score, nc, l1, l2, s["it"], s["gap"], t < nc)
      # The next working set holds at least the support and the violators.
      nnz = jnp.sum(usable & ((w != 0) | (l1 == 0)), dtype=jnp.int32)
      ok = (gap <= tol_abs) & small & (nviol == 0)
      return dict(w=w, xtr=xtr, r2=r2, ry=ry, it=it, gap=gap,
                  target=jnp.minimum(2 * t, jnp.maximum(t, nnz + nviol)), ok=ok, done=ok)

    # No sweep yet, so the step condition is unknown: at least one sweep.
    false = jnp.zeros((), bool)
    s = dict(w=w, xtr=xtr, r2=r2, ry=ry, it=jnp.zeros((), jnp.int32), gap=gap,
             target=jnp.asarray(sizes[0], jnp.int32), ok=false, done=false)
    s = lax.while_loop(cond, body, s)
    nxt = l1_prev if vector else l1
    return (s["w"], s["xtr"], s["r2"], s["ry"], nxt), (s["w"], s["gap"], s["it"], s["ok"])

  w0 = jnp.zeros(p, dtype) if w0 is None else w0
  xtr0, r20, ry0 = ops.full(w0)
  _, (coefs, gaps, n_iter, ok) = lax.scan(one_alpha, (w0, xtr0, r20, ry0, l1_start), (l1s, l2s))
  return PathArrays(coefs, gaps, n_iter, ok)


def _gram_path(Q, q, y2, l1s, l2s, l1_start, tol_abs, tol_rel, max_iter):
  # tol_rel bounds the largest coefficient change of the last sweep,
  # relative to max|w| (scikit-learn's first condition).
  return _solve_path(_gram_ops(Q, q, y2), Q.shape[0], l1s, l2s, l1_start, tol_abs, max_iter,
                     tol_rel=tol_rel)


def _residual_path(X, y, l1s, l2s, l1_start, tol_abs, tol_rel, max_iter):
  return _solve_path(_residual_ops(X, y), X.shape[1], l1s, l2s, l1_start, tol_abs, max_iter,
                     tol_rel=tol_rel)


def residual_solve(X, y, l1, l2, w0, tol_abs, max_iter, tol_rel=None):
  """One problem, from the warm start w0: per-coordinate ``l1`` (p,) or one
  scalar for all, scalar ``l2``, centered (X, y). Returns (w, gap, sweeps,
  converged). For use inside other jitted programs (``jr.linear.fit``)."""
  out = _solve_path(_residual_ops(X, y), X.shape[1], l1[None], jnp.reshape(l2, (1,)),
                    jnp.asarray(jnp.inf, X.dtype), tol_abs, max_iter, w0=w0, tol_rel=tol_rel)
  return out.coefs[0], out.dual_gaps[0], out.n_iter[0], out.converged[0]


def _block_solve(block, k, l1, l2, w0, tol_abs, tol_rel, max_iter):
  """One working set, warm-started at w0, on its `_GramBlock` or
  `_SparseBlock` (the first k slots used, the rest zero padding; for a
  `_SparseBlock`, k is all its slots, of which it marks those in use):
  `_sub_solve`'s sweeps with extrapolation (and Newton steps on a Gram
  block), to a block gap of at most ``tol_abs`` after a sweep that moved no
  coefficient by more than ``tol_rel``·max|w|. For the sparse solver's
  working sets. Returns (w, sweeps, whether the last sweep was small)."""
  wA, it, _, small = _sub_solve(block, w0, k, l1, l2, tol_abs, jnp.zeros((), jnp.int32),
                                max_iter, tol_rel=tol_rel)
  return wA, it, small


def cyclic_solve(X, y, l1, l2, w0, tol_abs, tol_rel, max_iter):
  """Cyclic CD on one centered problem, for ``jax.vmap``: no capacities,
  Newton steps or extrapolation, whose conditionals a batch would run in
  every lane. Each round is one `_sub_solve` sweep over all p coordinates
  (the residual maintained, O(np)), then, unless that sweep was already
  small, `_sub_solve` on the support alone (its columns gathered into a
  block) until its last sweep is small. ``l1`` (p,) or a scalar, scalar
  ``l2`` (sum form). Done, as `residual_solve`, after a full sweep that
  moved no coefficient by more than ``tol_rel``·max|w| at a duality gap of
  at most ``tol_abs``. Returns (w, sweeps, converged)."""
  X, y = jnp.asarray(X), jnp.asarray(y)
  p = X.shape[1]
  XT = X.T
  full = _ResidualBlock(XT, y)
  d = full.diag()
  vector = jnp.ndim(l1) == 1

  def cond(s):
    w, it, done = s
    return (~done) & (it < max_iter)

  def body(s):
    w, it, _ = s
    w, it, _, small = _sub_solve(full, w, p, l1, l2, None, it, it + 1, tol_rel=tol_rel,
                                 accelerate=False)
    xtr, r2, ry = full.norms(w, full.init(w))
    done = small & (_gap(w, xtr, l1, l2, r2, ry, d) <= tol_abs)
    # The support, front-packed (slots past it hold the out-of-range p).
    ii, k = _compact(w != 0, p)
    get = lambda v: v.at[ii].get(mode="fill", fill_value=0)
    support = _ResidualBlock(XT.at[ii].get(mode="fill", fill_value=0), y)
    # A small full sweep leaves nothing to do on the support: no sweep.
    wA, it, _, _ = _sub_solve(support, get(w), k, get(l1) if vector else l1, l2, None, it,
                              jnp.where(small, it, max_iter), tol_rel=tol_rel, accelerate=False)
    return w.at[ii].set(wA, mode="drop"), it, done

  return lax.while_loop(cond, body, (w0, jnp.zeros((), jnp.int32), jnp.zeros((), bool)))


def gram_solve(Q, q, l1, l2, w0, tol_rel, max_iter):
  """Plain cyclic CD on ½wᵀQw − qᵀw + l1ᵀ|w| + (l2/2)‖w‖² (Q a k × k
  Gram block, ``l1`` (k,) or a scalar), for ``jax.vmap`` over problems
  (cross-validation folds): `_sub_solve` on the whole block, O(k) a
  coordinate update, without Newton steps or extrapolation. Stops on the
  step condition alone (the last sweep moved no coefficient by more than
  ``tol_rel``·max|w|) or after ``max_iter`` sweeps. Returns w."""
  Q, q = jnp.asarray(Q), jnp.asarray(q)
  data = _GramBlock(Q, q, jnp.zeros((), Q.dtype))
  return _sub_solve(data, w0, Q.shape[0], l1, l2, None, jnp.zeros((), jnp.int32), max_iter,
                    tol_rel=tol_rel, accelerate=False)[0]


#: The path from the Gram matrix Q = XᵀX and q = Xᵀy of centered data.
gram_path = jax.jit(_gram_path, static_argnames=("max_iter",))
#: The path maintaining the residual of centered (X, y).
residual_path = jax.jit(_residual_path, static_argnames=("max_iter",))
#: One warm-started working set on its Gram block or sparse columns (`_block_solve`).
block_solve = jax.jit(_block_solve, static_argnames=("max_iter",))
