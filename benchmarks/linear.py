"""jaxreg.linear against scikit-learn, celer, skglm (and glum), over a matrix of shapes × tasks.

Run:  python benchmarks/linear.py [--quick] [--shapes S,...] [--tasks T,...] [--rounds R]
                                   [--no-first-call]

Shapes (n × p): 200x5000, 2000x500, 5000x300r50 (effective rank 50), 20000x100,
and "real": scikit-learn's bundled load_diabetes (442×10) for the squared-loss
tasks, load_breast_cancer (569×30, standardized) for the logistic one. No
downloads. ``--quick`` runs one tiny shape (300x20), 2 rounds, the first call
on its first cell only: a smoke test.

Tasks:
  lasso     lasso path, 100 α from α_max down to 1e-3·α_max
  enet      elastic-net path, l1_ratio 0.5, same grid rule
  cv        5-fold CV (contiguous folds) of the lasso over that grid:
            jr.linear.cross_validate vs LassoCV(cv=KFold(5)) / celer's LassoCV
  logistic  L1-logistic path, 100 α from α_max down to 1e-2·α_max, no intercept
  mcp       (hook) jr.linear.path(X, y, jr.MCP(α, 3)) vs skglm MCPRegression
  group     (hook) jr.linear.path(X, y, jr.GroupLasso(α, groups=...)) vs skglm GroupLasso
            The two hooks are skipped, with a note, while jr.linear.path does not exist.

Matched accuracy. Every contender runs at its *own* tolerance, the loosest
of 1e-3, 1e-4, ..., 1e-10 at which the relative objective suboptimality
(obj − best)/|best| is ≤ 1e-6 at every α, where "best" is the lowest
objective any contender reached at that α (all of them are first run at
1e-10 to find it). The table gives that tolerance and the max gap beside
each time. CV has no per-fold objectives to compare: each contender uses the
tolerance calibrated on the lasso path of the same data, and the table gives
the max relative difference of its CV curve from scikit-learn's at tol 1e-10.

Timing. Warm: R interleaved rounds after calibration (every contender runs
once per round, the order rotating), median and min. First call: a fresh
subprocess per contender per cell, timing the library import and the first
call (for jaxreg: tracing + compilation + run) separately; "e2e" is their
sum. jaxreg's first call runs twice: with an empty persistent compilation
cache (a fresh XDG_CACHE_HOME) and again with the cache that run filled.
Ratios are jaxreg / fastest peer from the same run. float64 throughout.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
GAP_TARGET = 1e-6
LADDER = [1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10]
N_ALPHAS = 100
SHAPES = {"200x5000": (200, 5000, None), "2000x500": (2000, 500, None),
          "5000x300r50": (5000, 300, 50), "20000x100": (20000, 100, None), "real": None}
QUICK_SHAPES = {"300x20": (300, 20, None)}
TASKS = ["lasso", "enet", "cv", "logistic", "mcp", "group"]
LIBS = ["jaxreg", "sklearn", "celer", "skglm"]  # add glum with --libs (slow: seconds per path)

warnings.simplefilter("ignore")


# ----------------------------------------------------------------------------- imports

def import_lib(lib):
  """Imports what `lib`'s contender needs (timed by the first-call subprocess)."""
  if lib == "jaxreg":
    import jax
    jax.config.update("jax_enable_x64", True)  # a benchmark, not library code
    if ROOT not in sys.path:
      sys.path.insert(0, ROOT)  # run from a source checkout without installing
    import jaxreg  # noqa: F401
  elif lib == "sklearn":
    import sklearn.linear_model  # noqa: F401
    import sklearn.model_selection  # noqa: F401
  elif lib == "celer":
    import celer  # noqa: F401
  elif lib == "skglm":
    import skglm  # noqa: F401
  elif lib == "glum":
    import glum  # noqa: F401


def available(lib):
  try:
    import_lib(lib)
    return True
  except ImportError:
    return False


def block(out):
  if "jax" in sys.modules:
    import jax
    jax.block_until_ready(out)
  return out


# ----------------------------------------------------------------------------- data

def make_data(shape):
  """dict with X, y (regression), Xl, yl (0/1 labels for the logistic task), and a label."""
  from sklearn import datasets
  if shape == "real":
    X, y = datasets.load_diabetes(return_X_y=True)
    Xl, yl = datasets.load_breast_cancer(return_X_y=True)
    Xl = (Xl - Xl.mean(0)) / Xl.std(0)
    return dict(X=X, y=y, Xl=Xl, yl=yl.astype(float),
                label="real: diabetes 442×10 / breast_cancer 569×30")
  n, p, rank = {**SHAPES, **QUICK_SHAPES}[shape]
  X, y = datasets.make_regression(n, p, n_informative=min(50, p // 2), effective_rank=rank,
                                  noise=1.0 if rank else 5.0, random_state=0)
  y = y / y.std()
  yl = (y > np.median(y)).astype(float)
  rng = np.random.default_rng(1)  # 5% label noise: a separable path is no benchmark
  flip = rng.random(n) < 0.05
  yl[flip] = 1 - yl[flip]
  return dict(X=X, y=y, Xl=X, yl=yl, label=f"{n}×{p}" + (f" rank {rank}" if rank else ""))


def grids(D):
  X, y = D["X"], D["y"]
  n = X.shape[0]
  Xc, yc = X - X.mean(0), y - y.mean()
  a_max = np.max(np.abs(Xc.T @ yc)) / n
  D["grid"] = np.geomspace(a_max, 1e-3 * a_max, N_ALPHAS)
  D["grid_enet"] = D["grid"] / 0.5
  Xl, yl = D["Xl"], D["yl"]
  a_max_l = np.max(np.abs(Xl.T @ (yl - 0.5))) / Xl.shape[0]
  D["grid_log"] = np.geomspace(a_max_l, 1e-2 * a_max_l, N_ALPHAS)
  p = X.shape[1]
  gs = 5 if p % 5 == 0 else 1
  D["group_size"] = gs
  Xg = Xc.T @ yc
  a_max_g = np.max(np.linalg.norm(Xg.reshape(-1, gs), axis=1)) / (n * np.sqrt(gs))
  D["grid_group"] = np.geomspace(a_max_g, 1e-2 * a_max_g, N_ALPHAS)
  D["grid_mcp"] = np.geomspace(a_max, 1e-2 * a_max, N_ALPHAS)
  return D


# ----------------------------------------------------------------------------- objectives

def obj_enet(D, W, b, grid, r):
  X, y = D["X"], D["y"]
  R = y[None, :] - W @ X.T - b[:, None]
  return (0.5 / len(y) * np.sum(R ** 2, 1)
          + grid * (r * np.abs(W).sum(1) + 0.5 * (1 - r) * np.sum(W ** 2, 1)))


def obj_logistic(D, W, b, grid):
  X, s = D["Xl"], 2 * D["yl"] - 1
  z = -s[None, :] * (W @ X.T + b[:, None])
  return np.mean(np.logaddexp(0, z), 1) + grid * np.abs(W).sum(1)


def obj_mcp(D, W, b, grid, gamma=3.0):
  X, y = D["X"], D["y"]
  R = y[None, :] - W @ X.T - b[:, None]
  a = grid[:, None]
  aw = np.abs(W)
  pen = np.where(aw <= gamma * a, a * aw - W ** 2 / (2 * gamma), gamma * a ** 2 / 2).sum(1)
  return 0.5 / len(y) * np.sum(R ** 2, 1) + pen


def obj_group(D, W, b, grid):
  X, y = D["X"], D["y"]
  gs = D["group_size"]
  R = y[None, :] - W @ X.T - b[:, None]
  norms = np.linalg.norm(W.reshape(W.shape[0], -1, gs), axis=2).sum(1)
  return 0.5 / len(y) * np.sum(R ** 2, 1) + grid * np.sqrt(gs) * norms


def _centered_intercept(D, W, Xkey="X", ykey="y"):
  return D[ykey].mean() - W @ D[Xkey].mean(0)


# ----------------------------------------------------------------------------- contenders
# build(D, lib) -> (make(tol) -> zero-argument callable, extract(result) -> (W (K, p), b (K,)))
# or None when `lib` has no such solver. Each builder imports only its own library.

def build_path(D, lib, r):
  X, y = D["X"], D["y"]
  grid = D["grid"] if r == 1 else D["grid_enet"]
  if lib == "jaxreg":
    import jaxreg as jr
    make = lambda tol: lambda: jr.linear.enet_path(X, y, l1_ratio=r, alphas=grid, tol=tol)
    return make, lambda res: (np.asarray(res.coefs), np.asarray(res.intercepts))
  ext = lambda res: (res[1].T, _centered_intercept(D, res[1].T))
  if lib == "sklearn":
    from sklearn import linear_model
    make = lambda tol: lambda: linear_model.enet_path(
        X - X.mean(0), y - y.mean(), l1_ratio=r, alphas=grid, tol=tol, max_iter=100_000)
    return make, ext
  if lib == "celer":
    from celer import celer_path
    make = lambda tol: lambda: celer_path(X - X.mean(0), y - y.mean(), "lasso", alphas=grid,
                                          l1_ratio=r, tol=tol)
    return make, ext
  if lib == "skglm":
    from skglm import ElasticNet, Lasso
    est = (lambda tol: Lasso(fit_intercept=False, tol=tol)) if r == 1 else (
        lambda tol: ElasticNet(l1_ratio=r, fit_intercept=False, tol=tol))
    make = lambda tol: lambda: est(tol).path(X - X.mean(0), y - y.mean(), grid)
    return make, ext
  if lib == "glum":
    from glum import GeneralizedLinearRegressor
    make = lambda tol: lambda: GeneralizedLinearRegressor(
        family="normal", alpha_search=True, alphas=grid, l1_ratio=r, fit_intercept=True,
        gradient_tol=tol, max_iter=1000).fit(X, y)
    return make, lambda m: (np.asarray(m.coef_path_), np.asarray(m.intercept_path_))
  return None


def build_lasso(D, lib):
  return build_path(D, lib, 1.0)


def build_enet(D, lib):
  return build_path(D, lib, 0.5)


def build_cv(D, lib):
  """Extract returns the CV curve (mean MSE per α, in grid order)."""
  X, y, grid = D["X"], D["y"], D["grid"]
  if lib == "jaxreg":
    import jaxreg as jr
    make = lambda tol: lambda: jr.linear.cross_validate(X, y, alphas=grid, cv=5, tol=tol)
    return make, lambda res: np.asarray(res.mse_mean)
  if lib in ("sklearn", "celer"):
    from sklearn.model_selection import KFold
    if lib == "sklearn":
      from sklearn.linear_model import LassoCV
      est = lambda tol: LassoCV(alphas=grid, cv=KFold(5), tol=tol, max_iter=100_000)
    else:
      from celer import LassoCV
      est = lambda tol: LassoCV(alphas=grid, cv=KFold(5), tol=tol)
    make = lambda tol: lambda: est(tol).fit(X, y)
    return make, lambda m: m.mse_path_.mean(1)
  return None


def build_logistic(D, lib):
  X, y01, grid = D["Xl"], D["yl"], D["grid_log"]
  n = X.shape[0]
  s = 2 * y01 - 1
  nob = lambda W: (np.asarray(W), np.zeros(len(W)))
  if lib == "jaxreg":
    import jaxreg as jr
    make = lambda tol: lambda: jr.linear.logistic_path(X, y01, penalty="l1", alphas=grid,
                                                        fit_intercept=False, tol=tol)
    return make, lambda res: nob(res.coefs)
  if lib == "sklearn":
    from sklearn.linear_model import LogisticRegression

    def make(tol):
      def run():  # liblinear: the fastest sklearn L1 solver here; it has no warm start.
        return np.stack([LogisticRegression(penalty="l1", solver="liblinear", C=1 / (n * a),
                                            fit_intercept=False, tol=tol, max_iter=100_000)
                         .fit(X, y01).coef_[0] for a in grid])
      return run
    return make, nob
  if lib == "celer":
    from celer import LogisticRegression

    def make(tol):
      def run():
        m = LogisticRegression(C=1 / (n * grid[0]), tol=tol, warm_start=True)
        out = []
        for a in grid:
          m.C = 1 / (n * a)
          out.append(m.fit(X, s).coef_[0].copy())
        return np.stack(out)
      return run
    return make, nob
  if lib == "skglm":
    from skglm import SparseLogisticRegression

    def make(tol):
      def run():
        m = SparseLogisticRegression(alpha=grid[0], fit_intercept=False, tol=tol, warm_start=True)
        out = []
        for a in grid:
          m.alpha = a
          out.append(m.fit(X, s).coef_.ravel().copy())
        return np.stack(out)
      return run
    return make, nob
  if lib == "glum":
    from glum import GeneralizedLinearRegressor
    make = lambda tol: lambda: GeneralizedLinearRegressor(
        family="binomial", alpha_search=True, alphas=grid, l1_ratio=1.0, fit_intercept=False,
        gradient_tol=tol, max_iter=1000).fit(X, y01)
    return make, lambda m: nob(m.coef_path_)
  return None


# --- hooks for the general jr.linear.path (non-convex MCP, group lasso), being written now.

def build_mcp(D, lib):
  """MCP (γ = 3) path: jr.linear.path(X, y, jr.MCP(α, 3)) vs skglm's MCPRegression."""
  X, y, grid = D["X"], D["y"], D["grid_mcp"]
  if lib == "jaxreg":
    import jaxreg as jr
    make = lambda tol: lambda: jr.linear.path(X, y, jr.MCP(1.0, gamma=3.0), alphas=grid, tol=tol)
    return make, lambda res: (np.asarray(res.coefs), np.asarray(res.intercepts))
  if lib == "skglm":
    from skglm import MCPRegression
    make = lambda tol: lambda: MCPRegression(gamma=3.0, fit_intercept=False, tol=tol).path(
        X - X.mean(0), y - y.mean(), grid)
    return make, lambda res: (res[1].T, _centered_intercept(D, res[1].T))
  return None


def build_group(D, lib):
  """Group lasso (contiguous groups of 5, weights √5) vs skglm's GroupLasso."""
  X, y, grid, gs = D["X"], D["y"], D["grid_group"], D["group_size"]
  p = X.shape[1]
  if lib == "jaxreg":
    import jaxreg as jr
    groups = np.repeat(np.arange(p // gs), gs)
    make = lambda tol: lambda: jr.linear.path(X, y, jr.GroupLasso(1.0, groups=groups),
                                              alphas=grid, tol=tol)
    return make, lambda res: (np.asarray(res.coefs), np.asarray(res.intercepts))
  if lib == "skglm":
    from skglm import GroupLasso
    w = np.full(p // gs, np.sqrt(gs))
    make = lambda tol: lambda: GroupLasso(groups=gs, weights=w, fit_intercept=False, tol=tol).path(
        X - X.mean(0), y - y.mean(), grid)
    return make, lambda res: (res[1].T, _centered_intercept(D, res[1].T))
  return None


BUILDERS = {"lasso": build_lasso, "enet": build_enet, "cv": build_cv, "logistic": build_logistic,
            "mcp": build_mcp, "group": build_group}


def objective(task, D, Wb):
  W, b = Wb
  if task == "lasso":
    return obj_enet(D, W, b, D["grid"], 1.0)
  if task == "enet":
    return obj_enet(D, W, b, D["grid_enet"], 0.5)
  if task == "logistic":
    return obj_logistic(D, W, b, D["grid_log"])
  if task == "mcp":
    return obj_mcp(D, W, b, D["grid_mcp"])
  if task == "group":
    return obj_group(D, W, b, D["grid_group"])
  raise ValueError(task)


# ----------------------------------------------------------------------------- measuring

def time_once(fn):
  t0 = time.perf_counter()
  out = block(fn())
  return time.perf_counter() - t0, out


def calibrate(task, D, fns, log):
  """{lib: (tol, max relative gap)}; the loosest ladder tolerance meeting GAP_TARGET."""
  objs = {}
  for lib, (make, ext) in list(fns.items()):
    try:
      objs[(lib, LADDER[-1])] = objective(task, D, ext(block(make(LADDER[-1])())))
    except Exception as e:  # noqa: BLE001 — a peer broken by a version clash: leave it out
      log(f"    {lib}: left out, it failed: {type(e).__name__}: {str(e)[:120]}")
      del fns[lib]
  best = np.min(np.stack([o for o in objs.values()]), 0)
  gap = lambda o: float(np.max((o - best) / np.abs(best)))
  chosen = {}
  for lib, (make, ext) in fns.items():
    for tol in LADDER:
      o = objs.get((lib, tol))
      if o is None:
        o = objective(task, D, ext(block(make(tol)())))
      if gap(o) <= GAP_TARGET or tol == LADDER[-1]:
        chosen[lib] = (tol, gap(o))
        break
    log(f"    {lib}: tol {chosen[lib][0]:.0e}, max rel gap {chosen[lib][1]:.1e}")
  return chosen


def calibrate_cv(D, fns, tols, log):
  """CV: each lib at its lasso-path tolerance; gap = max rel. CV-curve difference vs sklearn 1e-10."""
  ref_make, ref_ext = build_cv(D, "sklearn")
  ref = ref_ext(block(ref_make(1e-10)()))
  out = {}
  for lib, (make, ext) in list(fns.items()):
    tol = tols.get(lib, 1e-10)
    try:
      curve = ext(block(make(tol)()))
    except Exception as e:  # noqa: BLE001 — a peer broken by a version clash: leave it out
      log(f"    {lib}: left out, it failed: {type(e).__name__}: {str(e)[:120]}")
      del fns[lib]
      continue
    out[lib] = (tol, float(np.max(np.abs(curve - ref) / ref)))
    log(f"    {lib}: tol {tol:.0e} (from the lasso path), CV curve max rel diff {out[lib][1]:.1e}")
  return out


def warm_rounds(fns, chosen, rounds):
  calls = {lib: make(chosen[lib][0]) for lib, (make, _) in fns.items()}
  for fn in calls.values():  # one warm-up each (jaxreg compiled during calibration already)
    block(fn())
  ts = {lib: [] for lib in calls}
  libs = list(calls)
  for r in range(rounds):
    for lib in libs[r % len(libs):] + libs[:r % len(libs)]:
      ts[lib].append(time_once(calls[lib])[0])
  return {lib: (float(np.median(v)), float(np.min(v))) for lib, v in ts.items()}


def first_call(task, shape, lib, tol, datafile, cache_home):
  env = dict(os.environ)
  env.pop("JAXREG_NO_COMPILATION_CACHE", None)
  env.pop("JAX_COMPILATION_CACHE_DIR", None)
  env["XDG_CACHE_HOME"] = cache_home
  cmd = [sys.executable, os.path.abspath(__file__), "--child", task, lib, repr(tol), datafile]
  out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
  for line in out.stdout.splitlines()[::-1]:
    if line.startswith("{"):
      return json.loads(line)
  return {"error": (out.stderr or out.stdout)[-300:]}


def child(task, lib, tol, datafile):
  """A fresh process: time the library import, then the first call."""
  with np.load(datafile) as z:
    D = {k: z[k] for k in z.files}
  D["group_size"] = int(D["group_size"])
  t0 = time.perf_counter()
  import_lib(lib)
  t1 = time.perf_counter()
  make, _ = BUILDERS[task](D, lib)
  block(make(float(tol))())
  t2 = time.perf_counter()
  print(json.dumps({"import": t1 - t0, "call": t2 - t1}))


# ----------------------------------------------------------------------------- report

def fmt_t(t):
  return f"{t * 1e3:.1f} ms" if t < 1 else f"{t:.2f} s"


def main():
  ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument("--quick", action="store_true",
                  help="one tiny shape, 2 rounds, first call on the first cell only: a smoke test")
  ap.add_argument("--shapes", default=None, help="comma-separated, from " + ",".join(SHAPES))
  ap.add_argument("--tasks", default=None, help="comma-separated, from " + ",".join(TASKS))
  ap.add_argument("--rounds", type=int, default=None, help="interleaved warm rounds (default 7)")
  ap.add_argument("--libs", default=None,
                  help="comma-separated contenders (default jaxreg,sklearn,celer,skglm; glum too if asked)")
  ap.add_argument("--no-first-call", action="store_true", help="skip the subprocess first-call rows")
  ap.add_argument("--child", nargs=4, metavar=("TASK", "LIB", "TOL", "DATA"), help=argparse.SUPPRESS)
  args = ap.parse_args()
  if args.child:
    return child(*args.child)

  shapes = (args.shapes.split(",") if args.shapes else list(QUICK_SHAPES if args.quick else SHAPES))
  tasks = args.tasks.split(",") if args.tasks else (["lasso", "cv", "logistic", "mcp", "group"]
                                                    if args.quick else TASKS)
  rounds = args.rounds or (2 if args.quick else 7)
  libs = [lib for lib in (args.libs.split(",") if args.libs else LIBS) if available(lib)]
  import jax
  vers = []
  for lib, mod in (("jax", "jax"), ("jaxreg", "jaxreg"), ("scikit-learn", "sklearn"),
                   ("celer", "celer"), ("skglm", "skglm"), ("glum", "glum")):
    m = sys.modules.get(mod)
    if m is not None:
      vers.append(f"{lib} {getattr(m, '__version__', '?')}")
  print(f"# benchmarks/linear.py — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
  print(f"{platform.machine()}, {os.cpu_count()} CPUs, load average "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}; jax on {jax.devices()[0].platform}; "
        + ", ".join(vers))
  print(f"command: python benchmarks/linear.py {' '.join(sys.argv[1:])}")
  print(f"contenders: {', '.join(libs)}; {rounds} interleaved warm rounds; float64; "
        f"accuracy target: max relative objective gap ≤ {GAP_TARGET:g} at every α\n", flush=True)
  import jaxreg as jr
  has_path = hasattr(jr.linear, "path")

  results = {}  # (task, shape) -> dict
  tmp = tempfile.mkdtemp(prefix="jaxreg_bench_")
  for shape in shapes:
    D = grids(make_data(shape))
    datafile = os.path.join(tmp, f"{shape}.npz")
    np.savez(datafile, **{k: v for k, v in D.items() if k != "label"})
    path_tols = {}
    for task in tasks:
      if task in ("mcp", "group") and not has_path:
        print(f"[{task} × {shape}] skipped: jr.linear.path does not exist yet (hook {BUILDERS[task].__name__})",
              flush=True)
        continue
      log = lambda s: print(s, flush=True)
      log(f"[{task} × {D['label']}] calibrating tolerances")
      fns = {}
      for lib in libs:
        b = BUILDERS[task](D, lib)
        if b is not None:
          fns[lib] = b
      try:
        if task == "cv":
          if not path_tols:
            path_tols = {lib: tol for lib, (tol, _) in calibrate("lasso", D, {
                lib: build_lasso(D, lib) for lib in fns}, lambda s: None).items()}
          chosen = calibrate_cv(D, fns, path_tols, log)
        else:
          chosen = calibrate(task, D, fns, log)
          if task == "lasso":
            path_tols = {lib: tol for lib, (tol, _) in chosen.items()}
      except Exception as e:  # noqa: BLE001 — one broken cell must not stop the matrix
        log(f"    FAILED: {type(e).__name__}: {e}")
        continue
      warm = warm_rounds(fns, chosen, rounds)
      first = {}
      if not args.no_first_call and not (args.quick and results):  # --quick: first cell only
        cache = tempfile.mkdtemp(prefix="xdg_", dir=tmp)
        for lib in fns:
          key = lib if lib != "jaxreg" else "jaxreg (cold cache)"
          first[key] = first_call(task, shape, lib, chosen[lib][0], datafile, cache)
          if lib == "jaxreg":
            first["jaxreg (warm cache)"] = first_call(task, shape, lib, chosen[lib][0], datafile,
                                                      cache)
      results[(task, shape)] = dict(label=D["label"], chosen=chosen, warm=warm, first=first)
      log(f"    warm medians: " + ", ".join(f"{k} {fmt_t(v[0])}" for k, v in warm.items()))
      if first:
        log("    first call (call / e2e): " + ", ".join(
            f"{k} {fmt_t(v['call'])} / {fmt_t(v['call'] + v['import'])}" if "call" in v
            else f"{k} ERROR {v['error']}" for k, v in first.items()))
  report(results, tasks, shapes)


def report(results, tasks, shapes):
  print("\n## Results\n")
  verdicts = []
  for task in tasks:
    cells = [(s, results[(task, s)]) for s in shapes if (task, s) in results]
    if not cells:
      continue
    gapname = "CV curve max rel diff" if task == "cv" else "max rel gap"
    print(f"### {task}\n")
    print(f"| shape | contender | tol | {gapname} | warm median | warm min | jaxreg / fastest peer (median, min) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for shape, R in cells:
      warm, chosen = R["warm"], R["chosen"]
      peers = {k: v for k, v in warm.items() if k != "jaxreg"}
      for lib, (med, mn) in warm.items():
        ratio = ""
        if lib == "jaxreg" and peers:
          fm = min(v[0] for v in peers.values())
          fn = min(v[1] for v in peers.values())
          fastest = min(peers, key=lambda k: peers[k][0])
          ratio = f"{med / fm:.2f}, {mn / fn:.2f} (vs {fastest})"
          ok = med <= fm
          verdicts.append(f"warm {task} {R['label']}: jaxreg/fastest peer {med / fm:.2f} "
                          f"({fastest}) — {'met' if ok else 'NOT met'}")
        print(f"| {R['label']} | {lib} | {chosen[lib][0]:.0e} | {chosen[lib][1]:.1e} | "
              f"{fmt_t(med)} | {fmt_t(mn)} | {ratio} |")
    print()
    if any(R["first"] for _, R in cells):
      print(f"First call of {task}, fresh process per contender (call = first call incl. compile; "
            "e2e = library import + first call):\n")
      print("| shape | contender | import | first call | e2e |")
      print("| --- | --- | --- | --- | --- |")
      for shape, R in cells:
        for lib, v in R["first"].items():
          if "call" in v:
            print(f"| {R['label']} | {lib} | {fmt_t(v['import'])} | {fmt_t(v['call'])} | "
                  f"{fmt_t(v['import'] + v['call'])} |")
          else:
            print(f"| {R['label']} | {lib} | error | {v['error'][-80:]!r} | |")
        F = R["first"]
        cold, warmc, sk = (F.get("jaxreg (cold cache)"), F.get("jaxreg (warm cache)"),
                           F.get("sklearn"))
        if cold and "call" in cold:
          verdicts.append(f"first call {task} {R['label']}, cold cache: {cold['call']:.2f} s "
                          f"— {'met' if cold['call'] <= 3 else 'NOT met'} (≤ 3 s)")
        if warmc and sk and "call" in warmc and "call" in sk:
          e2e_j = warmc["call"] + warmc["import"]
          e2e_s = sk["call"] + sk["import"]
          verdicts.append(f"first call {task} {R['label']}, warm cache e2e / sklearn e2e: "
                          f"{e2e_j:.2f} s / {e2e_s:.2f} s = {e2e_j / e2e_s:.2f} — "
                          f"{'met' if e2e_j <= 1.5 * e2e_s else 'NOT met'} (≤ 1.5)")
      print()
  print("### Targets\n")
  for v in verdicts:
    print(f"- {v}")


if __name__ == "__main__":
  main()
