r"""K-fold cross-validation of the elastic-net path.

For each fold, the path of

    (1/(2n_train))‖y_train − X_train w − b‖² + α·r‖w‖₁ + α(1 − r)/2 ‖w‖²

is fitted on the training rows and scored by the mean squared error on the
held-out rows, exactly as scikit-learn's ``LassoCV``/``ElasticNetCV`` do. All
folds and the final refit on the full data reuse one compiled path program.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple, Sequence, Union

import jax
import jax.numpy as jnp
import numpy as np

from jaxreg.linear import _coordinate_descent as _cd
from jaxreg._placement import on_device
from jaxreg.linear._data import check_folds, check_Xy, kfold
from jaxreg.linear import paths as _paths
from jaxreg.linear import _data, _engine, _sparse
from jaxreg.linear import datafits as _datafits
from jaxreg.linear.fit import ConvergenceWarning
from jaxreg.penalties import ElasticNet

__all__ = ["CVResult", "ConvergenceWarning", "check_folds", "cross_validate", "kfold"]


class CVResult(NamedTuple):
  """The outcome of :func:`cross_validate`.

  Attributes:
    alphas: (K,) the α grid, decreasing.
    mse_mean: (K,) held-out mean squared error, averaged over folds.
    mse_std: (K,) its standard deviation over folds (ddof = 0).
    best_alpha: the α minimizing ``mse_mean`` (the largest, on ties).
    alpha_1se: the largest α whose ``mse_mean`` is within one standard
      error, ``mse_std/√n_folds`` at the minimum, of the minimum.
    coef: (p,) the coefficients refitted on all the data at ``best_alpha``.
    intercept: the matching intercept.
    mse_path: (K, n_folds) the error of every fold at every α (scikit-learn's
      ``mse_path_``).
    coefs: (K, p) the path on all the data (``coef`` is its row at
      ``best_alpha``).
    converged: (K, n_folds) bool, laid out as ``mse_path``: whether the fit
      of that fold at that α met the duality-gap tolerance within
      ``max_iter`` sweeps (a warning is issued when any did not).
    coefs_converged: (K,) bool, the same for the path on all the data.
  """

  alphas: jax.Array
  mse_mean: jax.Array
  mse_std: jax.Array
  best_alpha: jax.Array
  alpha_1se: jax.Array
  coef: jax.Array
  intercept: jax.Array
  mse_path: jax.Array
  coefs: jax.Array
  converged: jax.Array
  coefs_converged: jax.Array


def _train_stats(Xn, yn, S, s_, y2full, train, fit_intercept):
  """Centred Gram matrix, Xᵀy and ‖y‖² of the training rows ``train`` (repeats count).

  ``S``, ``s_``, ``y2full`` are the sums over all rows of Xn, yn (centred by
  the full-data means). The training sums are those minus the rows whose
  multiplicity is not 1 (weighted by 1 − count), or summed directly over
  the training rows, whichever touches fewer rows: folds of K-fold leave
  out a few rows; a time-series split's first fold keeps a few.
  """
  n, p = Xn.shape
  count = np.bincount(train, minlength=n).astype(Xn.dtype)
  nt = count.sum()
  m = count @ Xn / nt if fit_intercept else np.zeros(p, Xn.dtype)
  ym = count @ yn / nt if fit_intercept else Xn.dtype.type(0)
  off = np.flatnonzero(count != 1)
  used = np.flatnonzero(count)
  if off.size < used.size:
    d = 1.0 - count[off]
    Xo, yo = Xn[off], yn[off]
    A = S - (Xo * d[:, None]).T @ Xo
    b = s_ - (Xo * d[:, None]).T @ yo
    y2 = y2full - d @ (yo * yo)
  else:
    c = count[used]
    Xu, yu = Xn[used], yn[used]
    A = (Xu * c[:, None]).T @ Xu
    b = (Xu * c[:, None]).T @ yu
    y2 = c @ (yu * yu)
  return A - nt * np.outer(m, m), b - nt * m * ym, y2 - nt * ym * ym, m, ym, int(nt)


def cross_validate(X, y, l1_ratio: float = 1.0, alphas=None,
                   cv: Union[int, Sequence, object, None] = 5, n_alphas: int = 100, eps: float = 1e-3,
                   fit_intercept: bool = True, tol: float = 1e-4, max_iter: int = 1000,
                   precompute="auto", penalty=None, datafit="squared",
                   solver: str = "auto", sample_weight=None) -> CVResult:
  r"""K-fold cross-validation of the elastic-net path, then a refit.

  For every fold and every α of one shared grid, minimizes on the training
  rows

      (1/(2n_train))‖y − Xw − b‖² + α·r‖w‖₁ + α(1 − r)/2 ‖w‖²

  and records the held-out mean squared error; then picks α and refits on
  all rows. This reproduces scikit-learn's ``LassoCV``/``ElasticNetCV``
  (given the same folds and grid): the grid is computed on the full data,
  each fold centers its own training rows, ``mse_path`` has one column per
  fold, and its row mean is the CV curve.

  Speed: the folds and the refit share one compiled path program (their
  shapes are equal: Gram matrices are p × p, and in residual mode training
  sets are zero-padded to n rows). In Gram
  mode (n ≥ p) a fold's Gram matrix is the full one minus the rows outside
  its training set, or the sum over its training rows when those are
  fewer, so for K-fold the O(np²) work is done about twice rather than
  once per fold. The training rows are the fold's ``train`` indices, never
  the complement of ``test``.

  Args:
    X: (n, p) design matrix.
    y: (n,) targets.
    l1_ratio: r ∈ [0, 1] (1: lasso).
    alphas: positive strengths, or None for scikit-learn's grid on the full
      data (``n_alphas`` values from α_max down to eps·α_max).
    cv: what ``LassoCV(cv=...)`` accepts: None or an int K (K contiguous,
      unshuffled folds: scikit-learn's ``KFold(K)``; None is 5), a splitter
      with a ``split(X, y)`` method (``KFold(shuffle=True)``,
      ``TimeSeriesSplit``, ``ShuffleSplit``, ...), or an iterable of
      (train, test) index arrays. Train and test sets need not cover all
      rows nor be disjoint (see :func:`check_folds`).
    n_alphas: grid size when ``alphas`` is None.
    eps: α_min/α_max of the default grid.
    fit_intercept: center each training set and fit an intercept.
    tol: relative duality-gap tolerance of each path (see ``enet_path``).
    max_iter: maximum sweeps per α.
    precompute: "auto" (Gram matrices when n ≥ p), True or False.
    penalty: any jaxreg penalty (its α is replaced along the grid), with
      ``datafit`` any datafit of :func:`jaxreg.linear.path`; None (the
      default) is ``ElasticNet(·, l1_ratio)`` with the squared loss, the
      scikit-learn-compatible solver above. With a penalty or another
      datafit, every fold runs :func:`jaxreg.linear.path` on its training
      rows (``tol`` and ``max_iter`` as there, ``l1_ratio`` and
      ``precompute`` unused) and ``mse_*`` hold the held-out mean squared
      error for the squared loss (over all entries when multitask) and the
      datafit's mean loss otherwise (log-loss, half Poisson deviance,
      Huber loss).
    datafit: see ``penalty``.
    solver: the solver of the generic route (see :func:`jaxreg.linear.path`).
    sample_weight: None or (n,) weights ≥ 0, not all 0: each fold is fitted
      with its training rows' weights and scored by the weighted mean of
      its test rows' errors (squared error, or the datafit's loss), the
      grid and refit use all the weights (scikit-learn's
      ``LassoCV.fit(X, y, sample_weight)``); any penalty and datafit. A
      sparse X (see :func:`jaxreg.linear.enet_path`) is also
      cross-validated fold by fold (the elastic net).

  Returns:
    A :class:`CVResult`; a :class:`ConvergenceWarning` is issued when a fit
    stopped at ``max_iter`` (see ``CVResult.converged``).

  Example:
    >>> import numpy as np, jaxreg as jr
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 5)); y = X @ np.array([2.0, 0, 0, -1.0, 0]) + 0.1 * rng.normal(size=60)
    >>> res = jr.linear.cross_validate(X, y, cv=3, n_alphas=20)
    >>> res.mse_mean.shape, bool(res.alpha_1se >= res.best_alpha)
    ((20,), True)

  References:
    Friedman, Hastie & Tibshirani (2010), glmnet's ``cv.glmnet`` (the
    one-standard-error rule); scikit-learn's ``LassoCV``.
  """
  generic = penalty is not None or not (isinstance(datafit, str) and datafit == "squared")
  if (_sparse.is_sparse(X) and not generic) or (sample_weight is not None and not generic):
    return _cross_validate_by_folds(X, y, l1_ratio, alphas, cv, n_alphas, eps,
                                    bool(fit_intercept), tol, max_iter, sample_weight)
  if generic:
    if penalty is None:
      penalty = ElasticNet(1.0, _paths._check_l1_ratio(l1_ratio))
    return _cross_validate_generic(X, y, penalty, datafit, alphas, cv, n_alphas, eps,
                                   bool(fit_intercept), tol, max_iter, solver, sample_weight)
  X, y = check_Xy(X, y)
  r = _paths._check_l1_ratio(l1_ratio)
  max_iter = _paths._check_positive_int(max_iter, "max_iter")
  tol = max(_paths._check_positive_float(tol, "tol"), _paths.tol_floor(X.dtype))
  n, p = X.shape
  folds = check_folds(cv, np.asarray(X), np.asarray(y))
  dtype = X.dtype

  if alphas is None:
    if r == 0:
      raise ValueError("l1_ratio=0 needs explicit alphas (the default grid divides by l1_ratio).")
    n_alphas = _paths._check_positive_int(n_alphas, "n_alphas")
    eps = _paths._check_positive_float(eps, "eps")
  else:
    alphas = _paths.check_alphas(alphas, dtype)
    n_alphas = None
  gram = _paths._use_gram(n, p, precompute)
  # The full data: its centering, the grid (on all rows, as LassoCV does)
  # and the Gram matrix come from the same compiled preparation as enet_path.
  full = _paths._prepare(X, y, alphas, on_device(r, dtype),
                         on_device(eps or 1.0, dtype), on_device(tol, dtype),
                         n_alphas=n_alphas,
                         fit_intercept=bool(fit_intercept), gram=gram)
  alphas = full.alphas

  # Folds are assembled on the host in NumPy: fold shapes differ, and eager
  # JAX would compile a kernel per shape. Centering by the full-data means
  # first keeps the corrections below (which subtract the held-out rows'
  # contribution from full-data sums) free of large cancellations. The data
  # and the full-data sums come to the host once, and each fold's arrays go
  # back once, by explicit transfers (jax.device_get / device_put).
  npdt = np.dtype(dtype)
  Xn, yn = (np.asarray(a, npdt) for a in jax.device_get((X, y)))
  if fit_intercept:
    Xn = Xn - Xn.mean(axis=0)
    yn = yn - yn.mean()
  means, ymeans, ns = [], [], []
  if gram:
    S, s_, y2full = jax.device_get((full.A, full.b, full.y2))
    y2full = float(y2full)
    As, bs, y2s = [], [], []
    for train, _ in folds:
      A, b, y2, m, ym, nt = _train_stats(Xn, yn, S, s_, y2full, train, fit_intercept)
      As.append(A)
      bs.append(b)
      y2s.append(y2)
      means.append(m)
      ymeans.append(ym)
      ns.append(nt)
    l1_start = [np.max(np.abs(b_)) for b_ in bs]
  else:
    # Every fold is padded to at least n rows, the refit's shape: the folds
    # and the refit then share one compiled program whatever the scheme.
    m_max = max(n, max(len(train) for train, _ in folds))
    As, bs, y2s, l1_start = [], [], [], []
    for train, _ in folds:
      ns.append(len(train))
      m = Xn[train].mean(axis=0) if fit_intercept else np.zeros(p, npdt)
      ym = yn[train].mean() if fit_intercept else npdt.type(0)
      means.append(m)
      ymeans.append(ym)
      Xt = Xn[train] - m
      yt = yn[train] - ym
      # Zero rows leave XᵀX, Xᵀy and ‖y‖² unchanged: padding gives every
      # fold the same shapes, hence one compiled program.
      pad = m_max - Xt.shape[0]
      As.append(np.pad(Xt, ((0, pad), (0, 0))))
      bs.append(np.pad(yt, (0, pad)))
      y2s.append(yt @ yt)
      l1_start.append(np.max(np.abs(Xt.T @ yt)))

  alphas_np = np.asarray(jax.device_get(alphas)).astype(npdt)
  solve = _cd.gram_path if gram else _cd.residual_path

  def run_fold(f):
    args = (As[f], bs[f], y2s[f]) if gram else (As[f], bs[f])
    args = jax.device_put((*args, (ns[f] * r) * alphas_np, (ns[f] * (1 - r)) * alphas_np,
                           npdt.type(l1_start[f]), npdt.type(tol * y2s[f])))
    out = solve(*args, full.tol_rel, max_iter=max_iter)
    return jax.device_get((out.coefs, out.converged))

  def run_full():
    if gram:
      out = solve(full.A, full.b, full.y2, full.l1s, full.l2s, full.l1_start, full.tol_abs,
                  full.tol_rel, max_iter=max_iter)
    else:
      out = solve(full.A, full.b, full.l1s, full.l2s, full.l1_start, full.tol_abs,
                  full.tol_rel, max_iter=max_iter)
    return out.coefs, jax.device_get(out.converged)

  # The folds and the refit reuse one compiled path program.
  fold_out = [run_fold(f) for f in range(len(folds))]
  coefs = [c for c, _ in fold_out]
  converged = np.stack([ok for _, ok in fold_out], axis=1)  # (K, F)
  full_coefs, full_converged = run_full()
  if not (converged.all() and full_converged.all()):
    bad = [f"fold {f} at {int((~converged[:, f]).sum())} α" for f in range(len(folds))
           if not converged[:, f].all()]
    if not full_converged.all():
      bad.append(f"the refit on all rows at {int((~full_converged).sum())} α")
    warnings.warn(f"cross_validate: coordinate descent reached max_iter={max_iter} before "
                  f"meeting tol={tol:g} ({'; '.join(bad)}); raise max_iter or tol. "
                  "CVResult.converged marks the fits concerned.", ConvergenceWarning,
                  stacklevel=2)

  mse = []
  for f, (_, test) in enumerate(folds):
    # Intercept of fold f at every α, in the full-data-centered frame.
    intercepts = ymeans[f] - coefs[f] @ means[f]
    pred = Xn[test] @ coefs[f].T + intercepts[None, :]
    mse.append(np.mean((yn[test][:, None] - pred) ** 2, axis=0))
  mse_path = np.stack(mse, axis=1)  # (K, F)
  mse_mean, mse_std, best, i1se = _select(alphas, mse_path)
  host = jax.device_put((np.asarray(mse_mean, npdt), np.asarray(mse_std, npdt),
                         np.asarray(mse_path, npdt), converged, full_converged,
                         np.int32(best), np.int32(i1se)))
  mse_mean, mse_std, mse_path, converged, full_converged, best, i1se = host
  alpha_best, alpha_1se, coef, intercept = _refit_at(alphas, full_coefs, full.x_mean,
                                                     full.y_mean, best, i1se)
  return CVResult(alphas, mse_mean, mse_std, alpha_best, alpha_1se, coef, intercept, mse_path,
                  full_coefs, converged, full_converged)


@jax.jit
def _refit_at(alphas, coefs, x_mean, y_mean, best, i1se):
  """The chosen α, the 1-SE α, and the refit's coefficients and intercept at the chosen α."""
  coef = coefs[best]
  return alphas[best], alphas[i1se], coef, y_mean - jnp.dot(x_mean, coef)


def _select(alphas, mse_path):
  """The best α and the one-standard-error α of a (K, F) error table."""
  mse_mean = mse_path.mean(axis=1)
  mse_std = mse_path.std(axis=1)
  best = int(np.argmin(mse_mean))
  se = mse_std[best] / np.sqrt(mse_path.shape[1])
  # α decreases along the grid: the first index within reach is the largest α.
  i1se = int(np.argmax(mse_mean <= mse_mean[best] + se))
  return mse_mean, mse_std, best, i1se


def _cross_validate_generic(X, y, penalty, datafit, alphas, cv, n_alphas, eps, fit_intercept, tol,
                            max_iter, solver, sample_weight=None):
  """Cross-validation of any datafit × penalty path (see :func:`cross_validate`);
  with ``sample_weight``, each fold fitted with its training rows' weights
  and scored by its test rows' weighted mean loss."""
  sparse = _sparse.is_sparse(X)
  if sparse:
    # Folds are CSR row slices, fitted as sparse paths (never densified).
    Xs, _ = _data.check_sparse_X(X)
    prob = _engine.prepare_sparse(Xs, y, penalty, datafit)
    Xn = Xs.tocsr()
  else:
    prob = _engine.prepare(X, y, penalty, datafit)
    Xn = np.asarray(jax.device_get(prob.X))
  dtype = prob.Y.dtype
  # Folds are cut on the host: the data comes back once and each fold's rows
  # go out once, by explicit transfers.
  folds = check_folds(cv, Xn, np.asarray(jax.device_get(y)))
  s = None if sample_weight is None else np.asarray(jax.device_get(
      _data.check_sample_weight(sample_weight, prob.Y.shape[0], dtype)))
  if alphas is None:
    n_alphas = _paths._check_positive_int(n_alphas, "n_alphas")
    eps = _paths._check_positive_float(eps, "eps")
    # The full data's grid, from the weighted α_max when weighted.
    if sparse:
      gp, gi = _engine.prepare_sparse(Xs, y, penalty, datafit, s), fit_intercept
    else:
      gp, _, gi = _paths.weighted_problem(prob, None if s is None else jax.device_put(s),
                                          fit_intercept)
    alphas = _paths._generic_grid(gp.X, gp.Y, gp.datafit, gp.coords, on_device(eps, dtype),
                                  fit_intercept=gi, n_alphas=n_alphas)
  else:
    alphas = _paths.check_alphas(alphas, dtype, allow_zero=True)
  max_iter = _paths._check_positive_int(max_iter, "max_iter")
  tol = max(_paths._check_positive_float(tol, "tol"), _paths.tol_floor(dtype))
  _engine.check_solver(solver, prob.datafit)
  df = prob.datafit
  Yn = np.asarray(jax.device_get(prob.Y))
  yn = np.asarray(jax.device_get(y))

  def run(rows):
    if s is not None or sparse:
      # Rows of weight 0 (copies of row 0: valid targets) pad every fit to n
      # rows, so the folds and the refit share one compiled path.
      extra = max(Xn.shape[0] - len(rows), 0)
      padded = np.concatenate([rows, np.zeros(extra, rows.dtype)])
      s_pad = np.concatenate([np.ones(len(rows), dtype) if s is None else s[rows],
                              np.zeros(extra, dtype)])
      with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)   # summarized below
        Xf = Xn[padded] if sparse else jax.device_put(Xn[padded])
        out = _paths.path(Xf, *jax.device_put((yn[padded],)), penalty, datafit, alphas, tol=tol,
                          fit_intercept=fit_intercept, max_iter=max_iter, solver=solver,
                          sample_weight=jax.device_put(s_pad))
      W, b, ok = jax.device_get((out.coefs, out.intercepts, out.converged))
      if prob.single_output:
        W, b = W[..., None], b[..., None]
      return W, b, ok
    Xf, Yf, tol_d = jax.device_put((Xn[rows], Yn[rows], np.asarray(tol, dtype)))
    out = _paths._generic_path(Xf, Yf, df, prob.coords, alphas, tol_d,
                               fit_intercept=fit_intercept, max_iter=max_iter, solver=solver)
    return jax.device_get((out.W, out.b, out.converged))

  def held_out(W, b, test):
    if sparse:
      eta = jax.device_put(np.stack([Xn[test] @ Wk for Wk in W]) + b[:, None])
    else:
      eta = _predict(*jax.device_put((Xn[test], W, b)))
    Yt = jax.device_put(Yn[test])
    st = None if s is None else s[test]
    if st is not None and not np.sum(st) > 0:
      raise ValueError("sample_weight is zero on every test row of a fold: its held-out "
                       "loss is undefined.")
    if df.name == "squared":
      err = _squared_errors(Yt, eta)                                  # (K, n_test)
      return np.average(jax.device_get(err), axis=1, weights=st)
    dft = df if st is None else _datafits.Weighted(df, jax.device_put(st))
    return np.asarray(jax.device_get(_held_out_losses(dft, Yt, eta)))

  losses, converged = [], []
  for train, test in folds:
    W, b, ok = run(np.asarray(train))
    losses.append(held_out(W, b, np.asarray(test)))
    converged.append(ok)
  mse_path = np.stack(losses, axis=1)
  converged = np.stack(converged, axis=1)
  W, b, full_ok = run(np.arange(Xn.shape[0]))
  if not (converged.all() and full_ok.all()):
    warnings.warn(f"cross_validate: some fits reached max_iter={max_iter} before meeting "
                  f"tol={tol:g} ({int((~converged).sum())} fold fits, {int((~full_ok).sum())} "
                  "refits); raise max_iter or tol. CVResult.converged marks them.",
                  ConvergenceWarning, stacklevel=3)
  mse_mean, mse_std, best, i1se = _select(alphas, mse_path)
  if prob.single_output:
    W, b = W[..., 0], b[..., 0]
  as_j = lambda a: np.asarray(a, dtype)
  host = jax.device_put((as_j(mse_mean), as_j(mse_std), as_j(W[best]), as_j(b[best]),
                         as_j(mse_path), as_j(W), converged, full_ok, np.int32(best),
                         np.int32(i1se)))
  mse_mean, mse_std, coef, intercept, mse_path, W, converged, full_ok, best, i1se = host
  alpha_best, alpha_1se = _pick(alphas, best), _pick(alphas, i1se)
  return CVResult(alphas, mse_mean, mse_std, alpha_best, alpha_1se, coef, intercept, mse_path,
                  W, converged, full_ok)


@jax.jit
def _pick(a, i):
  return a[i]


@jax.jit
def _predict(X, W, b):
  return jnp.einsum("np,kpt->knt", X, W) + b[:, None]


@jax.jit
def _squared_errors(Y, eta):
  return jnp.mean((Y[None] - eta) ** 2, axis=2)


@jax.jit
def _held_out_losses(datafit, Y, eta):
  return jax.vmap(lambda e: datafit.value(Y, e))(eta)


def _cross_validate_by_folds(X, y, l1_ratio, alphas, cv, n_alphas, eps, fit_intercept, tol,
                             max_iter, sample_weight):
  """:func:`cross_validate` one fold at a time, each by :func:`enet_path` on
  its training rows (with their weights): for a sparse X (a CSR row slice,
  never densified) and for ``sample_weight``. The grid is the full data's;
  the held-out error is weighted by the test rows' weights, as scikit-learn's."""
  full = _paths.enet_path(X, y, l1_ratio, alphas, n_alphas, eps, fit_intercept, tol, max_iter,
                          sample_weight=sample_weight)
  # Folds are cut on the host; transfers both ways are explicit.
  alphas = np.asarray(jax.device_get(full.alphas))
  sparse = _sparse.is_sparse(X)
  if sparse:
    Xr = _sparse.to_csc(X, alphas.dtype).tocsr()
  else:
    Xr = np.asarray(jax.device_get(check_Xy(X, y)[0]))
  yv = np.asarray(jax.device_get(y), Xr.dtype)
  s = None if sample_weight is None else np.asarray(jax.device_get(
      _data.check_sample_weight(sample_weight, Xr.shape[0], Xr.dtype)))
  folds = check_folds(cv, Xr, yv)
  mse, converged = [], []
  for train, test in folds:
    train, test = np.asarray(train), np.asarray(test)
    with warnings.catch_warnings():
      warnings.simplefilter("ignore", ConvergenceWarning)   # summarized below
      Xf = Xr[train] if sparse else jax.device_put(Xr[train])
      yf, sf, af = jax.device_put((yv[train], None if s is None else s[train], alphas))
      out = _paths.enet_path(Xf, yf, l1_ratio, af, fit_intercept=fit_intercept, tol=tol,
                             max_iter=max_iter, sample_weight=sf)
    coefs, intercepts, ok = jax.device_get((out.coefs, out.intercepts, out.converged))
    pred = Xr[test] @ coefs.T + intercepts[None, :]
    err = (yv[test][:, None] - pred) ** 2
    mse.append(np.average(err, axis=0, weights=None if s is None else s[test]))
    converged.append(ok)
  mse_path = np.stack(mse, axis=1)
  converged = np.stack(converged, axis=1)
  if not converged.all():
    warnings.warn(f"cross_validate: some fold fits reached max_iter={max_iter} before meeting "
                  f"tol={tol:g} ({int((~converged).sum())} of them); raise max_iter or tol. "
                  "CVResult.converged marks them.", ConvergenceWarning, stacklevel=3)
  mse_mean, mse_std, best, i1se = _select(alphas, mse_path)
  as_j = lambda a: np.asarray(a, Xr.dtype)
  host = jax.device_put((as_j(alphas), as_j(mse_mean), as_j(mse_std), as_j(alphas[best]),
                         as_j(alphas[i1se]), as_j(mse_path), converged, np.int32(best)))
  alphas, mse_mean, mse_std, alpha_best, alpha_1se, mse_path, converged, best = host
  return CVResult(alphas, mse_mean, mse_std, alpha_best, alpha_1se, _pick(full.coefs, best),
                  _pick(full.intercepts, best), mse_path, full.coefs, converged, full.converged)
