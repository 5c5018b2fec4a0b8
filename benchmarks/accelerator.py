"""jaxreg on an accelerator: sweeps, batched fits, paths and CV, peak memory, one table.

One command, under 8 minutes on one GPU, that prints the device and writes
one markdown table (to stdout and, with ``--out``, to a file). Rows, most
important first:

1. **Digits MLP sweep** (``mlp``): the MLP of ``examples/sweep_mlp.py``
   (64-32-10, digits training split) trained with L2 weight decay
   (``jr.add_penalty_gradient`` before SGD, kernels only) for 64 α values by
   full-batch gradient descent, as one ``jr.sweep`` (one vmapped program)
   against a Python loop calling one jitted single-α trainer 64 times (the
   same compiled trainer every time: the loop pays no compile per α).
   Target: the sweep ≥ 10× faster. Agreement: the same parameters to float
   tolerance (the same arithmetic, batched or not).
2. **Peak device memory of a chunked 1024-α sweep** (``memory``): the same
   MLP for 1024 α in chunks. With ``chunk_size="auto"`` (when ``jr.sweep``
   accepts it) under ``--mem-budget-mib``, the chunk it chose is reported;
   otherwise the explicit ``--mem-chunk``. ``memory_stats()``'s
   ``peak_bytes_in_use`` (the process's peak; it cannot be reset) and
   ``bytes_in_use`` are read after a one-chunk sweep of the first chunk's α
   values and again after the 1024-α sweep. Target: peak ratio ≤ 1.2×.
   Agreement: the chunked sweep's first chunk equals the one-chunk sweep.
   Host backends report no device memory: "n/a (host)". This row runs
   before the linear rows so that their larger arrays do not set the peak.
3. **fit_batch** (``fit_batch``): 2,000 and 20,000 elastic nets
   (``jr.ElasticNet(0.1, 0.5)``) of 50 × 200, random data with a fixed seed,
   float64, ``jr.linear.fit_batch`` against a Python loop of scikit-learn's
   ``ElasticNet(alpha=0.1, l1_ratio=0.5)`` on the host (the same objective,
   DESIGN.md's table). Matched accuracy: scikit-learn runs at the loosest
   tol of 1e-4 … 1e-10 whose objectives on a calibration subset are within
   1e-6 (relative) of the best reached by either side; jaxreg runs at its
   default tol. For 20,000 problems the loop is timed on a subset
   (``--fb-sklearn-max``) and scaled up, as the notes say. Target ≥ 20×.
   Agreement: jaxreg's objective within 1e-6 (relative) of scikit-learn's on
   every problem scikit-learn solved. A second row per size runs all
   problems as one chunk (``chunk_size=B``).
4. **The lasso-path and CV matrix** (``matrix``): ``benchmarks/linear.py``'s
   tasks ``lasso`` and ``cv`` on its shapes (its own functions, imported:
   tolerance calibration to matched accuracy, interleaved warm rounds),
   jaxreg (on the device) against scikit-learn (on the host), plus celer and
   skglm with ``--libs``. Target: jaxreg no slower than the fastest peer
   (≥ 1×). Agreement: every contender within linear.py's accuracy target
   (objective gap 1e-6; CV curve 1e-4). The matrix runs in a child process
   so that the time guard can stop a cell that overruns; finished cells
   are kept. 200×5000 comes last (lasso only: scikit-learn takes minutes
   there at tight tolerances, and its 5-fold CV longer).

5. **Roofline** (``roofline``): ``benchmarks/cost_model.py``'s sweep steps
   (an MLP SGD step, an ISTA lasso step, a Gram-form elastic-net step) at
   K = 64 and 1024 α: XLA's FLOPs and bytes of the compiled step, the time
   predicted from this device's measured matmul rate and bandwidth and from
   an H100's datasheet, and the measured time. A second table.

Timing: every row measures its contenders in R interleaved rounds (the
order rotating each round; R = 5, 3 for the matrix cells, 2 with
``--smoke``) after a first call, and gives the median and the min. "first call" is the first call's time in this process (for jaxreg:
tracing, compilation and one run; the persistent compilation cache is off
unless ``--compilation-cache``). Speed-up = baseline time / jaxreg time.

Agreement is checked on every row and its figure written in the table; a
row whose results disagree is marked DISAGREE and the script exits with
status 1 (also when a row fails with an error). A global time guard
(``--deadline`` seconds from the start, default 450) skips the rows that
would start after it, with a note; the matrix child is stopped at it.

Run:
  PYTHONPATH=. python benchmarks/accelerator.py --out benchmarks/accelerator.md
  python benchmarks/accelerator.py --smoke --out /tmp/acc.md    # tiny sizes, ~1 min on a CPU
  python benchmarks/accelerator.py --rows mlp,memory             # a subset of the rows

Targets: MLP sweep ≥ 10× the loop; fit_batch ≥ 20× the scikit-learn loop;
paths and CV ≥ 1× the fastest peer; 1024-α chunked peak ≤ 1.2× the peak
of one chunk.
"""

import argparse
import contextlib
import datetime
import functools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

_T0 = time.monotonic()  # the time guard counts from here, imports included

# First calls include compilation: jaxreg's persistent compilation cache is
# off for this process (and the matrix child) unless asked for.
if "--compilation-cache" not in sys.argv:
  os.environ.setdefault("JAXREG_NO_COMPILATION_CACHE", "1")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for _p in (ROOT, HERE, os.path.join(ROOT, "examples")):
  if _p not in sys.path:
    sys.path.insert(0, _p)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402

import jaxreg as jr  # noqa: E402

_filters = warnings.filters[:]
import cost_model  # noqa: E402  (benchmarks/cost_model.py)
import linear as linear_bench  # noqa: E402  (benchmarks/linear.py)
warnings.filters[:] = _filters  # its import silences all warnings: not for an importer
import sweep as sweep_bench  # noqa: E402  (benchmarks/sweep.py)
from sweep_mlp import MLP, load_data  # noqa: E402  (examples/sweep_mlp.py)

ROWS = ("mlp", "memory", "fit_batch", "matrix", "roofline")
MLP_TOL = 1e-4          # max |Δθ| / max |θ|, sweep against loop
FB_GAP = 1e-6           # relative objective gap, fit_batch against scikit-learn
FB_LADDER = [1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10]
MATRIX_SHAPES = ["2000x500", "5000x300r50", "20000x100", "real"]
MATRIX_LAST = [("lasso", "200x5000")]


# ----------------------------------------------------------------------------- table

class Row:
  """One line of the table; `agree` is True, False, or None (not checked)."""

  def __init__(self, name, **kw):
    self.name = name
    self.jaxreg = kw.get("jaxreg", "")
    self.baseline = kw.get("baseline", "")
    self.speedup = kw.get("speedup", "")
    self.target = kw.get("target", "")
    self.met = kw.get("met", "")
    self.first = kw.get("first", "")
    self.agree = kw.get("agree", None)
    self.agreement = kw.get("agreement", "")
    self.notes = kw.get("notes", "")


COLUMNS = ("row", "jaxreg (median / min)", "baseline (median / min)", "speed-up (median, min)",
           "target", "met?", "first call (jaxreg / baseline)", "agreement", "notes")


def fmt_t(t):
  return linear_bench.fmt_t(t)


def fmt_mm(mm):
  return f"{fmt_t(mm[0])} / {fmt_t(mm[1])}"


def fmt_bytes(b):
  return f"{b / 2**20:.1f} MiB"


def agreement(value, limit, what):
  """(ok, text): `value` (an error figure, NaN = disagreement) against `limit`."""
  ok = bool(np.isfinite(value) and value <= limit)
  return ok, f"{'ok' if ok else '**DISAGREE**'}: {what} {value:.1e} (≤ {limit:.0e})"


def speedup_cells(jr_mm, base_mm, target):
  """(speed-up text, met text) for baseline / jaxreg times against a ≥ target."""
  med, mn = base_mm[0] / jr_mm[0], base_mm[1] / jr_mm[1]
  return f"{med:.2f}×, {mn:.2f}×", ("yes" if med >= target else "no")


def table(rows):
  esc = lambda s: str(s).replace("|", "\\|").replace("\n", " ")
  lines = ["| " + " | ".join(COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
  for r in rows:
    agree = r.agreement if r.agreement else ("—" if r.agree is None else "")
    cells = (r.name, r.jaxreg, r.baseline, r.speedup, r.target, r.met, r.first, agree, r.notes)
    lines.append("| " + " | ".join(esc(c) for c in cells) + " |")
  return "\n".join(lines)


def write_atomic(path, text):
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                             dir=directory)
  try:
    with os.fdopen(fd, "w", encoding="utf-8") as f:
      f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
  except BaseException:
    with contextlib.suppress(OSError):
      os.remove(tmp)
    raise


# ----------------------------------------------------------------------------- timing

def interleaved(calls, rounds):
  """{name: (first call s, (median s, min s))}: one first call each, then `rounds`
  rounds in which every call runs once, the order rotating from round to round."""
  first, times = {}, {name: [] for name in calls}
  for name, call in calls.items():
    t0 = time.perf_counter()
    jax.block_until_ready(call())
    first[name] = time.perf_counter() - t0
  names = list(calls)
  for r in range(rounds):
    for name in names[r % len(names):] + names[:r % len(names)]:
      t0 = time.perf_counter()
      jax.block_until_ready(calls[name]())
      times[name].append(time.perf_counter() - t0)
  return {n: (first[n], (statistics.median(times[n]), min(times[n]))) for n in names}


# ----------------------------------------------------------------------------- 1. MLP sweep

def mlp_train(pen, key, X, y, steps, lr):
  """One MLP for one L2 penalty: full-batch SGD with coupled weight decay.

  Returns (params, final training loss)."""
  model = MLP()
  params = model.init(key, X[:1])
  tx = optax.chain(jr.add_penalty_gradient(pen), optax.sgd(lr))

  def loss(p):
    return optax.softmax_cross_entropy_with_integer_labels(model.apply(p, X), y).mean()

  return sweep_bench.full_batch_descent(loss, params, tx, steps)


def param_error(a, b):
  """max |a − b| / max |b| over all leaves (NaN anywhere gives NaN)."""
  la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
  if len(la) != len(lb):
    return float("nan")
  diff = float(np.max([float(jnp.max(jnp.abs(x - z))) for x, z in zip(la, lb)]))
  scale = float(np.max([float(jnp.max(jnp.abs(z))) for z in lb]))
  return diff / max(scale, float(np.finfo(np.float32).tiny))


def stack_outputs(outs):
  return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *outs)


def row_mlp(cfg, data):
  X, y = data
  key = jax.random.key(0)
  alphas = np.logspace(-5, 0, cfg.mlp_alphas).astype(np.float32)
  mask = jr.masks.weights_only
  pens = jr.L2(jnp.asarray(alphas), mask=mask)
  loop_alphas = alphas.copy()
  if cfg.plant_wrong_alpha:  # a deliberate bug: the loop trains the last model at α[0]
    loop_alphas[-1] = alphas[0]
  items = [jr.L2(a, mask=mask) for a in loop_alphas]
  train = functools.partial(mlp_train, steps=cfg.mlp_steps, lr=0.5)
  single = jax.jit(train)
  res = interleaved({
      "sweep": lambda: jr.sweep(train, pens, key, X, y),
      "loop": lambda: [single(item, key, X, y) for item in items],
  }, cfg.rounds)
  swept = jr.sweep(train, pens, key, X, y)
  looped = stack_outputs([single(item, key, X, y) for item in items])
  err = param_error(swept[0], looped[0])
  loss_err = float(jnp.max(jnp.abs(swept[1] - looped[1]) / jnp.abs(looped[1])))
  ok, text = agreement(max(err, loss_err), cfg.mlp_tol, "max |Δθ|/max|θ|, |Δloss|/loss")
  speed, met = speedup_cells(res["sweep"][1], res["loop"][1], 10)
  planted = "; PLANTED wrong α in the loop" if cfg.plant_wrong_alpha else ""
  return Row(f"digits MLP 64-32-10, {cfg.mlp_alphas} L2 α × {cfg.mlp_steps} steps: "
             "jr.sweep vs Python loop of one jitted trainer",
             jaxreg=fmt_mm(res["sweep"][1]), baseline=fmt_mm(res["loop"][1]), speedup=speed,
             target="≥ 10×", met=met,
             first=f"{fmt_t(res['sweep'][0])} / {fmt_t(res['loop'][0])}", agree=ok,
             agreement=text,
             notes=f"X {X.shape[0]}×{X.shape[1]} float32, matmul precision "
                   f"{cfg.matmul_precision}; loop compiles once{planted}")


# ----------------------------------------------------------------------------- 2. memory

_CHUNKS_SEEN = []


def _record_chunk(alpha):
  """Host callback: the size of the chunk being run (its α axis)."""
  _CHUNKS_SEEN.append(int(np.shape(alpha)[0]) if np.ndim(alpha) else 1)
  return np.zeros(np.shape(alpha), np.float32)


def mlp_train_probed(pen, key, X, y, steps, lr):
  """`mlp_train` plus a host callback, called once per chunk, that records its size."""
  probe = jax.pure_callback(_record_chunk, jax.ShapeDtypeStruct((), jnp.float32), pen.alpha,
                            vmap_method="expand_dims")
  return mlp_train(pen, key, X, y, steps, lr), probe


def _auto_available():
  try:
    jr.sweep(lambda a: a, jnp.zeros(2), chunk_size="auto", memory_budget=2**20)
    return True
  except (TypeError, ValueError):
    return False


def row_memory(cfg, data):
  X, y = data
  key = jax.random.key(0)
  n = cfg.mem_alphas
  pens = jr.L2(jnp.logspace(-5, 0, n), mask=jr.masks.weights_only)
  train = functools.partial(mlp_train_probed, steps=cfg.mem_steps, lr=0.5)
  dev = jax.devices()[0]
  auto = not cfg.no_auto and _auto_available()
  budget = int(cfg.mem_budget_mib * 2**20)
  notes = []
  if auto:
    kw = {"chunk_size": "auto", "memory_budget": budget}
    plan = (jr.plan_sweep(train, pens, key, X, y, memory_budget=budget)
            if hasattr(jr, "plan_sweep") else None)
    chunk = plan.chunk_size if plan is not None else None
    how = f"chunk_size='auto', memory_budget {cfg.mem_budget_mib:g} MiB"
    if plan is not None:
      notes.append(f"plan: chunk {plan.chunk_size} × {plan.n_chunks}, predicted peak "
                   f"{fmt_bytes(plan.peak_bytes)}")
  else:
    kw = {"chunk_size": cfg.mem_chunk}
    chunk = cfg.mem_chunk
    how = f"chunk_size={cfg.mem_chunk} (explicit; 'auto' not accepted)" if not cfg.no_auto \
        else f"chunk_size={cfg.mem_chunk} (explicit)"
  if chunk is None:  # 'auto' without a plan to read: learn the chunk from a first run
    _CHUNKS_SEEN.clear()
    jax.block_until_ready(jr.sweep(train, pens, key, X, y, **kw))
    jax.effects_barrier()
    chunk = max(_CHUNKS_SEEN)
  stats0 = dev.memory_stats()
  t0 = time.perf_counter()
  head = jax.tree_util.tree_map(lambda a: a[:chunk], pens)  # the first chunk's α values
  one = jr.sweep(train, head, key, X, y,
                 **({"chunk_size": "auto", "memory_budget": budget} if auto else {}))
  jax.block_until_ready(one)
  t_one = time.perf_counter() - t0
  stats1 = dev.memory_stats()
  _CHUNKS_SEEN.clear()
  t0 = time.perf_counter()
  full = jr.sweep(train, pens, key, X, y, **kw)
  jax.block_until_ready(full)
  t_full = time.perf_counter() - t0
  jax.effects_barrier()
  stats2 = dev.memory_stats()
  seen = list(_CHUNKS_SEEN)
  notes.append(f"{how}; ran {len(seen)} chunks of {max(seen) if seen else '?'} α "
               f"(seen by a host callback); {cfg.mem_steps} steps per α")
  first_chunk = jax.tree_util.tree_map(lambda a: a[:chunk], full[0])
  err = param_error(first_chunk, one[0])
  ok, text = agreement(err, cfg.mlp_tol, "first chunk vs one-chunk sweep, max |Δθ|/max|θ|")
  notes.append(f"times (compile included where new): {n} α {fmt_t(t_full)}, one chunk "
               f"{fmt_t(t_one)}")
  first = "—"
  name = f"peak device memory, {n}-α chunked sweep (digits MLP) vs one chunk of {chunk} α"
  if stats2 is None or "peak_bytes_in_use" not in stats2:
    return Row(name, jaxreg="n/a (host)", baseline="n/a (host)", speedup="n/a",
               target="≤ 1.2× peak", met="n/a", first=first, agree=ok, agreement=text,
               notes="; ".join(notes + ["memory_stats() is None on this backend"]))
  p0, p1, p2 = (s["peak_bytes_in_use"] for s in (stats0, stats1, stats2))
  u0, u1, u2 = (s["bytes_in_use"] for s in (stats0, stats1, stats2))
  ratio = p2 / p1
  if p1 == p0:
    notes.append("the one-chunk sweep did not raise the process's earlier peak, so the ratio "
                 "bounds the chunked sweep by that peak")
  notes.append(f"peak before {fmt_bytes(p0)}; in use before / after one chunk / after "
               f"{n} α: {fmt_bytes(u0)} / {fmt_bytes(u1)} / {fmt_bytes(u2)}; peak is the "
               "process's (no reset)")
  return Row(name, jaxreg=f"peak {fmt_bytes(p2)}", baseline=f"peak {fmt_bytes(p1)}",
             speedup=f"{ratio:.3f} (peak ratio)", target="≤ 1.2× peak",
             met="yes" if ratio <= 1.2 else "no", first=first, agree=ok, agreement=text,
             notes="; ".join(notes))


# ----------------------------------------------------------------------------- 3. fit_batch

def fb_data(B, n, p, seed=0):
  rng = np.random.default_rng(seed)
  Xs = rng.standard_normal((B, n, p))
  ws = rng.standard_normal((B, p)) * (rng.random((B, p)) < 0.1)
  ys = np.einsum("bnp,bp->bn", Xs, ws) + 0.1 * rng.standard_normal((B, n))
  return Xs, ys


def enet_objective(Xs, ys, W, b, a, r):
  """(1/(2n))‖y − Xw − b‖² + a(r‖w‖₁ + (1 − r)/2 ‖w‖²), per problem."""
  R = ys - np.einsum("bnp,bp->bn", Xs, W) - b[:, None]
  return (0.5 / ys.shape[1] * np.sum(R ** 2, 1)
          + a * (r * np.abs(W).sum(1) + 0.5 * (1 - r) * np.sum(W ** 2, 1)))


def sklearn_enet_loop(Xs, ys, a, r, tol):
  from sklearn.linear_model import ElasticNet
  W, b = np.empty((len(Xs), Xs.shape[2])), np.empty(len(Xs))
  for i, (X, y) in enumerate(zip(Xs, ys)):
    m = ElasticNet(alpha=a, l1_ratio=r, tol=tol, max_iter=100_000).fit(X, y)
    W[i], b[i] = m.coef_, m.intercept_
  return W, b


def fb_calibrate(Xs, ys, a, r, jr_obj):
  """The loosest scikit-learn tol whose objectives are within FB_GAP of the best
  of (jaxreg, scikit-learn at 1e-10) on these problems: (tol, its max gap)."""
  objs = {tol: enet_objective(Xs, ys, *sklearn_enet_loop(Xs, ys, a, r, tol), a, r)
          for tol in FB_LADDER}
  best = np.minimum(objs[FB_LADDER[-1]], jr_obj)
  for tol in FB_LADDER:
    gap = float(np.max((objs[tol] - best) / np.abs(best)))
    if gap <= FB_GAP or tol == FB_LADDER[-1]:
      return tol, gap


def row_fit_batch(cfg, B, Xall, yall, n_sk):
  """Two rows (library chunking, one chunk) for B problems; scikit-learn on the first n_sk."""
  a, r = 0.1, 0.5
  Xs, ys = Xall[:B], yall[:B]
  Xd, yd = jax.device_put(Xs), jax.device_put(ys)  # jaxreg's data on the device, once
  jax.block_until_ready((Xd, yd))
  pen = jr.ElasticNet(a, r)
  ours = lambda: jr.linear.fit_batch(Xd, yd, pen)
  ours1 = lambda: jr.linear.fit_batch(Xd, yd, pen, chunk_size=B)
  n_cal = min(cfg.fb_calibrate, n_sk)
  t0 = time.perf_counter()
  res = jax.block_until_ready(ours())  # the first call: tracing, compilation, one run
  jr_first = time.perf_counter() - t0
  jr_obj = enet_objective(Xs, ys, np.asarray(res.coef), np.asarray(res.intercept), a, r)
  tol, cal_gap = fb_calibrate(Xs[:n_cal], ys[:n_cal], a, r, jr_obj[:n_cal])
  sk = lambda: sklearn_enet_loop(Xs[:n_sk], ys[:n_sk], a, r, tol)
  calls = {"jaxreg": ours, "sklearn": sk}
  if cfg.fb_one_chunk:
    calls["jaxreg one chunk"] = ours1
  timed = interleaved(calls, cfg.rounds)
  timed["jaxreg"] = (jr_first, timed["jaxreg"][1])
  scale = B / n_sk
  sk_first = timed["sklearn"][0] * scale
  sk_mm = tuple(t * scale for t in timed["sklearn"][1])
  W_sk, b_sk = sk()
  sk_obj = enet_objective(Xs[:n_sk], ys[:n_sk], W_sk, b_sk, a, r)
  base = (f"{fmt_mm(sk_mm)}" + (f" (×{scale:g} of {n_sk})" if n_sk < B else ""))
  extrap = (f"scikit-learn timed on the first {n_sk} problems and scaled ×{scale:g}; "
            if n_sk < B else "")
  rows = []
  for name, label in (("jaxreg", "library chunking"), ("jaxreg one chunk", f"chunk_size={B}")):
    if name not in calls:
      continue
    out = ours() if name == "jaxreg" else ours1()
    W, b = np.asarray(out.coef), np.asarray(out.intercept)
    obj = enet_objective(Xs[:n_sk], ys[:n_sk], W[:n_sk], b[:n_sk], a, r)
    gap = float(np.max((obj - sk_obj) / np.abs(sk_obj)))
    coef_err = float(np.max(np.abs(W[:n_sk] - W_sk)) / max(np.max(np.abs(W_sk)), 1e-300))
    ok, text = agreement(gap, FB_GAP, "max (obj_jaxreg − obj_sklearn)/obj_sklearn")
    if not np.all(np.asarray(out.converged)):
      ok, text = False, text + f"; {int(np.sum(~np.asarray(out.converged)))} not converged"
    speed, met = speedup_cells(timed[name][1], sk_mm, 20)
    it = np.asarray(out.n_iter)
    rows.append(Row(
        f"fit_batch, {B} elastic nets 50×200 ({label}) vs loop of sklearn ElasticNet",
        jaxreg=fmt_mm(timed[name][1]), baseline=base, speedup=speed, target="≥ 20×", met=met,
        first=f"{fmt_t(timed[name][0])} / {fmt_t(sk_first)}", agree=ok,
        agreement=text + f"; max |Δcoef|/max|coef| {coef_err:.1e}",
        notes=f"{extrap}float64; ElasticNet(0.1, 0.5); sklearn tol {tol:.0e} (matched on "
              f"{n_cal} problems: gap {cal_gap:.1e}), jaxreg default tol; n_iter mean "
              f"{it.mean():.1f}, max {it.max()}"))
  return rows


# ----------------------------------------------------------------------------- 4. matrix

def matrix_cells(cfg):
  cells = [(task, shape) for task in ("lasso", "cv") for shape in cfg.matrix_shapes]
  if not cfg.smoke and cfg.matrix_last:
    cells += [c for c in MATRIX_LAST if c not in cells]
  return cells


def matrix_child(spec):
  """In a child process: linear.py's calibration and warm rounds, one JSON line per cell."""
  spec = json.loads(spec)
  log = lambda s: print(s, file=sys.stderr, flush=True)
  linear_bench.import_lib("jaxreg")  # float64, as linear.py runs
  libs = [lib for lib in spec["libs"] if lib in ("jaxreg", "sklearn") or linear_bench.available(lib)]
  jax.block_until_ready(jnp.zeros(1) + 1)  # the backend starts before any timing
  for task, shape in spec["cells"]:
    out = {"task": task, "shape": shape}
    try:
      D = linear_bench.grids(linear_bench.make_data(shape))
      out["label"] = D["label"]
      firsts = {}

      def timed_make(make, lib):
        def made(tol):
          fn = make(tol)

          def call():
            if lib in firsts:
              return fn()
            t0 = time.perf_counter()
            res = linear_bench.block(fn())
            firsts[lib] = (time.perf_counter() - t0, tol)
            return res
          return call
        return made

      fns = {}
      for lib in libs:
        built = linear_bench.BUILDERS[task](D, lib)
        if built is not None:
          fns[lib] = (timed_make(built[0], lib), built[1])
      log(f"[{task} × {D['label']}] calibrating tolerances")
      if task == "cv":
        chosen = linear_bench.calibrate_cv(D, fns, log)
      else:
        chosen = linear_bench.calibrate(task, D, fns, log)
      warm = linear_bench.warm_rounds(fns, chosen, spec["rounds"])
      out.update(chosen=chosen, warm=warm, first=firsts)
    except Exception as e:  # noqa: BLE001 — reported in the table, the next cell runs
      out["error"] = f"{type(e).__name__}: {str(e)[:200]}"
    print(json.dumps(out), flush=True)


def matrix_rows(cfg, deadline):
  cells = matrix_cells(cfg)
  spec = json.dumps({"cells": cells, "libs": cfg.libs, "rounds": cfg.matrix_rounds})
  cmd = [sys.executable, os.path.abspath(__file__), "--matrix-child", spec]
  if cfg.compilation_cache:
    cmd.append("--compilation-cache")
  # The parent already holds its device memory pool: the child allocates on demand
  # rather than trying to preallocate a share of the device that is taken.
  env = dict(os.environ)
  env.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
  proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env)
  results = {}
  timed_out = False
  try:
    import selectors
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    buf = ""
    while True:
      left = deadline - time.monotonic()
      if left <= 0:
        timed_out = True
        break
      if not sel.select(timeout=min(left, 1.0)):
        if proc.poll() is not None:
          break
        continue
      chunk = os.read(proc.stdout.fileno(), 65536).decode()
      if not chunk:
        break
      buf += chunk
      while "\n" in buf:
        line, buf = buf.split("\n", 1)
        if line.startswith("{"):
          cell = json.loads(line)
          results[(cell["task"], cell["shape"])] = cell
  finally:
    if proc.poll() is None:
      proc.kill()  # the child this function started
    proc.wait()
  rows = []
  for task, shape in cells:
    cell = results.get((task, shape))
    name = f"{task} ({'100-α path' if task == 'lasso' else '5-fold CV, 100 α'}), {shape}"
    if cell is None:
      why = "time guard: stopped at the deadline" if timed_out else \
          f"child process ended (status {proc.returncode}) before this cell"
      rows.append(Row(name, met="skipped", notes=why, agree=None if timed_out else False,
                      agreement="" if timed_out else "**ERROR**"))
      continue
    name = f"{task} ({'100-α path' if task == 'lasso' else '5-fold CV, 100 α'}), {cell.get('label', shape)}"
    if "error" in cell:
      rows.append(Row(name, met="error", agree=False, agreement="**ERROR**", notes=cell["error"]))
      continue
    rows.append(matrix_row(name, task, cell))
  return rows


def matrix_row(name, task, cell):
  warm, chosen, firsts = cell["warm"], cell["chosen"], cell["first"]
  target = linear_bench.CV_TARGET if task == "cv" else linear_bench.GAP_TARGET
  what = "CV curve max rel diff" if task == "cv" else "max rel objective gap"
  devs = {lib: chosen[lib][1] for lib in chosen}
  worst = max(devs.values()) if devs else float("nan")
  ok, _ = agreement(worst, target, what)
  agree = (f"{'ok' if ok else '**DISAGREE**'}: {what} " +
           ", ".join(f"{lib} {d:.1e} (tol {chosen[lib][0]:.0e})" for lib, d in devs.items()) +
           f" (≤ {target:.0e})")
  if "jaxreg" not in warm:
    return Row(name, met="error", agree=False, agreement="**ERROR**: jaxreg left out",
               notes=json.dumps(cell)[:200])
  peers = {lib: v for lib, v in warm.items() if lib != "jaxreg"}
  if not peers:
    return Row(name, jaxreg=fmt_mm(warm["jaxreg"]), met="n/a", agree=ok, agreement=agree,
               notes="no peer ran")
  fastest = min(peers, key=lambda k: peers[k][0])
  base_mm = (peers[fastest][0], min(v[1] for v in peers.values()))
  speed, met = speedup_cells(warm["jaxreg"], base_mm, 1.0)
  first = firsts.get("jaxreg")
  others = "; ".join(f"{lib} {fmt_mm(v)}" for lib, v in peers.items() if lib != fastest)
  return Row(name, jaxreg=fmt_mm(warm["jaxreg"]), baseline=f"{fastest} {fmt_mm(base_mm)}",
             speedup=speed, target="≥ 1× (fastest peer)", met=met,
             first=(f"{fmt_t(first[0])} (tol {first[1]:.0e}) / —" if first else "—"),
             agree=ok, agreement=agree,
             notes="benchmarks/linear.py's calibration and warm rounds; float64"
                   + (f"; other peers: {others}" if others else ""))


# ----------------------------------------------------------------------------- main

def parse(argv=None):
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                               formatter_class=argparse.RawDescriptionHelpFormatter)
  ap.add_argument("--smoke", action="store_true",
                  help="tiny sizes everywhere (about a minute on a CPU): a test that the script runs")
  ap.add_argument("--out", help="also write the markdown report to this file (atomically)")
  ap.add_argument("--rows", default=",".join(ROWS), help="comma-separated, from " + ",".join(ROWS))
  ap.add_argument("--rounds", type=int, help="interleaved timed rounds per row (default 5; smoke 2)")
  ap.add_argument("--deadline", type=float,
                  help="seconds from the start after which no row starts (default 450; smoke 240)")
  ap.add_argument("--mlp-alphas", type=int, help="α values of the MLP sweep (default 64)")
  ap.add_argument("--mlp-steps", type=int, help="gradient steps per MLP (default 200)")
  ap.add_argument("--mlp-tol", type=float, default=MLP_TOL,
                  help=f"max relative parameter difference, sweep vs loop (default {MLP_TOL:g})")
  ap.add_argument("--matmul-precision", default="highest",
                  help="jax default_matmul_precision for the MLP rows (default highest: sweep "
                       "and loop then agree to float32 rounding; 'default' allows TF32 on GPUs)")
  ap.add_argument("--mem-alphas", type=int, help="α values of the chunked sweep (default 1024)")
  ap.add_argument("--mem-chunk", type=int, help="explicit chunk size (default 128), used when "
                  "chunk_size='auto' is not accepted or with --no-auto")
  ap.add_argument("--mem-budget-mib", type=float,
                  help="memory_budget for chunk_size='auto', MiB (default 64)")
  ap.add_argument("--mem-steps", type=int, help="gradient steps per MLP in the memory row (default 20)")
  ap.add_argument("--no-auto", action="store_true", help="use --mem-chunk even if 'auto' works")
  ap.add_argument("--fb-problems", help="comma-separated batch sizes (default 2000,20000)")
  ap.add_argument("--fb-sklearn-max", type=int,
                  help="scikit-learn solves at most this many problems per row; more are "
                       "extrapolated (default 2000)")
  ap.add_argument("--fb-calibrate", type=int, help="problems for the tolerance match (default 50)")
  ap.add_argument("--no-fb-one-chunk", dest="fb_one_chunk", action="store_false", default=None,
                  help="skip the chunk_size=B rows")
  ap.add_argument("--matrix-shapes", help="comma-separated linear.py shapes (default "
                  + ",".join(MATRIX_SHAPES) + ", then lasso on 200x5000)")
  ap.add_argument("--no-matrix-last", dest="matrix_last", action="store_false",
                  help="leave out the lasso on 200x5000")
  ap.add_argument("--matrix-rounds", type=int,
                  help="interleaved warm rounds per matrix cell (default 3; smoke 2)")
  ap.add_argument("--libs", default="jaxreg,sklearn",
                  help="matrix contenders (default jaxreg,sklearn; add celer,skglm if installed)")
  ap.add_argument("--compilation-cache", action="store_true",
                  help="keep jaxreg's persistent compilation cache on (first calls then may "
                       "load compiled programs from disk)")
  ap.add_argument("--plant-wrong-alpha", action="store_true",
                  help="test of the agreement check: the MLP loop trains its last model at the "
                       "wrong α, so the row must read DISAGREE and the script exit 1")
  ap.add_argument("--matrix-child", help=argparse.SUPPRESS)
  cfg = ap.parse_args(argv)
  small = cfg.smoke
  defaults = dict(rounds=(2, 5), matrix_rounds=(2, 3), deadline=(240, 450), mlp_alphas=(4, 64), mlp_steps=(20, 200),
                  mem_alphas=(16, 1024), mem_chunk=(4, 128), mem_budget_mib=(4, 64),
                  mem_steps=(2, 20), fb_problems=("16", "2000,20000"),
                  fb_sklearn_max=(8, 2000), fb_calibrate=(8, 50), fb_one_chunk=(False, True),
                  matrix_shapes=("300x20", ",".join(MATRIX_SHAPES)))
  for k, (s, full) in defaults.items():
    if getattr(cfg, k) is None:
      setattr(cfg, k, s if small else full)
  cfg.rows = [r for r in cfg.rows.split(",") if r]
  bad = [r for r in cfg.rows if r not in ROWS]
  if bad:
    ap.error(f"unknown rows {bad}; choose from {', '.join(ROWS)}")
  cfg.fb_problems = [int(b) for b in str(cfg.fb_problems).split(",") if b]
  cfg.matrix_shapes = [s for s in str(cfg.matrix_shapes).split(",") if s]
  cfg.libs = [lib for lib in cfg.libs.split(",") if lib]
  return cfg


def header(cfg):
  dev = jax.devices()[0]
  import sklearn
  now = datetime.datetime.now(datetime.timezone.utc)
  return "\n".join([
      f"# benchmarks/accelerator.py — {now:%Y-%m-%d %H:%M} UTC",
      "",
      f"device: {dev.device_kind} (platform {dev.platform}, {jax.device_count()} device(s)); "
      f"jax {jax.__version__}, jaxreg {jr.__version__}, scikit-learn {sklearn.__version__}, "
      f"numpy {np.__version__}; host {platform.machine()}, {os.cpu_count()} CPUs, load average "
      f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}",
      f"command: python benchmarks/accelerator.py {' '.join(sys.argv[1:])}",
      f"settings: {'smoke (tiny sizes)' if cfg.smoke else 'full'}; {cfg.rounds} interleaved "
      f"rounds; deadline {cfg.deadline:g} s; persistent compilation cache "
      f"{'on' if cfg.compilation_cache else 'off (first calls include compilation)'}",
  ])


def main(argv=None):
  cfg = parse(argv)
  warnings.simplefilter("ignore")  # as linear.py: convergence chatter at loose tolerances
  if cfg.matrix_child:
    return matrix_child(cfg.matrix_child)
  start = _T0 if argv is None else time.monotonic()
  deadline = start + cfg.deadline
  head = header(cfg)
  print(head, flush=True)
  rows = []
  log = lambda s: print(s, file=sys.stderr, flush=True)

  def run_row(label, fn, *a):
    if time.monotonic() >= deadline:
      rows.append(Row(label, met="skipped",
                      notes=f"time guard: started after the {cfg.deadline:g} s deadline"))
      return
    log(f"[{time.monotonic() - start:6.1f} s] {label} ...")
    t0 = time.monotonic()
    try:
      out = fn(*a)
    except Exception as e:  # noqa: BLE001 — the row is marked, the others still run
      out = Row(label, met="error", agree=False, agreement="**ERROR**",
                notes=f"{type(e).__name__}: {str(e)[:300]}")
    for r in out if isinstance(out, list) else [out]:
      rows.append(r)
      log(f"    {r.name}: jaxreg {r.jaxreg}, baseline {r.baseline}, {r.speedup}; {r.agreement}")
    return time.monotonic() - t0

  if "mlp" in cfg.rows or "memory" in cfg.rows:
    X, y, _, _ = load_data()
    with jax.default_matmul_precision(None if cfg.matmul_precision == "default"
                                      else cfg.matmul_precision):
      if "mlp" in cfg.rows:
        run_row("digits MLP sweep", row_mlp, cfg, (X, y))
      if "memory" in cfg.rows:
        run_row("peak memory of a chunked sweep", row_memory, cfg, (X, y))

  if "fit_batch" in cfg.rows:
    jax.config.update("jax_enable_x64", True)  # the linear rows run in float64, as scikit-learn
    Bmax = max(cfg.fb_problems)
    Xall, yall = fb_data(Bmax, 50, 200)
    spent = None
    for B in sorted(cfg.fb_problems):
      label = f"fit_batch, {B} elastic nets 50×200"
      n_sk = min(B, cfg.fb_sklearn_max)
      if spent is not None and time.monotonic() + 3 * spent > deadline:
        rows.append(Row(label, met="skipped", notes="time guard: the previous size took "
                        f"{spent:.0f} s; this one would pass the deadline"))
        continue
      spent = run_row(label, row_fit_batch, cfg, B, Xall, yall, n_sk)
    del Xall, yall

  if "matrix" in cfg.rows:
    if time.monotonic() >= deadline:
      rows.append(Row("lasso-path and CV matrix", met="skipped",
                      notes=f"time guard: started after the {cfg.deadline:g} s deadline"))
    else:
      log(f"[{time.monotonic() - start:6.1f} s] lasso-path and CV matrix (child process) ...")
      try:
        rows.extend(matrix_rows(cfg, deadline))
      except Exception as e:  # noqa: BLE001
        rows.append(Row("lasso-path and CV matrix", met="error", agree=False,
                        agreement="**ERROR**", notes=f"{type(e).__name__}: {str(e)[:300]}"))

  roofline = []
  if "roofline" in cfg.rows:
    if time.monotonic() >= deadline:
      roofline = ["Roofline: skipped by the time guard."]
    else:
      log(f"[{time.monotonic() - start:6.1f} s] roofline of sweep steps ...")
      try:
        with jax.enable_x64(False):  # the roofline's steps are float32's
          roofline = cost_model.report(cfg.rounds, [4] if cfg.smoke else [64, 1024])
      except Exception as e:  # noqa: BLE001
        roofline = [f"Roofline: **ERROR** {type(e).__name__}: {str(e)[:300]}"]

  failed = [r for r in rows if r.agree is False]
  skipped = [r for r in rows if r.met == "skipped"]
  tail = [f"total time {time.monotonic() - start:.1f} s."]
  if skipped:
    tail.append(f"{len(skipped)} row(s) skipped by the time guard.")
  tail.append(f"agreement: {'all checks passed' if not failed else f'{len(failed)} row(s) FAILED: ' + '; '.join(r.name for r in failed)}.")
  extra = "\n\n" + "\n".join(roofline) if roofline else ""
  report = head + "\n\n" + table(rows) + "\n\n" + " ".join(tail) + extra + "\n"
  print("\n" + table(rows) + "\n\n" + " ".join(tail) + extra, flush=True)
  if cfg.out:
    write_atomic(cfg.out, report)
  return 1 if failed else 0


if __name__ == "__main__":
  sys.exit(main())
