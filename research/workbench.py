"""The workbench's vocabulary: claims, verdicts, planted errors, results, figures.

Every experiment module ``research/<name>.py`` exposes

    run(*, seed=0, out_dir=None, full=False, plant=None, **settings) -> Result
    PLANTS: tuple[Plant, ...]     # the realistic mistakes it can be run with
    TEST_SETTINGS: dict           # small settings the test suite runs it at

``run`` trains with jaxreg's public API, measures, compares with a
prediction computed independently of the measurement, and returns a
``Result``: the measured and predicted arrays, one ``Verdict`` per claim,
tables for the report and the PNG figures it drew (into ``out_dir``; a
temporary folder when None).

A verdict is only worth something if it could have gone the other way. So
every verdict names the statistic it judges, its direction and a threshold
derived from the experiment (a Monte Carlo standard error, a solver
tolerance, a spread over seeds), and every verdict key appears in the
``fails`` of at least one ``Plant``: ``run(plant=name)`` injects that
mistake where it would really be made, and the test suite
(``tests/test_research_planted.py``) checks that each listed verdict then
FAILs. ``python -m research --plants`` does the same at the report's
settings and lists the outcomes in the report's appendix.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np


_DIRECTIONS = {"<=": "≤", ">=": "≥"}


@dataclasses.dataclass
class Verdict:
  """One claim's outcome: a statistic compared with a derived threshold.

  A verdict reads as one sentence: *claim* — the *statistic* of *measured*
  against *predicted* is ``value`` (≤ or ≥) ``threshold``, the threshold
  coming from *threshold_from*. PASS when the comparison holds; NaN never
  passes.

  Attributes:
    claim: the claim in one sentence, in the words of the theory it tests.
    key: a stable identifier (``"sgd_coupled_equals_decoupled"``) that
      planted errors and the seeds table refer to; the claim's text may
      carry measured numbers, the key never does.
    statistic: what ``value`` is, in words ("max relative error of w(α)
      against λ/(λ+α)·w* over the grid").
    value: the statistic's measured value.
    threshold: the bound it is held to.
    direction: ``"<="`` (value at most threshold) or ``">="`` (at least).
    measured: the measured quantity, short (a number, or words and numbers).
    predicted: the prediction it is compared with, short.
    threshold_from: how the threshold was derived (a Monte Carlo standard
      error, the solver's tolerance, a spread over seeds, …).
    detail: anything else a reader needs to judge it.
  """

  claim: str
  key: str
  statistic: str
  value: float
  threshold: float
  direction: str = "<="
  measured: Any = ""
  predicted: Any = ""
  threshold_from: str = ""
  detail: str = ""

  def __post_init__(self):
    if self.direction not in _DIRECTIONS:
      raise ValueError(f"direction must be '<=' or '>=', got {self.direction!r}")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", self.key or ""):
      raise ValueError(f"key must be a snake_case identifier, got {self.key!r}")
    self.value = float(np.asarray(self.value))
    self.threshold = float(np.asarray(self.threshold))

  @property
  def passed(self) -> bool:
    if not (math.isfinite(self.value) and not math.isnan(self.threshold)):
      return False
    if self.direction == "<=":
      return bool(self.value <= self.threshold)
    return bool(self.value >= self.threshold)

  @property
  def label(self) -> str:
    return "PASS" if self.passed else "FAIL"

  @property
  def comparison(self) -> str:
    """``"value ≤ threshold"`` with both numbers formatted for a table."""
    from research.report import format_value

    return f"{format_value(self.value)} {_DIRECTIONS[self.direction]} {format_value(self.threshold)}"


def verdict(claim: str, *, key: str, statistic: str, value: Any, threshold: float,
            direction: str = "<=", measured: Any = "", predicted: Any = "",
            threshold_from: str = "", detail: str = "") -> Verdict:
  """A verdict; every field by keyword (see ``Verdict``).

  Example::

    verdict("SGD + L2 gradient is weight decay", key="sgd_is_weight_decay",
            statistic="max |w_coupled − w_explicit| / ‖w‖", value=err,
            threshold=64 * eps, measured=f"{err:.1e}", predicted="0 (same algebra)",
            threshold_from="64 float64 roundings per step")
  """
  return Verdict(claim=claim, key=key, statistic=statistic, value=value, threshold=threshold,
                 direction=direction, measured=measured, predicted=predicted,
                 threshold_from=threshold_from, detail=detail)


@dataclasses.dataclass(frozen=True)
class Plant:
  """A realistic mistake an experiment can be run with, and what it must break.

  ``run(plant=name)`` injects the mistake at the place it would be made (a
  doubled penalty gradient in the transform, TF's ½ in the prediction, the
  convex solver where a non-convex one is needed, …). A claim whose verdict
  no realistic plant can flip is not a claim: it is reported as a
  measurement instead.

  Attributes:
    name: the plant's identifier, passed as ``run(plant=name)`` and
      ``python -m research NAME --plant name``.
    description: the mistake, in one sentence.
    fails: keys of the verdicts that must FAIL under it.
  """

  name: str
  description: str
  fails: tuple[str, ...]

  def __post_init__(self):
    if not re.fullmatch(r"[a-z][a-z0-9_]*", self.name):
      raise ValueError(f"Plant name must be a snake_case identifier, got {self.name!r}")
    if isinstance(self.fails, str) or not self.fails:
      raise ValueError(f"Plant {self.name!r}: fails must be a non-empty tuple of verdict keys")
    object.__setattr__(self, "fails", tuple(self.fails))


def planted(experiment: str, plants: Sequence[Plant], plant: Optional[str]) -> Optional[str]:
  """Validates ``run``'s ``plant`` argument against the experiment's ``PLANTS``.

  Args:
    experiment: the module name, for the error message.
    plants: the module's ``PLANTS``.
    plant: the caller's argument (None: no mistake planted).

  Returns:
    ``plant`` itself (None or a declared name).

  Raises:
    ValueError: ``plant`` is not one of the declared names.
  """
  if plant is None:
    return None
  names = [p.name for p in plants]
  if plant not in names:
    raise ValueError(f"unknown plant {plant!r} for {experiment}; declared: {names}")
  return plant


@dataclasses.dataclass
class Table:
  """A table for the report: a caption, column names and rows of values."""

  caption: str
  columns: Sequence[str]
  rows: Sequence[Sequence[Any]]


@dataclasses.dataclass
class Result:
  """What an experiment returns.

  Attributes:
    name: the module name, e.g. ``"shrinkage"``.
    title: a heading for the report.
    summary: markdown: the claim(s) in plain words with the formulas, and what
      a reader should see in the figures.
    verdicts: one per claim (measurements with no claim have none).
    tables: predicted-vs-measured tables.
    figures: paths of the PNGs drawn.
    data: the measured and predicted arrays, by name.
    plant: the planted mistake this run was made with (None: none).
  """

  name: str
  title: str
  summary: str = ""
  verdicts: list[Verdict] = dataclasses.field(default_factory=list)
  tables: list[Table] = dataclasses.field(default_factory=list)
  figures: list[Path] = dataclasses.field(default_factory=list)
  data: dict[str, Any] = dataclasses.field(default_factory=dict)
  plant: Optional[str] = None

  @property
  def passed(self) -> bool:
    return all(v.passed for v in self.verdicts)

  def verdict(self, key: str) -> Verdict:
    """The verdict with this key (or, failing that, whose claim starts with it)."""
    for v in self.verdicts:
      if v.key == key:
        return v
    for v in self.verdicts:
      if v.claim.startswith(key):
        return v
    raise KeyError(f"no verdict {key!r} in {self.name}; keys: {[v.key for v in self.verdicts]}")


def figure_dir(out_dir: Optional[os.PathLike | str]) -> Path:
  """The folder figures go to (created), a fresh temporary one when None."""
  path = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix="jaxreg-"))
  path.mkdir(parents=True, exist_ok=True)
  return path


def save_figure(fig, out_dir: Path, name: str) -> Path:
  """Saves a matplotlib figure atomically as ``out_dir/name.png`` and closes it."""
  import matplotlib.pyplot as plt

  path = Path(out_dir) / f"{name}.png"
  tmp = path.with_suffix(".png.tmp")
  fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
  os.replace(tmp, path)
  plt.close(fig)
  return path


# --- helpers shared by the experiments and the runner ------------------------

_QUIET = False


def set_quiet(quiet: bool) -> None:
  """Silences (or restores) every progress bar drawn through ``progress``."""
  global _QUIET
  _QUIET = bool(quiet)


def is_quiet() -> bool:
  """Whether progress bars are silenced."""
  return _QUIET


def progress(iterable, desc: str = "", total: Optional[int] = None, leave: bool = False):
  """Wraps an iterable in a tqdm bar, or returns it unchanged when quiet.

  Experiments use it for their inner loops (parts, α chunks); the runner
  uses it for the list of experiments. Bars go to stderr, so a report piped
  from stdout stays clean.

  Args:
    iterable: what to iterate over.
    desc: the bar's label.
    total: its length, when ``len(iterable)`` is not defined.
    leave: keep the finished bar on screen.

  Returns:
    An iterable yielding the same items.
  """
  if _QUIET:
    return iterable
  from tqdm.auto import tqdm

  return tqdm(iterable, desc=desc, total=total, leave=leave, dynamic_ncols=True)


def relative_error(measured: Any, predicted: Any, axis: Any = None, floor: float = 0.0) -> np.ndarray:
  """‖measured − predicted‖₂ / max(‖predicted‖₂, floor), over ``axis``.

  Args:
    measured, predicted: arrays of the same shape.
    axis: the axes the norms run over (None: all of them, a scalar result).
    floor: a lower bound on the denominator, so a prediction of exactly 0
      gives an absolute error rather than a division by zero.

  Returns:
    The relative error (a NumPy float or array).
  """
  measured = np.asarray(measured, dtype=np.float64)
  predicted = np.asarray(predicted, dtype=np.float64)
  num = np.sqrt(np.sum((measured - predicted) ** 2, axis=axis))
  den = np.maximum(np.sqrt(np.sum(predicted ** 2, axis=axis)), floor)
  with np.errstate(divide="ignore", invalid="ignore"):
    return num / den


def note(message: str) -> None:
  """Prints a line to stderr without breaking a progress bar that is drawing."""
  import sys

  if _QUIET:
    print(message, file=sys.stderr)
    return
  from tqdm.auto import tqdm

  tqdm.write(message, file=sys.stderr)


def settings(name: str, defaults: dict, full_overrides: dict, full: bool,
             overrides: dict) -> dict:
  """An experiment's settings: defaults, then the ``--full`` ones, then the caller's.

  Args:
    name: the experiment, for the error message.
    defaults: every known setting with its default value.
    full_overrides: the settings that ``full=True`` changes.
    full: whether to apply ``full_overrides``.
    overrides: the caller's keyword arguments to ``run``.

  Returns:
    A new dict of settings.

  Raises:
    TypeError: a key of ``overrides`` is not a known setting (a typo would
      otherwise be silently ignored and the default run instead).
  """
  unknown = set(overrides) - set(defaults)
  if unknown:
    raise TypeError(f"unknown settings for {name}: {sorted(unknown)}; known: {sorted(defaults)}")
  return {**defaults, **(full_overrides if full else {}), **overrides}


def fixed_point(T: Callable[[Any], Any], w0: Any, tol: Any, max_steps: Any):
  r"""Iterates w ← T(w) until ‖T(w) − w‖_∞ ≤ ``tol`` or ``max_steps`` maps.

  The loop the experiments' iterative solvers stop with (a proximal-gradient
  map, an optimizer step): on convergence, never on a budget that happened
  to be enough. Runs in one ``jax.lax.while_loop``, so it jits and vmaps.

  Args:
    T: the map, an array → array of the same shape.
    w0: the starting point.
    tol: the stopping tolerance on the max-norm of the step.
    max_steps: the cap; a caller must report (or fail) a run that hits it.

  Returns:
    ``(w, Tw, steps)``: the last point, its image (so the caller can recompute
    the residual ‖Tw − w‖_∞ it stopped on) and the number of maps applied.
  """
  import jax
  import jax.numpy as jnp

  def going(c):
    w, tw, it = c
    return (jnp.max(jnp.abs(tw - w)) > tol) & (it < max_steps)

  def body(c):
    _, tw, it = c
    return tw, T(tw), it + 1

  return jax.lax.while_loop(going, body, (w0, T(w0), 1))
