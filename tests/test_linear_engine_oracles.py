"""The generic linear engine against solvers it shares no code with.

Every case solves one datafit × penalty problem with ``jr.linear.fit`` or
``jr.linear.path`` and with an independent oracle — skglm, scikit-learn,
celer, or SciPy's L-BFGS-B on an objective written out here — and judges
both points with the objective written out *in this file* in NumPy (never
jaxreg's own datafit or penalty code):

* convex problems: the same objective to 1e-8 relative, the same support
  (coefficients above 1e-8 in absolute value) and, since every convex case
  here has a unique W, the same W to 1e-6;
* non-convex problems (MCP, L½), where both solvers start from zero but may
  stop at different stationary points: jaxreg's point satisfies the
  optimality conditions computed here from the definitions, and its
  objective is no worse than the oracle's (to 1e-8 relative).

Each oracle's α is mapped to jaxreg's by evaluating both penalties on the
same vectors first (``test_penalty_maps``), so a wrong mapping fails there
and not as a puzzling optimum mismatch.

The fits run with jaxreg's ``tol`` at 1e-10. Everything is float64 and small
(n = 40, p = 12): the costly part is skglm's Numba compilation, several
seconds per datafit × penalty class, so each class is compiled once.
"""

import warnings

import numpy as np
import pytest
from scipy import optimize, special

import jaxreg as jr

from skglm import datafits as skglm_datafits
from skglm import penalties as skglm_penalties
from skglm import solvers as skglm_solvers
from skglm.utils.data import grp_converter
from sklearn import linear_model

RTOL_OBJ = 1e-8       # relative objective agreement asked of every case
SUPPORT_ATOL = 1e-8   # |coef| above this is in the support
TOL = 1e-10           # jaxreg's tol (relative to the null model's largest gradient)
COEF_ATOL = 1e-6      # |ΔW| allowed where W is unique (convex cases)
VIOLATION_TOL = 1e-7  # optimality violation allowed at jaxreg's non-convex points
N, P = 40, 12
GROUPS = [[0, 3, 5], [1, 2], [4, 6, 7, 8], [9], [10, 11]]   # unequal, not contiguous


# ---------------------------------------------------------------- data


def _design(seed, n=N, p=P, shift=0.3):
  """Standardized columns plus an offset (so the intercept matters)."""
  rng = np.random.default_rng(seed)
  X = rng.standard_normal((n, p))
  X = (X - X.mean(0)) / X.std(0) + shift
  return X, rng


def _regression(seed=0, noise=0.5):
  X, rng = _design(seed)
  w = np.zeros(P)
  w[[0, 3, 7, 11]] = [2.0, -1.5, 1.0, 1.0]
  return X, X @ w + noise * rng.standard_normal(N) + 1.0


# ------------------------------------------- objectives written out here


def _squared(X, y, W, b):
  R = y.reshape(len(X), -1) - X @ W - b
  return 0.5 * np.sum(R * R) / len(X)


def _squared_grad(X, y, W, b):
  """(∇_W, ∂_b) of the squared loss."""
  R = y.reshape(len(X), -1) - X @ W - b
  return -X.T @ R / len(X), -R.mean(0)


def _multinomial(X, labels, W, b):
  eta = X @ W + b
  return np.mean(special.logsumexp(eta, axis=1) - eta[np.arange(len(X)), labels])


def _poisson(X, y, W, b):
  """Half the mean Poisson deviance (scikit-learn's PoissonRegressor)."""
  eta = (X @ W + b)[:, 0]
  ylogy = special.xlogy(y, y)
  return np.mean(np.exp(eta) - y * eta + ylogy - y)


def _huber_terms(r, eps):
  a = np.abs(r)
  return np.where(a <= eps, 0.5 * r * r, eps * a - 0.5 * eps * eps), np.clip(r, -eps, eps)


def _huber(X, y, W, b, eps):
  return np.mean(_huber_terms(y - (X @ W + b)[:, 0], eps)[0])


def _l1(W, alpha, v=1.0):
  W = np.reshape(W, (len(W), -1))
  return alpha * np.sum(np.reshape(v, (-1, 1)) * np.abs(W))


def _l2(W, alpha):
  return 0.5 * alpha * np.sum(W * W)


def _mcp(W, alpha, gamma):
  """Zhang (2010): α|w| − w²/(2γ) up to |w| = γα, then γα²/2."""
  a = np.abs(W)
  return np.sum(np.where(a <= gamma * alpha, alpha * a - a * a / (2 * gamma),
                         0.5 * gamma * alpha ** 2))


def _sqrt_pen(W, alpha):
  """alpha Σ √|w| (skglm's L0_5)."""
  return alpha * np.sum(np.sqrt(np.abs(W)))


def _group(W, alpha, groups):
  """alpha Σ_g √|g| ‖w_g‖."""
  return alpha * sum(np.sqrt(len(g)) * np.linalg.norm(W[g]) for g in groups)


def _row_norms(W, alpha):
  """alpha Σ_j ‖W_j‖₂ (scikit-learn's MultiTaskLasso)."""
  return alpha * np.sum(np.linalg.norm(W, axis=1))


# --------------------------------------------------------- jaxreg calls


def _generic_squared():
  """The squared loss as a datafit object: ``fit`` sends the name
  "squared" with L1 / L2 / elastic net to its specialised solvers, and an
  object to the generic engine under test."""
  from jaxreg.linear import datafits
  return datafits.Squared()


def _col(W, p=P):
  W = np.asarray(W, np.float64)
  assert W.shape[0] == p, f"coefficients of shape {W.shape}, expected ({p}, ...)"
  return W.reshape(p, -1)


def _jr_fit(X, y, penalty, loss, fit_intercept=True):
  """jaxreg's (W (p, T), b (T,)) for one α."""
  res = jr.linear.fit(X, y, penalty, loss=loss, fit_intercept=fit_intercept, tol=TOL)
  assert bool(res.converged), res
  W = _col(res.coef)
  b = np.asarray(res.intercept, np.float64).reshape(-1)
  if not fit_intercept:
    assert np.all(b == 0)
  return W, b, res


def _jr_path(X, y, penalty, datafit, alphas, fit_intercept=True):
  res = jr.linear.path(X, y, penalty, datafit=datafit, alphas=alphas,
                       fit_intercept=fit_intercept, tol=TOL)
  np.testing.assert_allclose(np.asarray(res.alphas), alphas, rtol=1e-15)
  assert np.all(np.asarray(res.converged)), res.converged
  coefs = np.asarray(res.coefs, np.float64).reshape(len(alphas), P, -1)
  T = coefs.shape[2]
  intercepts = np.asarray(res.intercepts, np.float64).reshape(len(alphas), T)
  return coefs, intercepts, res


# ---------------------------------------------------------- comparisons


def _support(W):
  return np.abs(W) > SUPPORT_ATOL


def _rel(f_jr, f_oracle):
  return (f_jr - f_oracle) / abs(f_oracle)


def _report(case, rel, same_support, extra=""):
  # Printed for the record (pytest -s shows it): the measured agreement.
  print(f"\n[oracle] {case}: rel objective diff (jaxreg − oracle)/|oracle| = {rel:+.3e}; "
        f"support equal: {same_support}{extra}")


def _assert_convex_match(case, objective, jr_point, oracle_point):
  f_jr, f_or = objective(*jr_point), objective(*oracle_point)
  rel = _rel(f_jr, f_or)
  s_jr, s_or = _support(jr_point[0]), _support(oracle_point[0])
  same = bool(np.array_equal(s_jr, s_or))
  # Every convex case here is strongly convex in W (n > p, full rank, or an
  # L2 term), so W is unique; the objective alone sees an error in W only
  # squared, W itself sees it directly.
  dW = float(np.max(np.abs(jr_point[0] - oracle_point[0])))
  _report(case, rel, same, f"; max |ΔW| {dW:.1e}")
  assert abs(rel) <= RTOL_OBJ, (case, f_jr, f_or, rel)
  assert dW <= COEF_ATOL, (case, dW)
  assert same, (case, np.argwhere(s_jr != s_or).tolist(), jr_point[0].ravel(),
                oracle_point[0].ravel())


def _assert_nonconvex_match(violation, rel, W_jr, W_oracle):
  """jaxreg's point is stationary and no worse than the oracle's; where the
  two objectives agree it is the same local minimum, with the same support."""
  assert violation <= VIOLATION_TOL, violation
  assert rel <= RTOL_OBJ, rel
  if abs(rel) <= RTOL_OBJ:
    assert np.array_equal(_support(W_jr), _support(W_oracle)), (W_jr.ravel(), W_oracle.ravel())


# --------------------------------------------------------------- oracles


def _skglm_solve(X, y, penalty, fit_intercept, *, group=None, fixpoint=False):
  """skglm's solution (w (p, 1), b (1,)) at a tolerance far below ours."""
  if group is None:
    datafit = skglm_datafits.Quadratic()
    solver = skglm_solvers.AndersonCD(
        tol=1e-13, fit_intercept=fit_intercept, max_iter=1000, max_epochs=100_000,
        ws_strategy="fixpoint" if fixpoint else "subdiff")
  else:
    datafit = skglm_datafits.QuadraticGroup(*group)
    solver = skglm_solvers.GroupBCD(tol=1e-13, fit_intercept=fit_intercept, max_iter=1000,
                                    max_epochs=100_000)
  with warnings.catch_warnings():
    # At 1e-13 skglm may stop at max_iter on round-off: its point is judged
    # below by the same objective as jaxreg's, so that costs nothing.
    warnings.simplefilter("ignore")
    w = solver.solve(np.asfortranarray(X), y, datafit, penalty)[0]
  b = w[P:] if fit_intercept else np.zeros(1)
  return w[:P].reshape(P, 1), b


def _groups_ptr():
  idx, ptr = grp_converter(GROUPS, P)
  return ptr.astype(np.int32), idx.astype(np.int32)


def _mcp_violation(X, y, W, b, alpha, gamma, fit_intercept):
  """Largest distance from −∇ to MCP's (Clarke) subdifferential, per coordinate."""
  g, gb = _squared_grad(X, y, W, b)
  g, w = g[:, 0], W[:, 0]
  a = np.abs(w)
  inner = np.abs(g + np.sign(w) * alpha - w / gamma)
  v = np.where(w == 0, np.maximum(np.abs(g) - alpha, 0.0),
               np.where(a < gamma * alpha, inner, np.abs(g)))
  return max(v.max(), np.abs(gb).max() if fit_intercept else 0.0)


def _prox_sqrt_brute(z, t):
  """argmin_u ½(u − z)² + t√|u| by a dense grid refined by bounded Brent,
  compared with u = 0 (the global minimiser of the scalar problem)."""
  if z == 0:
    return 0.0
  az = abs(z)
  h = lambda u: 0.5 * (u - az) ** 2 + t * np.sqrt(u)  # noqa: E731
  grid = np.linspace(0.0, az, 20001)
  i = int(np.argmin(h(grid)))
  lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
  u = optimize.minimize_scalar(h, bounds=(lo, hi), method="bounded",
                               options={"xatol": 1e-14 * max(az, 1.0)}).x
  return float(np.sign(z) * (u if h(u) < h(0.0) else 0.0))


def _sqrt_fixed_point_violation(X, y, W, b, alpha, fit_intercept):
  """max_j L_j·|w_j − prox_{(α/L_j)√|·|}(w_j − g_j/L_j)|: zero exactly at a
  fixed point of every scalar prox-gradient map (L_j = ‖X_j‖²/n, the exact
  curvature of the squared loss along w_j)."""
  g, gb = _squared_grad(X, y, W, b)
  L = np.sum(X * X, axis=0) / len(X)
  w = W[:, 0]
  v = [L[j] * abs(w[j] - _prox_sqrt_brute(w[j] - g[j, 0] / L[j], alpha / L[j]))
       for j in range(P)]
  return max(max(v), np.abs(gb).max() if fit_intercept else 0.0)


# ------------------------------------------------------ penalty mappings


def _assert_same_value(penalty, W, oracle_value):
  """The penalty's value at W ((p,) or (p, T)), both as a pytree penalty and
  in the solvers' view (``coordinates``, what the engine minimises), is the
  oracle's."""
  np.testing.assert_allclose(float(penalty(W)), oracle_value, rtol=1e-13)
  W = np.reshape(W, (P, -1))
  view = jr.penalties.coordinates(penalty, P, W.shape[1])
  np.testing.assert_allclose(float(view.value(W)), oracle_value, rtol=1e-13)


def test_penalty_maps(x64):
  """Each oracle's α maps to jaxreg's as the tests below assume, measured by
  evaluating both penalties on the same vectors."""
  rng = np.random.default_rng(7)
  ptr, idx = _groups_ptr()
  for _ in range(3):
    w = rng.standard_normal(P) * 2
    w[rng.random(P) < 0.3] = 0.0
    v = rng.random(P) * 2
    v[0] = 0.0
    # WeightedL1(α, v) = jr.L1(α, weights=v)
    sk = skglm_penalties.WeightedL1(0.3, v).value(w)
    _assert_same_value(jr.L1(0.3, weights=v), w, sk)
    np.testing.assert_allclose(_l1(w, 0.3, v), sk, rtol=1e-13)
    # MCPenalty(α, γ) = jr.MCP(α, γ): the same definition, around the knot γα
    # too (P entries of w are replaced, to keep the shape)
    w_knot = np.r_[w[:-2], 0.45 * 3.0, -0.45 * 3.0 + 1e-9]
    sk = skglm_penalties.MCPenalty(0.45, 3.0).value(w_knot)
    _assert_same_value(jr.MCP(0.45, gamma=3.0), w_knot, sk)
    np.testing.assert_allclose(_mcp(w_knot, 0.45, 3.0), sk, rtol=1e-13)
    # L0_5(α) = α Σ√|w| = jr.Lp(α/2, p=0.5) (jaxreg's Lp is (a/p)Σ|w|^p)
    sk = skglm_penalties.L0_5(0.3).value(w)
    _assert_same_value(jr.Lp(0.15, p=0.5), w, sk)
    np.testing.assert_allclose(_sqrt_pen(w, 0.3), sk, rtol=1e-13)
    # WeightedGroupL2(α, √|g|) = jr.GroupLasso(α, groups=...)
    wts = np.sqrt(np.diff(ptr)).astype(np.float64)
    sk = skglm_penalties.WeightedGroupL2(0.3, wts, ptr, idx).value(w)
    _assert_same_value(jr.GroupLasso(0.3, groups=GROUPS), w, sk)
    np.testing.assert_allclose(_group(w, 0.3, GROUPS), sk, rtol=1e-13)
    # MultiTaskLasso(α): α Σ_j ‖W_j‖ = jr.GroupLasso(α/√T, axis=1) on (p, T)
    Wm = rng.standard_normal((P, 3))
    _assert_same_value(jr.GroupLasso(0.3 / np.sqrt(3), axis=1), Wm, _row_norms(Wm, 0.3))
    # LogisticRegression(C) / PoissonRegressor(α): ½‖w‖²/(nC) = jr.L2(1/(nC))
    _assert_same_value(jr.L2(0.3), w, _l2(w, 0.3))
    # Lasso(positive=True): α‖w‖₁ on w ≥ 0 = jr.NonNegative(jr.L1(α))
    _assert_same_value(jr.NonNegative(jr.L1(0.3)), np.abs(w), _l1(np.abs(w), 0.3))


# -------------------------------------------------------- skglm oracles


ALPHA_WL1 = 0.1
WEIGHTS = np.r_[0.0, np.linspace(0.5, 1.5, P - 1)]   # feature 0 unpenalized


def test_weighted_l1_squared_matches_skglm(x64):
  X, y = _regression()
  Wo, bo = _skglm_solve(X, y, skglm_penalties.WeightedL1(ALPHA_WL1, WEIGHTS), True)
  Wj, bj, _ = _jr_fit(X, y, jr.L1(ALPHA_WL1, weights=WEIGHTS), _generic_squared())
  obj = lambda W, b: _squared(X, y, W, b) + _l1(W, ALPHA_WL1, WEIGHTS)  # noqa: E731
  _assert_convex_match("weighted L1 (zero weight) + squared vs skglm WeightedL1",
                       obj, (Wj, bj), (Wo, bo))


def test_weighted_l1_path_matches_skglm(x64):
  X, y = _regression(seed=3)
  alphas = np.geomspace(0.8, 0.01, 10)
  coefs, intercepts, _ = _jr_path(X, y, jr.L1(1.0, weights=WEIGHTS), "squared", alphas)
  for k, a in enumerate(alphas):
    Wo, bo = _skglm_solve(X, y, skglm_penalties.WeightedL1(a, WEIGHTS), True)
    obj = lambda W, b: _squared(X, y, W, b) + _l1(W, a, WEIGHTS)  # noqa: E731
    _assert_convex_match(f"weighted L1 path, α[{k}] = {a:.3g}, vs skglm", obj,
                         (coefs[k], intercepts[k]), (Wo, bo))


def test_mcp_squared_is_stationary_and_no_worse_than_skglm(x64):
  X, y = _regression(seed=1)
  alpha, gamma = 0.15, 3.0
  Wo, bo = _skglm_solve(X, y, skglm_penalties.MCPenalty(alpha, gamma), True)
  Wj, bj, _ = _jr_fit(X, y, jr.MCP(alpha, gamma=gamma), "squared")
  obj = lambda W, b: _squared(X, y, W, b) + _mcp(W, alpha, gamma)  # noqa: E731
  viol = _mcp_violation(X, y, Wj, bj, alpha, gamma, True)
  rel = _rel(obj(Wj, bj), obj(Wo, bo))
  _report("MCP + squared vs skglm MCPenalty", rel,
          bool(np.array_equal(_support(Wj), _support(Wo))),
          f"; jaxreg violation {viol:.2e}; skglm violation "
          f"{_mcp_violation(X, y, Wo, bo, alpha, gamma, True):.2e}")
  _assert_nonconvex_match(viol, rel, Wj, Wo)


def test_lhalf_squared_is_a_prox_gradient_fixed_point_no_worse_than_skglm(x64):
  X, y = _regression(seed=2)
  alpha = 0.2   # skglm's L0_5(α) = α Σ√|w| = jr.Lp(α/2, p=0.5)
  # skglm's L0_5 reports a zero violation at w_j = 0, so its default
  # working-set rule stops at w = 0: the fixed-point rule is the one that moves.
  Wo, bo = _skglm_solve(X, y, skglm_penalties.L0_5(alpha), False, fixpoint=True)
  Wj, bj, _ = _jr_fit(X, y, jr.Lp(alpha / 2, p=0.5), "squared", fit_intercept=False)
  obj = lambda W, b: _squared(X, y, W, b) + _sqrt_pen(W, alpha)  # noqa: E731
  viol = _sqrt_fixed_point_violation(X, y, Wj, bj, alpha, False)
  rel = _rel(obj(Wj, bj), obj(Wo, bo))
  _report("L1/2 + squared (no intercept) vs skglm L0_5", rel,
          bool(np.array_equal(_support(Wj), _support(Wo))),
          f"; jaxreg fixed-point violation {viol:.2e}; skglm "
          f"{_sqrt_fixed_point_violation(X, y, Wo, bo, alpha, False):.2e}")
  _assert_nonconvex_match(viol, rel, Wj, Wo)


def test_group_lasso_squared_matches_skglm(x64):
  X, y = _regression(seed=4)
  alpha = 0.2
  ptr, idx = _groups_ptr()
  pen = skglm_penalties.WeightedGroupL2(alpha, np.sqrt(np.diff(ptr)).astype(np.float64), ptr, idx)
  Wo, bo = _skglm_solve(X, y, pen, True, group=(ptr, idx))
  Wj, bj, _ = _jr_fit(X, y, jr.GroupLasso(alpha, groups=GROUPS), "squared")
  obj = lambda W, b: _squared(X, y, W, b) + _group(W, alpha, GROUPS)  # noqa: E731
  _assert_convex_match("group lasso (unequal, non-contiguous groups) + squared vs skglm "
                       "WeightedGroupL2", obj, (Wj, bj), (Wo, bo))


# -------------------------------------------------- scikit-learn oracles


def test_multinomial_l2_matches_sklearn(x64):
  X, rng = _design(5)
  K, alpha = 3, 0.05
  labels = np.argmax(X @ rng.standard_normal((P, K)) + rng.gumbel(size=(N, K)), axis=1)
  m = linear_model.LogisticRegression(C=1 / (N * alpha), tol=1e-12, max_iter=100_000)
  m.fit(X, labels)
  Wj, bj, _ = _jr_fit(X, labels, jr.L2(alpha), "multinomial")
  assert Wj.shape == (P, K)
  obj = lambda W, b: _multinomial(X, labels, W, b) + _l2(W, alpha)  # noqa: E731
  _assert_convex_match("multinomial + L2 vs sklearn LogisticRegression(lbfgs)", obj,
                       (Wj, bj), (m.coef_.T, m.intercept_))


def _multitask_data(seed=6, T=3):
  X, rng = _design(seed)
  Wt = rng.standard_normal((P, T)) * (rng.random((P, 1)) < 0.4)
  return X, X @ Wt + 0.3 * rng.standard_normal((N, T)) + 0.5


def test_multitask_lasso_matches_sklearn(x64):
  X, Y = _multitask_data()
  T, alpha = Y.shape[1], 0.2
  m = linear_model.MultiTaskLasso(alpha=alpha, tol=1e-14, max_iter=100_000).fit(X, Y)
  Wj, bj, _ = _jr_fit(X, Y, jr.GroupLasso(alpha / np.sqrt(T), axis=1), "multitask")
  assert Wj.shape == (P, T)
  obj = lambda W, b: _squared(X, Y, W, b) + _row_norms(W, alpha)  # noqa: E731
  _assert_convex_match("multitask squared + row group lasso vs sklearn MultiTaskLasso", obj,
                       (Wj, bj), (m.coef_.T, m.intercept_))


def test_multitask_lasso_path_matches_sklearn(x64):
  X, Y = _multitask_data(seed=8)
  T = Y.shape[1]
  alphas = np.geomspace(1.0, 0.01, 10)
  coefs, intercepts, _ = _jr_path(X, Y, jr.GroupLasso(1.0, axis=1), "multitask",
                                  alphas / np.sqrt(T))
  for k, a in enumerate(alphas):
    m = linear_model.MultiTaskLasso(alpha=a, tol=1e-14, max_iter=100_000).fit(X, Y)
    obj = lambda W, b: _squared(X, Y, W, b) + _row_norms(W, a)  # noqa: E731
    _assert_convex_match(f"multitask lasso path, α[{k}] = {a:.3g}, vs sklearn MultiTaskLasso",
                         obj, (coefs[k], intercepts[k]), (m.coef_.T, m.intercept_))


def test_poisson_l2_matches_sklearn(x64):
  X, rng = _design(9)
  X = 0.3 * X
  y = rng.poisson(np.exp(X @ (0.5 * rng.standard_normal(P)) + 0.5)).astype(np.float64)
  alpha = 0.05
  m = linear_model.PoissonRegressor(alpha=alpha, solver="newton-cholesky", tol=1e-12,
                                    max_iter=10_000).fit(X, y)
  Wj, bj, _ = _jr_fit(X, y, jr.L2(alpha), "poisson")
  obj = lambda W, b: _poisson(X, y, W, b) + _l2(W, alpha)  # noqa: E731
  _assert_convex_match("poisson + L2 vs sklearn PoissonRegressor(newton-cholesky)", obj,
                       (Wj, bj), (m.coef_.reshape(P, 1), np.atleast_1d(m.intercept_)))


def test_huber_l2_matches_scipy(x64):
  # scikit-learn's HuberRegressor estimates a scale σ jointly and cannot fix
  # it at 1, so the oracle is L-BFGS-B on the σ = 1 objective written here.
  X, y = _regression(seed=10)
  rng = np.random.default_rng(10)
  y = y + np.where(rng.random(N) < 0.15, 8.0, 0.0)   # outliers in the linear part
  eps, alpha = 1.0, 0.05   # not the default ε, so that ε reaches the solver

  def f(v):
    w, b = v[:P], v[P]
    h, psi = _huber_terms(y - X @ w - b, eps)
    return h.mean() + 0.5 * alpha * w @ w, np.r_[-X.T @ psi / N + alpha * w, -psi.mean()]

  r = optimize.minimize(f, np.zeros(P + 1), jac=True, method="L-BFGS-B",
                        options=dict(gtol=1e-12, ftol=0.0, maxiter=100_000, maxcor=50))
  assert np.abs(r.jac).max() < 1e-9, r.message
  from jaxreg.linear import datafits
  Wj, bj, _ = _jr_fit(X, y, jr.L2(alpha), datafits.Huber(epsilon=eps))
  obj = lambda W, b: _huber(X, y, W, b, eps) + _l2(W, alpha)  # noqa: E731
  _assert_convex_match("huber (eps 1, scale 1) + L2 vs scipy L-BFGS-B", obj, (Wj, bj),
                       (r.x[:P].reshape(P, 1), r.x[P:]))


def _nonnegative_l1(alpha):
  return jr.NonNegative(jr.L1(alpha))


def test_nonnegative_lasso_matches_sklearn(x64):
  X, y = _regression(seed=11)
  alpha = 0.1
  m = linear_model.Lasso(alpha=alpha, positive=True, tol=1e-14, max_iter=100_000).fit(X, y)
  Wj, bj, _ = _jr_fit(X, y, _nonnegative_l1(alpha), "squared")
  assert np.all(Wj >= 0)
  obj = lambda W, b: _squared(X, y, W, b) + _l1(W, alpha)  # noqa: E731
  _assert_convex_match("non-negative lasso vs sklearn Lasso(positive=True)", obj, (Wj, bj),
                       (m.coef_.reshape(P, 1), np.atleast_1d(m.intercept_)))


# --------------------------------------------------------- celer oracles


def test_lasso_matches_celer(x64):
  celer = pytest.importorskip("celer")
  X, y = _regression(seed=12)
  alpha = 0.1
  m = celer.Lasso(alpha=alpha, tol=1e-14, max_iter=1000, max_epochs=100_000).fit(X, y)
  Wj, bj, _ = _jr_fit(X, y, jr.L1(alpha), _generic_squared())
  obj = lambda W, b: _squared(X, y, W, b) + _l1(W, alpha)  # noqa: E731
  _assert_convex_match("lasso (generic engine) vs celer.Lasso", obj, (Wj, bj),
                       (m.coef_.reshape(P, 1), np.atleast_1d(m.intercept_)))


def test_group_lasso_matches_celer(x64):
  celer = pytest.importorskip("celer")
  X, y = _regression(seed=13)
  alpha = 0.15
  wts = np.array([np.sqrt(len(g)) for g in GROUPS])
  m = celer.GroupLasso(groups=GROUPS, alpha=alpha, weights=wts, tol=1e-14, max_iter=1000,
                       max_epochs=100_000).fit(X, y)
  Wj, bj, _ = _jr_fit(X, y, jr.GroupLasso(alpha, groups=GROUPS), "squared")
  obj = lambda W, b: _squared(X, y, W, b) + _group(W, alpha, GROUPS)  # noqa: E731
  _assert_convex_match("group lasso vs celer.GroupLasso", obj, (Wj, bj),
                       (m.coef_.reshape(P, 1), np.atleast_1d(m.intercept_)))
