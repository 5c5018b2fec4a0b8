"""L1 logistic regression on a sparse, text-like tf-idf matrix: jaxreg against
scikit-learn (liblinear), celer and skglm on the same CSR matrix, in one run.

Run:  python benchmarks/sparse_logistic.py [--rows N] [--vocab P] [--rounds R] [--no-first-call]

Data: N documents (default 20,000) over a vocabulary of P words (default
20,000) whose frequencies follow Zipf's law; each document draws about 40
distinct words; entries are tf-idf (log(1 + count)·idf, rows scaled to
unit norm), as ``TfidfVectorizer`` makes them; float64 CSR. The label is
drawn from a logistic model on 40 of the words. Task: the ℓ1 logistic path
without intercept (the problem liblinear, celer and skglm all solve
exactly: liblinear penalizes an intercept, celer fits none) over 5 α from
α_max down to α_max/20,

    (1/n) Σᵢ log(1 + e^{ηᵢ}) − yᵢηᵢ + α‖w‖₁,   η = Xw,

i.e. ``C = 1/(nα)`` for scikit-learn and celer. Every contender is
warm-started along the grid where it can be (liblinear cannot).

Matched accuracy and timing as in ``benchmarks/linear.py`` (``calibrate``:
the loosest tolerance whose path is within 1e-6 relative objective of the
best any contender reached at every α; ``warm_rounds``: R interleaved
rounds, median and min). First call: a fresh process per contender (jaxreg
with an empty compilation cache, then with the one that run filled), with
its peak resident memory (``benchmarks/sparse.py``'s ``child``).
"""

import argparse
import os
import platform
import sys
import tempfile
import time

import numpy as np
import scipy.sparse as sp

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import linear as _bench  # noqa: E402  (calibrate, warm_rounds, block, import_lib, fmt_t)
import sparse as _sparse_bench  # noqa: E402  (child, first_call: fresh processes, peak RSS)

N_ALPHAS = 5
LIBS = ["jaxreg", "sklearn", "celer", "skglm"]


def make_data(n, vocab, seed=0, words_per_doc=40):
  rng = np.random.default_rng(seed)
  freq = 1.0 / np.arange(1, vocab + 1) ** 1.1           # Zipf
  freq /= freq.sum()
  counts = rng.poisson(words_per_doc, size=n).clip(1, None)
  rows = np.repeat(np.arange(n), counts)
  cols = rng.choice(vocab, size=counts.sum(), p=freq)
  X = sp.csr_array((np.ones(len(rows)), (rows, cols)), shape=(n, vocab))
  X.sum_duplicates()                                     # word counts
  df = np.bincount(X.indices, minlength=vocab)
  idf = np.log((1 + n) / (1 + df)) + 1.0
  X.data = np.log1p(X.data) * idf[X.indices]
  norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
  X = sp.csr_array(sp.diags_array(1.0 / np.maximum(norms, 1e-12)) @ X)
  X.indices, X.indptr = X.indices.astype(np.int32), X.indptr.astype(np.int32)
  beta = np.zeros(vocab)
  informative = rng.choice(np.arange(20, min(2000, vocab)), size=40, replace=False)
  beta[informative] = rng.choice([-1.0, 1.0], size=40) * rng.uniform(4, 10, size=40)
  y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(X @ beta)))).astype(np.float64)
  a_max = np.max(np.abs(X.T @ (y - 0.5))) / n
  return dict(X=X, y=y, grid=np.geomspace(a_max, a_max / 20, N_ALPHAS))


def objective(D, W):
  X, y, grid = D["X"], D["y"], D["grid"]
  eta = X @ W.T                                          # (n, K)
  loss = np.mean(np.logaddexp(0.0, eta) - y[:, None] * eta, axis=0)
  return loss + grid * np.abs(W).sum(axis=1)


def build(D, lib):
  """(make(tol) -> zero-argument callable, extract(result) -> W (K, p))."""
  X, y, grid = D["X"], D["y"], D["grid"]
  n = X.shape[0]
  if lib == "jaxreg":
    import jaxreg as jr

    def make(tol):
      def run():
        W, init = [], None
        for a in grid:
          init = jr.linear.fit(X, y, jr.L1(float(a)), loss="logistic", fit_intercept=False,
                               tol=tol, init=init)
          W.append(np.asarray(init.coef))
        return np.stack(W)
      return run
    return make, lambda res: res
  if lib == "sklearn":
    from sklearn.linear_model import LogisticRegression
    est = lambda tol: LogisticRegression(penalty="l1", solver="liblinear", fit_intercept=False,
                                         tol=tol, max_iter=100_000)
  elif lib == "celer":
    from celer import LogisticRegression
    est = lambda tol: LogisticRegression(tol=tol, warm_start=True)
  elif lib == "skglm":
    from skglm import SparseLogisticRegression
    est = lambda tol: SparseLogisticRegression(tol=tol, fit_intercept=False, warm_start=True,
                                               max_iter=100)
  else:
    return None

  def make(tol):
    def run():
      m = est(tol)
      W = []
      for a in grid:
        if lib == "skglm":
          m.alpha = float(a)
        else:
          m.C = float(1.0 / (n * a))
        m.fit(X, y)
        W.append(np.ravel(m.coef_).copy())
      return np.stack(W)
    return run
  return make, lambda res: res


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--rows", type=int, default=20_000)
  ap.add_argument("--vocab", type=int, default=20_000)
  ap.add_argument("--rounds", type=int, default=5)
  ap.add_argument("--libs", default=None)
  ap.add_argument("--no-first-call", action="store_true")
  ap.add_argument("--child", nargs=3, metavar=("LIB", "TOL", "DATA"), help=argparse.SUPPRESS)
  args = ap.parse_args()
  if args.child:
    return _sparse_bench.child(*args.child, build_fn=build)
  libs = [lib for lib in (args.libs.split(",") if args.libs else LIBS) if _bench.available(lib)]
  D = make_data(args.rows, args.vocab)
  X = D["X"]
  label = f"{X.shape[0]}×{X.shape[1]} tf-idf CSR, nnz {X.nnz}"
  print(f"# benchmarks/sparse_logistic.py — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
  print(f"{platform.machine()}, {os.cpu_count()} CPUs, load average "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")
  print(f"command: python benchmarks/sparse_logistic.py {' '.join(sys.argv[1:])}")
  print(f"data: {label}; {N_ALPHAS} α from α_max to α_max/20; contenders {', '.join(libs)}\n",
        flush=True)
  fns = {lib: b for lib in libs if (b := build(D, lib)) is not None}
  _bench.objective = lambda task, D_, W: objective(D_, W)
  chosen = _bench.calibrate("logistic", D, fns, lambda s: print(s, flush=True))
  warm = _bench.warm_rounds(fns, chosen, args.rounds)
  sizes = {lib: int(np.count_nonzero(fns[lib][0](chosen[lib][0])()[-1])) for lib in fns}
  first = {}
  if not args.no_first_call:
    tmp = tempfile.mkdtemp(prefix="jaxreg_sparse_logistic_")
    datafile = os.path.join(tmp, "data.npz")
    np.savez(datafile, y=D["y"], grid=D["grid"])
    sp.save_npz(datafile.replace(".npz", "_X.npz"), X)
    cache = tempfile.mkdtemp(prefix="xdg_", dir=tmp)
    for lib in fns:
      key = lib if lib != "jaxreg" else "jaxreg (cold cache)"
      first[key] = _sparse_bench.first_call(lib, chosen[lib][0], datafile, cache, __file__)
      if lib == "jaxreg":
        first["jaxreg (warm cache)"] = _sparse_bench.first_call(lib, chosen[lib][0], datafile,
                                                                cache, __file__)
  _sparse_bench.report(f"sparse ℓ1 logistic path, {label}", warm, chosen, first,
                       extra=("nonzeros at α_min", sizes))


if __name__ == "__main__":
  main()
