"""The `jaxreg path` command line."""

import csv
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn import datasets, linear_model
from sklearn.model_selection import KFold

from jaxreg.cli import main


def _write_csv(path, header, rows):
  with open(path, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(header)
    w.writerows(rows)


@pytest.fixture
def diabetes_csv(tmp_path):
  d = datasets.load_diabetes()
  path = tmp_path / "diabetes.csv"
  _write_csv(path, list(d.feature_names) + ["target"],
             [list(r) + [t] for r, t in zip(d.data, d.target)])
  return str(path), d


def test_path_command_writes_outputs(diabetes_csv, tmp_path, capsys):
  path, d = diabetes_csv
  out = tmp_path / "out"
  assert main(["path", "--csv", path, "--target", "target", "--cv", "5",
               "--n-alphas", "100", "--out", str(out)]) == 0
  assert (out / "path.png").stat().st_size > 1000
  with open(out / "coefficients.csv") as f:
    rows = list(csv.reader(f))
  assert rows[0] == ["feature", "coefficient"]
  coefs = {r[0]: float(r[1]) for r in rows[1:]}
  # Reference: LassoCV on the standardized features, mapped back to units.
  X, y = d.data, d.target
  mean, std = X.mean(0), X.std(0)
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    m = linear_model.LassoCV(alphas=100, eps=1e-3, cv=KFold(5), tol=1e-10,
                             max_iter=100_000).fit((X - mean) / std, y)
  ref = m.coef_ / std
  ours = np.array([coefs[name] for name in d.feature_names])
  np.testing.assert_allclose(ours, ref, atol=1e-3 * np.abs(ref).max())
  assert coefs["(intercept)"] == pytest.approx(m.intercept_ - ref @ mean, rel=1e-4)
  printed = capsys.readouterr().out
  assert f"{m.alpha_:.6g}" in printed
  assert "selected features" in printed


@pytest.mark.parametrize("content, target, message", [
    ("a,b,y\n1,2,3\n4,5,6\n7,8,9\n1,1,1\n", "z", "not found"),
    ("a,b,y\n1,x,3\n4,5,6\n7,8,9\n1,1,1\n", "y", "not numeric"),
    ("a,b,y\n1,,3\n4,5,6\n7,8,9\n1,1,1\n", "y", "not numeric"),
    ("a,b,y\n1,nan,3\n4,5,6\n7,8,9\n1,1,1\n", "y", "missing"),
    ("a,b,y\n1,2,3\n4,5,3\n7,8,3\n1,1,3\n", "y", "constant"),
])
def test_path_command_bad_data(tmp_path, capsys, content, target, message):
  path = tmp_path / "bad.csv"
  path.write_text(content)
  out = tmp_path / "out"
  assert main(["path", "--csv", str(path), "--target", target, "--cv", "2",
               "--out", str(out)]) != 0
  assert message in capsys.readouterr().err
  assert not out.exists()
  assert [p for p in os.listdir(tmp_path) if p.startswith(".jaxreg-")] == []


def test_path_command_unreadable_file(tmp_path, capsys):
  out = tmp_path / "out"
  assert main(["path", "--csv", str(tmp_path / "missing.csv"), "--target", "y",
               "--out", str(out)]) != 0
  assert "cannot read" in capsys.readouterr().err
  assert not out.exists()


def test_module_entry_point_reports_errors(tmp_path):
  proc = subprocess.run(
      [sys.executable, "-m", "jaxreg.cli", "path", "--csv", str(tmp_path / "none.csv"),
       "--target", "y", "--out", str(tmp_path / "o")],
      capture_output=True, text=True, timeout=120,
      env={**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(os.path.abspath(__file__)))})
  assert proc.returncode != 0
  assert "cannot read" in proc.stderr
