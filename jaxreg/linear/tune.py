r"""Gradient-based tuning of α: descend a validation loss in log α.

The validation loss of a fitted model, V(α) = loss_val(w*(α), b*(α)), is
differentiable in α almost everywhere, and its gradient costs one linear solve
with the training Hessian restricted to the support (implicit
differentiation, see :mod:`jaxreg.linear.fit`). :func:`tune` minimises V over
log α with an optax optimizer (Adam by default) on a held-out set;
:func:`tune_cv` minimises the mean held-out mean squared error of K-fold
cross-validation. Each fit starts from the previous step's solution.

For the lasso and elastic net, :func:`tune_cv` solves the K folds together
by a working-set method: coordinate descent on the Gram matrix of a small
working set (the support plus the worst violators of the optimality
conditions), a Newton step on the support, and a check of the optimality
conditions on all coordinates. The fold solutions, written as that Newton
step (a dense solve on the support, smooth in α), are then differentiated
directly, which gives the implicit hypergradient
dw_S/dα = −H_S⁻¹ ∂_α(a1 s + a2 w)_S without conjugate gradients. When a
support outgrows the largest working set, the vmapped full solver of
:func:`jaxreg.linear.fit` takes over for that step.

Working in log α keeps α positive and makes the step size scale-free.
The problem is not convex in α: the result is a local minimum near the
start; ``alphas`` and ``val_losses`` record the path, and the α with the
lowest validation loss seen is returned.

References:
  Bengio (2000), "Gradient-based optimization of hyperparameters".
  Pedregosa (2016), "Hyperparameter optimization with approximate gradient".
  Bertrand et al. (2020), "Implicit differentiation of lasso-type models for
  hyperparameter optimization".
  Johnson & Guestrin (2015), "Blitz: a principled meta-algorithm for scaling
  sparse optimization". Massias, Gramfort & Salmon (2018), "Celer: a fast
  solver for the lasso with dual extrapolation".
"""

from __future__ import annotations

import functools
import importlib
from typing import Any, NamedTuple, Optional, Sequence, Union

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxreg import _checks

# The package re-exports the function ``fit`` under the module's name.
_fit = importlib.import_module("jaxreg.linear.fit")

__all__ = ["TuneResult", "tune", "tune_cv"]


class TuneResult(NamedTuple):
  """The outcome of a tuning run.

  Attributes:
    alpha: the α with the lowest validation loss among those tried.
    val_loss: that validation loss (mean held-out MSE for ``tune_cv``).
    fit: ``FitResult`` at ``alpha`` (on the training set for ``tune``, on
      all the data for ``tune_cv``).
    alphas: (steps,) the α of every step.
    val_losses: (steps,) the validation loss at each of them.
  """

  alpha: Any
  val_loss: Any
  fit: Any
  alphas: Any
  val_losses: Any


def _with_alpha(penalty, alpha):
  """The penalty with its α leaf replaced (other leaves, e.g. l1_ratio, kept)."""
  leaves, treedef = jax.tree_util.tree_flatten(penalty)
  return jax.tree_util.tree_unflatten(treedef, [alpha] + leaves[1:])


def _start(penalty):
  if not _checks.is_concrete(penalty.alpha):
    raise TypeError("tune needs a penalty built from concrete numbers (its α is the start).")
  a = np.asarray(penalty.alpha)
  if a.ndim != 0:
    raise ValueError(f"penalty.alpha must be a scalar starting value, got shape {a.shape}.")
  if not a > 0:
    raise ValueError(f"penalty.alpha must be > 0 to start tuning in log α, got {float(a)!r}.")
  return float(np.log(a))


@functools.lru_cache(maxsize=32)
def _adam(learning_rate):
  # The optimizer is a static argument of the jitted tuning loops, hashed by
  # identity: one object per learning rate lets a repeated call reuse the
  # compiled loop instead of tracing and compiling it again.
  return optax.adam(learning_rate)


def _check_steps(steps, learning_rate, optimizer):
  if isinstance(steps, bool) or int(steps) != steps or steps < 1:
    raise ValueError(f"steps must be a positive integer, got {steps!r}.")
  if optimizer is None:
    if not learning_rate > 0:
      raise ValueError(f"learning_rate must be > 0, got {learning_rate!r}.")
    optimizer = _adam(float(learning_rate))
  elif not isinstance(optimizer, optax.GradientTransformation):
    raise TypeError(f"optimizer must be an optax GradientTransformation, got "
                    f"{type(optimizer).__name__}.")
  return int(steps), optimizer


def _descend(objective, log_a0, w0, optimizer, steps):
  """Runs ``steps`` optimizer steps on log α; objective(log α, warm) -> (loss, w)."""

  def step(carry, _):
    log_a, opt_state, warm = carry
    (val, w), g = jax.value_and_grad(objective, has_aux=True)(log_a, warm)
    # A non-finite hypergradient would poison the optimizer state for good.
    g = jnp.where(jnp.isfinite(g), g, 0.0)
    updates, opt_state = optimizer.update(g, opt_state, log_a)
    alpha = jnp.exp(log_a)
    log_a = optax.apply_updates(log_a, updates)
    return (log_a, opt_state, jax.lax.stop_gradient(w)), (alpha, val)

  init = (log_a0, optimizer.init(log_a0), w0)
  _, (alphas, vals) = jax.lax.scan(step, init, None, length=steps)
  return alphas, vals


def tune(X, y, X_val, y_val, penalty, loss: str = "squared", fit_intercept: bool = True,
         steps: int = 50, learning_rate: float = 0.5,
         optimizer: Optional[optax.GradientTransformation] = None,
         tol: Optional[float] = None, max_iter: Optional[int] = None) -> TuneResult:
  r"""Tunes α by gradient descent on a validation loss, starting at ``penalty.alpha``.

  .. math::  \min_{\log\alpha}\ V(\alpha) = \ell_{\rm val}\big(w^*(\alpha), b^*(\alpha)\big),
             \qquad (w^*, b^*) = \text{fit}(X, y, \text{penalty}(\alpha))

  with ℓ_val the mean squared error (``loss="squared"``) or the mean
  log-loss (``loss="logistic"``) on (X_val, y_val). The hypergradient
  dV/dα comes from implicit differentiation of the fit (one linear solve);
  the optimizer (Adam at ``learning_rate`` by default) updates log α. Other
  penalty leaves (l1_ratio, L1 weights) stay fixed.

  Args:
    X, y: training data, (n, p) and (n,).
    X_val, y_val: validation data, (m, p) and (m,).
    penalty: ``jr.L1``, ``jr.L2`` or ``jr.ElasticNet`` whose α (> 0) is the
      starting point.
    loss, fit_intercept, tol, max_iter: as in :func:`jaxreg.linear.fit`.
    steps: optimizer steps (each one fit and one hypergradient).
    learning_rate: Adam's step on log α (ignored if ``optimizer`` is given).
    optimizer: any optax ``GradientTransformation`` acting on log α.

  Returns:
    ``TuneResult(alpha, val_loss, fit, alphas, val_losses)``; ``alpha`` is
    the best α seen.

  Example:
    >>> import jax.numpy as jnp, jaxreg as jr
    >>> from sklearn.datasets import make_regression
    >>> X, y = make_regression(80, 20, noise=10.0, random_state=0)
    >>> res = jr.linear.tune(X[:60], y[:60], X[60:], y[60:], jr.L1(10.0), steps=30)
    >>> bool(res.val_loss <= res.val_losses[0])
    True

  References:
    Bengio (2000); Pedregosa (2016), "Hyperparameter optimization with
    approximate gradient"; Bertrand et al. (2020), "Implicit differentiation
    of lasso-type models for hyperparameter optimization".
  """
  X, y, tol, max_iter, solver = _fit._prepare(X, y, penalty, loss, tol, max_iter, "auto")
  X_val, y_val = _fit._check_data(X_val, y_val, loss, "X_val", "y_val")
  if X_val.shape[1] != X.shape[1]:
    raise ValueError(f"X_val has {X_val.shape[1]} features, X has {X.shape[1]}.")
  X_val = X_val.astype(X.dtype)
  y_val = y_val.astype(X.dtype)
  log_a0 = jnp.asarray(_start(penalty), X.dtype)
  steps, optimizer = _check_steps(steps, learning_rate, optimizer)
  penalty = jax.tree_util.tree_map(lambda a: jnp.asarray(a, X.dtype), penalty)
  alphas, vals = _tune_impl(X, y, X_val, y_val, penalty, log_a0, optimizer=optimizer,
                            steps=steps, loss=loss, fit_intercept=bool(fit_intercept),
                            tol=tol, max_iter=max_iter, solver=solver)
  vals_np = np.asarray(vals)
  finite = np.where(np.isfinite(vals_np), vals_np, np.inf)
  best = int(np.argmin(finite))
  alpha = alphas[best]
  res = _fit.fit(X, y, _with_alpha(penalty, alpha), loss=loss, fit_intercept=fit_intercept,
                 tol=tol, max_iter=max_iter)
  return TuneResult(alpha, vals[best], res, alphas, vals)


def _val_loss(X_val, y_val, w, b, loss):
  z = X_val @ w + b
  if loss == "squared":
    return jnp.mean((y_val - z) ** 2)
  return jnp.mean(jax.nn.softplus(z) - y_val * z)


@functools.partial(jax.jit, static_argnames=("optimizer", "steps", "loss", "fit_intercept",
                                             "tol", "max_iter", "solver"))
def _tune_impl(X, y, X_val, y_val, penalty, log_a0, *, optimizer, steps, loss, fit_intercept,
               tol, max_iter, solver):
  n, p = X.shape
  m = jnp.ones(n, X.dtype)

  def objective(log_a, warm):
    pen = _with_alpha(penalty, jnp.exp(log_a))
    a1, a2 = _fit._penalty_parts(pen, p, X.dtype)
    w, b, _ = _fit._fit_impl(X, y, m, a1, a2, warm, loss=loss, fit_intercept=fit_intercept,
                             tol=tol, max_iter=max_iter, solver=solver)
    return _val_loss(X_val, y_val, w, b, loss), (w if loss == "squared" else (w, b))

  w0 = jnp.zeros(p, X.dtype) if loss == "squared" else (jnp.zeros(p, X.dtype),
                                                         jnp.zeros((), X.dtype))
  return _descend(objective, log_a0, w0, optimizer, steps)


def kfold_masks(n: int, cv: Union[int, Sequence] = 5):
  """(K, n) 0/1 train and test masks: K contiguous folds, or explicit index pairs.

  ``cv = K`` splits the samples in order into K folds as scikit-learn's
  ``KFold(K)`` (no shuffling; the first n mod K folds have one more sample).

  Args:
    n: number of samples.
    cv: K ≥ 2, or a list of (train_indices, test_indices) pairs.

  Returns:
    ``(train, test)``, two (K, n) float arrays of 0/1.

  Example:
    >>> train, test = kfold_masks(5, 2)
    >>> test
    array([[1., 1., 1., 0., 0.],
           [0., 0., 0., 1., 1.]])
  """
  if isinstance(cv, (int, np.integer)) and not isinstance(cv, bool):
    K = int(cv)
    if not 2 <= K <= n:
      raise ValueError(f"cv must be between 2 and the number of samples ({n}), got {K}.")
    sizes = np.full(K, n // K)
    sizes[: n % K] += 1
    edges = np.concatenate([[0], np.cumsum(sizes)])
    test = np.zeros((K, n))
    for k in range(K):
      test[k, edges[k]:edges[k + 1]] = 1.0
    return 1.0 - test, test
  try:
    pairs = list(cv)
  except TypeError:
    raise TypeError(f"cv must be an int or a list of (train, test) index arrays, got "
                    f"{type(cv).__name__}.") from None
  if not pairs:
    raise ValueError("cv is an empty list of folds.")
  train = np.zeros((len(pairs), n))
  test = np.zeros((len(pairs), n))
  for k, pair in enumerate(pairs):
    if len(pair) != 2:
      raise ValueError(f"cv[{k}] must be a (train, test) pair of index arrays.")
    tr, te = (np.asarray(a, dtype=int) for a in pair)
    if tr.size == 0 or te.size == 0:
      raise ValueError(f"cv[{k}] has an empty train or test set.")
    if tr.min() < -n or tr.max() >= n or te.min() < -n or te.max() >= n:
      raise ValueError(f"cv[{k}] has indices outside [0, {n}).")
    train[k, tr] = 1.0
    test[k, te] = 1.0
  return train, test


def tune_cv(X, y, penalty, cv: Union[int, Sequence] = 5, fit_intercept: bool = True,
            steps: int = 30, learning_rate: float = 0.5,
            optimizer: Optional[optax.GradientTransformation] = None,
            tol: Optional[float] = None, max_iter: Optional[int] = None,
            solver: str = "auto") -> TuneResult:
  r"""Tunes α by gradient descent on the K-fold cross-validated squared error.

  .. math::  \min_{\log\alpha}\ \frac{1}{K}\sum_{k=1}^K \frac{1}{|T_k|}
             \sum_{i\in T_k}\big(y_i - x_i^\top w_k^*(\alpha) - b_k^*(\alpha)\big)^2

  where (w_k*, b_k*) is the fit on all samples outside fold T_k. The K fits
  run together (each fold is the full X with its held-out rows given zero
  weight), each warm-started from the previous step: for the lasso and
  elastic net by the working-set solver described in the module docstring,
  whose hypergradient is a dense solve on each fold's support; otherwise,
  or when a support outgrows the working sets, under ``jax.vmap`` of
  :func:`jaxreg.linear.fit`'s solver with one implicit-differentiation solve
  per fold.

  Args:
    X, y: (n, p) and (n,) data.
    penalty: ``jr.L1``, ``jr.L2`` or ``jr.ElasticNet`` whose α (> 0) is the
      start.
    cv: K for K contiguous folds as scikit-learn's ``KFold(K)``, or a list
      of (train_indices, test_indices) pairs.
    fit_intercept, tol, max_iter, solver: as in :func:`jaxreg.linear.fit`.
    steps, learning_rate, optimizer: as in :func:`tune`.

  Returns:
    ``TuneResult``: the best α seen, its mean held-out MSE, the fit on all
    the data at that α, and the path of α and CV losses.

  Example:
    >>> import jaxreg as jr
    >>> from jaxreg.linear.tune import tune_cv
    >>> from sklearn.datasets import make_regression
    >>> X, y = make_regression(100, 30, noise=10.0, random_state=0)
    >>> res = tune_cv(X, y, jr.L1(1.0), cv=5, steps=20)
    >>> res.alphas.shape
    (20,)

  References:
    Bertrand et al. (2020), "Implicit differentiation of lasso-type models
    for hyperparameter optimization"; Pedregosa (2016).
  """
  # Outside the working-set path the folds are solved together under vmap,
  # where FISTA's batched products beat coordinate descent's sequential
  # updates.
  solver = _fit._choose_solver(penalty, "squared", solver, batched=True)
  X, y, tol, max_iter, solver = _fit._prepare(X, y, penalty, "squared", tol, max_iter, solver)
  n, p = X.shape
  train, test = kfold_masks(n, cv)
  train = jnp.asarray(train, X.dtype)
  test = jnp.asarray(test, X.dtype)
  log_a0 = jnp.asarray(_start(penalty), X.dtype)
  steps, optimizer = _check_steps(steps, learning_rate, optimizer)
  penalty = jax.tree_util.tree_map(lambda a: jnp.asarray(a, X.dtype), penalty)
  alphas, vals = _tune_cv_impl(X, y, train, test, penalty, log_a0, optimizer=optimizer,
                               steps=steps, fit_intercept=bool(fit_intercept), tol=tol,
                               max_iter=max_iter, solver=solver)
  vals_np = np.asarray(vals)
  best = int(np.argmin(np.where(np.isfinite(vals_np), vals_np, np.inf)))
  alpha = alphas[best]
  res = _fit.fit(X, y, _with_alpha(penalty, alpha), fit_intercept=fit_intercept, tol=tol,
                 max_iter=max_iter)
  return TuneResult(alpha, vals[best], res, alphas, vals)


def _cv_fits(X, y, train, a1, a2, warm, fit_intercept, tol, max_iter, solver):
  def one(m, w0):
    return _fit._fit_impl(X, y, m, a1, a2, w0, loss="squared", fit_intercept=fit_intercept,
                          tol=tol, max_iter=max_iter, solver=solver)

  return jax.vmap(one)(train, warm)


def _soft(x, t):
  return jnp.sign(x) * jnp.maximum(jnp.abs(x) - t, 0.0)


def _gram_cd(G, c, a1, a2, w, tol, max_sweeps):
  """Cyclic coordinate descent on F problems ½wᵀG_fw − c_fᵀw + a1_fᵀ|w| + (a2/2)‖w‖².

  G is (F, k, k), c, a1 and w are (F, k). The F problems advance in
  lock-step: a ``lax.scan`` over the k coordinates whose body updates
  coordinate j of every problem with dense (F, k) operations (the row G[:, j]
  is a slice, not a gather, as it would be under ``vmap``); a coordinate
  update costs O(k) through the maintained products Gw. Stops when every
  problem's largest change of a sweep is below tol·max|w|.
  """
  F, k, _ = G.shape
  GT = jnp.swapaxes(G, 0, 1)  # (k, F, k): GT[j] is row j of every problem
  dg = jnp.diagonal(G, axis1=1, axis2=2).T  # (k, F)
  den = dg + a2
  inv = jnp.where(den > 0, 1.0 / jnp.where(den > 0, den, 1.0), 0.0)
  tiny = jnp.finfo(G.dtype).tiny
  cT, a1T = c.T, a1.T

  def update(carry, xs):
    Gw, dmax, wmax = carry
    j, gj, wj, cj, aj, dj, ij = xs
    gwj = jax.lax.dynamic_index_in_dim(Gw, j, axis=1, keepdims=False)
    new = _soft(cj - gwj + dj * wj, aj) * ij
    d = new - wj
    return (Gw + d[:, None] * gj, jnp.maximum(dmax, jnp.abs(d)),
            jnp.maximum(wmax, jnp.abs(new))), new

  def cond(st):
    return (~st[3]) & (st[2] < max_sweeps)

  def body(st):
    wT, Gw, it, _ = st
    z = jnp.zeros((F,), G.dtype)
    (Gw, dmax, wmax), wT = jax.lax.scan(
        update, (Gw, z, z), (jnp.arange(k), GT, wT, cT, a1T, dg, inv))
    return wT, Gw, it + 1, jnp.all(dmax <= tol * jnp.maximum(wmax, tiny))

  Gw = jnp.einsum("fij,fj->fi", G, w)
  wT, _, _, _ = jax.lax.while_loop(cond, body, (w.T, Gw, 0, False))
  return wT.T


def _ws_folds(X, y, train, a1, a2, w, k, tol, max_outer):
  """Working-set solves of the F folds' lasso / elastic net (training rows train[f]).

  Outer iterations (Johnson & Guestrin 2015; Massias et al. 2018): each
  fold's working set is its current support plus the coordinates that
  violate the optimality conditions the most (largest |∇_j|/a1_j), k in
  all; the problems restricted to them are solved on their k×k Gram
  matrices by coordinate descent (:func:`_gram_cd`, all folds at once),
  then made exact by one Newton step on the support (signs fixed, a dense
  k×k solve); the full gradient then checks the optimality conditions of
  every coordinate left out. The support of a tuned lasso is small, so all
  of this costs a few products with X and O(k²n) per fold for the Gram.

  Returns ``(w, idx, d, s, G, c_W, ok)``, each with a leading fold axis:
  the solution, the working set, the support mask and signs on it, its Gram
  matrix and Xᵀy on it, and whether every fold passed the optimality checks
  (when not, e.g. because a support outgrew k, the caller falls back).
  """
  n, p = X.shape
  F = train.shape[0]
  dtype = X.dtype
  a1 = jnp.broadcast_to(a1, (F, p))
  nk = jnp.sum(train, axis=1)
  xm = train @ X / nk[:, None]
  yc = (y[None, :] - (train @ y / nk)[:, None]) * train
  c = (yc @ X - xm * jnp.sum(yc, axis=1, keepdims=True)) / nk[:, None]
  tiny = jnp.finfo(dtype).tiny
  slack = 10.0 * tol * (1.0 + jnp.max(jnp.abs(c), axis=1, keepdims=True))

  def neg_grad(w):
    u = (w @ X.T - jnp.sum(xm * w, axis=1, keepdims=True)) * train
    return c - (u @ X - xm * jnp.sum(u, axis=1, keepdims=True)) / nk[:, None] - a2 * w

  def kkt(w, g):
    return jnp.all((w != 0) | (jnp.abs(g) <= a1 * (1.0 + 10.0 * tol) + slack), axis=1)

  def gram(idx, xm, m, nk, c):
    XW = (X[:, idx] - xm[idx]) * m[:, None]
    return XW.T @ XW / nk, c[idx]

  def newton(G, cW, a1W, wW):
    # Coordinates whose sign the Newton step flips leave the support and the
    # step is redone (a primal active-set update): an inexact coordinate
    # descent leaves small spurious coefficients that only many more sweeps
    # would drive exactly to 0. The full optimality check validates the result.
    s = jnp.sign(wW)

    def solve(d):
      H = G * d[:, None] * d[None, :] + jnp.diag(d * a2 + (1.0 - d))
      wP = d * jnp.linalg.solve(H, d * (cW - a1W * s))
      flip = (d > 0) & (a1W > 0) & (jnp.sign(wP) != s)
      return wP, flip

    def cond(st):
      return jnp.any(st[2]) & (st[3] < 5)

    def body(st):
      d, _, flip, it = st
      d = jnp.where(flip, 0.0, d)
      wP, flip = solve(d)
      return d, wP, flip, it + 1

    d0 = ((wW != 0) | (a1W == 0)).astype(dtype)
    wP, flip = solve(d0)
    d, wP, flip, _ = jax.lax.while_loop(cond, body, (d0, wP, flip, 0))
    signs = ~jnp.any(flip)
    return jnp.where(signs, wP, wW), jnp.where(signs, d, d0), jnp.sign(jnp.where(signs, wP, wW)), signs

  def cond(st):
    w, ok, it = st[0], st[6], st[7]
    # A support that fills its working set cannot grow: give up at once.
    full = jnp.any(jnp.sum(w != 0, axis=1) >= k)
    return (~jnp.all(ok)) & (~full) & (it < max_outer)

  def body(st):
    w, _, _, _, _, _, _, it, t = st
    g = neg_grad(w)
    score = jnp.where((w != 0) | (a1 == 0), jnp.inf, jnp.abs(g) / jnp.maximum(a1, tiny))
    _, idx = jax.lax.top_k(score, k)
    G, cW = jax.vmap(gram)(idx, xm, train, nk, c)
    a1W = jnp.take_along_axis(a1, idx, axis=1)
    wW = _gram_cd(G, cW, a1W, a2, jnp.take_along_axis(w, idx, axis=1), t, 200)
    wW, d, s, signs = jax.vmap(newton)(G, cW, a1W, wW)
    w = jax.vmap(lambda i, v: jnp.zeros(p, dtype).at[i].set(v))(idx, wW)
    ok = signs & kkt(w, neg_grad(w))
    return w, idx, d, s, G, cW, ok, it + 1, jnp.maximum(t * 1e-2, tol)

  zk = jnp.zeros((F, k), dtype)
  st = (w, jnp.zeros((F, k), jnp.int32), zk, zk, jnp.zeros((F, k, k), dtype), zk,
        jnp.zeros((F,), bool), 0, jnp.maximum(jnp.asarray(tol, dtype), 1e-4))
  w, idx, d, s, G, cW, ok, _, _ = jax.lax.while_loop(cond, body, st)
  return w, idx, d, s, G, cW, ok


@functools.partial(jax.jit, static_argnames=("optimizer", "steps", "fit_intercept", "tol",
                                             "max_iter", "solver"))
def _tune_cv_impl(X, y, train, test, penalty, log_a0, *, optimizer, steps, fit_intercept, tol,
                  max_iter, solver):
  K = train.shape[0]
  n, p = X.shape
  sg = jax.lax.stop_gradient
  # Working sets of a few fixed sizes (shapes are static under jit): the
  # smallest that holds the support keeps the Gram matrices cheap.
  # A lasso's support has at most n elements, hence the largest size.
  sizes = tuple(sorted({min(p, 128), min(p, 256), min(p, 384), min(p, n)}))
  ws = isinstance(penalty, (_fit.L1, _fit.ElasticNet)) and fit_intercept

  def full_objective(log_a, warm):
    pen = _with_alpha(penalty, jnp.exp(log_a))
    a1, a2 = _fit._penalty_parts(pen, p, X.dtype)
    w, b, _ = _cv_fits(X, y, train, a1, a2, warm, fit_intercept, tol, max_iter, solver)
    resid = (y[None, :] - w @ X.T - b[:, None]) * test
    mse = jnp.sum(resid ** 2, axis=1) / jnp.sum(test, axis=1)
    return jnp.mean(mse), w

  def ws_objective(log_a, idx, d, s, G, cW):
    # The fold solutions as smooth functions of α on their (fixed) supports:
    # the Newton step of _ws_folds, differentiated through the dense solve,
    # gives the implicit hypergradient dw_S/dα = −H_S⁻¹ ∂_α(a1 s + a2 w)_S.
    pen = _with_alpha(penalty, jnp.exp(log_a))
    a1, a2 = _fit._penalty_parts(pen, p, X.dtype)

    def one(m, t, idx, d, s, G, cW):
      nk = jnp.sum(m)
      xm = m @ X / nk
      ym = m @ y / nk
      XWr = X[:, idx]
      H = G * d[:, None] * d[None, :] + jnp.diag(d * a2 + (1.0 - d))
      wW = d * jnp.linalg.solve(H, d * (cW - a1[idx] * s))
      b = ym - xm[idx] @ wW
      resid = (y - XWr @ wW - b) * t
      return jnp.sum(resid ** 2) / jnp.sum(t), jnp.zeros(p, X.dtype).at[idx].set(wW)

    mse, w = jax.vmap(one)(train, test, idx, d, s, G, cW)
    return jnp.mean(mse), w

  def ws_level(ks, log_a, warm):
    # Working sets of size ks[0]; where a support outgrows them, the next
    # size, and after the last one the full solver.
    if not ks:
      return full_objective(log_a, warm)
    pen = _with_alpha(penalty, jnp.exp(sg(log_a)))
    a1, a2 = _fit._penalty_parts(pen, p, X.dtype)
    w, idx, d, s, G, cW, ok = _ws_folds(X, y, train, sg(a1), sg(a2), warm, ks[0],
                                        tol, 10)
    return jax.lax.cond(jnp.all(ok), lambda la, w: ws_objective(la, idx, d, s, G, cW),
                        functools.partial(ws_level, ks[1:]), log_a, w)

  def objective(log_a, warm):
    if not ws:
      return full_objective(log_a, warm)
    return ws_level(sizes, log_a, warm)

  return _descend(objective, log_a0, jnp.zeros((K, p), X.dtype), optimizer, steps)
