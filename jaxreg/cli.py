r"""The ``jaxreg`` command line.

``jaxreg path --csv FILE --target COLUMN --out DIR`` cross-validates the
elastic-net path

    (1/(2n))‖y − Xw − b‖² + α·r‖w‖₁ + α(1 − r)/2 ‖w‖²

on the numeric columns of a CSV file, on the data **as given**: α, the
coefficients and the intercept are those of scikit-learn's
``LassoCV``/``ElasticNetCV`` fitted on the same columns with
``cv=KFold(K)`` (contiguous folds) and the same α grid. ``--standardize``
fits on features centred and divided by their standard deviation (ddof 0, as
``StandardScaler``) instead; α is then on that scale (equivalently, the
penalty on the CSV's units is α·r·Σⱼ σⱼ|wⱼ| + …, with no single data-scale
α), and it is labelled so wherever it appears. The coefficients are always
written and plotted in the units of the CSV.

Outputs, in DIR:

* ``path.png``: the coefficients against α (top; the legend names at most
  the ten largest |coefficients| at the chosen α) and the CV error with
  ±1 standard-error bars (bottom), the chosen α and the 1-SE α marked in both
  (needs matplotlib);
* ``coefficients.csv``: every feature's coefficient at the chosen α and the
  intercept;
* ``cv.csv``: the α grid (with its scale, ``data`` or ``standardized``), the
  CV mean squared error, its standard deviation over folds (ddof 0) and its
  standard error (that over √K), the chosen and 1-SE α marked.

Input: a header row, then numeric rows. The separator (comma, semicolon, tab
or ``|``) is detected from the first lines unless ``--sep`` names it; a
UTF-8 byte-order mark is ignored; a first column without a name (or named
``Unnamed: 0``), as pandas' ``DataFrame.to_csv`` writes its index, is left
out with a note (``--index-col none`` keeps it, ``--index-col NAME`` leaves
out a named column instead). Cells that are empty or read ``NA``, ``NaN``,
``N/A``, ``null``, ``None`` … are missing values: an error naming the first
one, unless ``--dropna`` drops the rows that hold them.

Output directory: ``--out`` is checked before any computation (it must be a
directory or not exist, its parent must be writable, and any existing
``path.png``/``coefficients.csv``/``cv.csv`` in it must be plain files). All
outputs are written into a temporary directory first. If DIR does not exist,
that directory is renamed to DIR in one step. If DIR exists, its other files
are left alone and the outputs replace their old versions one rename each,
the old versions being kept aside until all are in place: if any step fails,
the old versions are restored, so DIR never holds a mix of old and new
outputs after jaxreg exits.

Errors (unreadable file, missing or non-numeric column, missing values, a
constant target, an unusable ``--out``) print one message on stderr and exit
with status 2; rows are numbered as lines of the file, the header being row 1.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import re
import shutil
import sys
import tempfile
from typing import Callable, Optional, Sequence

import numpy as np

__all__ = ["main", "read_csv"]

# The cell texts pandas' read_csv takes for missing values (compared without
# case), so that a file pandas reads with NaNs is reported as missing here.
_MISSING = frozenset(s.lower() for s in (
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
    "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"))
_SEPARATORS = (",", ";", "\t", "|")
_SEP_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "'|'"}
_OUTPUTS = ("path.png", "coefficients.csv", "cv.csv")
_LEGEND_MAX = 10


class CLIError(Exception):
  """A user-facing error: printed without a traceback."""


def _note(message: str) -> None:
  print(f"jaxreg: note: {message}", file=sys.stderr)


def _split_lines(lines, sep):
  return list(csv.reader(lines, delimiter=sep))


def _detect_sep(text: str) -> Optional[str]:
  """The first separator that splits the first lines into equal numbers (> 1) of fields."""
  lines = [ln for ln in text.splitlines() if ln.strip()][:50]
  for sep in _SEPARATORS:
    try:
      counts = {len(r) for r in _split_lines(lines, sep)}
    except csv.Error:
      continue
    if len(counts) == 1 and counts.pop() > 1:
      return sep
  return None


def _sep_hint(header_line: str, sep: str) -> str:
  """Names the separators that would split the header, for an error message."""
  others = [s for s in _SEPARATORS if s != sep and len(_split_lines([header_line], s)[0]) > 1]
  if not others:
    return ""
  arg = "tab" if others[0] == "\t" else repr(others[0])
  return (f" The header splits on {' or '.join(_SEP_NAMES[s] + 's' for s in others)}: "
          f"pass --sep {arg} (or leave --sep auto).")


def read_csv(path: str, target: str, *, sep: Optional[str] = None, index_col: str = "auto",
             dropna: bool = False, note: Callable[[str], None] = _note):
  r"""Reads a numeric CSV with a header row.

  Args:
    path: the file (UTF-8; a byte-order mark is ignored).
    target: the name of the target column.
    sep: the field separator, or None to detect comma, semicolon, tab or
      ``|`` from the first lines.
    index_col: "auto" leaves out a first column with an empty name or the
      name ``Unnamed: 0`` (a pandas index); "none" keeps every column; any
      other value is the name of a column to leave out.
    dropna: drop rows with a missing value (empty, ``NA``, ``NaN``, ``N/A``,
      ``null``, ``None`` …) instead of raising.
    note: called with a message for each column or row left out.

  Returns:
    (X, y, feature_names): X of shape (n, p) with every other column, y of
    shape (n,), as float64.

  Raises:
    CLIError: unreadable file, no header, missing target, unnamed column,
      non-numeric, missing or infinite cells, ragged rows, fewer than 3 rows.
      Messages number rows as lines of the file, the header being row 1.

  Example:
    >>> import os, tempfile
    >>> from jaxreg.cli import read_csv
    >>> f = os.path.join(tempfile.mkdtemp(), "d.csv")
    >>> _ = open(f, "w").write(",a;b,y\n0,1.5,2\n1,2.5,3\n2,0.5,1\n")
    >>> X, y, names = read_csv(f, "y", note=print)
    column 1 has no name (a pandas index, as DataFrame.to_csv writes it): left out;
    pass --index-col none to keep it.
    >>> names, X.shape
    (['a;b'], (3, 1))
  """
  try:
    # utf-8-sig drops a byte-order mark (Excel writes one) from the first name.
    with open(path, newline="", encoding="utf-8-sig") as f:
      text = f.read()
  except (OSError, UnicodeDecodeError) as e:
    raise CLIError(f"cannot read {path!r}: {e}") from None
  if not text.strip():
    raise CLIError(f"{path!r} is empty.")
  header_line = next(ln for ln in text.splitlines() if ln.strip())
  if sep is None:
    sep = _detect_sep(text) or ","
  reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
  rows, lines = [], []
  try:
    for r in reader:
      if any(c.strip() for c in r):
        rows.append(r)
        lines.append(reader.line_num)
  except csv.Error as e:
    raise CLIError(f"{path!r} is not a valid CSV file (line {reader.line_num}): {e}") from None
  header = [h.strip() for h in rows[0]]
  if len(header) < 2:
    raise CLIError(f"{path!r} has a single column {header[0]!r} when split on "
                   f"{_SEP_NAMES.get(sep, repr(sep))}s." + (_sep_hint(header_line, sep) or
                   " A target and at least one feature are needed."))

  keep = list(range(len(header)))
  if index_col == "auto":
    if header[0] in ("", "Unnamed: 0"):
      keep.remove(0)
      note(f"column 1 has {'no name' if not header[0] else 'the name ' + repr(header[0])} "
           f"(a pandas index, as DataFrame.to_csv writes it): left out; pass --index-col none "
           f"to keep it.")
  elif index_col != "none":
    if index_col not in header:
      raise CLIError(f"--index-col {index_col!r} is not a column of {path!r}; columns are "
                     f"{header}.")
    if index_col == target:
      raise CLIError(f"--index-col and --target both name {target!r}.")
    keep.remove(header.index(index_col))
  for k in keep:
    if not header[k]:
      raise CLIError(f"column {k + 1} of {path!r} has no name; name it in the header.")
  names_all = [header[k] for k in keep]
  if target not in names_all:
    raise CLIError(f"column {target!r} not found in {path!r}; columns are {names_all}."
                   + _sep_hint(header_line, sep))
  if len(set(names_all)) != len(names_all):
    dup = sorted({h for h in names_all if names_all.count(h) > 1})
    raise CLIError(f"{path!r} has duplicate column names {dup}.")

  body, body_lines = rows[1:], lines[1:]
  data = np.empty((len(body), len(keep)))
  missing = np.zeros(len(body), bool)
  first_missing = None
  for i, (row, line) in enumerate(zip(body, body_lines)):
    if len(row) != len(header):
      raise CLIError(f"row {line} of {path!r} has {len(row)} fields, expected "
                     f"{len(header)} (fields split on {_SEP_NAMES.get(sep, repr(sep))}s).")
    for j, k in enumerate(keep):
      cell = row[k].strip()
      if cell.lower() in _MISSING:
        missing[i] = True
        first_missing = first_missing or (line, header[k], row[k])
        data[i, j] = np.nan
        continue
      try:
        data[i, j] = float(cell)
      except ValueError:
        hint = ""
        if re.fullmatch(r"[+-]?[\d.]*\d,[\d,.]*", cell):
          hint = (" It holds a comma: write numbers with a decimal point and no thousands "
                  "separator.")
        raise CLIError(f"column {header[k]!r} is not numeric (row {line}: {row[k]!r})."
                       + hint) from None
      if not np.isfinite(data[i, j]):
        raise CLIError(f"infinite value in row {line} column {header[k]!r} ({row[k]!r}).")
  if missing.any():
    if not dropna:
      line, name, cell = first_missing
      raise CLIError(
          f"missing value in row {line} column {name!r} ({cell!r}); {int(missing.sum())} "
          f"row(s) hold missing values: impute them, or pass --dropna to drop those rows.")
    note(f"dropped {int(missing.sum())} row(s) with missing values (--dropna).")
    data = data[~missing]
  if data.shape[0] < 3:
    raise CLIError(f"{path!r} needs at least 3 complete data rows, found {data.shape[0]}.")
  t = names_all.index(target)
  names = [h for k, h in enumerate(names_all) if k != t]
  if not names:
    raise CLIError(f"{path!r} has no feature columns besides {target!r}.")
  return np.delete(data, t, axis=1), data[:, t], names


# --- the output directory ----------------------------------------------------

class _Output:
  """An output directory checked up front and published all at once.

  ``tmp`` is the directory to write into. ``publish`` moves its contents to
  ``out`` (one rename when ``out`` does not exist; otherwise one rename per
  file with the old versions kept aside and restored on failure);
  ``cleanup`` removes whatever is left.
  """

  def __init__(self, out: str, names: Sequence[str]):
    self.out = os.path.abspath(out)
    self.names = tuple(names)
    if os.path.lexists(self.out) and not os.path.isdir(self.out):
      raise CLIError(f"--out {out!r} exists and is not a directory.")
    self.exists = os.path.isdir(self.out)
    if self.exists:
      for name in self.names:
        p = os.path.join(self.out, name)
        if os.path.lexists(p) and (os.path.islink(p) or not os.path.isfile(p)):
          raise CLIError(f"--out: {p!r} exists and is not a plain file; jaxreg would replace "
                         f"it. Move it away or choose another --out.")
      where = self.out
    else:
      # The temporary directory goes in the nearest existing ancestor, which
      # is on the same file system as DIR will be: one rename publishes it.
      where = os.path.dirname(self.out)
      while not os.path.lexists(where):
        where = os.path.dirname(where)
      if not os.path.isdir(where):
        raise CLIError(f"--out {out!r}: {where!r} is not a directory.")
    try:
      self.tmp = tempfile.mkdtemp(prefix=".jaxreg-", dir=where)
    except OSError as e:
      raise CLIError(f"--out {out!r}: cannot write in {where!r} ({e.strerror}).") from None

  def path(self, name: str) -> str:
    return os.path.join(self.tmp, name)

  def publish(self) -> None:
    if not self.exists:
      # mkdtemp makes a private (0700) directory; DIR gets the mode a plain
      # mkdir would give it.
      umask = os.umask(0)
      os.umask(umask)
      os.chmod(self.tmp, 0o777 & ~umask)
      os.makedirs(os.path.dirname(self.out), exist_ok=True)
      os.rename(self.tmp, self.out)
      return
    old = os.path.join(self.tmp, ".previous")
    os.mkdir(old)
    done = []
    try:
      for name in self.names:
        dst = os.path.join(self.out, name)
        if os.path.lexists(dst):
          try:
            os.link(dst, os.path.join(old, name), follow_symlinks=False)
          except OSError:  # no hard links on this file system
            shutil.copy2(dst, os.path.join(old, name), follow_symlinks=False)
        os.replace(os.path.join(self.tmp, name), dst)
        done.append(name)
    except BaseException:
      for name in reversed(done):
        dst, kept = os.path.join(self.out, name), os.path.join(old, name)
        if os.path.lexists(kept):
          os.replace(kept, dst)
        else:
          os.unlink(dst)
      raise

  def cleanup(self) -> None:
    shutil.rmtree(self.tmp, ignore_errors=True)


# --- the figure --------------------------------------------------------------

def _figure(alphas, coefs, mse_mean, mse_se, best_alpha, alpha_1se, names, alpha_label):
  """The path figure: coefficients (top) and CV error (bottom) against α."""
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  alphas, coefs = np.asarray(alphas), np.asarray(coefs)
  p = coefs.shape[1]
  k_best = int(np.argmin(np.abs(alphas - best_alpha)))
  # Rank by |coef| at the chosen α, then by the largest |coef| along the
  # path, so that features inactive at the chosen α still order sensibly.
  order = np.lexsort((-np.abs(coefs).max(axis=0), -np.abs(coefs[k_best])))
  shown = set(order[:_LEGEND_MAX].tolist())
  fig, (ax1, ax2) = plt.subplots(2, 1, sharex=True, figsize=(9, 7))
  for j in range(p):
    if j in shown:
      ax1.plot(alphas, coefs[:, j], lw=1.2, label=names[j])
    else:
      ax1.plot(alphas, coefs[:, j], lw=0.6, color="0.75")
  handles, labels = ax1.get_legend_handles_labels()
  rank = {names[j]: r for r, j in enumerate(order)}
  pairs = sorted(zip(handles, labels), key=lambda hl: rank[hl[1]])
  title = (f"{len(shown)} largest |coef| at chosen α (of {p}; others grey)"
           if p > _LEGEND_MAX else "feature")
  ax1.legend([h for h, _ in pairs], [lbl for _, lbl in pairs], fontsize=7, title=title,
             title_fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
  ax1.set_ylabel("coefficient (units of the CSV)")
  ax2.errorbar(alphas, mse_mean, yerr=mse_se, fmt="o-", ms=2, lw=1, elinewidth=0.5,
               capsize=1, label="CV mean ± 1 standard error")
  ax2.set_ylabel("CV mean squared error")
  ax2.set_xlabel(alpha_label)
  for ax in (ax1, ax2):
    ax.axvline(best_alpha, color="k", ls="--", lw=1,
               label=f"chosen α = {best_alpha:.4g}" if ax is ax2 else None)
    ax.axvline(alpha_1se, color="tab:red", ls=":", lw=1.2,
               label=f"1-SE α = {alpha_1se:.4g}" if ax is ax2 else None)
  ax2.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
  ax1.set_xscale("log")
  ax1.invert_xaxis()
  fig.tight_layout()
  return fig


# --- the path command --------------------------------------------------------

_SCALE_DATA = "α on the data as given, as scikit-learn's LassoCV/ElasticNetCV"
_SCALE_STD = ("α on standardized features (centred, divided by their standard deviation, "
              "ddof 0), as LassoCV/ElasticNetCV on StandardScaler().fit_transform(X); in "
              "the CSV's units the L1 term is α·r·Σⱼ σⱼ|wⱼ|")


def _path_command(args) -> int:
  import jax
  from jaxreg.linear import cross_validation

  if not 0.0 <= args.l1_ratio <= 1.0:
    raise CLIError(f"--l1-ratio must lie in [0, 1], got {args.l1_ratio}.")
  if args.l1_ratio == 0.0:
    raise CLIError("--l1-ratio 0 (pure ridge) has no default α grid; use a value in (0, 1].")
  if args.n_alphas < 1:
    raise CLIError(f"--n-alphas must be at least 1, got {args.n_alphas}.")
  if not args.tol > 0:
    raise CLIError(f"--tol must be positive, got {args.tol}.")
  if args.cv < 2:
    raise CLIError(f"--cv must be at least 2, got {args.cv}.")
  sep = {"auto": None, "tab": "\t", "\\t": "\t"}.get(args.sep, args.sep)
  if sep is not None and len(sep) != 1:
    raise CLIError(f"--sep must be one character, 'tab' or 'auto', got {args.sep!r}.")
  try:
    import matplotlib  # noqa: F401  (checked before the computation, not after)
  except ImportError:
    raise CLIError("matplotlib is needed to draw path.png: pip install matplotlib") from None

  output = _Output(args.out, _OUTPUTS)
  try:
    X, y, names = read_csv(args.csv, args.target, sep=sep, index_col=args.index_col,
                           dropna=args.dropna)
    n = X.shape[0]
    if args.cv > n:
      raise CLIError(f"--cv must lie in [2, {n}] for {n} rows, got {args.cv}.")
    if np.ptp(y) == 0:
      raise CLIError(f"target column {args.target!r} is constant; there is nothing to fit.")
    sd = X.std(axis=0)
    if args.standardize:
      mean = X.mean(axis=0)
      # Constant features carry no information: they keep a zero coefficient.
      scale = np.where(sd > 0, sd, 1.0)
      Z = (X - mean) / scale
    else:
      mean, scale, Z = np.zeros(X.shape[1]), np.ones(X.shape[1]), X
      varying = sd[sd > 0]
      if varying.size > 1 and varying.max() > 100 * varying.min():
        _note(f"feature standard deviations range from {varying.min():.3g} to "
              f"{varying.max():.3g}; the penalty weighs a unit of every feature alike. "
              f"--standardize puts them on one scale.")

    with jax.enable_x64(True):
      res = cross_validation.cross_validate(Z, y, l1_ratio=args.l1_ratio, cv=args.cv,
                                            n_alphas=args.n_alphas, tol=args.tol,
                                            max_iter=100_000)
      alphas = np.asarray(res.alphas, np.float64)
      coefs = np.asarray(res.coefs, np.float64) / scale
      coef = np.asarray(res.coef, np.float64) / scale
      intercept = float(res.intercept) - float(np.dot(coef, mean))
      mse_mean = np.asarray(res.mse_mean, np.float64)
      mse_std = np.asarray(res.mse_std, np.float64)
      best_alpha, alpha_1se = float(res.best_alpha), float(res.alpha_1se)
    mse_se = mse_std / np.sqrt(args.cv)

    label = ("α (standardized features)" if args.standardize
             else "α (data as given, scikit-learn's scale)")
    fig = _figure(alphas, coefs, mse_mean, mse_se, best_alpha, alpha_1se, names, label)
    import matplotlib.pyplot as plt
    fig.savefig(output.path("path.png"), dpi=100, bbox_inches="tight")
    plt.close(fig)
    with open(output.path("coefficients.csv"), "w", newline="", encoding="utf-8") as f:
      w = csv.writer(f)
      w.writerow(["feature", "coefficient"])
      for name, c in zip(names, coef):
        w.writerow([name, repr(float(c))])
      w.writerow(["(intercept)", repr(intercept)])
    with open(output.path("cv.csv"), "w", newline="", encoding="utf-8") as f:
      w = csv.writer(f)
      w.writerow(["alpha", "alpha_scale", "mse_mean", "mse_std", "mse_se", "mark"])
      alpha_scale = "standardized" if args.standardize else "data"
      for a, m, s, e in zip(alphas, mse_mean, mse_std, mse_se):
        mark = " ".join(t for t, v in (("chosen", best_alpha), ("1se", alpha_1se)) if a == v)
        w.writerow([repr(float(a)), alpha_scale, repr(float(m)), repr(float(s)), repr(float(e)),
                    mark])
    try:
      output.publish()
    except OSError as e:
      raise CLIError(f"cannot write the outputs to {args.out!r} ({e}); nothing was "
                     f"changed there.") from None
  finally:
    output.cleanup()

  selected = [(nm, c) for nm, c in zip(names, coef) if c != 0]
  print(f"alpha scale: {_SCALE_STD if args.standardize else _SCALE_DATA}")
  print(f"chosen alpha: {best_alpha:.10g} (minimum CV mean squared error "
        f"{mse_mean[np.argmin(np.abs(alphas - best_alpha))]:.6g})")
  print(f"1-SE alpha: {alpha_1se:.10g} (largest α within one standard error of the minimum)")
  if args.standardize and (sd > 0).any():
    lo, hi = (f"{best_alpha * v:.6g}" for v in (sd[sd > 0].min(), sd[sd > 0].max()))
    if lo == hi:
      print(f"chosen alpha on the data as given: {lo} (α·σⱼ, equal for every feature)")
    else:
      print(f"in the CSV's units the chosen α weighs |wⱼ| by α·σⱼ, from {lo} to {hi} over "
            f"the features: no single data-scale α")
  print(f"selected features at the chosen alpha: {len(selected)} of {len(names)} "
        f"(coefficients in the units of the CSV)")
  for nm, c in selected:
    print(f"  {nm}: {c:.6g}")
  print(f"wrote {', '.join(os.path.join(args.out, o) for o in _OUTPUTS)}")
  return 0


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
  """Lists defaults and keeps the description's line breaks."""


_PATH_EPILOG = """\
α scale: by default the fit is on the data as given, so α, the coefficients and
the intercept equal scikit-learn's LassoCV/ElasticNetCV on the same columns with
cv=KFold(K) and the same grid. With --standardize, α is on the standardized
scale (LassoCV on StandardScaler().fit_transform(X)); coefficients are always
reported in the units of the CSV.

outputs in DIR: path.png, coefficients.csv, cv.csv. DIR is checked before the
computation. If DIR does not exist it is created in one rename of a finished
temporary directory; if it exists, other files in it are kept and the outputs
are replaced together (the old versions are restored if any replacement fails).

missing values: empty, NA, NaN, N/A, null, None ... cells are an error naming
the first one, unless --dropna drops their rows.
"""


def _parser():
  p = argparse.ArgumentParser(prog="jaxreg", description="Regularization tools for JAX.")
  sub = p.add_subparsers(dest="command", required=True)
  pp = sub.add_parser(
      "path", help="cross-validated elastic-net path of a CSV file",
      description="Cross-validates the elastic-net path\n\n"
      "    (1/(2n))‖y − Xw − b‖² + α·r‖w‖₁ + α(1 − r)/2 ‖w‖²\n\n"
      "of a CSV file's numeric columns against a target column on K contiguous\n"
      "folds, then refits on all rows at the α of least CV error.",
      epilog=_PATH_EPILOG, formatter_class=_HelpFormatter)
  # Required options default to SUPPRESS so that the help does not list
  # "default: None" for them.
  pp.add_argument("--csv", required=True, default=argparse.SUPPRESS, metavar="FILE",
                  help="input CSV file with a header row (UTF-8)")
  pp.add_argument("--target", required=True, default=argparse.SUPPRESS, metavar="COLUMN",
                  help="name of the target column")
  pp.add_argument("--out", required=True, default=argparse.SUPPRESS, metavar="DIR",
                  help="output directory (see 'outputs' below)")
  pp.add_argument("--l1-ratio", type=float, default=1.0, help="r in (0, 1]; 1 = lasso")
  pp.add_argument("--cv", type=int, default=5, help="number of contiguous folds (KFold(K))")
  pp.add_argument("--n-alphas", type=int, default=100,
                  help="size of the α grid, from α_max down to 1e-3·α_max")
  pp.add_argument("--tol", type=float, default=1e-6,
                  help="duality-gap tolerance, relative to ‖y − ȳ‖² (scikit-learn's tol)")
  pp.add_argument("--standardize", action="store_true",
                  help="fit on standardized features; α is then on that scale")
  pp.add_argument("--sep", default="auto",
                  help="field separator: one character, 'tab', or 'auto' to detect comma, "
                  "semicolon, tab or '|'")
  pp.add_argument("--index-col", default="auto",
                  help="column to leave out: 'auto' leaves out an unnamed (pandas index) first "
                  "column, 'none' keeps all, or a column name")
  pp.add_argument("--dropna", action="store_true",
                  help="drop rows with missing values instead of stopping")
  return p


def main(argv: Optional[Sequence[str]] = None) -> int:
  """Runs the command line; returns the exit status.

  Args:
    argv: the arguments (without the program name); None reads sys.argv.

  Returns:
    0 on success, 2 on a usage or data error (message on stderr).

  Example:
    >>> from jaxreg.cli import main
    >>> main(["path", "--csv", "data.csv", "--target", "y", "--out", "out"])  # doctest: +SKIP
    0
  """
  args = _parser().parse_args(argv)
  try:
    if args.command == "path":
      return _path_command(args)
  except CLIError as e:
    print(f"jaxreg: error: {e}", file=sys.stderr)
    return 2
  return 2


if __name__ == "__main__":
  sys.exit(main())
