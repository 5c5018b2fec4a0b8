r"""Single and batched fits of penalized linear models, differentiable in α.

Objectives, in scikit-learn's scaling (n = number of training samples):

.. math::

   \text{squared:}\quad \min_{w, b}\ \frac{1}{2n}\|y - Xw - b\|_2^2 + \mathrm{pen}(w)

   \text{logistic:}\quad \min_{w, b}\ \frac{1}{n}\sum_i \log(1 + e^{z_i}) - y_i z_i
   + \mathrm{pen}(w), \qquad z = Xw + b,\ y_i \in \{0, 1\}

with ``pen`` one of ``jr.L2(α)`` ((α/2)‖w‖²), ``jr.L1(α)`` (α‖w‖₁, optionally
weighted) or ``jr.ElasticNet(α, r)`` (α r‖w‖₁ + α(1−r)/2 ‖w‖²). So
``Lasso(alpha=a)`` is ``L1(a)``, ``Ridge(alpha=a)`` is ``L2(a/n)`` and
``LogisticRegression(C=c)`` is ``L2(1/(n c))``.

Solvers:

* ridge: closed form (a linear solve, in whichever of the p×p or n×n forms
  is smaller).
* lasso and elastic net, ``fit`` (solver ``"cd"``, the default): the
  working-set coordinate descent of :func:`jaxreg.linear.lasso_path` run at
  the one α — the support plus the features that violate the optimality
  conditions most, a Gram block per working set, Newton steps on the sign
  pattern — until the duality gap is at most max(tol, 100ε)·‖y_c‖²
  (scikit-learn's rule; L1 weights of 0 leave coefficients unpenalized).
  Under ``jax.vmap`` it falls back to plain cyclic coordinate descent,
  whose lock-step loops batch.
* elastic net, ``fit_batch``: semismooth Newton on the n-dimensional dual,
  a chunk of problems in lock-step (each step a batched n×n Cholesky solve;
  :mod:`jaxreg.linear.solvers.dual_newton`), where n ≤ max(p, 64) and l1_ratio < 1.
* otherwise (``fit_batch`` with the lasso, ``tune_cv``'s fallback,
  ``solver="fista"``): FISTA with restarts, whose matrix-vector products
  batch well under ``vmap``.

Each of these is followed by a Newton (conjugate-gradient) polish on the
support, which makes the solution exact once the support and signs are
right and is kept only if it keeps the signs and satisfies the optimality
conditions off the support. Logistic-L2: damped Newton with the closed-form
Hessian; logistic-L1 and elastic net: proximal Newton (the solver of
:func:`jaxreg.linear.logistic_path`). Every solver stops on optimality (a
duality gap, or the largest violation of the optimality conditions), never
on a small step alone, and reports ``converged``.

Derivatives (in α, l1_ratio, X and y) come from implicit differentiation
through :func:`jaxreg.implicit.implicit_solution`, never by unrolling the
solver. With the support S and the signs s of the solution fixed, the
optimality condition restricted to S is

.. math::  \nabla_S \mathcal{L}(w) + \alpha(1-r)\,w_S + \alpha r\,s_S = 0,
           \qquad w_{S^c} = 0,

which is smooth in (w, α, r, X, y): its derivative gives, for the squared
loss, ∂w_S/∂α = −(X_SᵀX_S/n + α(1−r)I)⁻¹(r s_S + (1−r)w_S) and ∂w/∂α = 0 off
the support. A gradient of a validation loss therefore costs one
conjugate-gradient solve with the (restricted) Hessian, and second
derivatives work as well (they are the derivatives of this smooth piece).

At an α where the support changes, w*(α) has a kink: the returned derivative
is the one of the piece whose support is that of the computed solution —
coefficients that are exactly 0 count as off the support, so at a kink the
derivative is that of the *smaller* support (the side of larger α for the
lasso path). It is never NaN.

References:
  Friedman, Hastie & Tibshirani (2010), "Regularization paths for generalized
  linear models via coordinate descent". Beck & Teboulle (2009), FISTA.
  Bertrand et al. (2020), "Implicit differentiation of lasso-type models for
  hyperparameter optimization". Blondel et al. (2022), "Efficient and modular
  implicit differentiation".
"""

from __future__ import annotations

import functools
import math
import warnings
from typing import Any, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.sparse.linalg import cg

from jaxreg.penalties import soft_threshold
from jaxreg import _checks, _chunks
from jaxreg.implicit import default_tol, implicit_solution
from jaxreg import penalties as _penalties
from jaxreg.linear import _engine, _sparse
from jaxreg.linear import datafits as _datafits
from jaxreg.linear import _coordinate_descent
from jaxreg.linear.solvers import prox_newton
from jaxreg.linear._data import (center, check_sample_weight, check_sparse_X, check_Xy,
                                 square_root_form, weighted_rows)
from jaxreg.linear.solvers.dual_newton import enet_dual_newton
from jaxreg.penalties import ElasticNet, L1, L2, Penalty

__all__ = ["ConvergenceWarning", "FitResult", "fit", "fit_batch"]

_LOSSES = ("squared", "logistic")


class ConvergenceWarning(UserWarning):
  """A solver stopped at ``max_iter`` before meeting its tolerance.

  The result is returned anyway, with ``converged`` False where it applies
  (as scikit-learn's ``ConvergenceWarning``, also a ``UserWarning``).
  """


class FitResult(NamedTuple):
  """A fitted linear model.

  Attributes:
    coef: (p,) coefficients w.
    intercept: scalar b (0 when ``fit_intercept=False``).
    n_iter: iterations of the solver (coordinate-descent sweeps, Newton or
      proximal-gradient steps; 0 for the closed-form ridge), at most
      ``max_iter``.
    converged: bool, whether the solver's optimality test passed (duality
      gap or optimality-condition violation within ``tol``); False is also
      reported by a :class:`ConvergenceWarning` when the result is concrete.
      (None only where a caller built the result without a solver.)
  """

  coef: Any
  intercept: Any
  n_iter: Any
  converged: Any = None


def _warn_unconverged(converged, what, hint):
  """Warns when a concrete ``converged`` has a False entry (never under jit,
  where the flag itself carries it)."""
  if not _checks.is_concrete(converged):
    return
  bad = ~np.asarray(converged, bool)
  if np.any(bad):
    where = "" if bad.ndim == 0 else f" for {int(bad.sum())} of {bad.size} problems"
    warnings.warn(f"{what} did not converge{where}: {hint}", ConvergenceWarning, stacklevel=3)


# --- argument handling --------------------------------------------------------


def _check_data(X, y, loss, name_x="X", name_y="y", batched=False):
  """The checks of :func:`jaxreg.linear._data.check_Xy` (X's floating dtype,
  as scikit-learn), after the loss's name and before its labels."""
  if loss not in _LOSSES:
    raise ValueError(f"loss must be one of {_LOSSES}, got {loss!r}.")
  X, y = check_Xy(X, y, name_x, name_y, batched=batched, dtype_from="X")
  if loss == "logistic" and _checks.is_concrete(y) and not bool(
      np.all((np.asarray(y) == 0) | (np.asarray(y) == 1))):
    raise ValueError(f"{name_y} must hold labels 0 and 1 for the logistic loss.")
  return X, y


def _penalty_parts(penalty, p, dtype, batched=False):
  """(a1, a2): per-coefficient ℓ1 weights (p,) and the ℓ2 strength, scalar.

  The penalty is α·r‖w‖₁ + α(1−r)/2‖w‖² in every case; written with the
  penalty's own leaves so derivatives in α and l1_ratio flow through.
  """
  if not isinstance(penalty, Penalty):
    raise TypeError(
        f"penalty must be a jaxreg penalty (jr.L1, jr.L2 or jr.ElasticNet), got "
        f"{type(penalty).__name__}.")
  if not isinstance(penalty, (L1, L2, ElasticNet)):
    raise TypeError(
        f"penalty must be jr.L1, jr.L2 or jr.ElasticNet for linear models, got "
        f"{type(penalty).__name__}.")
  if penalty.mask is not None:
    raise ValueError("penalty.mask is not supported by linear fits: every coefficient is "
                     "penalized (use L1 weights of 0 to leave coefficients unpenalized).")
  alpha = jnp.asarray(penalty.alpha, dtype)
  if alpha.ndim != (1 if batched else 0):
    if batched:
      raise ValueError(f"penalty.alpha must be a scalar or have shape (B,), got {alpha.shape}.")
    raise ValueError(
        f"penalty.alpha must be a scalar for fit, got shape {alpha.shape}; use "
        "jr.linear.fit_batch or jax.vmap for a batch of penalties.")
  zero = jnp.zeros((), dtype)
  if isinstance(penalty, L2):
    if penalty.weights is not None:
      # The solvers take one ℓ2 strength; dropping the weights would fit
      # another model than the one asked for.
      raise ValueError("L2 weights are not supported by linear fits (every coefficient "
                       "gets the same α); rescale the columns of X instead, or use L2 "
                       "without weights.")
    return jnp.zeros((p,), dtype) + zero * alpha, alpha
  if isinstance(penalty, L1):
    if penalty.weights is None:
      return jnp.broadcast_to(alpha, (p,)), zero * alpha
    w = jnp.asarray(penalty.weights, dtype)
    if w.shape not in ((), (p,)):
      raise ValueError(f"L1 weights must be a scalar or have shape ({p},), got {w.shape}.")
    return alpha * jnp.broadcast_to(w, (p,)), zero * alpha
  r = jnp.asarray(penalty.l1_ratio, dtype)
  if r.ndim != 0:
    raise ValueError(f"penalty.l1_ratio must be a scalar for fit, got shape {r.shape}.")
  return jnp.broadcast_to(alpha * r, (p,)), alpha * (1.0 - r)


# --- squared loss -------------------------------------------------------------


_soft = soft_threshold


def _ridge_closed(Xc, yc, n, a2):
  """argmin (1/2n)‖yc − Xc w‖² + (a2/2)‖w‖², of minimum norm when a2 = 0.

  From the thin SVD Xc = U diag(s) Vᵀ: w = V diag(s / (s² + n·a2)) Uᵀ yc.
  At a2 = 0 singular values below max(m, p)·ε·s_max count as 0 (the
  cutoff of ``numpy.linalg.lstsq``), which makes w the minimum-norm
  least-squares solution, as ``lstsq`` returns, when X has rank < p (p ≥ n,
  or collinear columns).
  """
  U, sv, Vt = jnp.linalg.svd(Xc, full_matrices=False)
  cutoff = max(Xc.shape) * jnp.finfo(Xc.dtype).eps * jnp.max(sv, initial=0.0)
  denom = sv * sv + n * a2
  keep = (a2 > 0) | (sv > cutoff)
  scale = jnp.where(keep & (denom > 0), sv / jnp.where(denom > 0, denom, 1.0), 0.0)
  return Vt.T @ (scale * (U.T @ yc))


def _cd_gap_tol(tol, dtype):
  """The duality-gap tolerance (relative to ‖yc‖²) of the working-set solve.

  ``fit``'s ``tol`` (1e-10 in float64, 1e-5 in float32) is used as
  scikit-learn's relative gap tolerance, raised to the 100·ε that rounding
  lets one certify (2.2e-14 / 1.2e-5): the support and signs are then
  settled, and the Newton polish that follows makes the answer exact.
  """
  return max(float(tol), 100.0 * float(jnp.finfo(dtype).eps))


def _cd_working_set(Xc, yc, n, a1, a2, w0, tol, max_iter, uniform=False):
  """The solution of (1/2n)‖yc − Xc w‖² + a1ᵀ|w| + (a2/2)‖w‖² by the path
  solver of ``lasso_path`` run at this one α.

  Prioritized working sets (the support plus the features that violate
  |X_jᵀR| ≤ n·a1_j most), each solved by cyclic coordinate descent on its
  Gram block with Newton steps on the sign pattern, until the duality gap
  of the sum form ½‖yc − Xc w‖² + n·a1ᵀ|w| + (n·a2/2)‖w‖² is at most
  tol·‖yc‖² (see `_cd_gap_tol`). Coordinates with a1_j = 0 are unpenalized.

  Under ``jax.vmap`` the working-set solver would run all its branches and
  Newton steps in every lane (batched predicates select rather than
  branch), so a batch runs the same engine's plain cyclic CD over all
  coordinates instead (`_coordinate_descent.cyclic_solve`, a custom
  batching rule). As in scikit-learn, a solve is done when the last sweep
  moved no coefficient by more than tol·max|w| and the gap is within
  tolerance. ``uniform`` (static) says every a1_j is equal: the solver then
  runs its scalar-weight program (strong rule, plain gap), about 3× faster
  per sweep on wide problems than the per-coordinate one. Returns (w,
  coordinate sweeps, converged).
  """
  def sum_form(Xc, yc, n, a1, a2):
    # The engine's sum form: l1 = n·a1, l2 = n·a2, gap tolerance tol·‖yc‖².
    gap_tol = _cd_gap_tol(tol, Xc.dtype)
    return n * a1, n * a2, gap_tol * jnp.dot(yc, yc), gap_tol

  @jax.custom_batching.custom_vmap
  def solve(Xc, yc, n, a1, a2, w0):
    l1, l2, tol_abs, tol_rel = sum_form(Xc, yc, n, a1[0] if uniform else a1, a2)
    w, _, it, ok = _coordinate_descent.residual_solve(Xc, yc, l1, l2, w0, tol_abs, max_iter,
                                                      tol_rel=tol_rel)
    return w, it, ok

  def cyclic(Xc, yc, n, a1, a2, w0):
    l1, l2, tol_abs, tol_rel = sum_form(Xc, yc, n, a1, a2)
    return _coordinate_descent.cyclic_solve(Xc, yc, l1, l2, w0, tol_abs, tol_rel, max_iter)

  @solve.def_vmap
  def _batched(axis_size, in_batched, *args):
    axes = [0 if b else None for b in in_batched]
    out = jax.vmap(cyclic, in_axes=axes)(*args)
    return out, (True, True, True)

  return solve(Xc, yc, n, a1, a2, w0)


def _fista_step(Xc, n, a2):
  """1/L for the squared loss, L = λ_max(XᵀX)/n + a2 by power iteration."""
  p = Xc.shape[1]
  dtype = Xc.dtype

  def pw(i, u):
    u = Xc.T @ (Xc @ u)
    return u / jnp.maximum(jnp.linalg.norm(u), jnp.finfo(dtype).tiny)

  u = jax.lax.fori_loop(0, 20, pw, jnp.ones(p, dtype) / jnp.sqrt(jnp.asarray(p, dtype)))
  # Power iteration approaches λ_max from below; the margin keeps the step
  # safely under 1/L.
  lmax = 1.2 * jnp.linalg.norm(Xc.T @ (Xc @ u)) / n + a2
  return 1.0 / jnp.maximum(lmax, jnp.finfo(dtype).tiny)


def _fista_sq(Xc, yc, n, a1, a2, w0, tol, max_iter, step):
  """Accelerated proximal gradient (FISTA, adaptive restart) for the squared loss.

  Each step is two matrix-vector products, so under ``jax.vmap`` a batch of
  problems advances in lock-step with dense batched products, which is what
  makes it the batched solver (coordinate descent is sequential in the
  coordinates). Stops when the largest change is below tol·max|w|.
  """
  dtype = Xc.dtype
  c = Xc.T @ yc / n
  tiny = jnp.finfo(dtype).tiny

  def cond(st):
    return (~st[4]) & (st[3] < max_iter)

  def body(st):
    w, z, t, it, _ = st
    g = Xc.T @ (Xc @ z) / n - c + a2 * z
    new = _soft(z - step * g, step * a1)
    d = new - w
    restart = jnp.sum((z - new) * d) > 0
    t_new = jnp.where(restart, 1.0, (1.0 + jnp.sqrt(1.0 + 4.0 * t * t)) / 2.0)
    beta = jnp.where(restart, 0.0, (t - 1.0) / t_new)
    done = jnp.max(jnp.abs(d)) <= tol * jnp.maximum(jnp.max(jnp.abs(new)), tiny)
    return new, new + beta * d, t_new, it + 1, done

  one = jnp.ones((), dtype)
  w, _, _, it, _ = jax.lax.while_loop(
      cond, body, (w0, w0, one, jnp.zeros((), jnp.int32), jnp.zeros((), bool)))
  return w, it


def _cg_cap(Xc):
  """Iterations allowed to a polish's conjugate-gradient solve.

  The operator is the identity off the support plus X_SᵀX_S/n (+ a2) on it:
  at most min(n, |S|) + 1 distinct eigenvalues, so CG ends in that many
  steps in exact arithmetic; twice that absorbs rounding. Without a cap
  (10·p by default) an ill-conditioned support on a wide X ran tens of
  thousands of products for a polish that is then rejected anyway.
  """
  return 2 * min(Xc.shape) + 10


def _polish_sq(Xc, yc, n, a1, a2, w, tol):
  """One Newton step on the support of w (signs fixed), by conjugate gradients.

  Returns the polished point and whether it is optimal: same signs on the
  support, and |∇_j| ≤ a1_j off it (the lasso's KKT conditions).
  """
  D, s = _support(w, a1)
  theta = (Xc, yc, n, a1, a2)
  F = lambda v: _squared_optimality(v, theta, D, s)
  op = lambda v: D * (Xc.T @ (Xc @ (D * v)) / n + a2 * (D * v)) + (1.0 - D) * v
  w_p = w - cg(op, F(w), tol=tol, atol=0.0, maxiter=_cg_cap(Xc))[0]
  g = Xc.T @ (yc - Xc @ w_p) / n - a2 * w_p
  slack = 10.0 * tol * (1.0 + jnp.max(jnp.abs(Xc.T @ yc)) / n)
  ok = jnp.all(jnp.where(D > 0, jnp.sign(w_p) == s, jnp.abs(g) <= a1 * (1.0 + 10.0 * tol) + slack))
  return w_p, ok


def _fista_rounds(Xc, yc, n, a1, a2, w0, tol, max_iter):
  """FISTA to a loose tolerance, then an exact Newton polish on the support.

  The polished point is accepted once it satisfies the optimality
  conditions; otherwise FISTA resumes with a 100× tighter tolerance (at
  most ``tol``) until it does or ``max_iter`` steps are spent: the test is
  optimality, not a small step. Far fewer iterations than running FISTA to
  ``tol`` itself: the support and signs are usually right long before the
  coefficients are accurate. Returns (w, steps, converged).
  """
  tol = jnp.asarray(tol, Xc.dtype)
  start = jnp.maximum(tol, 1e-4)
  step = _fista_step(Xc, n, a2)

  def cond(st):
    w, _, ok, it, t = st
    return (~ok) & (it < max_iter)

  def body(st):
    w, _, _, it, t = st
    w, k = _fista_sq(Xc, yc, n, a1, a2, w, t, max_iter - it, step)
    w_p, ok = _polish_sq(Xc, yc, n, a1, a2, w, tol)
    return w, w_p, ok, it + k, jnp.maximum(t * 1e-2, tol)

  w, w_p, ok, it, _ = jax.lax.while_loop(
      cond, body, (w0, w0, jnp.zeros((), bool), jnp.zeros((), jnp.int32), start))
  return jnp.where(ok, w_p, w), it, ok


def _squared_optimality(w, theta, D, s):
  """The optimality condition on the support D (signs s), identity off it.

  F(w) = D ⊙ (Xᵀ(X Dw − y)/n + a2·Dw + a1 ⊙ s) + (1 − D) ⊙ w. Written with
  D on both sides of the Hessian so that ∂F/∂w is symmetric (CG applies).
  """
  Xc, yc, n, a1, a2 = theta
  Dw = D * w
  g = Xc.T @ (Xc @ Dw - yc) / n + a2 * Dw + a1 * s
  return D * g + (1.0 - D) * w


def _support(w, a1):
  # Unpenalized coordinates (a1 = 0) belong to the smooth part everywhere.
  D = ((w != 0) | (a1 == 0)).astype(w.dtype)
  return D, jnp.sign(w)


def _fit_squared(X, y, m, a1, a2, fit_intercept, tol, max_iter, init, solver, uniform=False):
  Xc, yc, xm, ym, n = center(X, y, fit_intercept, mask=m)
  theta = (Xc, yc, n, a1, a2)
  sg = jax.lax.stop_gradient
  refine = 0
  if solver == "ridge":
    w_star = sg(_ridge_closed(Xc, yc, n, a2))
    it = jnp.zeros((), jnp.int32)
    ok = jnp.all(jnp.isfinite(w_star))
  else:
    w0 = jnp.zeros(X.shape[1], X.dtype) if init is None else sg(init)
    if solver == "cd":
      w_star, it, ok = _cd_working_set(*sg(theta), w0, tol, max_iter, uniform)
      refine = 1
    else:
      A, z = sg(Xc), sg(yc)
      A, z = square_root_form(A, z)
      w_star, it, ok = _fista_rounds(A, z, sg(n), sg(a1), sg(a2), w0, tol, max_iter)
  D, s = _support(w_star, sg(a1))
  w = _polished_solution(w_star, theta, D, s, tol, refine)
  b = ym - xm @ w
  return w, b, it, ok


def _newton_polish(w, theta, D, s, tol):
  """One Newton step on the support D of w (signs s fixed), by conjugate
  gradients, kept only if it satisfies the optimality conditions.

  On the right support and signs the problem is a linear system, so the
  step lands on the exact solution. CG stops at an absolute residual of
  tol·max|Xᵀy|/n (the scale of the gradient): a point that is already
  optimal costs one product, not a full solve. The step is kept when it
  preserves the signs on the support and |∇_j| ≤ a1_j holds off it.
  """
  Xc, yc, n, a1, a2 = theta
  dtype = Xc.dtype
  F = lambda v: _squared_optimality(v, theta, D, s)
  op = lambda v: D * (Xc.T @ (Xc @ (D * v)) / n + a2 * (D * v)) + (1.0 - D) * v
  scale = jnp.max(jnp.abs(Xc.T @ yc)) / n + jnp.finfo(dtype).tiny
  w_p = w - cg(op, F(w), tol=0.0, atol=tol * scale, maxiter=_cg_cap(Xc))[0]
  g = Xc.T @ (yc - Xc @ w_p) / n - a2 * w_p
  slack = 10.0 * tol * (1.0 + scale)
  pen = a1 > 0
  ok = jnp.all(jnp.where(D > 0, (jnp.sign(w_p) == s) | ~pen,
                         jnp.abs(g) <= a1 * (1.0 + 10.0 * tol) + slack))
  return jnp.where(ok & jnp.all(jnp.isfinite(w_p)), w_p, w)


def _polished_solution(w_star, theta, D, s, tol, refine):
  """w_star, Newton-polished if ``refine``, differentiable in theta.

  The value is the (polished) solver output; derivatives in θ = (X, y, n,
  a1, a2) come from implicit differentiation of the optimality condition on
  the support D with signs s (`_squared_optimality`), so they are exact for
  the piece of w*(θ) with that support whatever solver produced w_star.
  """
  sg = jax.lax.stop_gradient
  w_star = sg(w_star)
  if refine:
    w_star = _newton_polish(w_star, sg(theta), D, s, tol)
  sol = implicit_solution(lambda th, D, s: w_star, _squared_optimality, tol=tol)
  return sol(theta, D, s)


# --- logistic loss ------------------------------------------------------------


def _logloss(v, X, y, m, fit_intercept):
  """The log-loss weighted by the rows' weights m: Σᵢ mᵢℓᵢ / Σᵢ mᵢ."""
  w, b = v
  z = X @ w + (b if fit_intercept else 0.0)
  return jnp.sum(m * (jax.nn.softplus(z) - y * z)) / jnp.sum(m)


def _logistic_smooth(v, X, y, m, a2, fit_intercept):
  return _logloss(v, X, y, m, fit_intercept) + 0.5 * a2 * jnp.sum(v[0] ** 2)


def _logistic_optimality(v, theta, D, s, fit_intercept):
  X, y, m, a1, a2 = theta
  w, b = v
  Dv = (D * w, b)
  gw, gb = jax.grad(_logistic_smooth)(Dv, X, y, m, a2, fit_intercept)
  Fw = D * (gw + a1 * s) + (1.0 - D) * w
  Fb = gb if fit_intercept else b
  return (Fw, Fb)


def _hessian(v, X, y, m, a2, D, fit_intercept):
  """Dense Hessian of the smooth part in (w, b), masked to the support D."""
  w, b = v
  n, p = X.shape
  z = X @ w + (b if fit_intercept else 0.0)
  pr = jax.nn.sigmoid(z)
  d = m * pr * (1.0 - pr) / jnp.sum(m)
  Xa = jnp.concatenate([X * D, jnp.ones((n, 1), X.dtype) * (1.0 if fit_intercept else 0.0)], 1)
  H = (Xa * d[:, None]).T @ Xa
  diag = jnp.concatenate([a2 * D + (1.0 - D), jnp.where(fit_intercept, 0.0, 1.0)[None]])
  return H + jnp.diag(diag.astype(X.dtype))


def _newton(X, y, m, a1, a2, D, s, v0, fit_intercept, tol, max_iter):
  """Damped Newton on the smooth problem restricted to D (signs s fixed).

  Objective: loss(Dw, b) + (a2/2)‖Dw‖² + a1ᵀ(s ⊙ w); a backtracking line
  search (halving) guarantees descent far from the optimum. Stops when the
  gradient of that objective is at most tol·`_engine.kkt_scale` (∞-norm),
  or after a step the line search could not make (rounding). Returns
  (v, steps, converged).
  """
  tol_kkt = tol * _engine.kkt_scale(X, m)
  def obj(v):
    Dv = (D * v[0], v[1])
    return _logistic_smooth(Dv, X, y, m, a2, fit_intercept) + jnp.sum(a1 * s * D * v[0])

  def flat_grad(v):
    g = _logistic_optimality(v, (X, y, m, a1, a2), D, s, fit_intercept)
    return jnp.concatenate([g[0], jnp.reshape(g[1], (1,))])

  def cond(st):
    return (~st[2]) & (st[1] < max_iter)

  def small(v):
    return jnp.max(jnp.abs(flat_grad(v))) <= tol_kkt

  def body(st):
    v, it, _ = st
    H = _hessian(v, X, y, m, a2, D, fit_intercept)
    step = jnp.linalg.solve(H, flat_grad(v))
    dw, db = step[:-1], step[-1]
    f0 = obj(v)

    def ls_cond(t):
      return (obj((v[0] - t * dw, v[1] - t * db)) > f0) & (t > 1e-10)

    t = jax.lax.while_loop(ls_cond, lambda t: 0.5 * t, jnp.ones((), X.dtype))
    moved = t > 1e-10
    new = jax.tree_util.tree_map(lambda a, b: jnp.where(moved, a, b),
                                 (v[0] - t * dw, v[1] - t * db), v)
    return new, it + 1, small(new) | ~moved

  v, it, _ = jax.lax.while_loop(cond, body, (v0, jnp.zeros((), jnp.int32), small(v0)))
  return v, it, small(v)


def _enet_coords(a1, a2):
  """The solver view of Σⱼ a1ⱼ|wⱼ| + (a2/2)‖w‖² for (a1, a2) of `_penalty_parts`.

  ``ElasticNet(1, r)`` with row weights vⱼ = a1ⱼ + a2 and r = max a1/(max a1 +
  a2) gives a1ⱼ in ℓ1 and a2 in ℓ2 wherever a1 is uniform or a2 = 0, the two
  cases `_penalty_parts` returns (L1 weights come without an ℓ2 part).
  """
  p = a1.shape[0]
  c = jnp.max(a1)
  total = c + a2
  r = jnp.where(total > 0, c / jnp.where(total > 0, total, 1.0), 1.0)
  coords = _penalties.coordinates(_penalties.ElasticNet(jnp.ones_like(c), r), p, 1)
  v = jnp.concatenate([a1 + a2, jnp.zeros((1,), a1.dtype)])
  return _penalties.Coordinates(coords.penalty, v, coords.m, kind="separable", n_features=p,
                                n_outputs=1)


def _fit_logistic(X, y, m, a1, a2, fit_intercept, tol, max_iter, init, solver):
  """The binary log-loss, weighted by the rows' weights m (Σᵢ mᵢℓᵢ / Σᵢ mᵢ)."""
  sg = jax.lax.stop_gradient
  n, p = X.shape
  dtype = X.dtype
  v0 = (jnp.zeros(p, dtype), jnp.zeros((), dtype)) if init is None else sg(init)
  theta = (X, y, m, a1, a2)
  Xs, ys, ms, a1s, a2s = sg(theta)
  ones = jnp.ones(p, dtype)
  # The optimality test is relative to the largest gradient the log-loss
  # can have; below 100ε rounding decides it.
  tol_kkt = _cd_gap_tol(tol, dtype)
  if solver == "newton":
    v_star, it, ok = _newton(Xs, ys, ms, a1s, a2s, ones, jnp.zeros(p, dtype), v0, fit_intercept,
                             tol_kkt, max_iter)
  else:
    # Proximal Newton (the solver of ``logistic_path``), which stops when
    # the optimality conditions hold to tol, not on a small step.
    b0 = jnp.reshape(v0[1] if fit_intercept else jnp.zeros((), dtype), (1,))
    res = prox_newton.solve(Xs, jnp.reshape(ys, (-1, 1)).astype(dtype),
                            _datafits.Weighted(_datafits.Logistic(), ms),
                            _enet_coords(a1s, a2s), v0[0][:, None], b0,
                            fit_intercept=fit_intercept, tol=tol_kkt * _engine.kkt_scale(Xs, ms),
                            max_iter=max_iter)
    v_star, it, ok = (res.W[:, 0], res.b[0]), res.n_iter, res.converged
  D, s = _support(v_star[0], a1s)
  opt = functools.partial(_logistic_optimality, fit_intercept=fit_intercept)
  sol = implicit_solution(lambda th, D, s: v_star, opt, tol=tol)
  w, b = sol(theta, D, s)
  if not fit_intercept:
    b = jnp.zeros((), dtype)
  return w, b, it, ok


# --- public API ---------------------------------------------------------------


@functools.partial(jax.jit, static_argnames=("loss", "fit_intercept", "tol", "max_iter", "solver",
                                             "with_converged", "uniform"))
def _fit_impl(X, y, m, a1, a2, init, *, loss, fit_intercept, tol, max_iter, solver,
              with_converged=False, uniform=False):
  """(w, b, n_iter), and ``converged`` last when ``with_converged``.
  ``uniform``: every entry of a1 is known to be equal (no L1 weights)."""
  if loss == "squared":
    out = _fit_squared(X, y, m, a1, a2, fit_intercept, tol, max_iter, init, solver, uniform)
  else:
    out = _fit_logistic(X, y, m, a1, a2, fit_intercept, tol, max_iter, init, solver)
  return out if with_converged else out[:3]


_SOLVERS = ("auto", "cd", "fista")
# Names of the resolved solvers, accepted back (tune_cv passes them on).
_RESOLVED = ("ridge", "newton", "prox")


def _choose_solver(penalty, loss, solver, batched):
  if solver not in _SOLVERS + _RESOLVED:
    raise ValueError(f"solver must be one of {_SOLVERS}, got {solver!r}.")
  if isinstance(penalty, L2):
    return "ridge" if loss == "squared" else "newton"
  if loss == "logistic":
    return "prox"
  if solver in ("cd", "fista"):
    return solver
  return "fista" if batched else "cd"


def _prepare(X, y, penalty, loss, tol, max_iter, solver, batched=False):
  X, y = _check_data(X, y, loss, batched=batched)
  if not isinstance(penalty, (L1, L2, ElasticNet)):
    _penalty_parts(penalty, X.shape[-1], X.dtype)  # raises the right error
  solver = _choose_solver(penalty, loss, solver, batched)
  tol = default_tol(jnp.zeros((), X.dtype)) if tol is None else _check_tol(tol)
  if max_iter is None:
    max_iter = {"cd": 1000, "newton": 100, "fista": 20000, "prox": 100, "ridge": 1}[solver]
  return X, y, tol, _check_max_iter(max_iter), solver


def _check_tol(tol):
  """A finite tol > 0 as a Python float (it is a static argument)."""
  if isinstance(tol, bool) or isinstance(tol, jax.core.Tracer):
    raise TypeError(f"tol must be a Python number > 0, got {tol!r}.")
  try:
    value = float(tol)
  except (TypeError, ValueError) as e:
    raise TypeError(f"tol must be a number > 0, got {tol!r}.") from e
  if not (math.isfinite(value) and value > 0):
    raise ValueError(f"tol must be finite and > 0, got {tol!r}.")
  return value


def _check_max_iter(max_iter):
  """A positive Python int (it is a static argument: it sizes loops)."""
  if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)):
    raise TypeError(f"max_iter must be a positive integer, got {max_iter!r}.")
  if max_iter < 1:
    raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}.")
  return int(max_iter)


# --- any datafit × any penalty --------------------------------------------------


def _classic(penalty, loss, solver):
  """Whether the specialised solvers below handle this pair: the squared or
  logistic loss with L1 / L2 / elastic net, no mask, no L2 weights."""
  return (isinstance(loss, str) and loss in _LOSSES
          and isinstance(penalty, (L1, L2, ElasticNet)) and penalty.mask is None
          and not (isinstance(penalty, L2) and penalty.weights is not None)
          and solver in _SOLVERS + _RESOLVED)


_GENERIC_MAX_ITER = {"cd": 1000, "prox_newton": 200,
                     "fista": 1000 * _engine.FISTA_STEPS_PER_SWEEP}


def _generic_args(X, y, penalty, loss, tol, max_iter, solver, batched=False):
  """Validated arrays and settings for the generic engine."""
  if isinstance(loss, str) and loss.lower() not in _datafits.NAMES:
    raise ValueError(f"loss must be one of {tuple(_datafits.NAMES)} or a datafit, got {loss!r}.")
  if batched:
    Xs = jnp.asarray(X)
    if Xs.ndim != 3:
      raise ValueError(f"Xs must be a 3-d array (B, n, p), got shape {Xs.shape}.")
    if jnp.shape(y)[:1] != Xs.shape[:1]:
      raise ValueError(f"Xs and ys have different numbers of problems: {Xs.shape[0]} and "
                       f"{jnp.shape(y)[0] if jnp.ndim(y) else y!r}.")
    B = Xs.shape[0]
    # The first problem's penalty, for validation (leaves with a batch axis at index 0).
    pen0 = jax.tree_util.tree_map(
        lambda l: l[0] if jnp.ndim(l) >= 1 and jnp.shape(l)[0] == B else l, penalty)
    prob = _engine.prepare(Xs[0], np.asarray(y)[0] if _checks.is_concrete(y) else y[0], pen0,
                           loss, "Xs[0]", "ys[0]")
  else:
    prob = _engine.prepare(X, y, penalty, loss)
  name = _engine.check_solver(solver, prob.datafit)
  tol = default_tol(jnp.zeros((), prob.X.dtype)) if tol is None else _check_tol(tol)
  max_iter = _GENERIC_MAX_ITER[name] if max_iter is None else _check_max_iter(max_iter)
  return prob, tol, max_iter, name


def _generic_solve(X, Y, datafit, coords, tol, fit_intercept, max_iter, solver, W0=None,
                   b0=None):
  """One generic fit, made differentiable in coords (α), X and Y by implicit
  differentiation; the solver itself (from W0, b0 if given) is never differentiated."""
  prob = jax.lax.stop_gradient(_engine.Problem(X, Y, datafit, coords, False))
  W0, b0 = jax.lax.stop_gradient((W0, b0))
  res = _engine.solve_one(prob, fit_intercept=fit_intercept, tol=tol, max_iter=max_iter,
                          solver=solver, W0=W0, b0=b0)
  W, b = _engine.implicit(datafit, coords, X, Y, res.W, res.b, fit_intercept)
  return W, b, res.n_iter, res.converged


@functools.partial(jax.jit, static_argnames=("fit_intercept", "max_iter", "solver"))
def _generic_fit(X, Y, datafit, coords, tol, W0=None, b0=None, *, fit_intercept, max_iter,
                 solver):
  return _generic_solve(X, Y, datafit, coords, tol, fit_intercept, max_iter, solver, W0, b0)


@functools.partial(jax.jit, static_argnames=("fit_intercept", "max_iter", "solver"))
def _generic_fit_batch(Xs, Ys, datafit, penalty, tol, *, fit_intercept, max_iter, solver):
  B, p, T = Xs.shape[0], Xs.shape[2], Ys.shape[2]
  # Leaves with a leading axis of size B are mapped over, the others shared.
  in_axes = jax.tree_util.tree_map(lambda l: 0 if jnp.ndim(l) >= 1 and jnp.shape(l)[0] == B
                                   else None, penalty)

  def one(X, Y, pen):
    coords = _penalties.coordinates(pen, p, T)
    return _generic_solve(X, Y, datafit, coords, tol, fit_intercept, max_iter, solver)

  return jax.vmap(one, in_axes=(0, 0, in_axes))(Xs, Ys, penalty)


def _split_init(init, coef_shape, intercept_shape, dtype):
  """``init`` (a FitResult, a (coef, intercept) pair or coef alone) as
  (coef, intercept or None), shapes checked; (None, None) for None."""
  if init is None:
    return None, None
  if isinstance(init, FitResult) or (isinstance(init, tuple) and len(init) == 2):
    coef, intercept = init[0], init[1]
  else:
    coef, intercept = init, None
  _check_init_array(coef, coef_shape, "init (coefficients)")
  coef = jnp.asarray(coef, dtype)
  if intercept is not None:
    _check_init_array(intercept, intercept_shape, "init (intercept)")
    intercept = jnp.asarray(intercept, dtype)
  return coef, intercept


def _check_init_array(a, shape, name):
  if jnp.shape(a) != tuple(shape):
    raise ValueError(f"{name} must have shape {tuple(shape)}, got {jnp.shape(a)}.")
  if _checks.is_concrete(a) and not bool(np.all(np.isfinite(np.asarray(a)))):
    raise ValueError(f"{name} contains NaN or infinite values.")


def _generic_init(init, prob):
  """The generic solvers' (W0 (p, T), b0 (T,)) from a user's ``init``."""
  p, T = prob.X.shape[1], prob.Y.shape[1]
  shape = (p,) if prob.single_output else (p, T)
  coef, intercept = _split_init(init, shape, shape[1:], prob.X.dtype)
  if coef is None:
    return None, None
  W0 = jnp.reshape(coef, (p, T))
  b0 = None if intercept is None else jnp.reshape(intercept, (T,))
  return W0, b0


def _fit_generic(X, y, penalty, loss, fit_intercept, tol, max_iter, solver, init,
                 sample_weight=None):
  """``fit`` by the generic engine (any datafit × penalty, y (n,) or (n, T));
  with ``sample_weight``, on :class:`~jaxreg.linear.datafits.Weighted`."""
  prob, tol, max_iter, name = _generic_args(X, y, penalty, loss, tol, max_iter, solver)
  df = prob.datafit
  if sample_weight is not None:
    s = check_sample_weight(sample_weight, prob.X.shape[0], prob.X.dtype)
    df = (_datafits.Weighted(df.datafit, df.sample_weight * s)
          if isinstance(df, _datafits.Weighted) else _datafits.Weighted(df, s))
    name = _engine.check_solver(solver, df)
  W0, b0 = _generic_init(init, prob)
  W, b, it, ok = _generic_fit(prob.X, prob.Y, df, prob.coords, tol, W0, b0,
                              fit_intercept=bool(fit_intercept), max_iter=max_iter, solver=name)
  _warn_unconverged(ok, "jr.linear.fit", f"n_iter reached max_iter={max_iter}; raise max_iter "
                    "or tol.")
  return FitResult(*_unpack(prob, W, b), it, ok)


def _fit_weighted(X, y, penalty, loss, fit_intercept, tol, max_iter, solver, sample_weight,
                  init):
  """``fit`` with sample weights. The squared loss: on √s-scaled, s-centered
  rows (:func:`jaxreg.linear._data.weighted_rows`), then the intercept, so
  every squared-loss solver applies; any other datafit: the generic engine
  on :class:`~jaxreg.linear.datafits.Weighted`."""
  name = loss if isinstance(loss, str) else getattr(loss, "name", None)
  if name != "squared" or isinstance(loss, _datafits.Weighted):
    return _fit_generic(X, y, penalty, loss, fit_intercept, tol, max_iter, solver, init,
                        sample_weight)
  X, y = check_Xy(X, y, dtype_from="X", multi_output=True)
  s = check_sample_weight(sample_weight, X.shape[0], X.dtype)
  Xt, yt, x_mean, y_mean = weighted_rows(X, y, s, bool(fit_intercept))
  if isinstance(init, (FitResult, tuple)):
    init = init[0]
  res = fit(Xt, yt, penalty, loss, False, tol, max_iter, solver, init=init)
  return res._replace(intercept=y_mean - x_mean @ res.coef)


def _fit_sparse(X, y, penalty, loss, fit_intercept, tol, max_iter, sample_weight, init,
                solver="auto"):
  """``fit`` on a sparse X: the host solvers for the lasso / elastic net (per
  target) and the logistic models, FISTA on a BCOO for everything else."""
  from jaxreg.linear import paths as _paths   # paths imports this module
  name = loss if isinstance(loss, str) else getattr(loss, "name", None)
  lasso = isinstance(penalty, L1) and penalty.weights is None
  enet = isinstance(penalty, ElasticNet)
  plain = isinstance(loss, str) and getattr(penalty, "mask", None) is None and solver == "auto"
  if plain and name in ("logistic", "multinomial") and (
      lasso or enet or (isinstance(penalty, L2) and penalty.weights is None)):
    return _fit_sparse_logistic(X, y, penalty, name, fit_intercept, tol, max_iter, sample_weight,
                                init)
  r = 1.0 if lasso else float(penalty.l1_ratio) if enet else 0.0
  if not (plain and name == "squared" and r > 0 and _checks.is_concrete(penalty.alpha)
          and jnp.ndim(penalty.alpha) == 0 and jnp.ndim(y) in (1, 2)):
    return _fit_sparse_generic(X, y, penalty, loss, fit_intercept, tol, max_iter, sample_weight,
                               init, solver)
  dtype = np.float32 if getattr(X, "dtype", None) == np.float32 else jnp.result_type(float)
  tol = default_tol(jnp.zeros((), dtype)) if tol is None else _check_tol(tol)
  max_iter = 1000 if max_iter is None else _check_max_iter(max_iter)
  yv = np.asarray(y)
  targets = yv[:, None] if yv.ndim == 1 else yv
  shape = (X.shape[1],) if yv.ndim == 1 else (X.shape[1], targets.shape[1])
  coef0, _ = _split_init(init, shape, shape[1:], dtype)
  if coef0 is not None and yv.ndim == 1:
    coef0 = coef0[:, None]
  out = []
  for t in range(targets.shape[1]):   # independent problems, one per target
    path = _paths.sparse_enet_path(X, targets[:, t], r, alphas=[float(penalty.alpha)],
                                   fit_intercept=bool(fit_intercept), tol=tol,
                                   max_iter=max_iter, sample_weight=sample_weight,
                                   w0=None if coef0 is None else np.asarray(coef0[:, t]))
    out.append((path.coefs[0], path.intercepts[0], path.n_iter[0], path.converged[0]))
  coef, intercept, it, ok = (np.stack(a, axis=-1) for a in zip(*out))
  if yv.ndim == 1:
    coef, intercept = coef[:, 0], intercept[0]
  return FitResult(jnp.asarray(coef), jnp.asarray(intercept), jnp.asarray(np.max(it)),
                   jnp.asarray(np.all(ok)))


@functools.partial(jax.jit, static_argnames=("fit_intercept", "max_iter"))
def _sparse_fista(prob, tol, W0, b0, *, fit_intercept, max_iter):
  return _engine.solve_one(prob, fit_intercept=fit_intercept, tol=tol, max_iter=max_iter,
                           solver="fista", W0=W0, b0=b0)


def _sparse_settings(tol, max_iter, solver, dtype):
  """``(tol, max_iter)`` for the generic engine on a sparse X, whose solver
  is FISTA (any other named solver is a ValueError). With ``solver="auto"``
  a given ``max_iter`` counts sweeps of the solver a dense X would get,
  ``_engine.FISTA_STEPS_PER_SWEEP`` FISTA iterations each."""
  if solver not in ("auto", "fista"):
    raise ValueError(f"a sparse X is solved by solver='fista' (products with X only); got "
                     f"solver={solver!r}: pass solver='auto' or 'fista', or X dense.")
  tol = default_tol(jnp.zeros((), dtype)) if tol is None else _check_tol(tol)
  if max_iter is None:
    max_iter = _GENERIC_MAX_ITER["fista"]
  elif solver == "auto":
    max_iter = _check_max_iter(max_iter) * _engine.FISTA_STEPS_PER_SWEEP
  else:
    max_iter = _check_max_iter(max_iter)
  return tol, max_iter


def _fit_sparse_generic(X, y, penalty, loss, fit_intercept, tol, max_iter, sample_weight, init,
                        solver):
  """``fit`` of any datafit × penalty on a sparse X: the generic engine's
  FISTA, whose only use of X is products with X and Xᵀ, on a
  ``jax.experimental.sparse.BCOO`` (O(nnz) each, never densified)."""
  prob = _engine.prepare_sparse(X, y, penalty, loss, sample_weight)
  tol, max_iter = _sparse_settings(tol, max_iter, solver, prob.Y.dtype)
  W0, b0 = _generic_init(init, prob)
  res = _sparse_fista(prob, tol, W0, b0, fit_intercept=bool(fit_intercept), max_iter=max_iter)
  _warn_unconverged(res.converged, "jr.linear.fit", f"n_iter reached max_iter={max_iter}; "
                    "raise max_iter or tol.")
  return FitResult(*_unpack(prob, res.W, res.b), res.n_iter, res.converged)


def _fit_sparse_logistic(X, y, penalty, loss, fit_intercept, tol, max_iter, sample_weight, init):
  """``fit`` of the binary or multinomial log-loss on a sparse X, with L1, L2
  or the elastic net: :func:`jaxreg.linear.solvers.sparse_prox_newton.logistic`."""
  from jaxreg.linear.solvers import sparse_prox_newton
  Xs, s = check_sparse_X(X, sample_weight)
  dtype = Xs.dtype
  Y, _ = _datafits.prepare_targets(loss, y)
  binary = loss == "logistic"
  shape = (Xs.shape[1],) if binary else (Xs.shape[1], Y.shape[1])
  if Y.shape[0] != Xs.shape[0]:
    raise ValueError(f"y must have one label per row of X ({Xs.shape[0]} rows), got "
                     f"{Y.shape[0]}.")
  a1, a2 = _penalty_parts(penalty, Xs.shape[1], dtype)
  tol = default_tol(jnp.zeros((), dtype)) if tol is None else _check_tol(tol)
  tol = max(tol, float(100 * np.finfo(dtype).eps))
  # Multinomial: passes over the classes, each a block step (linear rate).
  max_iter = (100 if binary else 1000) if max_iter is None else _check_max_iter(max_iter)
  coef0, b0 = _split_init(init, shape, shape[1:], dtype)
  res = sparse_prox_newton.logistic(
      Xs, np.asarray(Y[:, 0] if binary else Y, dtype), float(np.asarray(a1)[0]), float(a2),
      fit_intercept=bool(fit_intercept), tol=tol, max_iter=max_iter, s=s,
      w0=None if coef0 is None else np.asarray(coef0),
      b0=None if b0 is None else np.asarray(b0))
  _warn_unconverged(res.converged, "jr.linear.fit", f"n_iter reached max_iter={max_iter}; "
                    "raise max_iter or tol.")
  return FitResult(jnp.asarray(res.coef), jnp.asarray(res.intercept, dtype),
                   jnp.asarray(res.n_iter), jnp.asarray(res.converged))


def _unpack(prob, W, b):
  """(p,) and scalar for single-output problems, (p, T) and (T,) otherwise."""
  if prob.single_output:
    return W[..., 0], b[..., 0]
  return W, b


def fit(X, y, penalty, loss: str = "squared", fit_intercept: bool = True,
        tol: Optional[float] = None, max_iter: Optional[int] = None,
        solver: str = "auto", *, sample_weight=None, init=None) -> FitResult:
  r"""Fits a penalized linear or logistic regression, differentiably in α.

  .. math::  \min_{w,b}\ \frac{1}{2n}\|y - Xw - b\|^2 + \mathrm{pen}(w)
             \quad\text{or}\quad \min_{w,b}\ \frac{1}{n}\sum_i \ell(x_i^\top w + b, y_i)
             + \mathrm{pen}(w)

  (ℓ the log-loss, labels in {0, 1}). The penalty is a pytree whose α is a
  leaf: ``fit`` is jit-able and vmap-able, a new α does not recompile, and
  ``jax.grad`` of any function of the result with respect to the penalty
  (α, l1_ratio), X or y works by implicit differentiation (one
  conjugate-gradient solve with the Hessian on the support; see the module
  docstring for the formula and for what is returned at a kink).

  Args:
    X: (n, p) design matrix.
    y: (n,) targets (labels 0/1 for ``loss="logistic"``), or (n, T) for T
      targets of the squared loss: coef is then (p, T) and intercept (T,),
      each target its own problem under a separable penalty (scikit-learn's
      ``Lasso`` on a 2-D y), jointly under ``GroupLasso(α, axis=1)``
      (``MultiTaskLasso``).
    penalty: ``jr.L2(α)``, ``jr.L1(α)`` (weights allowed) or
      ``jr.ElasticNet(α, r)`` with scalar leaves.
    loss: ``"squared"`` or ``"logistic"``.
    fit_intercept: fit an unpenalized intercept (by centring for the squared
      loss, as a free variable for the logistic loss).
    tol: finite tolerance > 0 (default 1e-10 in float64, 1e-5 in float32),
      raised to 100ε. Every solver stops on optimality: coordinate descent,
      as scikit-learn, once a sweep changed no coefficient by more than
      tol·max|w| and the duality gap (sum form, ½‖y_c − X_c w‖² + n·pen(w))
      is at most tol·‖y_c‖²; FISTA once the optimality conditions hold
      after its Newton polish; the logistic solvers once the largest
      violation of the optimality conditions is at most tol times the
      largest gradient the log-loss can have, max_j (1/n)Σᵢ|X_ij| (at
      least 1). Other datafit × penalty pairs (the generic engine) stop as
      ``jr.linear.path`` does: the largest optimality violation at most tol
      × the intercept-only model's largest gradient and, for the squared
      and logistic losses with ``L1``, ``L2``, ``ElasticNet`` or
      ``GroupLasso``, the duality gap at most tol × its mean deviance
      (tol·‖y_c‖²/n for the squared loss).
    max_iter: positive integer, cap on coordinate-descent sweeps (default
      1000), Newton steps (100) or proximal-gradient steps (20000).
    solver: for the squared loss with L1 / elastic net, ``"cd"`` (working-set
      coordinate descent, the default of ``fit``) or ``"fista"`` (accelerated
      proximal gradient); both end in the same exact solution after the
      Newton polish. ``"auto"`` picks.
    sample_weight: None, or (n,) finite weights ≥ 0, not all 0: the data
      term becomes the weighted mean of the row losses, (1/Σsᵢ)Σᵢ sᵢℓᵢ
      (for the squared loss (1/(2Σsᵢ))Σᵢ sᵢ(yᵢ − xᵢᵀw − b)², scikit-learn's
      ``ElasticNet`` semantics: it rescales the weights to sum to n, which
      gives the same problem); a weight 0 removes its row, an integer
      weight k repeats it k times. Any datafit (other than the squared
      loss through :class:`~jaxreg.linear.datafits.Weighted` and the
      generic engine's proximal Newton).
    init: warm start: a previous :class:`FitResult` (or a ``(coef,
      intercept)`` pair), or the coefficients alone, shaped as ``coef``.
      It changes where the solver starts, not the solution.

  A sparse ``X`` (``scipy.sparse``, ``BCOO``) is never densified: the squared
  loss with ``L1`` or ``ElasticNet`` (y of one or several independent
  targets) is solved by the sparse working-set solver (see
  :func:`jaxreg.linear.paths.sparse_enet_path`), the logistic and
  multinomial losses with ``L1``, ``L2`` or ``ElasticNet`` by proximal
  Newton over it (:mod:`jaxreg.linear.solvers.sparse_prox_newton`), both on
  the host, so neither under ``jax.jit`` nor differentiably; every other
  datafit × penalty (``MCP``, ``GroupLasso``, ``NonNegative``, Poisson,
  Huber, …) by the generic engine's FISTA on a ``BCOO`` copy, which only
  multiplies X (``solver`` must be ``"auto"`` or ``"fista"``; with
  ``"auto"`` a given ``max_iter`` counts sweeps of
  ``_engine.FISTA_STEPS_PER_SWEEP`` = 20 iterations).

  Returns:
    ``FitResult(coef, intercept, n_iter, converged)``: ``n_iter`` ≤
    ``max_iter``; ``converged`` is False when the solver stopped before
    meeting ``tol``, which also raises a :class:`ConvergenceWarning` outside
    ``jax.jit``. ``L2(0)`` gives the minimum-norm least-squares solution
    when it is not unique (p ≥ n), as ``numpy.linalg.lstsq``.

  Example:
    >>> import jax, jax.numpy as jnp, jaxreg as jr
    >>> X = jnp.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 3.0]])
    >>> y = jnp.array([0.0, 1.0, 2.0, 3.5])
    >>> res = jr.linear.fit(X, y, jr.L1(0.1))   # sklearn Lasso(alpha=0.1): [1.0, 0.1]
    >>> [round(float(c), 4) for c in res.coef]
    [1.0, 0.1]
    >>> bool(res.converged)
    True
    >>> val = lambda a: jnp.sum(jr.linear.fit(X, y, jr.L1(a)).coef)
    >>> g = jax.grad(val)(0.1)   # one linear solve, no unrolling

  References:
    Friedman, Hastie & Tibshirani (2010), glmnet; Bertrand et al. (2020),
    "Implicit differentiation of lasso-type models"; Blondel et al. (2022),
    "Efficient and modular implicit differentiation".
  """
  if _sparse.is_sparse(X):
    return _fit_sparse(X, y, penalty, loss, fit_intercept, tol, max_iter, sample_weight, init,
                       solver)
  # The binary log-loss takes its weights in the specialised solvers below.
  classic_logistic = loss == "logistic" and jnp.ndim(y) == 1 and _classic(penalty, loss, solver)
  if sample_weight is not None and not classic_logistic:
    return _fit_weighted(X, y, penalty, loss, fit_intercept, tol, max_iter, solver,
                         sample_weight, init)
  # Several targets (y of shape (n, T)) are the generic engine's: independent
  # problems under a separable penalty, coupled under GroupLasso(axis=1).
  if jnp.ndim(y) != 1 or not _classic(penalty, loss, solver):
    return _fit_generic(X, y, penalty, loss, fit_intercept, tol, max_iter, solver, init)
  X, y, tol, max_iter, solver = _prepare(X, y, penalty, loss, tol, max_iter, solver)
  a1, a2 = _penalty_parts(penalty, X.shape[-1], X.dtype)
  m = (jnp.ones(X.shape[0], X.dtype) if sample_weight is None
       else check_sample_weight(sample_weight, X.shape[0], X.dtype))
  uniform = isinstance(penalty, ElasticNet) or (isinstance(penalty, L1) and penalty.weights is None)
  w0, b0 = _split_init(init, (X.shape[1],), (), X.dtype)
  if w0 is None or solver == "ridge":
    start = None
  elif loss == "logistic":
    start = (w0, jnp.zeros((), X.dtype) if b0 is None else b0)
  else:
    start = w0
  w, b, it, ok = _fit_impl(X, y, m, a1, a2, start, loss=loss, fit_intercept=bool(fit_intercept),
                           tol=tol, max_iter=max_iter, solver=solver, with_converged=True,
                           uniform=uniform)
  _warn_unconverged(ok, "jr.linear.fit", f"n_iter reached max_iter={max_iter}; raise max_iter "
                    "or tol.")
  return FitResult(w, b, it, ok)


def _fit_batch_dual(Xs, ys, penalty, fit_intercept, tol, max_iter, chunk_size):
  """fit_batch for the squared loss with jr.ElasticNet, by dual semismooth Newton.

  Chunks of problems run one after another, each in lock-step (see
  :mod:`jaxreg.linear.solvers.dual_newton`). A chunk with a problem that method
  leaves unsolved (l1_ratio = 1, where the dual is not smooth, or no
  convergence) runs FISTA + Newton polish for those problems. Either answer
  goes through the implicit solution of :func:`fit`, hence the same
  derivatives in α, l1_ratio, X and y.
  """
  B, n, p = Xs.shape
  dtype = Xs.dtype
  n_chunks = -(-B // chunk_size)
  pad = n_chunks * chunk_size - B
  sg = jax.lax.stop_gradient

  def chunked(a):
    # Padding repeats the last problem, which converges along with it.
    if pad:
      a = jnp.concatenate([a, jnp.repeat(a[-1:], pad, axis=0)])
    return a.reshape((n_chunks, chunk_size) + a.shape[1:])

  def solve(args):
    X, y, pen = args
    a1, a2 = jax.vmap(lambda q: _penalty_parts(q, p, dtype))(pen)
    m = jnp.ones(n, dtype)
    Xc, yc, xm, ym, nn = jax.vmap(lambda X_, y_: center(X_, y_, fit_intercept, mask=m))(X, y)
    theta = (Xc, yc, nn, a1, a2)
    w_d, it, ok = enet_dual_newton(sg(Xc), sg(yc), sg(a1[:, 0]), sg(a2), tol, min(max_iter, 100))

    def fallback():
      # Unconverged Newton iterates are good starts; the lasso's are not.
      w0 = jnp.where(jnp.isfinite(w_d) & (sg(a2) > 0)[:, None], w_d, 0.0)
      # FISTA gets what is left of max_iter, so n_iter stays within it.
      fista = lambda Xb, yb, nb, a1b, a2b, w0b, left: _fista_rounds(Xb, yb, nb, a1b, a2b, w0b,
                                                                      tol, left)
      w_f, it_f, ok_f = jax.vmap(fista)(*sg(theta), w0, max_iter - it)
      return (jnp.where(ok[:, None], w_d, w_f), jnp.where(ok, it, it + it_f),
              ok | ok_f)

    w_star, it, conv = jax.lax.cond(jnp.all(ok), lambda: (w_d, it, ok), fallback)
    D, s = jax.vmap(_support)(w_star, sg(a1))
    polished = lambda wb, th, Db, sb: _polished_solution(wb, th, Db, sb, tol, 0)
    w = jax.vmap(polished)(w_star, theta, D, s)
    b = ym - jnp.sum(xm * w, axis=1)
    return w, b, it, conv

  parts = (chunked(Xs), chunked(ys), jax.tree_util.tree_map(chunked, penalty))
  w, b, it, conv = jax.lax.map(solve, parts)
  return w.reshape(-1, p)[:B], b.reshape(-1)[:B], it.reshape(-1)[:B], conv.reshape(-1)[:B]


def _sparse_batch(Xs):
  """The B sparse (n, p) matrices of a sparse batch (a sequence of them or a
  3-D BCOO), or None for a dense batch."""
  if _sparse.is_sparse(Xs):
    if len(Xs.shape) != 3:
      raise ValueError(f"Xs must be (B, n, p), got a sparse array of shape {Xs.shape}.")
    return [Xs[i] for i in range(Xs.shape[0])]
  if isinstance(Xs, (list, tuple)) and Xs and any(_sparse.is_sparse(X) for X in Xs):
    if not all(_sparse.is_sparse(X) for X in Xs):
      raise TypeError("Xs mixes sparse and dense matrices; pass all sparse or all dense.")
    return list(Xs)
  return None


def _fit_batch_sparse(mats, ys, penalty, loss, fit_intercept, tol, max_iter, solver):
  """fit_batch on B sparse designs: FISTA on each one's BCOO, vmapped."""
  B = len(mats)
  if jnp.shape(ys)[:1] != (B,):
    raise ValueError(f"Xs and ys have different numbers of problems: {B} and "
                     f"{jnp.shape(ys)[0] if jnp.ndim(ys) else ys!r}.")
  if jnp.ndim(penalty.alpha) and not jnp.shape(penalty.alpha) == (B,):
    raise ValueError(f"penalty.alpha must be a scalar or have shape ({B},), got "
                     f"{jnp.shape(penalty.alpha)}.")
  pen0 = jax.tree_util.tree_map(
      lambda l: l[0] if jnp.ndim(l) >= 1 and jnp.shape(l)[0] == B else l, penalty)
  probs = [_engine.prepare_sparse(X, ys[i], pen0, loss, name_X=f"Xs[{i}]", name_y=f"ys[{i}]")
           for i, X in enumerate(mats)]
  prob, shape = probs[0], probs[0].X.shape
  for i, P in enumerate(probs):
    if P.X.shape != shape:
      raise ValueError(f"Xs[{i}] has shape {P.X.shape}, Xs[0] {shape}: a batch shares one shape.")
  tol, max_iter = _sparse_settings(tol, max_iter, solver, prob.Y.dtype)
  Ys = jnp.stack([P.Y for P in probs])
  nse = max(int(P.X.nse) for P in probs)
  pad = lambda a: jnp.pad(a, [(0, nse - a.shape[0])] + [(0, 0)] * (a.ndim - 1))
  data = jnp.stack([pad(P.X.data) for P in probs])
  idx = jnp.stack([pad(P.X.indices) for P in probs])
  W, b, it, ok = _sparse_fit_batch_impl(data, idx, Ys, prob.datafit, penalty, tol, shape=shape,
                                        fit_intercept=bool(fit_intercept), max_iter=max_iter)
  _warn_unconverged(ok, "jr.linear.fit_batch", f"n_iter reached max_iter={max_iter}; raise "
                    "max_iter or tol.")
  return FitResult(*_unpack(prob, W, b), it, ok)


@functools.partial(jax.jit, static_argnames=("shape", "fit_intercept", "max_iter"))
def _sparse_fit_batch_impl(data, idx, Ys, datafit, penalty, tol, *, shape, fit_intercept,
                           max_iter):
  from jax.experimental import sparse as jsparse
  B, T = Ys.shape[0], Ys.shape[2]
  in_axes = jax.tree_util.tree_map(lambda l: 0 if jnp.ndim(l) >= 1 and jnp.shape(l)[0] == B
                                   else None, penalty)

  def one(d, i, Y, pen):
    prob = _engine.Problem(jsparse.BCOO((d, i), shape=shape), Y, datafit,
                           _penalties.coordinates(pen, shape[1], T), False)
    res = _engine.solve_one(prob, fit_intercept=fit_intercept, tol=tol, max_iter=max_iter,
                            solver="fista")
    return res.W, res.b, res.n_iter, res.converged

  return jax.vmap(one, in_axes=(0, 0, 0, in_axes))(data, idx, Ys, penalty)


def fit_batch(Xs, ys, penalty, loss: str = "squared", fit_intercept: bool = True,
              tol: Optional[float] = None, max_iter: Optional[int] = None,
              solver: str = "auto", chunk_size: Optional[int] = None) -> FitResult:
  r"""Fits B independent problems of the same shape at once (``jax.vmap`` of fit).

  Problem b is ``fit(Xs[b], ys[b], penalty_b)``, with ``penalty_b`` the
  penalty itself when its leaves are scalars, or its b-th entry when they
  have a leading axis of size B. Problems are solved in chunks of
  ``chunk_size``, one chunk after another; a chunk iterates until all its
  problems have converged. Every chunk runs the program compiled for
  ``chunk_size`` problems, so a batch of a new size B compiles no solver
  (for the dense elastic net, lasso and ridge with concrete inputs).

  Solvers (``solver="auto"``): for the squared loss with ``jr.ElasticNet``
  and n ≤ max(p, 64), semismooth Newton on the n-dimensional dual, all
  problems of a chunk in lock-step (each step an n × n batched Cholesky
  solve; converged after a few steps, typically 6 to 12, more as l1_ratio
  nears 1; see :mod:`jaxreg.linear.solvers.dual_newton`), with FISTA + polish where
  it does not apply (l1_ratio = 1); otherwise, and for ``jr.L1``, FISTA
  plus a Newton polish on the support, vmapped (its matrix-vector products
  batch well; coordinate descent's updates are sequential), on the p × p
  square-root form of a problem with n > p (the same objective up to a
  constant, cheaper steps); ridge in closed form. ``solver="fista"`` or
  ``"cd"`` force those (vmapped).
  Differentiable like :func:`fit`.

  Args:
    Xs: (B, n, p) design matrices; or B sparse ones of one shape (a
      sequence of ``scipy.sparse`` / 2-D ``BCOO``, or a (B, n, p) ``BCOO``),
      never densified: each is solved by the generic engine's FISTA on its
      own ``BCOO`` (stored entries padded to one count), all in lock-step.
    ys: (B, n) targets.
    penalty: a penalty with scalar leaves (shared) or leaves of shape (B,).
    loss, fit_intercept, tol, max_iter, solver: as in :func:`fit`
      (``n_iter`` counts Newton steps for the dual solver, plus FISTA
      steps where it falls back).
    chunk_size: problems solved together at a time; chunks run in sequence
      (default 8 on CPU, sized for its caches; elsewhere 40 for the dual
      Newton solver and 128 otherwise: on a GPU, one chunk of all B
      problems is the natural choice).

  Returns:
    ``FitResult`` with ``coef`` (B, p), ``intercept`` (B,), ``n_iter`` (B,)
    and ``converged`` (B,) (a :class:`ConvergenceWarning` names how many
    problems did not converge, outside ``jax.jit``).

  Example:
    >>> import jax.numpy as jnp, jaxreg as jr
    >>> Xs = jnp.stack([jnp.eye(3), 2 * jnp.eye(3)])
    >>> ys = jnp.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    >>> jr.linear.fit_batch(Xs, ys, jr.L2(jnp.array([0.1, 1.0])), fit_intercept=False).coef.shape
    (2, 3)

  References:
    Friedman, Hastie & Tibshirani (2010), glmnet. Li, Sun & Toh (2018),
    "A highly efficient semismooth Newton augmented Lagrangian method for
    solving lasso problems".
  """
  mats = _sparse_batch(Xs)
  if mats is not None:
    return _fit_batch_sparse(mats, ys, penalty, loss, fit_intercept, tol, max_iter, solver)
  if not _classic(penalty, loss, solver):
    prob, tol, max_iter, name = _generic_args(Xs, ys, penalty, loss, tol, max_iter, solver,
                                              batched=True)
    B = jnp.shape(Xs)[0]
    if prob.datafit.name in ("squared", "huber", "poisson"):
      Ys = jnp.asarray(ys)
      Ys = Ys[..., None] if Ys.ndim == 2 else Ys
    else:  # labels: each problem's own classes
      Ys = jnp.stack([jnp.asarray(_datafits.prepare_targets(prob.datafit, y)[0]) for y in ys])
    Xs = jnp.asarray(Xs, prob.X.dtype)
    if jnp.ndim(penalty.alpha) and not jnp.shape(penalty.alpha) == (B,):
      raise ValueError(f"penalty.alpha must be a scalar or have shape ({B},), got "
                       f"{jnp.shape(penalty.alpha)}.")
    W, b, it, ok = _generic_fit_batch(Xs, jnp.asarray(Ys, prob.X.dtype), prob.datafit, penalty,
                                      tol, fit_intercept=bool(fit_intercept),
                                      max_iter=max_iter, solver=name)
    _warn_unconverged(ok, "jr.linear.fit_batch", f"n_iter reached max_iter={max_iter}; raise "
                      "max_iter or tol.")
    return FitResult(*_unpack(prob, W, b), it, ok)
  dual = solver == "auto" and loss == "squared" and isinstance(penalty, ElasticNet)
  Xs, ys, tol, max_iter, solver = _prepare(Xs, ys, penalty, loss, tol, max_iter, solver,
                                           batched=True)
  B, n, p = Xs.shape
  batched = jnp.ndim(penalty.alpha) >= 1
  if batched and jnp.shape(penalty.alpha)[0] != B:
    raise ValueError(
        f"penalty.alpha has leading axis {jnp.shape(penalty.alpha)[0]}, expected B = {B}.")
  if not batched:
    penalty = jax.tree_util.tree_map(lambda a: jnp.broadcast_to(a, (B,) + jnp.shape(a)), penalty)
  else:
    # Scalar leaves next to a batched α (e.g. a traced α with a fixed l1_ratio).
    penalty = jax.tree_util.tree_map(
        lambda a: jnp.broadcast_to(a, (B,)) if jnp.ndim(a) == 0 else a, penalty)
  # The dual's Newton systems are n × n: for tall problems the vmapped
  # primal solver, whose cost per step is linear in n, is the better one.
  dual = dual and n <= max(p, 64)
  if dual and _checks.is_concrete(penalty.l1_ratio):
    # All lasso: the dual Newton solver would hand every problem back.
    dual = not bool(np.all(np.asarray(penalty.l1_ratio) == 1))
  if chunk_size is None:
    # On CPU small chunks win: their data stays in cache, and a chunk runs
    # only as many steps as its own slowest problem (measured on 5000
    # problems of 100 × 40 and 2000 of 30 × 120: 10-20% faster at 8 than at
    # 40 or 128). Accelerators want wide batches.
    chunk_size = min(B, 8 if jax.default_backend() == "cpu" else (40 if dual else 128))
  if isinstance(chunk_size, bool) or int(chunk_size) != chunk_size or chunk_size < 1:
    raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}.")
  static = dict(loss=loss, fit_intercept=bool(fit_intercept), tol=tol, max_iter=max_iter,
                solver=solver, chunk_size=int(chunk_size), dual=dual)
  if B > chunk_size and _checks.is_concrete((Xs, ys, penalty)):
    w, b, it, ok = _fit_batch_chunked(Xs, ys, penalty, **static)
  else:  # traced (inside jit or grad): one program over the whole batch
    w, b, it, ok = _fit_batch_impl(Xs, ys, penalty, **static)
  _warn_unconverged(ok, "jr.linear.fit_batch", f"n_iter reached max_iter={max_iter}; raise "
                    "max_iter or tol.")
  return FitResult(w, b, it, ok)


def _fit_batch_chunked(Xs, ys, penalty, *, chunk_size, **static):
  """:func:`_fit_batch_impl` one chunk of problems at a time.

  Every chunk runs the program compiled for ``chunk_size`` problems, so a new
  batch size compiles nothing. The last chunk is the last ``chunk_size``
  problems (overlapping the one before; only its new rows are kept), so
  the data is never copied to pad it.
  """
  B = Xs.shape[0]
  leaves, treedef = jax.tree_util.tree_flatten((Xs, ys, penalty))
  n_chunks = -(-B // chunk_size)
  outs = []
  for start in _chunks.chunk_starts(n_chunks, chunk_size):  # the last one is clamped
    X, y, pen = jax.tree_util.tree_unflatten(treedef, _chunks.take(leaves, start, chunk_size))
    outs.append(_fit_batch_impl(X, y, pen, chunk_size=chunk_size, **static))
  return _join_chunks(outs, B - (n_chunks - 1) * chunk_size)


@functools.partial(jax.jit, static_argnums=1)
def _join_chunks(outs, last_rows):
  """The chunks' rows in order, keeping only the last chunk's final ``last_rows``."""
  return jax.tree_util.tree_map(
      lambda *xs: jnp.concatenate(list(xs[:-1]) + [xs[-1][xs[-1].shape[0] - last_rows:]]),
      *outs)


@functools.partial(jax.jit, static_argnames=("loss", "fit_intercept", "tol", "max_iter", "solver",
                                             "chunk_size", "dual"))
def _fit_batch_impl(Xs, ys, penalty, *, loss, fit_intercept, tol, max_iter, solver, chunk_size,
                    dual=False):
  if dual:
    return _fit_batch_dual(Xs, ys, penalty, fit_intercept, tol, max_iter, chunk_size)
  n, p = Xs.shape[1:]

  def one(args):
    X, y, pen = args
    a1, a2 = _penalty_parts(pen, p, X.dtype)
    m = jnp.ones(n, X.dtype)
    return _fit_impl(X, y, m, a1, a2, None, loss=loss, fit_intercept=fit_intercept,
                     tol=tol, max_iter=max_iter, solver=solver, with_converged=True)

  # Chunks of problems are vmapped together and the chunks run one after
  # another: a chunk's data stays in cache across the solver's iterations and
  # each chunk stops as soon as its own problems have converged.
  return jax.lax.map(one, (Xs, ys, penalty), batch_size=chunk_size)
