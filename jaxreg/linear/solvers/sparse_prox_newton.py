r"""Binary logistic regression with the elastic net on a sparse design:
proximal Newton (IRLS) whose weighted least-squares steps are sparse
working-set lasso solves.

Minimises, over w (p,) and an intercept b,

.. math::

  F(w, b) = \frac{1}{n} \sum_i s_i \big(\log(1 + e^{η_i}) − y_i η_i\big)
            + l_1 \lVert w \rVert_1 + \frac{l_2}{2} \lVert w \rVert_2^2,
  \qquad η = Xw + b,

y ∈ {0, 1}, s the sample weights (summing to n). At (w, b), with gradient
gᵢ = sᵢ(σ(ηᵢ) − yᵢ)/n and curvature hᵢ = sᵢσ(ηᵢ)(1 − σ(ηᵢ))/n, the
quadratic model of the log-loss is the weighted least squares
½ Σᵢ hᵢ(zᵢ − xᵢᵀw' − b')² with working response zᵢ = ηᵢ − gᵢ/hᵢ, so the
Newton step's subproblem (model + penalty) is an elastic net with sample
weights (without ℓ1, a linear system: conjugate gradients on O(nnz)
products, preconditioned by its diagonal), solved warm-started by
:func:`jaxreg.linear.solvers.sparse_working_set.enet_path` on the
centred, weighted sparse design (the intercept exactly, by weighted
centring; nothing n × p is formed). A backtracking (Armijo) search on F
along the step keeps the method a descent method. It stops when the
largest violation of the optimality conditions (the distance of −∇F to
the subdifferential, with |∂F/∂b|) is at most tol × max(1, max_j
(1/n)Σᵢ sᵢ|X_ij|), the stopping rule of :func:`jaxreg.linear.fit`'s
logistic solvers.

With K > 2 classes (the multinomial loss, one-hot y) and ℓ1, each pass
moves one class at a time, its diagonal Hessian block giving the same
weighted elastic net with the other classes held fixed (glmnet's
multinomial scheme): a block method, so it converges linearly (about 60
passes per factor 100 of the violation on a 3-class text-like problem),
not as Newton. Without ℓ1 the step is the full Newton direction, the
classes' coupling included (conjugate gradients on Hessian products).

Runs on the host (each subproblem compiled in JAX), so it is neither
jit-able nor differentiable.

References:
  Friedman, Hastie & Tibshirani (2010), "Regularization paths for
  generalized linear models via coordinate descent", J. Stat. Softw.
  (glmnet's IRLS outer loop); Lee, Sun & Saunders (2014), "Proximal
  Newton-type methods for minimizing composite functions".
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from scipy.sparse import linalg as splinalg
from scipy.special import expit, logsumexp, softmax

from jaxreg.linear import _sparse
from jaxreg.linear.solvers import sparse_working_set as _ws

__all__ = ["SparseLogisticResult", "logistic"]

_SIGMA = 1e-4          # Armijo's sufficient-decrease fraction
_MAX_BACKTRACK = 40


class SparseLogisticResult(NamedTuple):
  coef: np.ndarray        # (p,), or (p, K) multinomial
  intercept: Any          # a float, or (K,) multinomial
  n_iter: int             # Newton steps (multinomial: passes over the classes)
  violation: float        # the final largest optimality violation
  converged: bool


def _violation(G, W, l1, l2, grad_b, fit_intercept):
  """The largest distance from −∇F to ∂P (∞-norm), with |∂F/∂b| (G, W
  (p, K), grad_b (K,))."""
  g = G + l2 * W
  v = np.where(W != 0, np.abs(g + l1 * np.sign(W)), np.maximum(np.abs(g) - l1, 0.0))
  worst = float(np.max(v)) if v.size else 0.0
  return max(worst, float(np.max(np.abs(grad_b)))) if fit_intercept else worst


def _armijo(F_at, F0, decrease, eps):
  """The first t ∈ {1, ½, ¼, …} with F(t) ≤ F0 + σ t Λ (Λ = ``decrease``, the
  model's predicted decrease, ≤ 0), or a full step equal to F0 up to
  rounding; None when none is found."""
  level = 16.0 * eps * abs(F0)
  t = 1.0
  for _ in range(_MAX_BACKTRACK):
    F_t = F_at(t)
    if F_t <= F0 + _SIGMA * t * decrease or (t == 1.0 and F_t <= F0 + level):
      return t
    t *= 0.5
  return None


def _lasso_step(X, eta, g, h, H, w, b, l1, l2, fit_intercept, inner_tol, inner_max_iter):
  """The proximal Newton step (D, db): the model's weighted elastic net."""
  n = X.shape[0]
  dtype = X.dtype
  z = np.where(h > 0, eta - g / np.where(h > 0, h, 1.0), eta)
  # ½Σᵢhᵢrᵢ² = (H/n)·½Σᵢŝᵢrᵢ² with ŝ = n h/H summing to n: the sum-form
  # elastic net of the weighted design at strengths n·l/H.
  des, zc, z_mean = _sparse.design(X, z.astype(dtype), (n * h / H).astype(dtype), fit_intercept)
  out = _ws.enet_path(des, zc, [n * l1 / H], [n * l2 / H], inner_tol, inner_max_iter, w0=w)
  w_new = out.coefs[0]
  b_new = float(z_mean - des.x_mean @ w_new) if fit_intercept else 0.0
  return w_new - w, b_new - b


def _newton_cg_step(X, Xr, P, G, s, W, l2, fit_intercept, forcing):
  """Without ℓ1 the model is smooth: the Newton direction (D (p, K), db (K,))
  itself, by conjugate gradients (SciPy) on O(nnz·K) products,
  preconditioned by the diagonal, to a relative residual ``forcing``. Each
  row's Hessian is (sᵢ/n)(diag(pᵢ) − pᵢpᵢᵀ): it couples the multinomial's
  classes, and with one column of sigmoid probabilities (binary) it is
  (sᵢ/n)pᵢ(1 − pᵢ). (The multinomial system is singular along a common
  shift of the intercepts, a direction the gradient never has.)"""
  n, p = X.shape
  K = P.shape[1]
  c = (s / n)[:, None]
  size = p * K + (K if fit_intercept else 0)

  def matvec(v):
    V = v[:p * K].reshape(p, K)
    R = Xr @ V + (v[p * K:] if fit_intercept else 0.0)
    HR = c * (P * R - P * np.sum(P * R, axis=1, keepdims=True))
    out = (X.T @ HR + l2 * V).ravel()
    return np.concatenate([out, HR.sum(axis=0)]) if fit_intercept else out

  h = c * P * (1.0 - P)
  diag = (np.asarray(X.multiply(X).T @ h) + l2).ravel()
  rhs = -(X.T @ G + l2 * W).ravel()
  if fit_intercept:
    diag = np.concatenate([diag, h.sum(axis=0)])
    rhs = np.concatenate([rhs, -G.sum(axis=0)])
  diag = np.maximum(diag, np.finfo(X.dtype).tiny)
  A = splinalg.LinearOperator((size, size), matvec=matvec, dtype=X.dtype)
  M = splinalg.LinearOperator((size, size), matvec=lambda v: v / diag, dtype=X.dtype)
  v, _ = splinalg.cg(A, rhs, rtol=forcing, atol=0.0, maxiter=10 * size, M=M)
  db = v[p * K:] if fit_intercept else np.zeros(K, X.dtype)
  return v[:p * K].reshape(p, K), db


def logistic(X, y, l1, l2, *, fit_intercept, tol, max_iter, s=None, w0=None, b0=None,
             inner_max_iter=1000):
  """Solves the sparse elastic-net logistic regression (module docstring).

  Args:
    X: CSC array (n, p) (:func:`jaxreg.linear._sparse.to_csc`).
    y: (n,) labels in {0, 1} (binary), or (n, K) one-hot (multinomial).
    l1, l2: the penalty's ℓ1 and ℓ2 strengths (mean scaling: α·r and
      α·(1 − r) for ``ElasticNet(α, r)``).
    fit_intercept: fit an unpenalized intercept (one per class).
    tol: relative tolerance of the optimality violation (see above).
    max_iter: the most Newton steps (multinomial: passes over the classes).
    s: None or (n,) sample weights summing to n.
    w0, b0: a warm start, shaped as ``coef`` and ``intercept`` (None:
      zeros, and the intercept-only optimum).
    inner_max_iter: sweeps allowed per subproblem.

  Returns:
    A :class:`SparseLogisticResult`: coef (p,) and a float intercept
    (binary), or (p, K) and (K,) (multinomial).

  Example:
    >>> import numpy as np, scipy.sparse as sp
    >>> from jaxreg.linear._sparse import to_csc
    >>> from jaxreg.linear.solvers.sparse_prox_newton import logistic
    >>> X = to_csc(sp.random(80, 40, density=0.2, random_state=0))
    >>> y = (X[:, [0]].toarray()[:, 0] > 0).astype(float)
    >>> res = logistic(X, y, 0.01, 0.0, fit_intercept=True, tol=1e-8, max_iter=50)
    >>> bool(res.converged)
    True
  """
  n, p = X.shape
  dtype = X.dtype
  eps = np.finfo(dtype).eps
  s = np.ones(n, dtype) if s is None else np.asarray(s, dtype)
  y = np.asarray(y, dtype)
  binary = y.ndim == 1
  Y = y[:, None] if binary else y
  K = Y.shape[1]
  l1, l2 = float(l1), float(l2)
  Xr = X.tocsr()                       # row-major products for Xw
  scale = max(1.0, float(np.max(np.abs(X).T @ s)) / n)
  tol_abs = tol * scale

  def probs(eta):
    return expit(eta) if binary else softmax(eta, axis=1)

  def loss(eta):
    if binary:
      row = np.logaddexp(0.0, eta[:, 0]) - Y[:, 0] * eta[:, 0]
    else:
      row = logsumexp(eta, axis=1) - np.sum(Y * eta, axis=1)
    return float(np.sum(s * row)) / n

  def penalty(W):
    return l1 * float(np.sum(np.abs(W))) + 0.5 * l2 * float(np.sum(W * W))

  W = np.zeros((p, K), dtype) if w0 is None else np.asarray(w0, dtype).reshape(p, K).copy()
  if not fit_intercept:
    b = np.zeros(K, dtype)
  elif b0 is not None:
    b = np.asarray(b0, dtype).reshape(K).copy()
  else:
    m = np.clip(s @ Y / n, eps, 1.0 - eps)
    b = np.log(m) - np.log1p(-m) if binary else np.log(m) - np.mean(np.log(m))
  eta = Xr @ W + b
  steps, violation = 0, np.inf
  while True:
    P = probs(eta)
    G = s[:, None] * (P - Y) / n
    GW = X.T @ G
    violation = _violation(GW, W, l1, l2, np.sum(G, axis=0), fit_intercept)
    if violation <= tol_abs or steps >= max_iter:
      break
    moved = False
    if l1 == 0:
      # Smooth: the full Newton direction, the classes' coupling included.
      D, db = _newton_cg_step(X, Xr, P, G, s, W, l2, fit_intercept, min(1e-4, violation / scale))
      R = Xr @ D + db
      t = _armijo(lambda t: loss(eta + t * R) + penalty(W + t * D), loss(eta) + penalty(W),
                  float(np.sum(G * R)) + penalty(W + D) - penalty(W), eps)
      if t is not None:
        W, b, eta = W + t * D, b + t * db, eta + t * R
        moved = bool(np.any(D) or np.any(db))
    # Otherwise one class at a time (glmnet's multinomial): its diagonal
    # Hessian block gives a weighted elastic net, the other classes fixed.
    for k in range(K if l1 > 0 else 0):
      if moved:                         # an earlier class moved η: measure again
        P = probs(eta)
      pr = P[:, k]
      g = s * (pr - Y[:, k]) / n
      gk = X.T @ g if moved else GW[:, k]
      h = s * pr * (1.0 - pr) / n
      H = float(np.sum(h))
      if not H > 0:
        continue                        # every live row saturated: no curvature here
      w = W[:, k]
      gap_k = _violation(gk[:, None], W[:, [k]], l1, l2, np.sum(g)[None], fit_intercept)
      D, db = _lasso_step(X, eta[:, k], g, h, H, w, b[k], l1, l2, fit_intercept,
                          max(100 * eps, min(1e-3, gap_k / scale)), inner_max_iter)
      R = Xr @ D + db
      rest = penalty(W) - penalty(w)       # the other classes' penalty, unchanged

      def F_at(t):
        trial = eta.copy()
        trial[:, k] += t * R
        return loss(trial) + rest + penalty(w + t * D)

      t = _armijo(F_at, loss(eta) + penalty(W), float(g @ R) + penalty(w + D) - penalty(w), eps)
      if t is None:
        continue                        # no decrease: rounding decides from here
      W[:, k] += t * D
      eta[:, k] += t * R
      b[k] += t * db
      moved = moved or bool(np.any(D) or db)
    steps += 1
    if not moved:
      break
  if binary:
    return SparseLogisticResult(W[:, 0], float(b[0]), max(steps, 1), violation,
                                violation <= tol_abs)
  return SparseLogisticResult(W, b, max(steps, 1), violation, violation <= tol_abs)
