"""A lasso path on a sparse table of crossed categorical features: jaxreg
against scikit-learn, celer and skglm on the same CSR matrix, in one run.

Run:  python benchmarks/sparse.py [--rows N] [--levels L] [--rounds R] [--no-first-call]

Data: N rows (default 50,000) of two categorical features with L levels each
(default 150), one-hot encoded with their crossing: 2L + L² columns (22,800
by default), three non-zeros a row, float64 CSR. y depends on a few levels
and one crossing, plus noise. Task: the lasso path with an intercept over
10 α from α_max down to 1e-2·α_max (α_max from the centred correlations,
computed sparsely).

Contenders, all given the CSR matrix itself: ``jr.linear.lasso_path``;
scikit-learn's, celer's and skglm's ``Lasso(fit_intercept=True,
warm_start=True)`` refitted along the grid (each centres sparse data
through the column means). Matched accuracy and timing as in
``benchmarks/linear.py`` (its ``calibrate`` and ``warm_rounds``): each at
the loosest tolerance of 1e-3 … 1e-10 whose path is within 1e-6 relative
objective of the best any contender reached, at every α; R interleaved
warm rounds, median and min. First call: a fresh process per contender
(jaxreg with an empty compilation cache, then with the cache that run
filled), with its peak resident memory (VmHWM) before and after the
call: the increase is what the solver allocated. A dense copy of X would
be N·(2L + L²)·8 bytes (9.1 GB by default).
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np
import scipy.sparse as sp

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import linear as _bench  # noqa: E402  (calibrate, warm_rounds, block, import_lib, fmt_t)

N_ALPHAS = 10
LIBS = ["jaxreg", "sklearn", "celer", "skglm"]


def make_data(n, levels, seed=0):
  rng = np.random.default_rng(seed)
  a, b = rng.integers(0, levels, n), rng.integers(0, levels, n)
  cols = np.stack([a, levels + b, 2 * levels + a * levels + b], axis=1).ravel()
  X = sp.csr_array((np.ones(3 * n), (np.repeat(np.arange(n), 3), cols)),
                   shape=(n, 2 * levels + levels ** 2))
  X.indices, X.indptr = X.indices.astype(np.int32), X.indptr.astype(np.int32)
  y = (0.5 * (a < levels // 10) - 0.8 * (b == 1) - 1.0 * ((a == 3) & (b == 7))
       + rng.normal(size=n))
  yc = y - y.mean()
  grid = np.geomspace(np.max(np.abs(X.T @ yc)) / n, 1e-2 * np.max(np.abs(X.T @ yc)) / n,
                      N_ALPHAS)
  return dict(X=X, y=y, grid=grid)


def objective(D, W, b):
  X, y, grid = D["X"], D["y"], D["grid"]
  R = y[:, None] - X @ W.T - b[None, :]
  return 0.5 / len(y) * np.sum(R ** 2, 0) + grid * np.abs(W).sum(1)


def build(D, lib):
  """(make(tol) -> zero-argument callable, extract(result) -> (W (K, p), b (K,)))."""
  X, y, grid = D["X"], D["y"], D["grid"]
  if lib == "jaxreg":
    import jaxreg as jr
    make = lambda tol: lambda: jr.linear.lasso_path(X, y, alphas=grid, tol=tol)
    return make, lambda res: (np.asarray(res.coefs), np.asarray(res.intercepts))
  if lib == "sklearn":
    from sklearn.linear_model import Lasso
    est = lambda tol: Lasso(tol=tol, max_iter=100_000, warm_start=True)
  elif lib == "celer":
    from celer import Lasso
    est = lambda tol: Lasso(tol=tol, max_iter=1000, warm_start=True)
  elif lib == "skglm":
    from skglm import Lasso
    est = lambda tol: Lasso(tol=tol, max_iter=1000, warm_start=True)
  else:
    return None

  def make(tol):
    def run():
      m = est(tol)
      W, b = [], []
      for a in grid:
        m.alpha = a
        m.fit(X, y)
        W.append(np.ravel(m.coef_).copy())
        b.append(float(np.ravel(m.intercept_)[0]) if np.ndim(m.intercept_) else m.intercept_)
      return np.stack(W), np.asarray(b)
    return run
  return make, lambda res: res


def _peak_rss_mb():
  """This process's peak resident memory (VmHWM: unlike ru_maxrss, not
  inherited from the parent that forked it)."""
  with open("/proc/self/status") as f:
    for line in f:
      if line.startswith("VmHWM:"):
        return int(line.split()[1]) / 1024
  return float("nan")


def child(lib, tol, datafile, build_fn=None):
  """A fresh process: the import, then the first call, with peak memory
  (``build_fn``: the benchmark's own ``build``, this file's by default)."""
  z = np.load(datafile)
  D = dict(X=sp.load_npz(datafile.replace(".npz", "_X.npz")), y=z["y"], grid=z["grid"])
  rss0 = _peak_rss_mb()
  t0 = time.perf_counter()
  _bench.import_lib(lib)
  t1 = time.perf_counter()
  make, _ = (build_fn or build)(D, lib)
  rss1 = _peak_rss_mb()
  _bench.block(make(float(tol))())
  t2 = time.perf_counter()
  rss2 = _peak_rss_mb()
  print(json.dumps({"import": t1 - t0, "call": t2 - t1, "rss_data_mb": rss0,
                    "rss_peak_mb": rss2, "rss_call_mb": rss2 - rss1}))


def first_call(lib, tol, datafile, cache_home, script=__file__):
  """Runs ``script --child lib tol datafile`` in a fresh process; its JSON line."""
  env = dict(os.environ)
  env.pop("JAXREG_NO_COMPILATION_CACHE", None)
  env["XDG_CACHE_HOME"] = cache_home
  cmd = [sys.executable, os.path.abspath(script), "--child", lib, repr(tol), datafile]
  out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
  for line in out.stdout.splitlines()[::-1]:
    if line.startswith("{"):
      return json.loads(line)
  return {"error": (out.stderr or out.stdout)[-300:]}


def report(title, warm, chosen, first, extra=None):
  """Prints the warm-timing table (tolerance and gap per contender, the
  jaxreg / fastest-peer ratio of medians) and the first-call table.
  ``extra`` = (header, {contender: value}) adds a column after the gap."""
  head, cols = "", ""
  if extra is not None:
    head, cols = f" {extra[0]} |", " --- |"
  print(f"\n### {title}\n")
  print(f"| contender | tol | max rel gap |{head} warm median | warm min | "
        "/ fastest peer (median) |")
  print(f"| --- | --- | --- |{cols} --- | --- | --- |")
  peers = {k: v for k, v in warm.items() if k != "jaxreg"}
  fastest = min(peers, key=lambda k: peers[k][0]) if peers else None
  for lib, (med, mn) in warm.items():
    ratio = f"{med / peers[fastest][0]:.2f} (vs {fastest})" if lib == "jaxreg" and peers else ""
    value = "" if extra is None else f" {extra[1][lib]} |"
    print(f"| {lib} | {chosen[lib][0]:.0e} | {chosen[lib][1]:.1e} |{value} {_bench.fmt_t(med)} | "
          f"{_bench.fmt_t(mn)} | {ratio} |")
  if first:
    print("\nFirst call, fresh process per contender:\n")
    print("| contender | import | first call | e2e | peak RSS | RSS added by the call |")
    print("| --- | --- | --- | --- | --- | --- |")
    for lib, v in first.items():
      if "call" in v:
        print(f"| {lib} | {_bench.fmt_t(v['import'])} | {_bench.fmt_t(v['call'])} | "
              f"{_bench.fmt_t(v['import'] + v['call'])} | {v['rss_peak_mb']:.0f} MB | "
              f"{v['rss_call_mb']:.0f} MB |")
      else:
        print(f"| {lib} | error | {v['error'][-80:]!r} | | | |")


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--rows", type=int, default=50_000)
  ap.add_argument("--levels", type=int, default=150)
  ap.add_argument("--rounds", type=int, default=5)
  ap.add_argument("--libs", default=None)
  ap.add_argument("--no-first-call", action="store_true")
  ap.add_argument("--child", nargs=3, metavar=("LIB", "TOL", "DATA"), help=argparse.SUPPRESS)
  args = ap.parse_args()
  if args.child:
    return child(*args.child)
  libs = [lib for lib in (args.libs.split(",") if args.libs else LIBS) if _bench.available(lib)]
  D = make_data(args.rows, args.levels)
  X = D["X"]
  label = f"{X.shape[0]}×{X.shape[1]} CSR, nnz {X.nnz}"
  print(f"# benchmarks/sparse.py — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
  print(f"{platform.machine()}, {os.cpu_count()} CPUs, load average "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")
  print(f"command: python benchmarks/sparse.py {' '.join(sys.argv[1:])}")
  print(f"data: {label}; a dense copy would be {X.shape[0] * X.shape[1] * 8 / 1e9:.1f} GB; "
        f"{N_ALPHAS} α; contenders {', '.join(libs)}\n", flush=True)
  fns = {lib: b for lib in libs if (b := build(D, lib)) is not None}
  # linear.calibrate scores paths through linear.objective; this task's objective is ours.
  _bench.objective = lambda task, D_, Wb: objective(D_, *Wb)
  chosen = _bench.calibrate("lasso", D, fns, lambda s: print(s, flush=True))
  warm = _bench.warm_rounds(fns, chosen, args.rounds)
  first = {}
  if not args.no_first_call:
    tmp = tempfile.mkdtemp(prefix="jaxreg_sparse_")
    datafile = os.path.join(tmp, "data.npz")
    np.savez(datafile, y=D["y"], grid=D["grid"])
    sp.save_npz(datafile.replace(".npz", "_X.npz"), X)
    cache = tempfile.mkdtemp(prefix="xdg_", dir=tmp)
    for lib in fns:
      key = lib if lib != "jaxreg" else "jaxreg (cold cache)"
      first[key] = first_call(lib, chosen[lib][0], datafile, cache)
      if lib == "jaxreg":
        first["jaxreg (warm cache)"] = first_call(lib, chosen[lib][0], datafile, cache)
  report(f"sparse lasso path, {label}", warm, chosen, first)


if __name__ == "__main__":
  main()
