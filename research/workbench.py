"""The workbench's vocabulary: claims, verdicts, results and figures.

Every experiment module ``research/<name>.py`` exposes

    run(*, seed: int = 0, out_dir: str | Path | None = None, **config) -> Result

which trains with jaxreg's public API, measures, compares with the
prediction and returns a ``Result``: the measured and predicted arrays, one
``Verdict`` per claim, tables for the report and the PNG figures it drew
(into ``out_dir``; a temporary folder when None).
"""

from __future__ import annotations

import dataclasses
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np


@dataclasses.dataclass
class Verdict:
  """One claim's outcome: PASS when ``error <= tolerance``.

  Attributes:
    claim: the claim in one sentence.
    error: the measured discrepancy (a relative error, a count, …).
    tolerance: the bound it was held to.
    passed: ``error <= tolerance`` (NaN never passes).
    detail: how the error was measured, in a few words.
  """

  claim: str
  error: float
  tolerance: float
  detail: str = ""

  @property
  def passed(self) -> bool:
    return bool(math.isfinite(self.error) and self.error <= self.tolerance)

  @property
  def label(self) -> str:
    return "PASS" if self.passed else "FAIL"


def check(claim: str, error: Any, tolerance: float, detail: str = "") -> Verdict:
  """A verdict from a measured error (any scalar) and its tolerance."""
  return Verdict(claim=claim, error=float(np.asarray(error)), tolerance=float(tolerance),
                 detail=detail)


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
  """

  name: str
  title: str
  summary: str = ""
  verdicts: list[Verdict] = dataclasses.field(default_factory=list)
  tables: list[Table] = dataclasses.field(default_factory=list)
  figures: list[Path] = dataclasses.field(default_factory=list)
  data: dict[str, Any] = dataclasses.field(default_factory=dict)

  @property
  def passed(self) -> bool:
    return all(v.passed for v in self.verdicts)

  def verdict(self, claim_prefix: str) -> Verdict:
    """The verdict whose claim starts with ``claim_prefix``."""
    for v in self.verdicts:
      if v.claim.startswith(claim_prefix):
        return v
    raise KeyError(f"no verdict starting with {claim_prefix!r} in {self.name}")


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


def minimise(loss: Callable[[Any], Any], params: Any, tx: Any, steps: int) -> Any:
  """Runs ``steps`` full-batch steps of an optax transformation on ``loss``.

  The loop every experiment trains with: ``updates, state = tx.update(∇loss(params),
  state, params)`` then ``params = optax.apply_updates(params, updates)``, inside one
  ``jax.lax.scan`` (so it can be jitted and vmapped over α).

  Args:
    loss: ``params -> scalar``.
    params: the starting parameters (any pytree).
    tx: an optax ``GradientTransformation`` (jaxreg transforms included).
    steps: the number of steps (a Python int).

  Returns:
    The parameters after ``steps`` steps.
  """
  import jax  # imported here: the report-only parts of the workbench need no JAX.
  import optax

  def step(carry, _):
    p, state = carry
    updates, state = tx.update(jax.grad(loss)(p), state, p)
    return (optax.apply_updates(p, updates), state), None

  (params, _), _ = jax.lax.scan(step, (params, tx.init(params)), None, length=steps)
  return params
