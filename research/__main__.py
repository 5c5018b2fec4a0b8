"""Runs the workbench's experiments and writes ``REPORT.md``.

Usage::

  python -m research                      # every experiment, into reports/
  python -m research shrinkage bayes      # some of them
  python -m research shrinkage --out /tmp/r --seed 3 --full

Each experiment ``research/<name>.py`` is imported and its
``run(seed=..., out_dir=..., **config)`` called; ``--full`` passes
``full=True`` to the experiments whose ``run`` accepts it. An experiment
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
import time
import traceback
from pathlib import Path
from typing import Optional, Sequence

import research
from research import workbench
from research.report import Entry, write_report


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
  return p


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
          workbench.note(f"    FAIL: {v.claim} (error {v.error:.3g} > {v.tolerance:.3g})")

  command = "python -m research " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
  preamble = f"Generated by `{command.strip()}` (seed {args.seed}{', full' if args.full else ''})."
  path = write_report(entries, out_dir, preamble=preamble)
  workbench.note(f"wrote {path}")
  failed = any(e.error is not None or (e.result is not None and not e.result.passed)
               for e in entries)
  return 1 if failed else 0


if __name__ == "__main__":
  sys.exit(main())
