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


def bench_single_alpha(quick, repeats):
  """One α (and ten widely spaced ones) far below α_max, p > n: the case of
  jr.linear.fit(X, y, jr.L1(a)) and lasso_path(alphas=[a])."""
  X, y = datasets.make_regression(500, 1000, n_informative=50, noise=10.0, random_state=0)
  Xc, yc = X - X.mean(0), y - y.mean()
  a = 0.443  # 226 non-zero coefficients
  alpha_max = np.max(np.abs(Xc.T @ yc)) / X.shape[0]
  tol = 1e-10
  ours = lambda: jr.linear.fit(X, y, jr.L1(a)).coef
  sk = lambda: linear_model.Lasso(alpha=a, tol=1e-8).fit(X, y)
  first, t = timed(ours, repeats)
  _, ts = timed(sk, repeats)
  row("fit L1, one alpha, 500x1000 (Lasso tol 1e-8)", first, t, ts, "target <= 1.0")
  err = np.abs(np.asarray(ours()) - sk().coef_).max() / np.abs(sk().coef_).max()
  print(f"    max |coef difference| / max |coef| = {err:.1e}")
  for alphas in ([a], np.geomspace(alpha_max, a, 10)):
    ours = lambda: jr.linear.lasso_path(X, y, alphas=alphas, tol=tol)
    sk = lambda: linear_model.lasso_path(Xc, yc, alphas=alphas, tol=tol)
    first, t = timed(ours, repeats)
    _, ts = timed(sk, repeats)
    row(f"lasso path, {len(alphas)} alpha(s) to 0.443, tol 1e-10: 500x1000", first, t, ts,
        "target <= 1.0")


def bench_fit_batch(quick, repeats):
  n_problems = 2000 if not quick else 200
  rng = np.random.default_rng(0)
  Xs = rng.normal(size=(n_problems, 50, 200))
  ws = rng.normal(size=(n_problems, 200)) * (rng.random((n_problems, 200)) < 0.05)
  ys = np.einsum("bnp,bp->bn", Xs, ws) + 0.1 * rng.normal(size=(n_problems, 50))
  a = 0.1
  X32, y32 = Xs.astype(np.float32), ys.astype(np.float32)
  ours = lambda: jr.linear.fit_batch(Xs, ys, jr.ElasticNet(a, 0.5))
  ours32 = lambda: jr.linear.fit_batch(X32, y32, jr.ElasticNet(np.float32(a), np.float32(0.5)))
  sk = lambda: np.stack([linear_model.ElasticNet(alpha=a, l1_ratio=0.5).fit(X, y).coef_
                         for X, y in zip(Xs, ys)])
  def first_call(fn):
    t0 = time.perf_counter()
    _block(fn())
    return time.perf_counter() - t0

  try:
    first = first_call(ours)
  except NotImplementedError:
    print(f"fit_batch, {n_problems} elastic nets 50x200: skipped "
          "(jr.linear.fit_batch is not implemented yet)")
    return
  first32 = first_call(ours32)
  # Interleaved runs: on a shared machine both sides then see the same load.
  ts, t64, t32 = [], [], []
  for _ in range(max(3, repeats // 2)):
    for fn, acc in ((sk, ts), (ours, t64), (ours32, t32)):
      t0 = time.perf_counter()
      _block(fn())
      acc.append(time.perf_counter() - t0)
  ts, t64, t32 = (float(np.median(v)) for v in (ts, t64, t32))
  row(f"fit_batch, {n_problems} elastic nets 50x200", first, t64, ts, "target <= 0.05")
  row(f"fit_batch, {n_problems} elastic nets 50x200, float32", first32, t32, ts,
      "target <= 0.05")
  res, res32, coefs = ours(), ours32(), sk()
  it, it32 = np.asarray(res.n_iter), np.asarray(res32.n_iter)
  print(f"    Newton steps per problem: float64 mean {it.mean():.1f} max {it.max()}, "
        f"float32 mean {it32.mean():.1f} max {it32.max()}")
  err = np.abs(np.asarray(res.coef) - coefs).max() / np.abs(coefs).max()
  err32 = np.abs(np.asarray(res32.coef) - coefs).max() / np.abs(coefs).max()
  tight = np.stack([linear_model.ElasticNet(alpha=a, l1_ratio=0.5, tol=1e-10, max_iter=100000)
                    .fit(X, y).coef_ for X, y in zip(Xs[:20], ys[:20])])
  err_t = np.abs(np.asarray(res.coef[:20]) - tight).max() / np.abs(tight).max()
  print(f"    max |coef difference| / max |coef| vs sklearn (tol 1e-4): float64 {err:.1e}, "
        f"float32 {err32:.1e}; vs sklearn at tol 1e-10 (20 problems): float64 {err_t:.1e}")


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument("--quick", action="store_true", help="smaller problems, fewer repeats")
  ap.add_argument("--repeats", type=int, default=None)
  args = ap.parse_args()
  repeats = args.repeats or (3 if args.quick else 7)
  print(f"jax {jax.__version__} on {jax.devices()[0].platform}, {platform.processor() or platform.machine()}, "
        f"float64, median of {repeats} runs after warm-up")
  bench_lasso_paths(args.quick, repeats)
  bench_single_alpha(args.quick, repeats)
  bench_ridge(args.quick, repeats)
  bench_cv(args.quick, repeats)
  bench_fit_batch(args.quick, repeats)


if __name__ == "__main__":
  main()
