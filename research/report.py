"""Renders experiment results as a markdown report.

``render`` is a pure function from results to markdown; ``write_report``
copies the figures next to the report and writes ``REPORT.md`` atomically.

The report opens with a summary table (experiment, claims passed / total,
runtime, status), then one section per experiment: its summary (the claim in
words, with the formula), its predicted-vs-measured tables, its verdicts
(claim, error, tolerance, PASS/FAIL, detail) and its figures as relative
image links. Experiments that raised are listed with their traceback;
experiments not available are listed as skipped. Appendices list the
planted errors (and, when they were run, what they flipped) and the verdicts'
pass counts over seeds.
"""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np

from research.workbench import Result, Table, Verdict


@dataclasses.dataclass
class Entry:
  """One experiment's outcome in a run of the workbench.

  Attributes:
    name: the experiment's module name.
    result: what ``run`` returned; None when it raised or was skipped.
    runtime: wall-clock seconds ``run`` took.
    error: the traceback when ``run`` (or importing the module) raised.
    skipped: why it did not run (e.g. the module does not exist yet).
  """

  name: str
  result: Optional[Result] = None
  runtime: float = 0.0
  error: Optional[str] = None
  skipped: Optional[str] = None

  @property
  def status(self) -> str:
    if self.error is not None:
      return "ERROR"
    if self.skipped is not None:
      return "skipped"
    return "PASS" if self.result is not None and self.result.passed else "FAIL"


def _as_entry(item: Union[Result, Entry]) -> Entry:
  return item if isinstance(item, Entry) else Entry(name=item.name, result=item)


def format_value(value: Any) -> str:
  """A compact, table-safe string for a number or any other cell."""
  if isinstance(value, (bool, np.bool_)):
    return str(bool(value))
  if isinstance(value, (int, np.integer)):
    return str(int(value))
  if isinstance(value, (float, np.floating)) or (isinstance(value, np.ndarray) and value.ndim == 0):
    x = float(value)
    if math.isnan(x):
      return "nan"
    if math.isinf(x):
      return "inf" if x > 0 else "-inf"
    if x == 0:
      return "0"
    if 1e-3 <= abs(x) < 1e4:
      return f"{x:.4g}"
    return f"{x:.3e}"
  return str(value).replace("|", "\\|").replace("\n", " ")


def _markdown_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
  lines = ["| " + " | ".join(format_value(c) for c in columns) + " |",
           "|" + "|".join(" --- " for _ in columns) + "|"]
  for row in rows:
    lines.append("| " + " | ".join(format_value(v) for v in row) + " |")
  return lines


def render_table(table: Table) -> list[str]:
  """A ``Table`` as markdown lines: its caption in bold, then the table."""
  return [f"**{table.caption}**", ""] + _markdown_table(table.columns, table.rows) + [""]


VERDICT_COLUMNS = ("claim", "measured", "predicted", "statistic", "test", "threshold from",
                   "verdict")


def render_verdicts(verdicts: Sequence[Verdict]) -> list[str]:
  """The verdicts table, one format for every experiment.

  Columns: the claim; the measured and the predicted quantity; the
  statistic that compares them (with any detail); the test ``value ≤
  threshold`` (or ≥); where the threshold comes from; PASS/FAIL.
  """
  rows = []
  for v in verdicts:
    statistic = v.statistic + (f" ({v.detail})" if v.detail else "")
    rows.append((v.claim, v.measured, v.predicted, statistic, v.comparison,
                 v.threshold_from, f"**{v.label}**"))
  return _markdown_table(VERDICT_COLUMNS, rows) + [""]


@dataclasses.dataclass
class PlantOutcome:
  """A planted mistake and, when it was run, which of its verdicts failed.

  Attributes:
    experiment: the module name.
    plant: the ``workbench.Plant`` declared by the module.
    failed: keys of the verdicts that FAILed in the planted run; None when
      the plant was listed but not run.
    error: the traceback when the planted run raised.
  """

  experiment: str
  plant: Any
  failed: Optional[Sequence[str]] = None
  error: Optional[str] = None

  @property
  def status(self) -> str:
    if self.error is not None:
      return "ERROR"
    if self.failed is None:
      return "not run"
    missing = [k for k in self.plant.fails if k not in self.failed]
    return "caught" if not missing else "MISSED: " + ", ".join(missing)


def render_plants(outcomes: Sequence[PlantOutcome]) -> list[str]:
  """The appendix: each planted mistake, the verdicts it must flip, what happened."""
  lines = ["## Appendix: planted errors", "",
           "Each experiment declares realistic mistakes (`PLANTS`); run with "
           "`python -m research NAME --plant PLANT`, each must make the listed "
           "verdicts FAIL. `tests/test_research_planted.py` checks every one at the "
           "test suite's settings; `python -m research --plants` runs them at these "
           "settings and fills the last columns.", ""]
  rows = []
  for o in outcomes:
    failed = "–" if o.failed is None else (", ".join(o.failed) or "none")
    rows.append((o.experiment, f"`{o.plant.name}`", o.plant.description,
                 ", ".join(o.plant.fails), failed, o.status))
  lines += _markdown_table(("experiment", "plant", "mistake", "must FAIL", "FAILed", "outcome"),
                           rows)
  return lines + [""]


def render_seeds(table: dict[str, dict[str, Sequence[bool]]], seeds: Sequence[int]) -> list[str]:
  """The seeds appendix: for each verdict, on how many seeds it passed."""
  lines = ["## Appendix: seeds", "",
           f"Every experiment rerun on seeds {_seed_range(seeds)} at these settings.", ""]
  rows, total, failed = [], 0, 0
  for experiment, verdicts in table.items():
    for key, passes in verdicts.items():
      n_pass = int(sum(bool(p) for p in passes))
      total += len(passes)
      failed += len(passes) - n_pass
      rows.append((experiment, key, f"{n_pass}/{len(passes)}"))
  lines += _markdown_table(("experiment", "verdict", "passed"), rows)
  rate = failed / total if total else float("nan")
  lines += ["", f"{failed} of {total} verdicts failed: flake rate {rate:.2%}.", ""]
  return lines


def _seed_range(seeds: Sequence[int]) -> str:
  seeds = list(seeds)
  if seeds and seeds == list(range(seeds[0], seeds[-1] + 1)):
    return f"{seeds[0]}–{seeds[-1]}"
  return ", ".join(str(s) for s in seeds)


def _link(path: Path, base: Optional[Path]) -> str:
  path = Path(path)
  if base is None:
    return path.as_posix()
  try:
    return Path(os.path.relpath(path.resolve(), Path(base).resolve())).as_posix()
  except ValueError:  # another drive on Windows: no relative path exists.
    return path.as_posix()


def _runtime(seconds: float) -> str:
  return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def render(results: Sequence[Union[Result, Entry]], *, title: str = "jaxreg research report",
           base_dir: Optional[Union[str, os.PathLike]] = None, preamble: str = "",
           plants: Optional[Sequence[PlantOutcome]] = None,
           seeds: Optional[tuple[dict, Sequence[int]]] = None) -> str:
  """Renders results as one markdown document.

  Args:
    results: ``Result`` s, or ``Entry`` s carrying a result, a runtime, an
      error or a reason for skipping.
    title: the document's heading.
    base_dir: the folder the markdown will live in; figure links are made
      relative to it (absolute paths are kept when None).
    preamble: markdown placed under the title (e.g. the command line, seed).
    plants: the planted-error appendix's rows (omitted when None).
    seeds: ``(table, seeds)`` for the seeds appendix: ``table[experiment][key]``
      is the list of pass/fail per seed (omitted when None).

  Returns:
    The markdown text.
  """
  entries = [_as_entry(r) for r in results]
  base = Path(base_dir) if base_dir is not None else None
  lines = [f"# {title}", ""]
  if preamble:
    lines += [preamble, ""]

  summary_rows = []
  for e in entries:
    if e.result is not None:
      passed = sum(v.passed for v in e.result.verdicts)
      claims = f"{passed}/{len(e.result.verdicts)}"
    else:
      claims = "–"
    runtime = _runtime(e.runtime) if e.result is not None or e.error is not None else "–"
    link = f"[{e.name}](#{e.name.replace('_', '-')})" if e.skipped is None else e.name
    summary_rows.append((link, claims, runtime, e.status))
  lines += _markdown_table(("experiment", "claims passed", "runtime", "status"), summary_rows)
  n_claims = sum(len(e.result.verdicts) for e in entries if e.result is not None)
  n_passed = sum(sum(v.passed for v in e.result.verdicts) for e in entries if e.result is not None)
  n_errors = sum(e.error is not None for e in entries)
  total_time = sum(e.runtime for e in entries)
  lines += ["", f"{n_passed} of {n_claims} claims passed; {n_errors} experiment(s) raised; "
            f"total runtime {_runtime(total_time)}.", ""]

  for e in entries:
    # The anchor keeps the summary table's links stable whatever the heading says.
    lines += [f'<a id="{e.name.replace("_", "-")}"></a>', ""]
    if e.skipped is not None:
      lines += [f"## {e.name} (skipped)", "", e.skipped, ""]
      continue
    if e.error is not None:
      lines += [f"## {e.name} (ERROR)", "", "The experiment raised:", "", "```",
                e.error.rstrip(), "```", ""]
      continue
    r = e.result
    lines += [f"## {r.title or r.name}", "",
              f"`research.{r.name}` · {_runtime(e.runtime)} · "
              f"{sum(v.passed for v in r.verdicts)}/{len(r.verdicts)} claims passed", ""]
    if r.summary:
      lines += [r.summary.strip(), ""]
    for t in r.tables:
      lines += render_table(t)
    if r.verdicts:
      lines += ["**Verdicts**", ""] + render_verdicts(r.verdicts)
    for fig in r.figures:
      link = _link(fig, base)
      lines += [f"![{Path(fig).stem}]({link})", ""]
  if seeds is not None:
    lines += render_seeds(*seeds)
  if plants:
    lines += render_plants(plants)
  return "\n".join(lines).rstrip() + "\n"


def _collect_figures(entries: Sequence[Entry], out_dir: Path) -> None:
  """Copies figures drawn outside ``out_dir`` into it, updating the paths."""
  for e in entries:
    if e.result is None:
      continue
    moved = []
    for fig in e.result.figures:
      fig = Path(fig)
      try:
        fig.resolve().relative_to(out_dir.resolve())
        moved.append(fig)
      except ValueError:
        target = out_dir / f"{e.name}_{fig.name}" if not fig.name.startswith(e.name) else out_dir / fig.name
        if fig.exists():
          shutil.copyfile(fig, target)
        moved.append(target)
    e.result.figures = moved


def write_report(results: Sequence[Union[Result, Entry]], out_dir: Union[str, os.PathLike],
                 *, filename: str = "REPORT.md", **render_kwargs) -> Path:
  """Writes ``out_dir/REPORT.md`` atomically, with the figures beside it.

  Figures drawn elsewhere (an experiment run with ``out_dir=None`` draws into
  a temporary folder) are copied into ``out_dir`` first, so the report's
  relative links resolve.

  Args:
    results: as for ``render``.
    out_dir: the report's folder (created).
    filename: the markdown file's name.
    **render_kwargs: passed to ``render`` (``title``, ``preamble``).

  Returns:
    The path of the report.
  """
  out = Path(out_dir)
  out.mkdir(parents=True, exist_ok=True)
  entries = [_as_entry(r) for r in results]
  _collect_figures(entries, out)
  text = render(entries, base_dir=out, **render_kwargs)
  path = out / filename
  tmp = out / f".{filename}.tmp.{os.getpid()}"
  tmp.write_text(text, encoding="utf-8")
  os.replace(tmp, path)
  return path
