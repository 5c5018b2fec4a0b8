"""Renders experiment results as a markdown report.

``render`` is a pure function from results to markdown; ``write_report``
copies the figures next to the report and writes ``REPORT.md`` atomically.

The report opens with a summary table (experiment, claims passed / total,
runtime, status), then one section per experiment: its summary (the claim in
words, with the formula), its predicted-vs-measured tables, its verdicts
(claim, error, tolerance, PASS/FAIL, detail) and its figures as relative
image links. Experiments that raised are listed with their traceback;
experiments not available are listed as skipped.
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


def render_verdicts(verdicts: Sequence[Verdict]) -> list[str]:
  """The verdicts table: claim, error, tolerance, PASS/FAIL, detail."""
  rows = [(v.claim, v.error, v.tolerance, f"**{v.label}**", v.detail) for v in verdicts]
  return _markdown_table(("claim", "error", "tolerance", "verdict", "detail"), rows) + [""]


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
           base_dir: Optional[Union[str, os.PathLike]] = None, preamble: str = "") -> str:
  """Renders results as one markdown document.

  Args:
    results: ``Result`` s, or ``Entry`` s carrying a result, a runtime, an
      error or a reason for skipping.
    title: the document's heading.
    base_dir: the folder the markdown will live in; figure links are made
      relative to it (absolute paths are kept when None).
    preamble: markdown placed under the title (e.g. the command line, seed).

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
