"""``jaxreg.sklearn``: scikit-learn's own estimator checks, its estimators as
oracles, and its meta-estimators.

Every check of ``parametrize_with_checks`` runs; the only one reported as
skipped is ``check_array_api_input``, which scikit-learn itself skips unless
the environment variable SCIPY_ARRAY_API is set (the estimators take NumPy
input, as scikit-learn's linear models without array-API dispatch).
"""

import pickle
import warnings

import numpy as np
import pytest
import sklearn
from scipy import sparse
from sklearn import linear_model as sk
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import jaxreg as jr
from jaxreg import sklearn as js

# The cross-validated estimators run with fewer folds and α (as scikit-learn's
# own suite sets its estimators up for its checks): each new fold size is a
# new compiled program, and the checks fit on dozens of data sets.
# LogisticRegressionCV's grid reaches C = 1e4, almost unpenalized, where two
# fits stopped at the default tol=1e-4 differ by 1e-4 in their coefficients;
# check_sample_weight_equivalence compares the probabilities of a weighted
# and a repeated-rows fit to rtol 1e-7, so it runs at tol=1e-8 (as
# scikit-learn's own suite runs its LinearSVC at tol=1e-12 for it).
ESTIMATORS = [js.Lasso(), js.ElasticNet(), js.Ridge(), js.LassoCV(cv=2, alphas=5),
              js.ElasticNetCV(cv=2, alphas=5), js.LogisticRegression(),
              js.LogisticRegressionCV(Cs=3, cv=2, tol=1e-8), js.SparseLinearModel(),
              js.SparseLinearModel(jr.MCP(0.1, gamma=3.0))]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_estimator_checks(estimator, check):
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    check(estimator)


def _regression(n=80, p=10, seed=0):
  rng = np.random.default_rng(seed)
  X = rng.normal(size=(n, p)) @ np.diag(rng.uniform(0.5, 2.0, p))
  y = X @ (rng.normal(size=p) * (rng.random(p) < 0.5)) + rng.normal(size=n) + 1.0
  return X, y, rng


def _enet_objective(X, y, w, b, alpha, r, s=None):
  s = np.ones(len(y)) if s is None else s
  res = y - X @ w - b
  return (0.5 * np.sum(s * res * res) / np.sum(s) + alpha * r * np.abs(w).sum()
          + 0.5 * alpha * (1 - r) * w @ w)


@pytest.mark.parametrize("positive", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ours,theirs,r", [
    (js.Lasso(alpha=0.05, tol=1e-12), sk.Lasso(alpha=0.05, tol=1e-14, max_iter=100_000), 1.0),
    (js.ElasticNet(alpha=0.1, l1_ratio=0.4, tol=1e-12),
     sk.ElasticNet(alpha=0.1, l1_ratio=0.4, tol=1e-14, max_iter=100_000), 0.4)],
    ids=["lasso", "enet"])
def test_regressors_equal_sklearn(ours, theirs, r, positive, weighted):
  """Same objective to 1e-8 relative and the same support, as scikit-learn
  with ``sample_weight`` and ``positive`` (float64)."""
  X, y, rng = _regression()
  s = rng.uniform(0, 3, size=len(y)) if weighted else None
  if weighted:
    s[:5] = 0
  a = sklearn.clone(ours).set_params(positive=positive).fit(X, y, sample_weight=s)
  b = sklearn.clone(theirs).set_params(positive=positive).fit(X, y, sample_weight=s)
  alpha = ours.alpha
  fa = _enet_objective(X, y, a.coef_, a.intercept_, alpha, r, s)
  fb = _enet_objective(X, y, b.coef_, b.intercept_, alpha, r, s)
  assert abs(fa - fb) <= 1e-8 * fb
  np.testing.assert_array_equal(a.coef_ != 0, b.coef_ != 0)
  assert a.coef_.dtype == np.float64
  if positive:
    assert np.all(a.coef_ >= 0)


@pytest.mark.parametrize("weighted", [False, True])
def test_several_targets_equal_sklearn(weighted):
  """A 2-D y: one problem per column, coef_ (n_targets, n_features)."""
  X, _, rng = _regression(seed=10)
  Y = X[:, :4] @ rng.normal(size=(4, 3)) + rng.normal(size=(len(X), 3))
  s = rng.uniform(0, 2, len(X)) if weighted else None
  a = js.ElasticNet(alpha=0.1, l1_ratio=0.7, tol=1e-12).fit(X, Y, sample_weight=s)
  b = sk.ElasticNet(alpha=0.1, l1_ratio=0.7, tol=1e-14, max_iter=100_000).fit(
      X, Y, sample_weight=s)
  assert a.coef_.shape == b.coef_.shape == (3, 10) and a.intercept_.shape == (3,)
  np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-8)
  np.testing.assert_allclose(a.intercept_, b.intercept_, atol=1e-8)
  np.testing.assert_allclose(a.predict(X), b.predict(X), atol=1e-8)
  one = js.Lasso(alpha=0.1).fit(X, Y[:, :1])
  assert one.coef_.shape == (10,) and one.predict(X).shape == (len(X),)


def test_float32_input_is_solved_in_float32():
  X, y, _ = _regression()
  a = js.Lasso(alpha=0.05).fit(X.astype(np.float32), y.astype(np.float32))
  b = sk.Lasso(alpha=0.05, tol=1e-10).fit(X, y)
  assert a.coef_.dtype == np.float32
  np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-4)


@pytest.mark.parametrize("weighted", [False, True])
def test_ridge_equals_sklearn(weighted):
  X, y, rng = _regression(n=30, p=40)     # p > n too
  s = rng.uniform(0, 2, size=len(y)) if weighted else None
  a = js.Ridge(alpha=2.5).fit(X, y, sample_weight=s)
  b = sk.Ridge(alpha=2.5, solver="svd").fit(X, y, sample_weight=s)
  np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-9, atol=1e-12)
  np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=1e-9, atol=1e-12)


def test_lasso_cv_equals_sklearn():
  X, y, _ = _regression(n=90, p=12, seed=1)
  a = js.LassoCV(cv=4, tol=1e-10, alphas=30).fit(X, y)
  b = sk.LassoCV(cv=4, tol=1e-12, alphas=30, max_iter=100_000).fit(X, y)
  np.testing.assert_allclose(a.alphas_, b.alphas_, rtol=1e-12)
  np.testing.assert_allclose(a.mse_path_, b.mse_path_, rtol=1e-7)
  assert a.alpha_ == pytest.approx(b.alpha_, rel=1e-12)
  np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-8)
  np.testing.assert_array_equal(a.coef_ != 0, b.coef_ != 0)


@pytest.mark.parametrize("sparse", [False, True])
def test_lasso_cv_with_sample_weight_equals_sklearn(sparse):
  import scipy.sparse as sp
  X, y, rng = _regression(n=90, p=12, seed=9)
  s = rng.uniform(0, 3, size=len(y))
  s[:7] = 0
  Xs = sp.csr_array(X) if sparse else X
  folds = list(KFold(3, shuffle=True, random_state=1).split(X))
  a = js.LassoCV(cv=folds, tol=1e-10, alphas=12).fit(Xs, y, sample_weight=s)
  b = sk.LassoCV(cv=folds, tol=1e-12, alphas=12, max_iter=100_000).fit(Xs, y, sample_weight=s)
  np.testing.assert_allclose(a.alphas_, b.alphas_, rtol=1e-12)
  np.testing.assert_allclose(a.mse_path_, b.mse_path_, rtol=1e-7)
  assert a.alpha_ == pytest.approx(b.alpha_, rel=1e-12)
  np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-8)
  np.testing.assert_allclose(a.intercept_, b.intercept_, atol=1e-8)


def test_elastic_net_cv_positive_with_ratios_equals_sklearn():
  X, y, _ = _regression(n=70, p=9, seed=2)
  folds = list(KFold(3, shuffle=True, random_state=0).split(X))
  kw = dict(l1_ratio=[0.2, 0.7], cv=folds, positive=True)
  a = js.ElasticNetCV(tol=1e-10, alphas=20, **kw).fit(X, y)
  b = sk.ElasticNetCV(tol=1e-12, alphas=20, max_iter=100_000, **kw).fit(X, y)
  assert a.mse_path_.shape == b.mse_path_.shape == (2, 20, 3)
  np.testing.assert_allclose(a.alphas_, b.alphas_, rtol=1e-12)
  np.testing.assert_allclose(a.mse_path_, b.mse_path_, rtol=1e-6)
  assert (a.l1_ratio_, a.alpha_) == (b.l1_ratio_, pytest.approx(b.alpha_, rel=1e-12))
  np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-8)
  assert np.all(a.coef_ >= 0)


def _classes(n=120, p=5, k=2, seed=3):
  rng = np.random.default_rng(seed)
  X = rng.normal(size=(n, p))
  scores = X @ rng.normal(size=(p, k)) + 0.8 * rng.normal(size=(n, k))
  return X, np.array(["ant", "bee", "cat", "dog"])[:k][scores.argmax(axis=1)]


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("C", [0.05, 5.0])
def test_logistic_l2_equals_sklearn(k, C):
  X, y = _classes(k=k)
  a = js.LogisticRegression(C=C, tol=1e-10).fit(X, y)
  b = sk.LogisticRegression(C=C, tol=1e-12, max_iter=10_000).fit(X, y)
  np.testing.assert_array_equal(a.classes_, b.classes_)
  assert a.coef_.shape == b.coef_.shape and a.intercept_.shape == b.intercept_.shape
  np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), atol=1e-6)
  np.testing.assert_array_equal(a.predict(X), b.predict(X))


def test_logistic_l1_equals_liblinear_without_intercept():
  """liblinear penalizes its intercept, so the two agree without one."""
  X, y = _classes(k=2, seed=4)
  C = 0.1
  a = js.LogisticRegression("l1", C=C, fit_intercept=False, tol=1e-10).fit(X, y)
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    b = sk.LogisticRegression(penalty="l1", C=C, solver="liblinear", fit_intercept=False,
                              tol=1e-12, max_iter=100_000).fit(X, y)
  z = np.where(y == a.classes_[1], 1.0, -1.0)

  def objective(w):
    return C * np.sum(np.logaddexp(0, -z * (X @ w))) + np.abs(w).sum()

  fa, fb = objective(a.coef_[0]), objective(b.coef_[0])
  assert fa <= fb * (1 + 1e-8)
  assert abs(fa - fb) <= 1e-6 * fb      # liblinear itself stops near 1e-7
  np.testing.assert_array_equal(a.coef_ != 0, np.abs(b.coef_) > 1e-8)


def test_logistic_cv_equals_sklearn():
  X, y = _classes(n=150, k=3, seed=5)
  folds = list(StratifiedKFold(3).split(X, y))
  a = js.LogisticRegressionCV(Cs=[0.01, 0.1, 1.0, 10.0], cv=folds, tol=1e-10).fit(X, y)
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    b = sk.LogisticRegressionCV(Cs=[0.01, 0.1, 1.0, 10.0], cv=folds, tol=1e-12,
                                max_iter=10_000).fit(X, y)
  np.testing.assert_allclose(a.scores_["ant"], b.scores_["ant"])
  assert a.C_[0] == b.C_[0]
  np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("k", [2, 3])
def test_weighted_logistic_equals_sklearn(k):
  """C Σᵢ sᵢℓᵢ + ½‖w‖²: zero weights, a weighted multinomial, same probabilities."""
  X, y = _classes(k=k, seed=8)
  s = np.random.default_rng(8).uniform(0, 3, size=len(y))
  s[:10] = 0
  a = js.LogisticRegression(C=0.5, tol=1e-10).fit(X, y, sample_weight=s)
  b = sk.LogisticRegression(C=0.5, tol=1e-12, max_iter=10_000).fit(X, y, sample_weight=s)
  np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), atol=1e-6)


def test_weighted_logistic_cv_equals_sklearn():
  """Folds fitted with their training weights and scored with their held-out weights."""
  X, y = _classes(n=150, k=2, seed=9)
  s = np.random.default_rng(9).uniform(0, 2, size=len(y))
  folds = list(StratifiedKFold(3).split(X, y))
  Cs = [0.01, 0.1, 1.0, 10.0]
  a = js.LogisticRegressionCV(Cs=Cs, cv=folds, tol=1e-10).fit(X, y, sample_weight=s)
  b = sk.LogisticRegressionCV(Cs=Cs, cv=folds, tol=1e-12, max_iter=10_000).fit(
      X, y, sample_weight=s)
  np.testing.assert_allclose(a.scores_["bee"], b.scores_["bee"])
  assert a.C_[0] == b.C_[0]
  np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-5, atol=1e-6)


def _sparse_classes(n=300, p=400, seed=12):
  rng = np.random.default_rng(seed)
  X = sparse.random(n, p, density=0.04, random_state=seed, format="csr")
  beta = np.r_[3 * np.ones(12), np.zeros(p - 12)]
  y = np.where(X @ beta + 0.3 * rng.normal(size=n) > 0.3, "spam", "ham")
  return X, y, rng


@pytest.mark.parametrize("penalty", ["l1", "l2"])
def test_sparse_logistic_equals_sklearn(penalty):
  """A CSR design (never densified), weighted, against scikit-learn on the same matrix."""
  X, y, rng = _sparse_classes()
  s = rng.uniform(0, 2, size=X.shape[0])
  a = js.LogisticRegression(penalty, C=2.0, tol=1e-10).fit(X, y, sample_weight=s)
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    b = sk.LogisticRegression(penalty=penalty, C=2.0, tol=1e-12, max_iter=100_000,
                              solver="saga" if penalty == "l1" else "lbfgs").fit(
                                  X, y, sample_weight=s)
  z = (y == "spam").astype(float)

  def objective(w, b0):
    eta = X @ w + b0
    pen = np.abs(w).sum() if penalty == "l1" else 0.5 * w @ w
    return 2.0 * np.sum(s * (np.logaddexp(0, eta) - z * eta)) + pen

  fa, fb = objective(a.coef_[0], a.intercept_[0]), objective(b.coef_[0], b.intercept_[0])
  assert fa <= fb * (1 + 1e-10) and abs(fa - fb) <= 1e-8 * fb
  np.testing.assert_array_equal(a.predict(X), b.predict(X))
  np.testing.assert_allclose(a.predict_proba(X[:5]), b.predict_proba(X[:5]), atol=1e-6)


def test_sparse_logistic_cv_equals_the_dense_one():
  X, y, _ = _sparse_classes(seed=13)
  folds = list(StratifiedKFold(3).split(X, y))
  a = js.LogisticRegressionCV(Cs=[0.1, 1.0, 10.0], penalty="l1", cv=folds, tol=1e-10).fit(X, y)
  b = js.LogisticRegressionCV(Cs=[0.1, 1.0, 10.0], penalty="l1", cv=folds, tol=1e-10).fit(
      X.toarray(), y)
  np.testing.assert_allclose(a.scores_["spam"], b.scores_["spam"])
  assert a.C_[0] == b.C_[0]
  np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-6)


def test_sparse_multinomial_logistic_equals_the_dense_one():
  X, _, rng = _sparse_classes(n=240, p=300, seed=14)
  y = np.array(["a", "b", "c"])[np.argmax(X[:, :3].toarray() + 0.05 * rng.normal(size=(240, 3)),
                                          axis=1)]
  for penalty in ("l1", "l2"):
    # The sparse multinomial moves one class at a time (linear rate): more passes.
    a = js.LogisticRegression(penalty, C=5.0, tol=1e-10, max_iter=1000).fit(X, y)
    b = js.LogisticRegression(penalty, C=5.0, tol=1e-10).fit(X.toarray(), y)
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-6)
    np.testing.assert_allclose(a.intercept_, b.intercept_, atol=1e-6)


def test_weighted_poisson_model_equals_sklearn():
  X, _, rng = _regression(n=100, p=6, seed=10)
  counts = rng.poisson(np.exp(0.3 * X[:, 0]))
  s = rng.uniform(0, 2, size=100)
  s[:5] = 0
  ours = js.SparseLinearModel(jr.L2(1.0), "poisson", alpha=0.02, tol=1e-10).fit(
      X, counts, sample_weight=s)
  ref = sk.PoissonRegressor(alpha=0.02, tol=1e-12, max_iter=10_000).fit(X, counts,
                                                                         sample_weight=s)
  np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-5, atol=1e-7)
  np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-5, atol=1e-7)


def test_sparse_linear_model_takes_any_penalty_and_datafit():
  X, y, rng = _regression(n=100, p=8, seed=6)
  mcp = js.SparseLinearModel(jr.MCP(1.0, gamma=3.0), alpha=0.1).fit(X, y)
  direct = jr.linear.fit(X, y, jr.MCP(0.1, gamma=3.0))
  np.testing.assert_allclose(mcp.coef_, direct.coef, atol=1e-6)
  counts = rng.poisson(np.exp(0.3 * X[:, 0]))
  pois = js.SparseLinearModel(jr.L2(1.0), "poisson", alpha=0.01, tol=1e-10).fit(X, counts)
  ref = sk.PoissonRegressor(alpha=0.01, tol=1e-12, max_iter=10_000).fit(X, counts)
  np.testing.assert_allclose(pois.coef_, ref.coef_, rtol=1e-5, atol=1e-7)
  np.testing.assert_allclose(pois.predict(X), ref.predict(X), rtol=1e-5)


def test_pipeline_grid_search_and_cross_val_score():
  X, y, _ = _regression(n=90, p=6, seed=7)
  pipe = make_pipeline(StandardScaler(), js.LassoCV(cv=3, alphas=15)).fit(X, y)
  ref = make_pipeline(StandardScaler(), sk.LassoCV(cv=3, alphas=15)).fit(X, y)
  np.testing.assert_allclose(pipe.predict(X), ref.predict(X), rtol=1e-3)
  grid = GridSearchCV(js.Lasso(), {"alpha": [0.01, 0.1, 1.0]}, cv=3).fit(X, y)
  ref = GridSearchCV(sk.Lasso(), {"alpha": [0.01, 0.1, 1.0]}, cv=3).fit(X, y)
  assert grid.best_params_ == ref.best_params_
  np.testing.assert_allclose(cross_val_score(js.Ridge(alpha=1.0), X, y, cv=3),
                             cross_val_score(sk.Ridge(alpha=1.0), X, y, cv=3), rtol=1e-8)
  grid = GridSearchCV(js.SparseLinearModel(jr.SCAD(1.0)), {"alpha": [0.05, 0.5]}, cv=3).fit(X, y)
  assert grid.best_params_["alpha"] in (0.05, 0.5)


def test_pickle_round_trip_keeps_predictions():
  X, y, _ = _regression()
  for est in (js.ElasticNet(alpha=0.1).fit(X, y),
              js.SparseLinearModel(jr.GroupLasso(0.1, groups=[list(range(5)),
                                                              list(range(5, 10))])).fit(X, y),
              js.LogisticRegression().fit(X, y > 1)):
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.predict(X), est.predict(X))


def test_warm_start_reuses_the_previous_solution():
  X, y, _ = _regression(seed=8)
  est = js.Lasso(alpha=0.05, warm_start=True, tol=1e-10).fit(X, y)
  first = est.coef_.copy()
  est.set_params(alpha=0.0501).fit(X, y)
  cold = js.Lasso(alpha=0.0501, tol=1e-10).fit(X, y)
  np.testing.assert_allclose(est.coef_, cold.coef_, atol=1e-9)
  assert not np.array_equal(first, est.coef_)


def test_feature_names_from_a_dataframe():
  pd = pytest.importorskip("pandas")
  X, y, _ = _regression(p=3)
  df = pd.DataFrame(X, columns=["a", "b", "c"])
  est = js.Lasso(alpha=0.01).fit(df, y)
  np.testing.assert_array_equal(est.feature_names_in_, ["a", "b", "c"])


@pytest.mark.parametrize("make,args,match", [
    (lambda: js.Lasso(), "nan_x", "Input X contains NaN"),
    (lambda: js.Lasso(), "neg_w", "sample_weight must be >= 0"),
    (lambda: js.Lasso(), "inf_w", "sample_weight contains NaN or infinite"),
    (lambda: js.Ridge(), "zero_w", "every weight is zero"),
    (lambda: js.ElasticNet(), "short_w", r"sample_weight must be a scalar or have shape \(80,\)"),
    (lambda: js.LogisticRegression(), "one_class", "at least 2 classes"),
    (lambda: js.LogisticRegression(), "neg_w_cls", "sample_weight must be >= 0"),
    (lambda: js.LogisticRegressionCV(cv=3), "zero_w_cls", "every weight is zero"),
    (lambda: js.SparseLinearModel(jr.L1(1.0), "huber"), "short_w",
     r"sample_weight must be a scalar or have shape \(80,\)"),
    (lambda: js.Lasso(alpha=-1.0), "plain", "alpha must be finite and >= 0"),
    (lambda: js.ElasticNet(l1_ratio=2.0), "plain", r"l1_ratio must be in \[0, 1\]"),
    (lambda: js.LogisticRegression(C=0.0), "plain_cls", "C must be finite and > 0"),
    (lambda: js.LogisticRegression(penalty="l3"), "plain_cls", "penalty must be one of"),
    (lambda: js.SparseLinearModel(penalty="l1"), "plain", "penalty must be a jaxreg penalty"),
])
def test_bad_input_is_a_named_error(make, args, match):
  X, y, _ = _regression()
  w = np.ones(len(y))
  calls = {
      "nan_x": lambda e: e.fit(np.where(np.eye(80, 10) > 0, np.nan, X), y),
      "neg_w": lambda e: e.fit(X, y, sample_weight=np.r_[-1.0, w[1:]]),
      "inf_w": lambda e: e.fit(X, y, sample_weight=np.r_[np.inf, w[1:]]),
      "zero_w": lambda e: e.fit(X, y, sample_weight=0 * w),
      "short_w": lambda e: e.fit(X, y, sample_weight=w[1:]),
      "one_class": lambda e: e.fit(X, np.zeros(80)),
      "plain": lambda e: e.fit(X, y),
      "plain_cls": lambda e: e.fit(X, y > 1),
      "neg_w_cls": lambda e: e.fit(X, y > 1, sample_weight=np.r_[-1.0, w[1:]]),
      "zero_w_cls": lambda e: e.fit(X, y > 1, sample_weight=0 * w),
  }
  with pytest.raises((ValueError, TypeError), match=match):
    calls[args](make())
