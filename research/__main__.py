"""Runs the workbench's experiments and writes ``REPORT.md``.

Usage::

  python -m research                      # every experiment, into reports/
  python -m research shrinkage bayes      # some of them
  python -m research shrinkage --out /tmp/r --seed 3 --full
  python -m research weight_decay --plant doubled_penalty_gradient
  python -m research --plants             # every planted error, outcomes in the appendix
  python -m research --seeds 100:120      # pass counts over 20 more seeds in the appendix

Each experiment ``research/<name>.py`` is imported and its
``run(seed=..., out_dir=..., **config)`` called; ``--full`` passes
``full=True`` to the experiments whose ``run`` accepts it; ``--plant NAME``
runs the experiments that declare that planted error with it (see
``workbench.Plant``). An experiment
whose module does not exist yet is skipped with a note; one that exists but
fails to import or raises is reported as an error. The exit status is 0 only
when every claim passed and no experiment raised.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import shlex
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Optional, Sequence

import research
from research import workbench
from research.report import Entry, PlantOutcome, write_report


def _module_exists(name: str) -> bool:
  if f"research.{name}" in sys.modules:
    return True
  try:
    return importlib.util.find_spec(f"research.{name}") is not None
  except (ImportError, ValueError):
    return False


def _accepted(fn, config: dict) -> dict:
  """The items of ``config`` that ``fn``'s signature accepts by keyword."""
  params = inspect.signature(fn).parameters
  if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
    return dict(config)
  return {k: v for k, v in config.items() if k in params
          and params[k].kind in (inspect.Parameter.KEYWORD_ONLY,
                                 inspect.Parameter.POSITIONAL_OR_KEYWORD)}


def run_experiment(name: str, *, seed: int, out_dir: Path, config: dict) -> Entry:
  """Imports ``research.<name>`` and runs it; never raises.

  Returns:
    An ``Entry`` with the result and runtime, the traceback if it raised, or
    the reason it was skipped if its module does not exist.
  """
  if not _module_exists(name):
    return Entry(name=name, skipped=f"`research/{name}.py` does not exist yet.")
  start = time.perf_counter()
  try:
    module = importlib.import_module(f"research.{name}")
    run = getattr(module, "run")
    kwargs = _accepted(run, {"seed": seed, "out_dir": out_dir, **config})
    result = run(**kwargs)
    if not isinstance(result, workbench.Result):
      raise TypeError(f"research.{name}.run returned {type(result).__name__}, not a Result")
  except Exception:  # noqa: BLE001 -- any failure is reported, not propagated.
    return Entry(name=name, runtime=time.perf_counter() - start, error=traceback.format_exc())
  return Entry(name=name, result=result, runtime=time.perf_counter() - start)


def _parser() -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(
      prog="python -m research",
      description="Run jaxreg's regularization experiments and write REPORT.md.")
  p.add_argument("names", nargs="*", metavar="NAME",
                 help=f"experiments to run (default: all of {', '.join(research.EXPERIMENTS)})")
  p.add_argument("--out", default="reports", help="folder for REPORT.md and figures (default: reports)")
  p.add_argument("--seed", type=int, default=0, help="random seed passed to every experiment")
  p.add_argument("--full", action="store_true",
                 help="larger configurations (passed as full=True where accepted)")
  p.add_argument("--quiet", action="store_true", help="no progress bars")
  p.add_argument("--plant", metavar="PLANT",
                 help="run with this planted error (only the experiments that declare it)")
  p.add_argument("--plants", action="store_true",
                 help="also run every declared planted error and list what each flipped")
  p.add_argument("--seeds", metavar="A:B", type=_seed_span,
                 help="also rerun on seeds A..B-1 and list each verdict's pass count")
  return p


def _seed_span(text: str) -> range:
  try:
    a, b = (int(x) for x in text.split(":"))
  except ValueError:
    raise argparse.ArgumentTypeError(f"--seeds takes A:B (two integers), got {text!r}") from None
  if b <= a:
    raise argparse.ArgumentTypeError(f"--seeds A:B needs A < B, got {text!r}")
  return range(a, b)


def declared_plants(name: str) -> tuple:
  """The ``PLANTS`` an experiment module declares (empty if none or not importable)."""
  if not _module_exists(name):
    return ()
  try:
    return tuple(getattr(importlib.import_module(f"research.{name}"), "PLANTS", ()))
  except Exception:  # noqa: BLE001 -- an import error is reported by run_experiment.
    return ()


def run_plants(names: Sequence[str], *, seed: int, config: dict) -> list[PlantOutcome]:
  """Runs every declared plant of ``names``; records which verdicts failed."""
  outcomes = []
  for name in names:
    for plant in workbench.progress(declared_plants(name), desc=f"{name} plants"):
      with tempfile.TemporaryDirectory(prefix="jaxreg-plant-") as tmp:
        entry = run_experiment(name, seed=seed, out_dir=Path(tmp),
                               config={**config, "plant": plant.name})
      if entry.error is not None:
        outcomes.append(PlantOutcome(name, plant, error=entry.error))
        continue
      failed = [v.key for v in entry.result.verdicts if not v.passed]
      outcome = PlantOutcome(name, plant, failed=failed)
      workbench.note(f"[plant {outcome.status}] {name} --plant {plant.name}: FAILed {failed}")
      outcomes.append(outcome)
  return outcomes


def run_seeds(names: Sequence[str], seeds: Sequence[int], *, config: dict) -> dict:
  """``table[name][key]``: pass/fail of each verdict on each seed (errors count as FAIL)."""
  table: dict[str, dict[str, list[bool]]] = {name: {} for name in names}
  for seed in workbench.progress(list(seeds), desc="seeds", leave=True):
    for name in names:
      with tempfile.TemporaryDirectory(prefix="jaxreg-seed-") as tmp:
        entry = run_experiment(name, seed=seed, out_dir=Path(tmp), config=config)
      if entry.result is None:
        table[name].setdefault("(raised)", []).append(False)
        workbench.note(f"[seed {seed}] {name} raised:\n{entry.error}")
        continue
      for v in entry.result.verdicts:
        table[name].setdefault(v.key, []).append(v.passed)
        if not v.passed:
          workbench.note(f"[seed {seed}] {name}: FAIL {v.key} ({v.comparison})")
  return table


def main(argv: Optional[Sequence[str]] = None) -> int:
  """The command line; returns the exit status (0: every claim passed)."""
  args = _parser().parse_args(argv)
  names = list(args.names) or list(research.EXPERIMENTS)
  unknown = [n for n in names if n not in research.EXPERIMENTS and not _module_exists(n)]
  if unknown:
    print(f"unknown experiment(s): {', '.join(unknown)}; "
          f"known: {', '.join(research.EXPERIMENTS)}", file=sys.stderr)
    return 2
  workbench.set_quiet(args.quiet)
  out_dir = Path(args.out)
  out_dir.mkdir(parents=True, exist_ok=True)
  config = {"full": True} if args.full else {}
  if args.plant is not None:
    names = [n for n in names if any(p.name == args.plant for p in declared_plants(n))]
    if not names:
      print(f"no experiment declares the plant {args.plant!r}", file=sys.stderr)
      return 2
    config["plant"] = args.plant

  entries = []
  bar = workbench.progress(names, desc="experiments", leave=True)
  for name in bar:
    if hasattr(bar, "set_postfix_str"):
      bar.set_postfix_str(name)
    entry = run_experiment(name, seed=args.seed, out_dir=out_dir, config=config)
    entries.append(entry)
    if entry.skipped is not None:
      workbench.note(f"[skip] {name}: {entry.skipped}")
    elif entry.error is not None:
      workbench.note(f"[ERROR] {name} raised after {entry.runtime:.1f} s:\n{entry.error}")
    else:
      r = entry.result
      workbench.note(f"[{entry.status}] {name}: {sum(v.passed for v in r.verdicts)}/"
                     f"{len(r.verdicts)} claims in {entry.runtime:.1f} s")
      for v in r.verdicts:
        if not v.passed:
          workbench.note(f"    FAIL: {v.claim} ({v.statistic}: {v.comparison} is false)")

  command = "python -m research " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
  preamble = f"Generated by `{command.strip()}` (seed {args.seed}{', full' if args.full else ''})."
  if args.plant is not None:
    preamble += f" **Planted error `{args.plant}`: FAILs are expected.**"
  plants = ([PlantOutcome(n, p) for n in names for p in declared_plants(n)]
            if args.plant is None else None)
  if args.plants:
    plants = run_plants(names, seed=args.seed, config=config)
  seeds = None
  if args.seeds is not None:
    seeds = (run_seeds(names, args.seeds, config=config), list(args.seeds))
  path = write_report(entries, out_dir, preamble=preamble, plants=plants, seeds=seeds)
  workbench.note(f"wrote {path}")
  failed = any(e.error is not None or (e.result is not None and not e.result.passed)
               for e in entries)
  if args.plants and any(o.status != "caught" for o in plants):
    failed = True
  if seeds is not None and any(not all(p) for t in seeds[0].values() for p in t.values()):
    failed = True
  return 1 if failed else 0


if __name__ == "__main__":
  sys.exit(main())
