"""The duality gap the solvers stop on: against scikit-learn's own gaps, weak
duality against other solvers' points, and planted errors that must fail."""

import warnings

import jax.numpy as jnp
import numpy as np
import pytest
from sklearn import linear_model

import jaxreg as jr
from jaxreg import penalties
from jaxreg.linear import datafits
from jaxreg.linear.solvers import _common


def _data(n=40, p=30, T=None, seed=0):
  rng = np.random.default_rng(seed)
  X = rng.standard_normal((n, p))
  W = np.zeros((p, T or 1))
  W[:3] = rng.standard_normal((3, T or 1)) * 2
  Y = X @ W + rng.standard_normal((n, T or 1)) + 0.5
  return X, (Y if T else Y[:, 0])


def _at(penalty, X, Y, W, b):
  """(X, Y, W as 2-d arrays, the penalty's view, η); b None: centered data,
  the intercept exact."""
  X, Y, W = jnp.asarray(X), jnp.asarray(Y), jnp.asarray(W)
  if Y.ndim == 1:
    Y, W = Y[:, None], W.reshape(-1, 1)
  if b is None:
    X, Y = X - X.mean(0), Y - Y.mean(0)
  co = penalties.coordinates(penalty, X.shape[1], Y.shape[1])
  return X, Y, W, co, X @ W + (0.0 if b is None else jnp.asarray(b))


def _gap(datafit, penalty, X, Y, W, b=None):
  """The gap at (W, b)."""
  X, Y, W, co, eta = _at(penalty, X, Y, W, b)
  G = X.T @ datafit.gradient(Y, eta)
  # c‖X_b‖_F²/n: a block's Lipschitz bound (used for unpenalized blocks;
  # Poisson has no global c, its largest local curvature stands in).
  c = datafit.curvature
  if c is None:
    c = X.shape[0] * jnp.max(datafit.hessian_diag(Y, eta))
  Lb = c * jnp.sum(co.gather(X.T) ** 2, axis=(1, 2)) / X.shape[0]
  return float(_common.gap_at(datafit, co, X, Y, eta, W, G, Lb, b is not None))


def _objective(datafit, penalty, X, Y, W, b=None):
  X, Y, W, co, eta = _at(penalty, X, Y, W, b)
  return float(datafit.value(Y, eta) + co.value(W))


@pytest.mark.parametrize("max_iter", [1, 2, 5])
def test_lasso_gap_is_scikit_learns(x64, max_iter):
  # scikit-learn's Lasso reports the gap of its last iterate (dual_gap_);
  # a few sweeps leave one far from 0.
  X, y = _data()
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    m = linear_model.Lasso(alpha=0.05, max_iter=max_iter, tol=0.0).fit(X, y)
  got = _gap(datafits.Squared(), jr.L1(0.05), X, y, m.coef_)
  np.testing.assert_allclose(got, m.dual_gap_, rtol=1e-10)
  assert got > 1e-4


@pytest.mark.parametrize("max_iter", [1, 2, 5])
def test_positive_lasso_gap_is_scikit_learns(x64, max_iter):
  # Lasso(positive=True): its dual norm is one-sided, max_j X_jᵀR.
  X, y = _data(seed=4)
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    m = linear_model.Lasso(alpha=0.05, positive=True, max_iter=max_iter, tol=0.0).fit(X, y)
  got = _gap(datafits.Squared(), jr.NonNegative(jr.L1(0.05)), X, y, m.coef_)
  np.testing.assert_allclose(got, m.dual_gap_, rtol=1e-10)
  assert got > 1e-4


def test_planted_two_sided_dual_norm_in_a_box_fails(x64, monkeypatch):
  """NonNegative(L1) with the lasso's two-sided dual norm max|V| (the bound
  side ignored): the gap no longer matches scikit-learn's positive lasso."""
  monkeypatch.setattr(penalties.Coordinates, "dual_norms",
                      lambda self, V: jnp.max(jnp.abs(V), axis=1))
  with pytest.raises(AssertionError):
    test_positive_lasso_gap_is_scikit_learns(None, 2)


@pytest.mark.parametrize("max_iter", [1, 3])
def test_multitask_lasso_gap_is_scikit_learns(x64, max_iter):
  # MultiTaskLasso: α Σ_j ‖W_j‖₂; jaxreg's GroupLasso(axis=1) weighs each row
  # group by √T, so its α is scikit-learn's / √T.
  X, Y = _data(T=3)
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    m = linear_model.MultiTaskLasso(alpha=0.05, max_iter=max_iter, tol=0.0).fit(X, Y)
  got = _gap(datafits.Squared(), jr.GroupLasso(0.05 / np.sqrt(3), axis=1), X, Y, m.coef_.T)
  np.testing.assert_allclose(got, m.dual_gap_, rtol=1e-10)


def _cases():
  X, y = _data()
  X3, Y3 = _data(T=3)
  rng = np.random.default_rng(3)
  ylog = (rng.random(40) < 1 / (1 + np.exp(-(X[:, 0] - X[:, 1])))).astype(float)
  groups = [list(range(0, 10)), list(range(10, 20)), list(range(20, 30))]
  sq = datafits.Squared()
  w = np.abs(rng.standard_normal(30)) + 0.2
  ypois = rng.poisson(np.exp(0.3 * X[:, 0] - 0.2 * X[:, 1] + 0.5)).astype(float)
  Ymult = np.eye(3)[np.argmax(X[:, :3] + rng.gumbel(size=(40, 3)), axis=1)]
  yhub = y + 5.0 * (rng.random(40) < 0.1) * rng.standard_normal(40)
  return {
      "lasso": (sq, jr.L1(0.05), X, y, linear_model.Lasso(0.05, tol=1e-12, max_iter=10**5)),
      "weighted_l1": (sq, jr.L1(0.05, weights=w), X, y, None),
      "enet": (sq, jr.ElasticNet(0.05, 0.5), X, y,
               linear_model.ElasticNet(0.05, l1_ratio=0.5, tol=1e-12, max_iter=10**5)),
      "ridge": (sq, jr.L2(0.3), X, y, linear_model.Ridge(0.3 * 40)),
      "group": (sq, jr.GroupLasso(0.05, groups=groups), X, y, None),
      "multitask_group": (sq, jr.GroupLasso(0.05 / np.sqrt(3), axis=1), X3, Y3,
                          linear_model.MultiTaskLasso(0.05, tol=1e-12, max_iter=10**5)),
      "multitask_l1": (sq, jr.L1(0.05), X3, Y3, None),
      "logistic_l1": (datafits.Logistic(), jr.L1(0.02), X, ylog, None),
      # scikit-learn's PoissonRegressor: half the mean deviance + (α/2)‖w‖².
      "poisson_l2": (datafits.Poisson(), jr.L2(0.05), X / 4, ypois, linear_model.PoissonRegressor(
          alpha=0.05, tol=1e-12, max_iter=10**4)),
      "poisson_l1": (datafits.Poisson(), jr.L1(0.01), X / 4, ypois, None),
      # LogisticRegression: C·Σ log-loss + ½‖W‖², i.e. α = 1/(nC).
      "multinomial_l2": (datafits.Multinomial(), jr.L2(0.05), X, Ymult, linear_model.LogisticRegression(
          C=1 / (40 * 0.05), tol=1e-12, max_iter=10**4)),
      "multinomial_l1": (datafits.Multinomial(), jr.L1(0.02), X, Ymult, None),
      "positive_lasso": (sq, jr.NonNegative(jr.L1(0.05)), X, y, linear_model.Lasso(
          0.05, positive=True, tol=1e-12, max_iter=10**5)),
      "positive_enet": (sq, jr.NonNegative(jr.ElasticNet(0.05, 0.5)), X, y,
                        linear_model.ElasticNet(0.05, l1_ratio=0.5, positive=True, tol=1e-12,
                                                max_iter=10**5)),
      "box_l1": (sq, jr.Box(-0.4, 0.6, jr.L1(0.02)), X, y, None),
      "box_only": (sq, jr.Box(-0.3, 0.3), X, y, None),
      "logistic_nonneg_l1": (datafits.Logistic(), jr.NonNegative(jr.L1(0.01)), X, ylog, None),
      "huber_l1": (datafits.Huber(), jr.L1(0.05), X, yhub, None),
      "huber_group": (datafits.Huber(), jr.GroupLasso(0.05, groups=groups), X, yhub, None),
  }


def _fit_intercept(df, Y):
  # The squared loss is solved on centered data (b = None: exact intercept).
  return not isinstance(df, datafits.Squared)


def _solution(name, case):
  """A near-optimal point from a solver jaxreg did not write where there is
  one (scikit-learn), from jaxreg's path otherwise."""
  df, pen, X, Y, sk = case
  multi = isinstance(df, datafits.Multinomial)
  target = np.argmax(Y, axis=1) if multi else Y
  if sk is not None:
    m = sk.fit(X, target)
    b = np.atleast_1d(m.intercept_) if _fit_intercept(df, Y) else None
    return np.asarray(m.coef_).T.reshape(X.shape[1], -1), b
  kind = df.name if not isinstance(df, datafits.Squared) else (
      "multitask" if np.ndim(Y) == 2 else "squared")
  res = jr.linear.path(X, target, pen, datafit=kind, alphas=[float(pen.alpha)], tol=1e-13,
                       max_iter=10**4)
  W = np.asarray(res.coefs[0]).reshape(X.shape[1], -1)
  return W, (np.atleast_1d(np.asarray(res.intercepts[0])) if _fit_intercept(df, Y) else None)


@pytest.mark.parametrize("name", list(_cases()))
def test_gap_bounds_suboptimality_and_vanishes_at_the_solution(x64, name):
  """Weak duality: gap(W) ≥ F(W) − F(W') for any W' (the dual value is at
  most every primal value), checked against near-optimal W' at many W, and
  the gap is at rounding level at the solution."""
  case = _cases()[name]
  df, pen, X, Y, _ = case
  W_opt, b_opt = _solution(name, case)
  F_opt = _objective(df, pen, X, Y, W_opt, b_opt)
  scale = 2 * _objective(df, pen, X, Y, np.zeros_like(W_opt),
                         None if b_opt is None else np.full_like(b_opt, 0.0))
  assert _gap(df, pen, X, Y, W_opt, b_opt) <= 1e-7 * scale
  rng = np.random.default_rng(7)
  for size in (1e-4, 1e-2, 0.3, 2.0):
    for _ in range(5):
      D = size * rng.standard_normal(W_opt.shape) * (rng.random(W_opt.shape) < 0.3)
      W = W_opt + D
      if isinstance(pen, jr.Box):  # primal points stay feasible
        W = np.clip(W, float(pen.lower), float(pen.upper))
      b = None if b_opt is None else b_opt + size * rng.standard_normal(np.shape(b_opt))
      sub = _objective(df, pen, X, Y, W, b) - F_opt
      gap = _gap(df, pen, X, Y, W, b)
      assert gap >= sub - 1e-12 * scale, (size, gap, sub)


def test_planted_unscaled_dual_point_fails(x64, monkeypatch):
  """The same check with a planted error: the residual taken as the dual
  point without rescaling it into the feasible set (s = 1) gives a 'gap'
  below the suboptimality on the segment from 0 to the solution."""
  df, pen, X, Y, sk = _cases()["multitask_group"]
  W_opt = sk.fit(X, Y).coef_.T
  F_opt = _objective(df, pen, X, Y, W_opt)
  segment = [t * W_opt for t in np.linspace(0.0, 0.9, 10)]
  for W in segment:
    assert _gap(df, pen, X, Y, W) >= _objective(df, pen, X, Y, W) - F_opt - 1e-12
  monkeypatch.setattr(penalties.Coordinates, "dual_norms",
                      lambda self, V: jnp.zeros(self.n_blocks, V.dtype))
  violated = [_gap(df, pen, X, Y, W) < _objective(df, pen, X, Y, W) - F_opt for W in segment]
  assert any(violated)


@pytest.mark.parametrize("name", ["poisson_l2", "multinomial_l2"])
def test_planted_infeasible_intercept_dual_fails(x64, monkeypatch, name):
  """With a free intercept, the raw gradient (columns not summing to 0) as
  the dual point: the gap then falls below the suboptimality near the
  solution, where the intercept is off."""
  df = _cases()[name][0]
  monkeypatch.setattr(type(df), "feasible_dual", lambda self, y, u: u)
  with pytest.raises(AssertionError):
    test_gap_bounds_suboptimality_and_vanishes_at_the_solution(None, name)


def test_planted_dual_norm_error_fails(x64, monkeypatch):
  """An entrywise L1 on several outputs has the row's ℓ∞ norm as its dual
  norm; the planted Frobenius norm (a group's) rescales a dual point that
  needs none, and the gap no longer vanishes at the solution."""
  df, pen, X, Y, _ = _cases()["multitask_l1"]
  W_opt, _ = _solution("multitask_l1", _cases()["multitask_l1"])
  assert _gap(df, pen, X, Y, W_opt) <= 1e-9
  monkeypatch.setattr(penalties.Coordinates, "dual_norms",
                      lambda self, V: jnp.sqrt(jnp.sum(V * V, axis=1)))
  assert _gap(df, pen, X, Y, W_opt) > 1e-3


def test_planted_conjugate_error_fails(x64, monkeypatch):
  """The elastic net's conjugate without its ½ (max(|v| − l1, 0)²/l2) gives
  a 'gap' that does not vanish at the solution."""
  df, pen, X, Y, sk = _cases()["enet"]
  W_opt = sk.fit(X, Y).coef_
  assert _gap(df, pen, X, Y, W_opt) <= 1e-9
  true = penalties.Coordinates.conjugate
  monkeypatch.setattr(penalties.Coordinates, "conjugate", lambda self, V: 2.0 * true(self, V))
  assert _gap(df, pen, X, Y, W_opt) > 1e-3


@pytest.mark.parametrize("penalty", [jr.GroupLasso(0.05, groups=[list(range(10)),
                                                                  list(range(10, 30))]),
                                     jr.L1(0.05, weights=np.linspace(0.5, 1.5, 30)),
                                     jr.ElasticNet(0.05, 0.3)])
def test_path_stops_on_the_gap(x64, penalty):
  """``jr.linear.path`` reports the duality gap as ``dual_gaps``: at most
  tol·‖y_c‖²/n (scikit-learn's rule), and at least the objective's
  distance to a tighter solve."""
  X, y = _data()
  yc2 = np.mean((y - y.mean()) ** 2)
  alphas = [0.2, 0.05]
  loose = jr.linear.path(X, y, penalty, alphas=alphas, tol=1e-4)
  tight = jr.linear.path(X, y, penalty, alphas=alphas, tol=1e-13)
  assert bool(np.all(loose.converged))
  assert np.all(np.asarray(loose.dual_gaps) <= 1e-4 * yc2)
  for k, a in enumerate(alphas):
    pen = penalty.replace(alpha=a)
    F = _objective(datafits.Squared(), pen, X, y, loose.coefs[k])
    F_star = _objective(datafits.Squared(), pen, X, y, tight.coefs[k])
    assert F - F_star <= float(loose.dual_gaps[k]) + 1e-13


@pytest.mark.parametrize("solver", ["cd", "fista", "prox_newton"])
def test_each_solver_stops_on_the_gap(x64, solver):
  """With a violation tolerance that every point meets, the gap tolerance
  alone keeps each solver going, down to scikit-learn's objective."""
  from jaxreg.linear.solvers import coordinate_descent, fista, prox_newton
  mod = {"cd": coordinate_descent, "fista": fista, "prox_newton": prox_newton}[solver]
  X, y = _data()
  Xc, yc = X - X.mean(0), y - y.mean()
  co = penalties.coordinates(jr.L1(0.05), 30, 1)
  F_sk = _objective(datafits.Squared(), jr.L1(0.05), X, y,
                    linear_model.Lasso(0.05, tol=1e-14, max_iter=10**6).fit(X, y).coef_)
  gap_tol = 1e-9 * np.mean(yc ** 2)
  run = lambda g: mod.solve(jnp.asarray(Xc), jnp.asarray(yc)[:, None], datafits.Squared(), co,
                            jnp.zeros((30, 1)), jnp.zeros(1), fit_intercept=False, tol=1e6,
                            max_iter=10**4, gap_tol=g)
  res = run(gap_tol)
  assert bool(res.converged) and float(res.gap) <= gap_tol
  F = _objective(datafits.Squared(), jr.L1(0.05), X, y, np.asarray(res.W))
  assert F - F_sk <= float(res.gap) + 1e-13
  # Without it the first point (W = 0) is accepted.
  assert int(run(None).n_iter) == 0


def test_gap_is_refused_where_none_is_known():
  X = jnp.ones((4, 2))
  co = penalties.coordinates(jr.MCP(0.1), 2, 1)
  from jaxreg.linear.solvers import coordinate_descent
  with pytest.raises(ValueError, match="gap_tol needs .* MCP"):
    coordinate_descent.solve(X, jnp.ones((4, 1)), datafits.Squared(), co, jnp.zeros((2, 1)),
                             jnp.zeros(1), gap_tol=1e-6)
  assert not penalties.coordinates(jr.Lp(0.1, p=0.5), 2, 1).has_dual
  assert not penalties.coordinates(jr.NonNegative(jr.MCP(0.1)), 2, 1).has_dual
  assert penalties.coordinates(jr.NonNegative(jr.L1(0.1)), 2, 1).has_dual
  assert penalties.coordinates(jr.GroupLasso(0.1, axis=1), 2, 3).has_dual


def test_a_user_datafit_without_feasible_dual_gets_no_gap(x64):
  """A datafit written outside jaxreg with a conjugate but no
  ``feasible_dual`` cannot certify a fit with an intercept: the path runs
  on the violation rule instead of failing."""
  class HalfSquared(datafits.Datafit):
    name = "half_squared"
    curvature = 0.5

    def value(self, y, eta):
      return 0.25 * jnp.sum((y - eta) ** 2) / eta.shape[0]

    def gradient(self, y, eta):
      return 0.5 * (eta - y) / eta.shape[0]

    def hessian_diag(self, y, eta):
      return 0.5 * jnp.ones_like(eta) / eta.shape[0]

    def intercept_start(self, y):
      return jnp.mean(y, axis=0)

    def conjugate(self, y, u):
      n = u.shape[0]
      return jnp.sum(n * u * u + u * y)

  X, y = _data()
  co = penalties.coordinates(jr.L1(0.05), 30, 1)
  assert not _common.has_gap(HalfSquared(), co)
  res = jr.linear.path(X, y, jr.L1(1.0), datafit=HalfSquared(), n_alphas=5, solver="fista",
                       tol=1e-10, max_iter=10**5)
  assert bool(np.all(np.asarray(res.converged)))
  # Its solution is the lasso's at 2α (the loss is half the squared loss).
  sk = linear_model.Lasso(2 * float(res.alphas[-1]), tol=1e-12, max_iter=10**5).fit(X, y)
  np.testing.assert_allclose(res.coefs[-1], sk.coef_, atol=1e-6)


def _hostile(name):
  rng = np.random.default_rng(11)
  X = rng.standard_normal((60, 8))
  return {
      "poisson_all_zero": (X, np.zeros(60), jr.L1(1.0), "poisson"),
      "poisson_large_counts": (X, rng.poisson(np.exp(3 + X[:, 0])).astype(float), jr.L1(1.0),
                               "poisson"),
      "multinomial_absent_label": (X, 2 * rng.integers(0, 2, 60), jr.L1(1.0), "multinomial"),
      "logistic_separable": (X, (X[:, 0] > 0).astype(float), jr.L1(1.0), "logistic"),
      "huber_outliers": (X, X[:, 0] + 1e4 * (rng.random(60) < 0.1), jr.ElasticNet(1.0, 0.5),
                         "huber"),
      "positive_lasso_negative_signal": (X, -3 * X[:, 0] + 0.1 * rng.standard_normal(60),
                                         jr.NonNegative(jr.L1(1.0)), "squared"),
  }[name]


@pytest.mark.parametrize("name", ["poisson_all_zero", "poisson_large_counts",
                                  "multinomial_absent_label", "logistic_separable",
                                  "huber_outliers", "positive_lasso_negative_signal"])
@pytest.mark.parametrize("x64_on", [True, False])
def test_gap_rule_converges_on_hostile_data(name, x64_on):
  """Saturated predictions, empty counts, a label never seen, huge outliers,
  a signal the constraint forbids: the path stops on its gap, converged,
  with finite coefficients and a finite gap, in both precisions."""
  import jax
  X, y, pen, df = _hostile(name)
  with jax.enable_x64(x64_on):
    dtype = np.float64 if x64_on else np.float32
    with warnings.catch_warnings():
      warnings.simplefilter("error")  # no ConvergenceWarning
      res = jr.linear.path(X.astype(dtype), y, pen, datafit=df, n_alphas=6)
    assert np.all(np.isfinite(np.asarray(res.coefs)))
    gaps = np.asarray(res.dual_gaps)
    assert np.all(np.isfinite(gaps)) and np.all(gaps >= 0)
    assert bool(np.all(np.asarray(res.converged)))
