r"""The ``jaxreg`` command line.

``jaxreg path --csv FILE --target COLUMN [--l1-ratio R] [--cv K]
[--n-alphas N] --out DIR`` cross-validates the elastic-net path

    (1/(2n))‖y − Xw − b‖² + α·r‖w‖₁ + α(1 − r)/2 ‖w‖²

on the standardized numeric columns of a CSV file and writes

* ``DIR/path.png``: the coefficients against log α (top) and the CV curve
  with one-standard-deviation error bars (bottom), the chosen α marked in
  both (needs matplotlib);
* ``DIR/coefficients.csv``: every feature's coefficient at the chosen α, in
  the original units, and the intercept;

then prints the chosen α and the selected features. Errors (unreadable file,
missing or non-numeric column, missing values, a constant target) print a
message on stderr and exit with status 2; outputs are written to a temporary
directory first and moved into place only when complete.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import shutil
import sys
import tempfile
from typing import Optional, Sequence

import numpy as np

__all__ = ["main", "read_csv"]


class CLIError(Exception):
  """A user-facing error: printed without a traceback."""


def read_csv(path: str, target: str):
  """Reads a numeric CSV with a header row.

  Args:
    path: the file.
    target: the name of the target column.

  Returns:
    (X, y, feature_names): X of shape (n, p) with every other column, y of
    shape (n,), as float64.

  Raises:
    CLIError: unreadable file, no header, missing target, non-numeric or
      empty cells, ragged rows, fewer than 3 rows.
  """
  try:
    with open(path, newline="", encoding="utf-8") as f:
      rows = list(csv.reader(f))
  except (OSError, UnicodeDecodeError) as e:
    raise CLIError(f"cannot read {path!r}: {e}") from None
  except csv.Error as e:
    raise CLIError(f"{path!r} is not a valid CSV file: {e}") from None
  rows = [r for r in rows if any(c.strip() for c in r)]
  if not rows:
    raise CLIError(f"{path!r} is empty.")
  header = [h.strip() for h in rows[0]]
  if target not in header:
    raise CLIError(f"column {target!r} not found in {path!r}; columns are {header}.")
  if len(set(header)) != len(header):
    raise CLIError(f"{path!r} has duplicate column names.")
  body = rows[1:]
  if len(body) < 3:
    raise CLIError(f"{path!r} needs at least 3 data rows, found {len(body)}.")
  data = np.empty((len(body), len(header)))
  for i, row in enumerate(body):
    if len(row) != len(header):
      raise CLIError(f"row {i + 2} of {path!r} has {len(row)} fields, expected {len(header)}.")
    for j, cell in enumerate(row):
      try:
        data[i, j] = float(cell)
      except ValueError:
        raise CLIError(
            f"column {header[j]!r} is not numeric (row {i + 2}: {cell!r}).") from None
  bad = ~np.isfinite(data)
  if bad.any():
    i, j = np.argwhere(bad)[0]
    raise CLIError(
        f"{int(bad.any(axis=1).sum())} row(s) hold missing or infinite values "
        f"(first: row {i + 2}, column {header[j]!r}); remove or impute them.")
  t = header.index(target)
  names = [h for k, h in enumerate(header) if k != t]
  if not names:
    raise CLIError(f"{path!r} has no feature columns besides {target!r}.")
  return np.delete(data, t, axis=1), data[:, t], names


def _plot(path_file, alphas, coefs, res, names):
  try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
  except ImportError:
    raise CLIError("matplotlib is needed to draw path.png: pip install matplotlib") from None
  la = np.log10(alphas)
  fig, (ax1, ax2) = plt.subplots(2, 1, sharex=True, figsize=(7, 7))
  for j in range(coefs.shape[1]):
    ax1.plot(la, coefs[:, j], lw=1, label=names[j] if coefs.shape[1] <= 10 else None)
  ax1.set_ylabel("coefficient (standardized)")
  if coefs.shape[1] <= 10:
    ax1.legend(fontsize=7)
  ax2.errorbar(la, np.asarray(res.mse_mean), yerr=np.asarray(res.mse_std), fmt="o-", ms=2,
               lw=1, elinewidth=0.5, capsize=1)
  ax2.set_ylabel("CV mean squared error")
  ax2.set_xlabel("log10 α")
  for ax in (ax1, ax2):
    ax.axvline(math.log10(float(res.best_alpha)), color="k", ls="--", lw=1,
               label="chosen α" if ax is ax2 else None)
  ax2.legend(fontsize=7)
  ax1.invert_xaxis()
  fig.tight_layout()
  fig.savefig(path_file, dpi=100)
  plt.close(fig)


def _path_command(args) -> int:
  import jax
  from jaxreg.linear import cross_validation

  if not 0.0 <= args.l1_ratio <= 1.0:
    raise CLIError(f"--l1-ratio must lie in [0, 1], got {args.l1_ratio}.")
  if args.l1_ratio == 0.0:
    raise CLIError("--l1-ratio 0 (pure ridge) has no default α grid; use a value in (0, 1].")
  if args.n_alphas < 1:
    raise CLIError(f"--n-alphas must be at least 1, got {args.n_alphas}.")
  X, y, names = read_csv(args.csv, args.target)
  n = X.shape[0]
  if args.cv < 2 or args.cv > n:
    raise CLIError(f"--cv must lie in [2, {n}] for {n} rows, got {args.cv}.")
  if np.ptp(y) == 0:
    raise CLIError(f"target column {args.target!r} is constant; there is nothing to fit.")
  mean = X.mean(axis=0)
  scale = X.std(axis=0)
  # Constant features carry no information: they keep a zero coefficient.
  scale = np.where(scale > 0, scale, 1.0)
  Z = (X - mean) / scale

  with jax.enable_x64(True):
    res = cross_validation.cross_validate(Z, y, l1_ratio=args.l1_ratio, cv=args.cv,
                                          n_alphas=args.n_alphas, tol=args.tol,
                                          max_iter=100_000)
    alphas = np.asarray(res.alphas)
    coefs = np.asarray(res.coefs)
    coef_std = np.asarray(res.coef)
    intercept_std = float(res.intercept)
  coef = coef_std / scale
  intercept = intercept_std - float(np.dot(coef, mean))

  parent = os.path.dirname(os.path.abspath(args.out))
  os.makedirs(parent, exist_ok=True)
  tmp = tempfile.mkdtemp(prefix=".jaxreg-", dir=parent)
  try:
    _plot(os.path.join(tmp, "path.png"), alphas, coefs, res, names)
    with open(os.path.join(tmp, "coefficients.csv"), "w", newline="", encoding="utf-8") as f:
      w = csv.writer(f)
      w.writerow(["feature", "coefficient"])
      for name, c in zip(names, coef):
        w.writerow([name, repr(float(c))])
      w.writerow(["(intercept)", repr(intercept)])
    os.makedirs(args.out, exist_ok=True)
    for fname in ("path.png", "coefficients.csv"):
      os.replace(os.path.join(tmp, fname), os.path.join(args.out, fname))
  finally:
    shutil.rmtree(tmp, ignore_errors=True)

  selected = [(nm, c) for nm, c in zip(names, coef) if c != 0]
  print(f"chosen alpha: {float(res.best_alpha):.6g} (1-SE alpha: {float(res.alpha_1se):.6g})")
  print(f"selected features: {len(selected)} of {len(names)}")
  for nm, c in selected:
    print(f"  {nm}: {c:.6g}")
  print(f"wrote {os.path.join(args.out, 'path.png')} and "
        f"{os.path.join(args.out, 'coefficients.csv')}")
  return 0


def _parser():
  p = argparse.ArgumentParser(prog="jaxreg", description="Regularization tools for JAX.")
  sub = p.add_subparsers(dest="command", required=True)
  pp = sub.add_parser("path", help="cross-validated elastic-net path of a CSV file",
                      description="Cross-validates the elastic-net path of a CSV file's "
                      "numeric columns against a target column.")
  pp.add_argument("--csv", required=True, help="input CSV file with a header row")
  pp.add_argument("--target", required=True, help="name of the target column")
  pp.add_argument("--l1-ratio", type=float, default=1.0, help="r in (0, 1]; 1 = lasso")
  pp.add_argument("--cv", type=int, default=5, help="number of contiguous folds (default 5)")
  pp.add_argument("--n-alphas", type=int, default=100, help="size of the α grid")
  pp.add_argument("--tol", type=float, default=1e-6, help="relative duality-gap tolerance")
  pp.add_argument("--out", required=True, help="output directory")
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
