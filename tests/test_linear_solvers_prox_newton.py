"""Proximal Newton: against scikit-learn, SciPy and optimality conditions computed in numpy."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
from scipy import optimize
from scipy.special import expit, softmax
from sklearn import linear_model

import jaxreg as jr
from jaxreg import penalties
from jaxreg.linear import datafits
from jaxreg.linear.solvers import prox_newton


@functools.partial(jax.jit, static_argnames="fit_intercept")
def _run(X, Y, datafit, penalty, fit_intercept, tol, max_iter):
  p, T = X.shape[1], Y.shape[1]
  coords = penalties.coordinates(penalty, p, T)
  W0, b0 = jnp.zeros((p, T), X.dtype), jnp.zeros((T,), X.dtype)
  return prox_newton.solve(X, Y, datafit, coords, W0, b0, fit_intercept=fit_intercept, tol=tol, max_iter=max_iter)


def _solve(X, Y, datafit, penalty, *, fit_intercept=True, tol=1e-10, max_iter=200):
  """One jitted solve from zero (all but fit_intercept traced: a new α, tol or budget
  reuses the compiled program)."""
  X = jnp.asarray(X)
  return _run(X, jnp.asarray(Y, X.dtype), datafit, penalty, fit_intercept, tol, max_iter)


def _data(seed, n=60, p=10):
  rng = np.random.default_rng(seed)
  X = rng.standard_normal((n, p))
  w = np.zeros(p)
  w[:4] = [1.0, -0.8, 0.6, 0.4]
  return rng, X, w


def _logistic_objective(X, y, w, b, l1=0.0, l2=0.0):
  eta = X @ w + b
  return np.mean(np.logaddexp(0, eta) - y * eta) + l1 * np.abs(w).sum() + 0.5 * l2 * w @ w


def test_logistic_l1_matches_sklearn_saga(x64):
  rng, X, w = _data(0)
  y = (rng.random(len(X)) < expit(X @ w + 0.5)).astype(float)
  n, a = len(y), 0.03
  # saga leaves the intercept unpenalised, as here (liblinear would penalise it).
  sk = linear_model.LogisticRegression(C=1 / (n * a), l1_ratio=1.0, solver="saga", tol=1e-12,
                                       max_iter=200_000).fit(X, y)
  res = _solve(X, y[:, None], datafits.Logistic(), jr.L1(a))
  assert bool(res.converged) and int(res.n_iter) <= 20
  w_ours, b_ours = np.asarray(res.W[:, 0]), float(res.b[0])
  ours = _logistic_objective(X, y, w_ours, b_ours, l1=a)
  theirs = _logistic_objective(X, y, sk.coef_[0], sk.intercept_[0], l1=a)
  assert ours <= theirs * (1 + 1e-8) and theirs <= ours * (1 + 1e-8)
  np.testing.assert_array_equal(w_ours != 0, np.abs(sk.coef_[0]) > 1e-8)
  np.testing.assert_allclose(w_ours, sk.coef_[0], atol=1e-5)
  assert 0 < np.sum(w_ours != 0) < X.shape[1]


def test_poisson_l2_matches_sklearn(x64):
  rng, X, w = _data(1)
  X = 0.5 * X
  y = rng.poisson(np.exp(X @ w + 0.5)).astype(float)
  a = 0.02
  sk = linear_model.PoissonRegressor(alpha=a, tol=1e-12, max_iter=10_000).fit(X, y)
  res = _solve(X, y[:, None], datafits.Poisson(), jr.L2(a))
  assert bool(res.converged)

  def objective(w, b):
    # Half the mean Poisson deviance + (α/2)‖w‖², scikit-learn's objective.
    eta = X @ w + b
    ylogy = np.where(y > 0, y * np.log(np.where(y > 0, y, 1)), 0)
    return np.mean(ylogy - y - y * eta + np.exp(eta)) + 0.5 * a * w @ w

  ours = objective(np.asarray(res.W[:, 0]), float(res.b[0]))
  theirs = objective(sk.coef_, sk.intercept_)
  assert abs(ours - theirs) <= 1e-9 * theirs
  np.testing.assert_allclose(res.W[:, 0], sk.coef_, atol=1e-6)
  np.testing.assert_allclose(res.b[0], sk.intercept_, atol=1e-6)


def test_multinomial_l2_matches_sklearn(x64):
  rng, X, _ = _data(2, n=90, p=6)
  K = 3
  logits = X @ rng.standard_normal((X.shape[1], K))
  labels = np.array([rng.choice(K, p=q) for q in softmax(logits, axis=1)])
  Y = np.eye(K)[labels]
  n, a = len(labels), 0.02
  sk = linear_model.LogisticRegression(C=1 / (n * a), tol=1e-12, max_iter=10_000).fit(X, labels)
  res = _solve(X, Y, datafits.Multinomial(), jr.L2(a))
  assert bool(res.converged) and res.W.shape == (X.shape[1], K)

  def objective(W, b):
    eta = X @ W + b
    lse = np.log(np.exp(eta - eta.max(1, keepdims=True)).sum(1)) + eta.max(1)
    return np.mean(lse - (Y * eta).sum(1)) + 0.5 * a * np.sum(W * W)

  ours = objective(np.asarray(res.W), np.asarray(res.b))
  theirs = objective(sk.coef_.T, sk.intercept_)
  assert abs(ours - theirs) <= 1e-9 * theirs
  np.testing.assert_allclose(res.W, sk.coef_.T, atol=1e-6)
  # The intercepts are defined up to a common shift (softmax is invariant
  # to it); with the penalty on W only, compare them centred.
  b = np.asarray(res.b)
  np.testing.assert_allclose(b - b.mean(), sk.intercept_ - sk.intercept_.mean(), atol=1e-6)


def test_smooth_penalty_takes_exact_newton_steps_on_coupled_classes(x64):
  """L2 is smooth: each step solves the Newton system by conjugate
  gradients, with the multinomial's coupled classes, so a 10-class, weakly
  penalized problem (condition number ~1e4) converges in Newton's handful
  of steps, not the hundreds a diagonal model takes, to scikit-learn's
  lbfgs objective or below."""
  from sklearn.datasets import load_digits
  X, labels = load_digits(return_X_y=True)
  X, labels = X[:600], labels[:600]
  X = X / np.maximum(X.std(axis=0), 1e-3)
  n, K, C = len(labels), 10, 100.0
  a = 1.0 / (n * C)
  Y = np.eye(K)[labels]
  res = _solve(X, Y, datafits.Multinomial(), jr.L2(a), tol=1e-9, max_iter=40)
  assert bool(res.converged) and int(res.n_iter) <= 25

  def objective(W, b):
    eta = X @ W + b
    lse = np.log(np.exp(eta - eta.max(1, keepdims=True)).sum(1)) + eta.max(1)
    return np.mean(lse - (Y * eta).sum(1)) + 0.5 * a * np.sum(W * W)

  sk = linear_model.LogisticRegression(C=C, tol=1e-12, max_iter=50_000).fit(X, labels)
  ours = objective(np.asarray(res.W), np.asarray(res.b))
  theirs = objective(sk.coef_.T, sk.intercept_)
  assert ours <= theirs * (1 + 1e-9)


def test_huber_l2_satisfies_kkt_and_matches_lbfgs(x64):
  rng, X, w = _data(3)
  y = X @ w + 0.3 * rng.standard_normal(len(X)) + 1.0
  y[:6] += 8.0 * rng.choice([-1, 1], 6)         # outliers: the linear part of the loss is used
  n, a, eps = len(y), 0.05, 1.0
  res = _solve(X, y[:, None], datafits.Huber(epsilon=eps), jr.L2(a))
  assert bool(res.converged)
  w_ours, b_ours = np.asarray(res.W[:, 0]), float(res.b[0])
  r = y - X @ w_ours - b_ours
  psi = np.clip(r, -eps, eps)
  assert np.sum(np.abs(r) > eps) >= 6
  # Stationarity of (1/n) Σ H_ε(rᵢ) + (α/2)‖w‖²: −Xᵀψ/n + αw = 0, Σψ = 0.
  np.testing.assert_allclose(-X.T @ psi / n + a * w_ours, 0, atol=1e-9)
  assert abs(psi.sum() / n) <= 1e-9

  def objective(theta):
    r = y - X @ theta[:-1] - theta[-1]
    h = np.where(np.abs(r) <= eps, 0.5 * r * r, eps * np.abs(r) - 0.5 * eps**2)
    return h.mean() + 0.5 * a * theta[:-1] @ theta[:-1]

  def gradient(theta):
    r = y - X @ theta[:-1] - theta[-1]
    psi = np.clip(r, -eps, eps)
    return np.concatenate([-X.T @ psi / n + a * theta[:-1], [-psi.mean()]])

  ref = optimize.minimize(objective, np.zeros(X.shape[1] + 1), jac=gradient, method="L-BFGS-B",
                          options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 10_000})
  ours = objective(np.append(w_ours, b_ours))
  assert ours <= ref.fun + 1e-12
  np.testing.assert_allclose(np.append(w_ours, b_ours), ref.x, atol=1e-5)


def test_mcp_logistic_is_stationary(x64):
  """A non-convex separable penalty goes through block_prox; checked by MCP's stationarity."""
  rng, X, w = _data(4)
  y = (rng.random(len(X)) < expit(2 * X @ w)).astype(float)
  n, a, gamma = len(y), 0.05, 3.0
  res = _solve(X, y[:, None], datafits.Logistic(), jr.MCP(a, gamma))
  assert bool(res.converged)
  w_ours, b_ours = np.asarray(res.W[:, 0]), float(res.b[0])
  grad = X.T @ (expit(X @ w_ours + b_ours) - y) / n
  assert abs(np.mean(expit(X @ w_ours + b_ours) - y)) <= 1e-9
  on = w_ours != 0
  assert 0 < on.sum() < len(w_ours)
  # MCP'(w) = sign(w)(α − |w|/γ) for |w| ≤ γα, 0 beyond; at 0 the subdifferential is [−α, α].
  mcp_slope = np.sign(w_ours) * np.maximum(a - np.abs(w_ours) / gamma, 0)
  np.testing.assert_allclose(grad[on] + mcp_slope[on], 0, atol=1e-9)
  assert np.all(np.abs(grad[~on]) <= a + 1e-9)
  # It is a descent method from zero: better than the intercept-only model.
  p0 = y.mean()
  null = -np.mean(y * np.log(p0) + (1 - y) * np.log(1 - p0))
  ours = _logistic_objective(X, y, w_ours, b_ours) + np.sum(
      np.where(np.abs(w_ours) <= gamma * a, a * np.abs(w_ours) - w_ours**2 / (2 * gamma),
               gamma * a**2 / 2))
  assert ours < null


def test_group_lasso_multinomial_kkt_and_vmap(x64):
  """Blocks of several rows and coupled outputs, for three α at once under vmap."""
  rng, X, _ = _data(5, n=80)
  K = 3
  W_true = np.zeros((X.shape[1], K))
  W_true[:5] = 1.5 * rng.standard_normal((5, K))
  labels = np.array([rng.choice(K, p=q) for q in softmax(X @ W_true, axis=1)])
  Y = np.eye(K)[labels]
  groups = [[0, 1], [2, 3, 4], [5, 6], [7, 8, 9]]
  n, p = X.shape
  alphas = jnp.array([0.003, 0.02, 0.05])
  Xj, Yj = jnp.asarray(X), jnp.asarray(Y)

  def one(a):
    coords = penalties.coordinates(jr.GroupLasso(a, groups=groups), p, K)
    return prox_newton.solve(Xj, Yj, datafits.Multinomial(), coords, jnp.zeros((p, K)),
                             jnp.zeros(K), fit_intercept=True, tol=1e-10, max_iter=200)

  batch = jax.jit(jax.vmap(one))(alphas)
  assert bool(jnp.all(batch.converged)) and int(jnp.max(batch.n_iter)) <= 40
  n_zero = []
  for k, a in enumerate(np.asarray(alphas)):
    W_k, b_k = np.asarray(batch.W[k]), np.asarray(batch.b[k])
    resid = softmax(X @ W_k + b_k, axis=1) - Y
    np.testing.assert_allclose(resid.mean(axis=0), 0, atol=1e-9)
    grad = X.T @ resid / n
    zero = 0
    for g in groups:
      # A group's weight √|g| counts its entries: rows × classes.
      scale = a * np.sqrt(len(g) * K)
      norm = np.linalg.norm(W_k[g])
      if norm > 0:
        np.testing.assert_allclose(grad[g] + scale * W_k[g] / norm, 0, atol=1e-9)
      else:
        zero += 1
        assert np.linalg.norm(grad[g]) <= scale + 1e-9
    n_zero.append(zero)
  assert n_zero[0] < n_zero[-1]


def test_float32_logistic_l1():
  rng, X, w = _data(6)
  y = (rng.random(len(X)) < expit(X @ w)).astype(float)
  res = _solve(X.astype(np.float32), y[:, None].astype(np.float32), datafits.Logistic(),
               jr.L1(0.02), tol=1e-5)
  assert res.W.dtype == jnp.float32 and bool(res.converged)
  with jax.enable_x64(True):
    ref = _solve(X, y[:, None], datafits.Logistic(), jr.L1(0.02))
  np.testing.assert_allclose(res.W, np.asarray(ref.W), atol=1e-4)
