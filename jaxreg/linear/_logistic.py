r"""Proximal Newton (IRLS + coordinate descent) for penalized logistic paths.

Minimizes, for each (a1, a2) on a path,

    (1/n) Σᵢ [log(1 + exp(ηᵢ)) − yᵢηᵢ] + a1‖w‖₁ + (a2/2)‖w‖²,  η = Xw + b,

with yᵢ ∈ {0, 1} and the intercept b unpenalized. Each outer step minimizes
the second-order model of the log-loss plus the exact penalty by cyclic
coordinate descent on the (p+1) × (p+1) weighted Gram matrix, then takes the
best of ten halvings of the step on the true objective.

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


@functools.partial(jax.jit, static_argnames=("fit_intercept", "max_iter"))
def logistic_path(X, y, a1s, a2s, tol, fit_intercept, max_iter):
  """Warm-started path; returns (coefs, intercepts, kkt violations, n_iter)."""
  n, p = X.shape
  dtype = X.dtype
  if fit_intercept:
    Z = jnp.concatenate([X, jnp.ones((n, 1), dtype)], axis=1)
  else:
    Z = X
  m = Z.shape[1]
  penalized = jnp.arange(m) < p
  steps = 0.5 ** jnp.arange(10, dtype=dtype)
  inner_sweeps = 200

  def penalty(theta, a1, a2):
    mask = penalized if theta.ndim == 1 else penalized[:, None]
    th = jnp.where(mask, theta, 0.0)
    return a1 * jnp.sum(jnp.abs(th), axis=0) + 0.5 * a2 * jnp.sum(th * th, axis=0)

  def objective(theta, a1, a2):
    return _loss(Z @ theta, y[:, None] if theta.ndim == 2 else y) + penalty(theta, a1, a2)

  def newton_step(theta, a1, a2, tol_inner):
    eta = Z @ theta
    mu = jax.nn.sigmoid(eta)
    g = Z.T @ (mu - y) / n
    wts = mu * (1.0 - mu) / n
    H = (Z * wts[:, None]).T @ Z
    hdiag = jnp.diagonal(H)
    l1 = jnp.where(penalized, a1, 0.0)
    l2 = jnp.where(penalized, a2, 0.0)

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
    f_c = objective(cands, a1, a2)
    f0 = objective(theta, a1, a2)
    best = jnp.argmin(f_c)
    t = jnp.where(f_c[best] <= f0, steps[best], 0.0)
    return theta + t * d, jnp.max(jnp.abs(t * d))

  def kkt(theta, a1, a2):
    g = Z.T @ (jax.nn.sigmoid(Z @ theta) - y) / n
    l1 = jnp.where(penalized, a1, 0.0)
    l2 = jnp.where(penalized, a2, 0.0)
    gs = g + l2 * theta
    v = jnp.where(theta != 0, jnp.abs(gs + l1 * jnp.sign(theta)),
                  jnp.maximum(jnp.abs(gs) - l1, 0.0))
    return jnp.max(v)

  def one_alpha(theta, a12):
    a1, a2 = a12

    def cond(c):
      return (c[1] > tol * jnp.maximum(1.0, jnp.max(jnp.abs(c[0])))) & (c[2] < max_iter)

    def body(c):
      theta, step, it = c
      # The model is solved a little more accurately than the outer
      # tolerance so that the last Newton steps are not limited by it.
      theta, step = newton_step(theta, a1, a2, 0.1 * tol * jnp.maximum(1.0, jnp.max(jnp.abs(theta))))
      return theta, step, it + 1

    theta, _, it = lax.while_loop(cond, body, (theta, jnp.asarray(jnp.inf, dtype), 0))
    return theta, (theta, kkt(theta, a1, a2), it)

  theta0 = jnp.zeros(m, dtype)
  if fit_intercept:
    ybar = jnp.clip(jnp.mean(y), 1e-6, 1 - 1e-6)
    theta0 = theta0.at[p].set(jnp.log(ybar / (1 - ybar)))
  _, (thetas, viol, n_iter) = lax.scan(one_alpha, theta0, (a1s, a2s))
  coefs = thetas[:, :p]
  intercepts = thetas[:, p] if fit_intercept else jnp.zeros(thetas.shape[0], dtype)
  return coefs, intercepts, viol, n_iter
