r"""Proximal Newton (IRLS + coordinate descent) for penalized logistic paths.

Minimizes, for each (a1, a2) on a path,

    (1/n) Σᵢ [log(1 + exp(ηᵢ)) − yᵢηᵢ] + a1‖w‖₁ + (a2/2)‖w‖²,  η = Xw + b,

with yᵢ ∈ {0, 1} and the intercept b unpenalized. Each outer step minimizes
the second-order model of the log-loss plus the exact penalty by cyclic
coordinate descent on the (p+1) × (p+1) weighted Gram matrix, then takes the
best of ten halvings of the step on the true objective. It stops on
optimality: when the largest violation of the optimality conditions (the
distance of −∇loss to the penalty's subdifferential, ∞-norm) is at most
tol times the largest gradient the loss can have (`kkt_scale`).

References:
  Friedman, Hastie & Tibshirani (2010), glmnet.
  Lee, Sun & Saunders (2014), "Proximal Newton-type methods for minimizing
  composite functions".
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax


def _soft(x, t):
  return jnp.sign(x) * jnp.maximum(jnp.abs(x) - t, 0.0)


def _loss(eta, y):
  return jnp.mean(jnp.logaddexp(0.0, eta) - y * eta, axis=0)


def _design(X, fit_intercept):
  n = X.shape[0]
  if fit_intercept:
    return jnp.concatenate([X, jnp.ones((n, 1), X.dtype)], axis=1)
  return X


def kkt_scale(X):
  """max_j (1/n)Σᵢ|X_ij|, with the intercept's column of ones: no gradient
  of the mean log-loss, whose residuals σ(η) − y lie in [−1, 1], can exceed
  it, so violations are measured relative to it."""
  return jnp.maximum(jnp.max(jnp.mean(jnp.abs(X), axis=0)), 1.0)


def _solver(X, y, tol, fit_intercept, max_iter):
  """The one-α proximal Newton solve, as a function of (θ₀, a1, a2).

  ``a1`` is a scalar or per-feature (p,) weights. Stops when the largest
  violation of the optimality conditions is at most tol·`kkt_scale`(X), or
  after ``max_iter`` Newton steps. Returns (θ, violation, steps,
  converged)."""
  n, p = X.shape
  dtype = X.dtype
  Z = _design(X, fit_intercept)
  m = Z.shape[1]
  penalized = jnp.arange(m) < p
  steps = 0.5 ** jnp.arange(10, dtype=dtype)
  inner_sweeps = 200
  tol_kkt = tol * kkt_scale(X)

  def coords(a1, a2):
    a1 = jnp.broadcast_to(a1, (p,))
    l1 = jnp.concatenate([a1, jnp.zeros((m - p,), dtype)])
    return l1, jnp.where(penalized, a2, 0.0)

  def objective(theta, l1, l2):
    lin = Z @ theta
    loss = _loss(lin, y[:, None] if theta.ndim == 2 else y)
    th = theta if theta.ndim == 1 else theta.T
    pen = jnp.sum(l1 * jnp.abs(th), axis=-1) + 0.5 * jnp.sum(l2 * th * th, axis=-1)
    return loss + pen

  def newton_step(theta, l1, l2, tol_inner):
    eta = Z @ theta
    mu = jax.nn.sigmoid(eta)
    g = Z.T @ (mu - y) / n
    wts = mu * (1.0 - mu) / n
    H = (Z * wts[:, None]).T @ Z
    hdiag = jnp.diagonal(H)

    def sweep(c):
      u, hd, _, it = c

      def coord(j, cc):
        u, hd, dmax = cc
        hjj = hdiag[j]
        z = hjj * u[j] - g[j] - hd[j]
        new = jnp.where(hjj + l2[j] > 0, _soft(z, l1[j]) / jnp.where(hjj + l2[j] > 0, hjj + l2[j], 1.0), 0.0)
        delta = new - u[j]
        hd = hd + delta * H[:, j]
        return u.at[j].set(new), hd, jnp.maximum(dmax, jnp.abs(delta))

      u, hd, dmax = lax.fori_loop(0, m, coord, (u, hd, jnp.zeros((), dtype)))
      return u, hd, dmax, it + 1

    def not_done(c):
      return (c[2] > tol_inner) & (c[3] < inner_sweeps)

    u, _, _, _ = lax.while_loop(
        not_done, sweep, (theta, jnp.zeros(m, dtype), jnp.asarray(jnp.inf, dtype), 0))
    d = u - theta
    cands = theta[:, None] + d[:, None] * steps[None, :]
    f_c = objective(cands, l1, l2)
    f0 = objective(theta, l1, l2)
    best = jnp.argmin(f_c)
    # Near the solution the decrease a step brings (about the square of
    # the gradient) is below the rounding of the objective: a full step
    # whose objective is equal up to that rounding is taken (the model is
    # then accurate and Newton converges locally), as the optimality test,
    # not the line search, decides when to stop.
    level = 16.0 * jnp.finfo(dtype).eps * jnp.abs(f0)
    t = jnp.where(f_c[best] < f0, steps[best], jnp.where(f_c[0] <= f0 + level, 1.0, 0.0))
    return theta + t * d, jnp.max(jnp.abs(t * d))

  def kkt(theta, l1, l2):
    g = Z.T @ (jax.nn.sigmoid(Z @ theta) - y) / n
    gs = g + l2 * theta
    v = jnp.where(theta != 0, jnp.abs(gs + l1 * jnp.sign(theta)),
                  jnp.maximum(jnp.abs(gs) - l1, 0.0))
    return jnp.max(v)

  def solve(theta, a1, a2):
    l1, l2 = coords(a1, a2)

    def cond(c):
      theta, viol, step, it = c
      # Stops on optimality; a step of exactly 0 means the line search
      # found no decrease at all (rounding), where more steps cannot help.
      return (viol > tol_kkt) & (step > 0) & (it < max_iter)

    def body(c):
      theta, _, _, it = c
      # The model is solved a little more accurately than the outer
      # tolerance so that the last Newton steps are not limited by it.
      theta, step = newton_step(theta, l1, l2,
                                0.1 * tol * jnp.maximum(1.0, jnp.max(jnp.abs(theta))))
      return theta, kkt(theta, l1, l2), step, it + 1

    inf = jnp.asarray(jnp.inf, dtype)
    theta, viol, _, it = lax.while_loop(cond, body, (theta, kkt(theta, l1, l2), inf, 0))
    return theta, viol, it, viol <= tol_kkt

  def start():
    theta0 = jnp.zeros(m, dtype)
    if fit_intercept:
      ybar = jnp.clip(jnp.mean(y), 1e-6, 1 - 1e-6)
      theta0 = theta0.at[p].set(jnp.log(ybar / (1 - ybar)))
    return theta0

  return solve, start


def solve(X, y, a1, a2, tol, fit_intercept, max_iter, theta0=None):
  """One problem: per-feature ``a1`` (p,) or scalar, scalar ``a2``. Returns
  ((w, b), steps, converged). For use inside other jitted programs."""
  p = X.shape[1]
  run, start = _solver(X, y, tol, fit_intercept, max_iter)
  theta0 = start() if theta0 is None else theta0
  theta, _, it, ok = run(theta0, a1, a2)
  b = theta[p] if fit_intercept else jnp.zeros((), X.dtype)
  return (theta[:p], b), it, ok


@functools.partial(jax.jit, static_argnames=("fit_intercept", "max_iter"))
def logistic_path(X, y, a1s, a2s, tol, fit_intercept, max_iter):
  """Warm-started path; returns (coefs, intercepts, kkt violations, n_iter,
  converged)."""
  p = X.shape[1]
  dtype = X.dtype
  run, start = _solver(X, y, tol, fit_intercept, max_iter)

  def one_alpha(theta, a12):
    theta, viol, it, ok = run(theta, *a12)
    return theta, (theta, viol, it, ok)

  _, (thetas, viol, n_iter, ok) = lax.scan(one_alpha, start(), (a1s, a2s))
  coefs = thetas[:, :p]
  intercepts = thetas[:, p] if fit_intercept else jnp.zeros(thetas.shape[0], dtype)
  return coefs, intercepts, viol, n_iter, ok
