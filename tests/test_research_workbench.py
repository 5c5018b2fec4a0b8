"""The workbench runner and report: REPORT.md, exit codes, skipped and failing experiments."""

import sys
import types

import numpy as np
import pytest

import research
from research import __main__ as runner
from research import report, workbench
from research.workbench import Result, Table, check


def _figure(out_dir, name):
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  fig, ax = plt.subplots(figsize=(2, 2))
  ax.plot([0, 1], [0, 1])
  return workbench.save_figure(fig, workbench.figure_dir(out_dir), name)


def _module(name, run):
  mod = types.ModuleType(f"research.{name}")
  mod.run = run
  return mod


def _passing(*, seed=0, out_dir=None, full=False):
  calls.append(dict(seed=seed, out_dir=out_dir, full=full))
  return Result(
      name="fake_ok", title="A passing experiment", summary="The claim: **x = 2·1**.",
      verdicts=[check("x equals 2", abs(2.0 - 2.0), 1e-12, "exact")],
      tables=[Table("predicted vs measured", ("quantity", "predicted", "measured"),
                    [("x", 2.0, 2.0)])],
      figures=[_figure(out_dir, "fake_ok_curve")], data={"x": np.array([2.0])})


def _failing(*, seed=0, out_dir=None):
  return Result(name="fake_fail", title="A failing experiment",
                verdicts=[check("x equals 3", 1.0, 1e-6, "off by one"),
                          check("y equals y", 0.0, 0.0)])


def _raising(*, seed=0, out_dir=None):
  raise RuntimeError("the experiment broke on purpose")


calls = []


@pytest.fixture
def fake(monkeypatch):
  """Registers fake experiments; 'fake_missing' has no module at all."""
  calls.clear()
  workbench.set_quiet(True)
  for name, run in (("fake_ok", _passing), ("fake_fail", _failing), ("fake_error", _raising)):
    monkeypatch.setitem(sys.modules, f"research.{name}", _module(name, run))
  monkeypatch.setattr(research, "EXPERIMENTS", ("fake_ok", "fake_missing"))
  yield
  workbench.set_quiet(False)


def test_default_run_writes_report_with_verdicts_tables_and_figures(fake, tmp_path):
  code = runner.main(["--out", str(tmp_path), "--seed", "3", "--quiet"])
  assert code == 0
  text = (tmp_path / "REPORT.md").read_text()
  # The summary table comes first, then the sections.
  assert text.index("| experiment | claims passed | runtime | status |") < text.index("## A passing")
  assert "1/1" in text
  assert "The claim: **x = 2·1**." in text
  assert "| claim | error | tolerance | verdict | detail |" in text
  assert "| x equals 2 | 0 | 1.000e-12 | **PASS** | exact |" in text
  assert "**predicted vs measured**" in text
  assert "![fake_ok_curve](fake_ok_curve.png)" in text
  assert (tmp_path / "fake_ok_curve.png").stat().st_size > 0
  assert "fake_missing (skipped)" in text
  assert calls == [dict(seed=3, out_dir=tmp_path, full=False)]
  assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]


def test_full_is_passed_only_where_accepted(fake, tmp_path, monkeypatch):
  monkeypatch.setattr(research, "EXPERIMENTS", ("fake_ok", "fake_fail"))
  runner.main(["fake_ok", "--out", str(tmp_path), "--full", "--quiet"])
  assert calls[-1]["full"] is True
  # fake_fail's run() has no `full`: it must still run (and fail), not raise TypeError.
  assert runner.main(["fake_fail", "--out", str(tmp_path), "--full", "--quiet"]) == 1
  assert "TypeError" not in (tmp_path / "REPORT.md").read_text()


def test_failing_claim_gives_nonzero_exit_and_fail_in_report(fake, tmp_path):
  code = runner.main(["fake_ok", "fake_fail", "--out", str(tmp_path), "--quiet"])
  assert code == 1
  text = (tmp_path / "REPORT.md").read_text()
  assert "| x equals 3 | 1 | 1.000e-06 | **FAIL** | off by one |" in text
  assert "1/2" in text


def test_erroring_experiment_is_reported_not_skipped(fake, tmp_path):
  code = runner.main(["fake_error", "fake_ok", "--out", str(tmp_path), "--quiet"])
  assert code == 1
  text = (tmp_path / "REPORT.md").read_text()
  assert "## fake_error (ERROR)" in text
  assert "RuntimeError: the experiment broke on purpose" in text
  assert "| x equals 2 |" in text  # the other experiment still ran.


def test_unknown_name_is_rejected(fake, tmp_path):
  assert runner.main(["no_such_experiment", "--out", str(tmp_path), "--quiet"]) == 2
  assert not (tmp_path / "REPORT.md").exists()


def test_render_is_pure_and_figures_from_elsewhere_are_copied(fake, tmp_path):
  elsewhere = tmp_path / "elsewhere"
  result = _passing(out_dir=elsewhere)
  text = report.render([result], base_dir=elsewhere)
  assert "![fake_ok_curve](fake_ok_curve.png)" in text
  assert report.render([result], base_dir=elsewhere) == text
  path = report.write_report([result], tmp_path / "out")
  assert (tmp_path / "out" / "fake_ok_curve.png").exists()
  assert "](fake_ok_curve.png)" in path.read_text()


def test_verdict_nan_never_passes_and_progress_respects_quiet():
  assert not check("nan", float("nan"), 1.0).passed
  assert check("equal", 1.0, 1.0).passed
  workbench.set_quiet(True)
  items = [1, 2, 3]
  assert workbench.progress(items, desc="x") is items
  workbench.set_quiet(False)
  assert list(workbench.progress(items, desc="x")) == items
  assert workbench.relative_error([1.0, 0.0], [0.0, 0.0], floor=1.0) == 1.0


def test_module_that_fails_to_import_is_an_error(fake, tmp_path, monkeypatch):
  real_import = runner.importlib.import_module

  def broken(name, *args):
    if name == "research.fake_broken":
      raise ImportError("cannot import name 'helper' from 'research.workbench'")
    return real_import(name, *args)

  monkeypatch.setattr(runner, "_module_exists", lambda name: True)
  monkeypatch.setattr(runner.importlib, "import_module", broken)
  monkeypatch.setattr(research, "EXPERIMENTS", ("fake_broken", "fake_ok"))
  assert runner.main(["--out", str(tmp_path), "--quiet"]) == 1
  text = (tmp_path / "REPORT.md").read_text()
  assert "## fake_broken (ERROR)" in text and "cannot import name 'helper'" in text
  assert "| [fake_broken](#fake-broken) | – |" in text
