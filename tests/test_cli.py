"""The `jaxreg path` command line.

The α and coefficients are checked against scikit-learn's LassoCV on the
same CSV; input handling and the output directory against hand-built files.
Most tests share one 12 × 2 table with 2 folds and 3 α values so that the
compiled path program is reused.
"""

import csv
import os
import stat
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn import datasets, linear_model
from sklearn.model_selection import KFold

from jaxreg import cli
from jaxreg.cli import main
from jaxreg.linear import cross_validation

EPS = np.finfo(np.float64).eps


def _write_csv(path, header, rows, delimiter=",", encoding="utf-8"):
  with open(path, "w", newline="", encoding=encoding) as f:
    w = csv.writer(f, delimiter=delimiter)
    w.writerow(header)
    w.writerows(rows)


def _read_coefficients(out):
  with open(os.path.join(out, "coefficients.csv")) as f:
    rows = list(csv.reader(f))
  assert rows[0] == ["feature", "coefficient"]
  return {r[0]: float(r[1]) for r in rows[1:]}


def _chosen_alpha(out):
  with open(os.path.join(out, "cv.csv")) as f:
    rows = list(csv.DictReader(f))
  return {m: float(r["alpha"]) for r in rows for m in r["mark"].split()} | {
      "scale": rows[0]["alpha_scale"]}


def _lasso_cv(X, y, n_alphas, tol):
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    return linear_model.LassoCV(alphas=n_alphas, eps=1e-3, cv=KFold(5), tol=tol,
                                max_iter=1_000_000).fit(X, y)


def _coef_bound(X, y, tol):
  """max ‖w − w*‖₂ for a lasso solution whose duality gap meets ``tol``.

  Both solvers stop when the gap of Σ-form objective is ≤ tol·‖y − ȳ‖², i.e.
  the mean-form objective's gap is ≤ tol·var(y); that objective is
  μ-strongly convex with μ = λ_min(X_cᵀX_c/n), so ½μ‖w − w*‖² ≤ gap.
  """
  Xc = X - X.mean(0)
  mu = np.linalg.eigvalsh(Xc.T @ Xc / len(X))[0]
  return np.sqrt(2 * tol * y.var() / mu)


@pytest.fixture(scope="module")
def diabetes(tmp_path_factory):
  d = datasets.load_diabetes()
  path = tmp_path_factory.mktemp("diabetes") / "diabetes.csv"
  _write_csv(path, list(d.feature_names) + ["target"],
             [list(r) + [t] for r, t in zip(d.data, d.target)])
  return str(path), d.data, d.target, list(d.feature_names)


@pytest.mark.parametrize("standardize", [False, True])
def test_alpha_and_coefficients_match_lassocv(diabetes, tmp_path, capsys, standardize):
  # By default the fit is on the data as given, so α is LassoCV's own; with
  # --standardize it is LassoCV's on StandardScaler output, and it says so.
  path, X, y, names = diabetes
  tol, n_alphas = 1e-12, 20
  out = tmp_path / "out"
  argv = ["path", "--csv", path, "--target", "target", "--n-alphas", str(n_alphas),
          "--tol", str(tol), "--out", str(out)]
  assert main(argv + (["--standardize"] if standardize else [])) == 0
  printed = capsys.readouterr().out
  mean, std = X.mean(0), X.std(0)
  Z = (X - mean) / std if standardize else X
  m = _lasso_cv(Z, y, n_alphas, tol)

  # Same grid, same folds: the α chosen is the same grid point. The grid's
  # α_max is a dot product of n terms (rounding ≤ n·ε relative each side).
  # The printed value has 10 significant digits; cv.csv holds all of them.
  line = next(ln for ln in printed.splitlines() if ln.startswith("chosen alpha:"))
  assert float(line.split()[2]) == pytest.approx(m.alpha_, rel=1e-9)
  marks = _chosen_alpha(out)
  assert marks["chosen"] == pytest.approx(m.alpha_, rel=2 * (len(y) + 10) * EPS)
  assert "1-SE alpha:" in printed and "1se" in marks
  assert ("standardized" in printed) == standardize
  if standardize:
    # Diabetes' columns share one standard deviation σ (to 1e-14), so the
    # standardized fit is the raw one with α·σ: LassoCV's α on the raw data,
    # printed to 6 digits.
    line = next(ln for ln in printed.splitlines() if "on the data as given:" in ln)
    raw = _lasso_cv(X, y, n_alphas, tol)
    assert float(line.split(":")[1].split()[0]) == pytest.approx(raw.alpha_, rel=5e-6)
  assert marks["scale"] == ("standardized" if standardize else "data")
  assert "LassoCV" in printed

  coefs = _read_coefficients(out)
  ours = np.array([coefs[n] for n in names])
  bound = 2 * _coef_bound(Z, y, tol)  # each solver is within _coef_bound of w*
  if standardize:
    assert np.linalg.norm(ours * std - m.coef_) <= bound
  else:
    assert np.linalg.norm(ours - m.coef_) <= bound
  ref_coef = m.coef_ / std if standardize else m.coef_
  ref_intercept = m.intercept_ - ref_coef @ mean if standardize else m.intercept_
  # b = ȳ − x̄ᵀw: its error is ‖x̄‖ times the coefficients' (Cauchy–Schwarz)
  # plus the rounding of a (p + 1)-term sum, on each side.
  x_bar = mean / std if standardize else mean
  rounding = 2 * (len(names) + 2) * EPS * (abs(y.mean()) + np.abs(mean) @ np.abs(ref_coef))
  assert abs(coefs["(intercept)"] - ref_intercept) <= np.linalg.norm(x_bar) * bound + rounding
  assert (out / "path.png").stat().st_size > 1000


# --- the small shared table ---------------------------------------------------

def _small():
  rng = np.random.default_rng(0)
  X = rng.normal(size=(12, 2))
  y = X @ np.array([2.0, -1.0]) + 0.3 * rng.normal(size=12)
  return X, y


def _small_rows():
  X, y = _small()
  return [[repr(float(a)), repr(float(b)), repr(float(t))] for (a, b), t in zip(X, y)]


SMALL = ["--cv", "2", "--n-alphas", "3"]


def _run(csv_path, out, *extra, target="y"):
  return main(["path", "--csv", str(csv_path), "--target", target, *SMALL, "--out", str(out),
               *extra])


def test_byte_order_mark_is_not_part_of_the_first_name(tmp_path, capsys):
  # Excel's "CSV UTF-8" starts with a BOM; the target is the first column here.
  X, y = _small()
  path = tmp_path / "bom.csv"
  _write_csv(path, ["y", "a", "b"], [[t, a, b] for (a, b), t in zip(X, y)],
             encoding="utf-8-sig")
  assert open(path, "rb").read(3) == b"\xef\xbb\xbf"
  assert _run(path, tmp_path / "out") == 0, capsys.readouterr().err
  assert list(_read_coefficients(tmp_path / "out")) == ["a", "b", "(intercept)"]


@pytest.mark.parametrize("index_name", ["", "Unnamed: 0"])
def test_pandas_index_column_is_left_out(tmp_path, capsys, index_name):
  # DataFrame.to_csv writes the index first under an empty name; reading and
  # writing again names it "Unnamed: 0".
  path = tmp_path / "pandas.csv"
  _write_csv(path, [index_name, "a", "b", "y"], [[i] + r for i, r in enumerate(_small_rows())])
  assert _run(path, tmp_path / "out") == 0
  assert "pandas index" in capsys.readouterr().err
  assert list(_read_coefficients(tmp_path / "out")) == ["a", "b", "(intercept)"]
  if index_name:
    X, _, names = cli.read_csv(str(path), "y", index_col="none")
    assert names == [index_name, "a", "b"]
    np.testing.assert_array_equal(X[:, 0], np.arange(12))


@pytest.mark.parametrize("cell", ["", "NA", "NaN", "nan", "N/A", "null", " NA "])
def test_missing_values_are_named_as_missing(tmp_path, capsys, cell):
  rows = _small_rows()
  rows[1][1] = cell  # second data row: line 3 of the file, column b
  path = tmp_path / "missing.csv"
  _write_csv(path, ["a", "b", "y"], rows)
  out = tmp_path / "out"
  assert _run(path, out) == 2
  err = capsys.readouterr().err
  assert "missing value in row 3 column 'b'" in err
  assert "--dropna" in err
  assert not out.exists()


def test_dropna_fits_the_complete_rows(tmp_path, capsys):
  X, y = _small()
  rows = _small_rows()
  rows[4][0] = "NA"
  path = tmp_path / "missing.csv"
  _write_csv(path, ["a", "b", "y"], rows)
  out = tmp_path / "out"
  tol = 1e-12
  assert _run(path, out, "--dropna", "--tol", str(tol)) == 0
  assert "dropped 1 row(s)" in capsys.readouterr().err
  keep = np.arange(12) != 4
  Xk, yk = X[keep], y[keep]
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    m = linear_model.LassoCV(alphas=3, cv=KFold(2), tol=tol, max_iter=1_000_000).fit(Xk, yk)
  coefs = _read_coefficients(out)
  assert _chosen_alpha(out)["chosen"] == pytest.approx(m.alpha_, rel=30 * EPS)
  ours = np.array([coefs["a"], coefs["b"]])
  assert np.linalg.norm(ours - m.coef_) <= 2 * _coef_bound(Xk, yk, tol)


def test_elastic_net_matches_elasticnetcv_and_hints_at_scales(tmp_path, capsys):
  # Columns a thousand times apart in scale: the fit stays on the data as
  # given (ElasticNetCV's α), with a note pointing at --standardize.
  X, y = _small()
  X = X * np.array([1.0, 1e3])
  path = tmp_path / "scaled.csv"
  _write_csv(path, ["a", "b", "y"], [[repr(float(v)) for v in r] + [repr(float(t))]
                                     for r, t in zip(X, y)])
  out, tol = tmp_path / "out", 1e-12
  assert _run(path, out, "--l1-ratio", "0.5", "--tol", str(tol)) == 0
  assert "--standardize" in capsys.readouterr().err
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    m = linear_model.ElasticNetCV(l1_ratio=0.5, alphas=3, cv=KFold(2), tol=tol,
                                  max_iter=1_000_000).fit(X, y)
  assert _chosen_alpha(out)["chosen"] == pytest.approx(m.alpha_, rel=30 * EPS)
  coefs = _read_coefficients(out)
  # The ridge part only adds to the strong convexity: the lasso bound holds.
  ours = np.array([coefs["a"], coefs["b"]])
  assert np.linalg.norm(ours - m.coef_) <= 2 * _coef_bound(X, y, tol)


@pytest.mark.parametrize("content, message", [
    ("a,b,y\n1,x,3\n4,5,6\n7,8,9\n1,1,1\n", "column 'b' is not numeric (row 2: 'x')"),
    ("a,b,y\n1,inf,3\n4,5,6\n7,8,9\n1,1,1\n", "infinite value in row 2 column 'b'"),
    ("a,b,y\n1,2,3\n4,5,3\n7,8,3\n1,1,3\n", "constant"),
    ("a;b;y\n1,5;2;3\n4;5;6\n7;8;9\n1;1;1\n", "decimal point and no thousands separator"),
    ("a,,y\n1,2,3\n4,5,6\n7,8,9\n1,1,1\n", "column 2 of"),
    ("a,b,y\n1,2,3\n4,5\n7,8,9\n1,1,1\n", "row 3 of"),
    (",y\n0,3\n1,6\n2,9\n3,1\n", "no feature columns"),
])
def test_bad_data(tmp_path, capsys, content, message):
  path = tmp_path / "bad.csv"
  path.write_text(content)
  out = tmp_path / "out"
  assert main(["path", "--csv", str(path), "--target", "y", "--cv", "2", "--out", str(out)]) == 2
  assert message in capsys.readouterr().err
  assert not out.exists()
  assert [p for p in os.listdir(tmp_path) if p.startswith(".jaxreg-")] == []


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_separator_is_detected(tmp_path, capsys, sep):
  path = tmp_path / "data.csv"
  _write_csv(path, ["a", "b", "y"], _small_rows(), delimiter=sep)
  assert _run(path, tmp_path / "out") == 0, capsys.readouterr().err
  assert list(_read_coefficients(tmp_path / "out")) == ["a", "b", "(intercept)"]


def test_wrong_separator_gets_a_hint(tmp_path, capsys):
  path = tmp_path / "data.csv"
  _write_csv(path, ["a", "b", "y"], _small_rows(), delimiter=";")
  assert _run(path, tmp_path / "out", "--sep", ",") == 2
  err = capsys.readouterr().err
  assert "semicolon" in err and "--sep ';'" in err


# --- the output directory -----------------------------------------------------

@pytest.fixture
def small_csv(tmp_path):
  path = tmp_path / "small.csv"
  _write_csv(path, ["a", "b", "y"], _small_rows())
  return path


@pytest.fixture
def no_compute(monkeypatch):
  """Fails the test if the cross-validation starts."""
  def refuse(*args, **kwargs):
    raise AssertionError("computed before checking --out")
  monkeypatch.setattr(cross_validation, "cross_validate", refuse)


def test_out_that_is_a_file_is_refused_before_computing(small_csv, tmp_path, capsys,
                                                        no_compute):
  out = tmp_path / "out"
  out.write_text("keep me")
  assert _run(small_csv, out) == 2
  assert "not a directory" in capsys.readouterr().err
  assert out.read_text() == "keep me"


@pytest.mark.parametrize("blocked", cli._OUTPUTS)
def test_out_holding_a_directory_named_like_an_output_is_refused(small_csv, tmp_path, capsys,
                                                                 no_compute, blocked):
  out = tmp_path / "out"
  (out / blocked).mkdir(parents=True)
  assert _run(small_csv, out) == 2
  assert "not a plain file" in capsys.readouterr().err
  assert sorted(os.listdir(out)) == [blocked]


def test_unwritable_out_is_refused_before_computing(small_csv, tmp_path, capsys, no_compute):
  if os.geteuid() == 0:  # root writes anywhere a mode allows; /sys refuses everyone
    out = "/sys/jaxreg-cli-test/out"
    if not os.path.isdir("/sys"):
      pytest.skip("no read-only directory to test with")
  else:
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(stat.S_IRUSR | stat.S_IXUSR)
    out = parent / "out"
  try:
    assert _run(small_csv, out) == 2
  finally:
    if os.geteuid() != 0:
      parent.chmod(stat.S_IRWXU)
  assert "cannot write" in capsys.readouterr().err


def test_new_out_is_published_whole(small_csv, tmp_path):
  out = tmp_path / "a" / "b" / "out"
  assert _run(small_csv, out) == 0
  assert sorted(os.listdir(out)) == sorted(cli._OUTPUTS)
  umask = os.umask(0)
  os.umask(umask)
  assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~umask
  assert [p for p in os.listdir(tmp_path / "a" / "b") if p != "out"] == []


def test_existing_out_keeps_other_files_and_rolls_back_a_failed_publish(small_csv, tmp_path,
                                                                        capsys, monkeypatch):
  out = tmp_path / "out"
  out.mkdir()
  (out / "notes.txt").write_text("mine")
  for name in cli._OUTPUTS:
    (out / name).write_text("old")
  real_replace = os.replace

  def failing_replace(src, dst):
    # The second new output cannot be moved in (a full disk, say); the
    # rollback's own moves (from the kept-aside copies) still work.
    if os.path.basename(str(src)) == cli._OUTPUTS[1] and ".previous" not in str(src):
      raise OSError(28, "No space left on device")
    return real_replace(src, dst)

  monkeypatch.setattr(os, "replace", failing_replace)
  assert _run(small_csv, out) == 2
  assert "nothing was changed" in capsys.readouterr().err
  assert sorted(os.listdir(out)) == sorted(cli._OUTPUTS + ("notes.txt",))
  assert all((out / name).read_text() == "old" for name in cli._OUTPUTS)

  monkeypatch.setattr(os, "replace", real_replace)
  assert _run(small_csv, out) == 0
  assert sorted(os.listdir(out)) == sorted(cli._OUTPUTS + ("notes.txt",))
  assert (out / "notes.txt").read_text() == "mine"
  assert (out / "coefficients.csv").read_text().startswith("feature,coefficient")


# --- the figure and the help --------------------------------------------------

def test_figure_marks_both_alphas_and_names_the_largest_coefficients():
  import matplotlib.pyplot as plt
  rng = np.random.default_rng(1)
  p, k = 25, 8
  alphas = np.logspace(0, -2, k)
  coefs = rng.normal(size=(k, p)) * np.linspace(0, 1, k)[:, None]
  names = [f"x{j}" for j in range(p)]
  best, one_se = alphas[6], alphas[3]
  fig = cli._figure(alphas, coefs, np.linspace(2, 1, k), np.full(k, 0.1), best, one_se, names,
                    "α")
  try:
    ax1, ax2 = fig.axes
    for ax in (ax1, ax2):
      vertical = [ln.get_xdata()[0] for ln in ax.lines if len(set(ln.get_xdata())) == 1]
      assert best in vertical and one_se in vertical
    assert any("1-SE" in t.get_text() for t in ax2.get_legend().get_texts())
    legend = ax1.get_legend()
    top = np.argsort(-np.abs(coefs[6]))[:10]
    assert [t.get_text() for t in legend.get_texts()] == [names[j] for j in top]
    assert "of 25" in legend.get_title().get_text()
  finally:
    plt.close(fig)


def test_help_lists_defaults_and_the_alpha_scale(capsys):
  with pytest.raises(SystemExit) as e:
    main(["path", "--help"])
  assert e.value.code == 0
  text = " ".join(capsys.readouterr().out.split())
  for default in ("(default: 5)", "(default: 100)", "(default: 1e-06)", "(default: 1.0)",
                  "(default: auto)", "(default: False)"):
    assert default in text
  assert "default: None" not in text
  assert "LassoCV" in text and "--standardize" in text and "one rename" in text


def test_unreadable_file(tmp_path, capsys):
  out = tmp_path / "out"
  assert main(["path", "--csv", str(tmp_path / "missing.csv"), "--target", "y",
               "--out", str(out)]) == 2
  assert "cannot read" in capsys.readouterr().err
  assert not out.exists()


def test_module_entry_point_reports_errors(tmp_path):
  proc = subprocess.run(
      [sys.executable, "-m", "jaxreg.cli", "path", "--csv", str(tmp_path / "none.csv"),
       "--target", "y", "--out", str(tmp_path / "o")],
      capture_output=True, text=True, timeout=120,
      env={**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(os.path.abspath(__file__)))})
  assert proc.returncode == 2
  assert "cannot read" in proc.stderr
