"""Hyperparameter tuning of the lasso: gradient descent on α vs a CV grid.

The sparse-ho workload (Bertrand et al. 2020): make_regression data with
n = 500 samples and p = 1000 features, 5-fold cross-validation.

* scikit-learn: ``LassoCV(cv=5, 10 alphas, tol=1e-8)`` — a path of 10 α per
  fold, then the α with the lowest mean held-out MSE.
* jaxreg: ``tune_cv`` — a scan of log α down from α_max, then a bracket
  search with implicit hypergradients (the default; ``--adam`` runs Adam on log α for
  ``--steps`` steps instead), the five fold fits solved together by a
  warm-started working-set solver (dense hypergradient on each support),
  from α_max / 10; the final fit on all the data by the same solver.

Both CV losses are evaluated the same way: mean over the five contiguous
folds of the held-out MSE of scikit-learn ``Lasso(tol=1e-8)`` refitted at the
chosen α. Prints times (median of several runs after a warm-up; jaxreg's
compile time separately) and the ratio.

Usage: python benchmarks/hypergrad.py [--repeats 5] [--steps 30] [--adam] [--float32]
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
import time
import warnings

import jax
import numpy as np

# Runs from a checkout without installing the package.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def cv_mse(X, y, alpha, folds):
  from sklearn.linear_model import Lasso
  errs = []
  for tr, te in folds:
    m = Lasso(alpha=alpha, tol=1e-8, max_iter=100000).fit(X[tr], y[tr])
    errs.append(np.mean((y[te] - m.predict(X[te])) ** 2))
  return float(np.mean(errs))


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument("--repeats", type=int, default=5)
  ap.add_argument("--steps", type=int, default=30, help="most fits (Newton) or Adam steps")
  ap.add_argument("--adam", action="store_true", help="Adam on log α instead of Newton")
  ap.add_argument("--lr", type=float, default=0.5, help="Adam's learning rate")
  ap.add_argument("--solver", default="auto")
  ap.add_argument("--tol", type=float, default=1e-6)
  ap.add_argument("--float32", action="store_true")
  args = ap.parse_args()

  import jaxreg as jr
  from sklearn.datasets import make_regression
  from sklearn.linear_model import LassoCV
  from sklearn.model_selection import KFold
  tune_cv = importlib.import_module("jaxreg.linear.tune").tune_cv
  warnings.filterwarnings("ignore")

  X, y = make_regression(500, 1000, n_informative=50, noise=10.0, random_state=0)
  folds = list(KFold(5).split(X))
  alpha_max = np.max(np.abs(X.T @ (y - y.mean()))) / len(y)

  def run_sklearn():
    try:
      return LassoCV(cv=5, alphas=10, tol=1e-8, max_iter=100000).fit(X, y)
    except (TypeError, ValueError):
      return LassoCV(cv=5, n_alphas=10, tol=1e-8, max_iter=100000).fit(X, y)

  with jax.enable_x64(not args.float32):
    dtype = np.float32 if args.float32 else np.float64
    Xj, yj = X.astype(dtype), y.astype(dtype)
    pen = jr.L1(alpha_max / 10)

    def run_jaxreg():
      r = tune_cv(Xj, yj, pen, cv=5, steps=args.steps,
                  learning_rate=args.lr if args.adam else None, solver=args.solver,
                  tol=args.tol)
      jax.block_until_ready(r)
      return r

    t = time.perf_counter()
    run_jaxreg()
    t_first = time.perf_counter() - t
    run_jaxreg()
    sk = run_sklearn()
    # The two take turns, so that both see the same load on a shared machine.
    ts_sk, ts_jr = [], []
    for _ in range(args.repeats):
      t = time.perf_counter()
      sk = run_sklearn()
      ts_sk.append(time.perf_counter() - t)
      t = time.perf_counter()
      res = run_jaxreg()
      ts_jr.append(time.perf_counter() - t)
    t_sk, t_jr = float(np.median(ts_sk)), float(np.median(ts_jr))
    r_min = min(ts_sk) / min(ts_jr)

  cv_sk = cv_mse(X, y, float(sk.alpha_), folds)
  cv_jr = cv_mse(X, y, float(res.alpha), folds)
  print(f"machine: {platform.processor() or platform.machine()}, jax {jax.__version__}, "
        f"devices {jax.devices()}")
  print(f"data: make_regression(500, 1000, n_informative=50, noise=10), 5-fold CV, "
        f"{'float32' if args.float32 else 'float64'}; jaxreg solver={args.solver}, "
        f"tol={args.tol:g}, search={'adam lr=%g' % args.lr if args.adam else 'newton'}")
  print(f"{'':28s}{'time (s)':>10s}{'alpha':>12s}{'CV MSE':>14s}")
  print(f"{'sklearn LassoCV (10 alphas)':28s}{t_sk:10.3f}{float(sk.alpha_):12.5g}{cv_sk:14.6g}")
  print(f"{'jaxreg tune_cv (' + str(len(res.alphas)) + ' fits)':28s}{t_jr:10.3f}"
        f"{float(res.alpha):12.5g}{cv_jr:14.6g}")
  print(f"jaxreg compile + first run: {t_first:.2f} s (compile ~ {t_first - t_jr:.2f} s)")
  print(f"speed-up (sklearn / jaxreg): {t_sk / t_jr:.2f}x by medians, {r_min:.2f}x by minima; "
        f"CV MSE ratio (jaxreg / sklearn best): {cv_jr / cv_sk:.4f}")
  print(f"jaxreg's own objective at its alpha: {float(res.val_loss):.6g}")


if __name__ == "__main__":
  main()
