"""jaxreg.linear paths and cross-validation against scikit-learn, side by side.

Run:  python benchmarks/linear.py [--quick] [--repeats N]

Every figure is the median wall time of several runs after a warm-up run;
jaxreg's first call (tracing + XLA compilation) is reported separately as
"compile". Both libraries run in float64 at the same tolerance.
"""

import argparse
import platform
import time
import warnings

import jax

jax.config.update("jax_enable_x64", True)  # a benchmark script, not library code

import numpy as np  # noqa: E402
from sklearn import datasets, linear_model  # noqa: E402
from sklearn.model_selection import KFold  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

try:
  import jaxreg as jr  # noqa: E402
except ImportError:  # run from a source checkout without installing.
  import os
  import sys
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  import jaxreg as jr  # noqa: E402

warnings.simplefilter("ignore")


def _block(x):
  return jax.block_until_ready(x)


def timed(fn, repeats):
  """(first-call time, median of `repeats` later calls)."""
  t0 = time.perf_counter()
  _block(fn())
  first = time.perf_counter() - t0
  ts = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    _block(fn())
    ts.append(time.perf_counter() - t0)
  return first, float(np.median(ts))


def row(name, jr_first, jr_t, sk_t, target):
  ratio = jr_t / sk_t
  print(f"{name:<44s} jaxreg {jr_t * 1e3:9.2f} ms (compile {jr_first * 1e3:8.0f} ms)   "
        f"sklearn {sk_t * 1e3:9.2f} ms   jaxreg/sklearn {ratio:6.3f}  [{target}]")


def standardized(X, y):
  return StandardScaler().fit_transform(X), y - y.mean()


def bench_lasso_paths(quick, repeats):
  probs = [("diabetes 442x10", standardized(*datasets.load_diabetes(return_X_y=True)))]
  probs.append(("regression 2000x500", standardized(*datasets.make_regression(
      2000, 500, n_informative=50, noise=5, random_state=0))))
  if not quick:
    probs.append(("regression 200x2000", standardized(*datasets.make_regression(
        200, 2000, n_informative=20, random_state=0))))
  for name, (X, y) in probs:
    # scikit-learn's lasso_path does not fit an intercept: hand it centered data.
    Xc = X - X.mean(0)
    sk = lambda: linear_model.lasso_path(Xc, y, alphas=100, eps=1e-3, tol=1e-6)
    ours = lambda: jr.linear.lasso_path(X, y, n_alphas=100, eps=1e-3, tol=1e-6)
    first, t = timed(ours, repeats)
    _, ts = timed(sk, repeats)
    row(f"lasso path, 100 alphas, tol 1e-6: {name}", first, t, ts, "target <= 1.0")
    a = ours()
    alphas, cs, _ = sk()
    err = np.abs(np.asarray(a.coefs) - cs.T).max() / np.abs(cs).max()
    print(f"    max |coef difference| / max |coef| = {err:.1e} (both at tol 1e-6)")


def bench_ridge(quick, repeats):
  X, y = datasets.make_regression(2000, 500, n_informative=50, noise=5, random_state=0)
  n = X.shape[0]
  alphas = np.geomspace(1e2, 1e-4, 100 if not quick else 20)
  ours = lambda: jr.linear.ridge_path(X, y, alphas)
  sk = lambda: [linear_model.Ridge(alpha=n * a).fit(X, y).coef_ for a in alphas]
  first, t = timed(ours, repeats)
  _, ts = timed(sk, max(1, repeats // 2))
  row(f"ridge path, {len(alphas)} alphas, 2000x500 (loop of Ridge)", first, t, ts,
      "target <= 0.05")


def bench_cv(quick, repeats):
  X, y = datasets.make_regression(2000, 500, n_informative=50, noise=5, random_state=0)
  X, y = standardized(X, y)
  n_alphas = 100 if not quick else 30
  ours = lambda: jr.linear.cross_validate(X, y, cv=5, n_alphas=n_alphas, tol=1e-6)
  first, t = timed(ours, repeats)
  grid = np.asarray(ours().alphas)
  sk = lambda: linear_model.LassoCV(alphas=grid, cv=KFold(5), tol=1e-6).fit(X, y)
  _, ts = timed(sk, max(1, repeats // 2))
  row(f"5-fold CV, {n_alphas} alphas, 2000x500 (LassoCV)", first, t, ts, "target <= 0.5")
  res, m = ours(), sk()
  sk_curve = m.mse_path_.mean(1)
  err = np.max(np.abs(np.asarray(res.mse_mean) - sk_curve) / sk_curve)
  print(f"    CV curve max relative difference per alpha {err:.1e} (both at tol 1e-6); best alpha jaxreg "
        f"{float(res.best_alpha):.4g} sklearn {m.alpha_:.4g}")


def bench_fit_batch(quick, repeats):
  n_problems = 2000 if not quick else 200
  rng = np.random.default_rng(0)
  Xs = rng.normal(size=(n_problems, 50, 200))
  ws = rng.normal(size=(n_problems, 200)) * (rng.random((n_problems, 200)) < 0.05)
  ys = np.einsum("bnp,bp->bn", Xs, ws) + 0.1 * rng.normal(size=(n_problems, 50))
  a = 0.1
  ours = lambda: jr.linear.fit_batch(Xs, ys, jr.ElasticNet(a, 0.5))
  try:
    first, t = timed(ours, max(1, repeats // 2))
  except NotImplementedError:
    print(f"fit_batch, {n_problems} elastic nets 50x200: skipped "
          "(jr.linear.fit_batch is not implemented yet)")
    return
  sk = lambda: [linear_model.ElasticNet(alpha=a, l1_ratio=0.5).fit(X, y).coef_
                for X, y in zip(Xs, ys)]
  _, ts = timed(sk, 1)
  row(f"fit_batch, {n_problems} elastic nets 50x200", first, t, ts, "target <= 0.05")


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument("--quick", action="store_true", help="smaller problems, fewer repeats")
  ap.add_argument("--repeats", type=int, default=None)
  args = ap.parse_args()
  repeats = args.repeats or (3 if args.quick else 7)
  print(f"jax {jax.__version__} on {jax.devices()[0].platform}, {platform.processor() or platform.machine()}, "
        f"float64, median of {repeats} runs after warm-up")
  bench_lasso_paths(args.quick, repeats)
  bench_ridge(args.quick, repeats)
  bench_cv(args.quick, repeats)
  bench_fit_batch(args.quick, repeats)


if __name__ == "__main__":
  main()
