"""The workbench runner and report: REPORT.md, exit codes, skipped and failing experiments."""

import sys
import types

import numpy as np
import pytest

import research
from research import __main__ as runner
from research import report, workbench
from research.workbench import Plant, Result, Table, verdict


def _figure(out_dir, name):
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  fig, ax = plt.subplots(figsize=(2, 2))
  ax.plot([0, 1], [0, 1])
  return workbench.save_figure(fig, workbench.figure_dir(out_dir), name)


def _module(name, run, plants=()):
  mod = types.ModuleType(f"research.{name}")
  mod.run = run
  mod.PLANTS = plants
  return mod


OK_PLANTS = (Plant("x_doubled", "x is computed as 2·2", fails=("x_equals_2",)),
             Plant("x_halved", "x is computed as 2/2 but the verdict misses it",
                   fails=("x_equals_2", "y_at_least_1")))


def _x_verdict(x):
  return verdict("x equals 2", key="x_equals_2", statistic="|x − 2|", value=abs(x - 2.0),
                 threshold=1e-12, measured=x, predicted=2.0, threshold_from="exact arithmetic",
                 detail="exact")


def _passing(*, seed=0, out_dir=None, full=False, plant=None):
  calls.append(dict(seed=seed, out_dir=out_dir, full=full))
  workbench.planted("fake_ok", OK_PLANTS, plant)
  x = 4.0 if plant == "x_doubled" else 2.0
  y = 1.0 + seed % 2  # passes on every seed
  return Result(
      name="fake_ok", title="A passing experiment", summary="The claim: **x = 2·1**.",
      verdicts=[_x_verdict(x),
                verdict("y at least 1", key="y_at_least_1", statistic="y", value=y,
                        threshold=1.0, direction=">=", threshold_from="the definition")],
      tables=[Table("predicted vs measured", ("quantity", "predicted", "measured"),
                    [("x", 2.0, x)])],
      figures=[_figure(out_dir, "fake_ok_curve")], data={"x": np.array([x])}, plant=plant)


def _failing(*, seed=0, out_dir=None):
  return Result(name="fake_fail", title="A failing experiment",
                verdicts=[verdict("x equals 3", key="x_equals_3", statistic="|x − 3|",
                                  value=1.0, threshold=1e-6, detail="off by one"),
                          verdict("y equals y", key="y_equals_y", statistic="|y − y|",
                                  value=0.0, threshold=0.0)])


def _raising(*, seed=0, out_dir=None):
  raise RuntimeError("the experiment broke on purpose")


calls = []


@pytest.fixture
def fake(monkeypatch):
  """Registers fake experiments; 'fake_missing' has no module at all."""
  calls.clear()
  workbench.set_quiet(True)
  for name, run, plants in (("fake_ok", _passing, OK_PLANTS), ("fake_fail", _failing, ()),
                            ("fake_error", _raising, ())):
    monkeypatch.setitem(sys.modules, f"research.{name}", _module(name, run, plants))
  monkeypatch.setattr(research, "EXPERIMENTS", ("fake_ok", "fake_missing"))
  yield
  workbench.set_quiet(False)


def test_default_run_writes_report_with_verdicts_tables_and_figures(fake, tmp_path):
  code = runner.main(["--out", str(tmp_path), "--seed", "3", "--quiet"])
  assert code == 0
  text = (tmp_path / "REPORT.md").read_text()
  # The summary table comes first, then the sections.
  assert text.index("| experiment | claims passed | runtime | status |") < text.index("## A passing")
  assert "2/2" in text
  assert "The claim: **x = 2·1**." in text
  assert ("| claim | measured | predicted | statistic | test | threshold from | verdict |"
          in text)
  assert ("| x equals 2 | 2 | 2 | \\|x − 2\\| (exact) | 0 ≤ 1.000e-12 | exact arithmetic "
          "| **PASS** |") in text
  assert "| y at least 1 |  |  | y | 2 ≥ 1 | the definition | **PASS** |" in text
  # The appendix lists the declared plants, not run.
  assert "## Appendix: planted errors" in text
  assert "| fake_ok | `x_doubled` | x is computed as 2·2 | x_equals_2 | – | not run |" in text
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
  assert "| x equals 3 |  |  | \\|x − 3\\| (off by one) | 1 ≤ 1.000e-06 |  | **FAIL** |" in text
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


def _v(value, threshold, direction="<="):
  return verdict("c", key="c", statistic="s", value=value, threshold=threshold,
                 direction=direction)


def test_verdict_directions_nan_and_keys():
  assert _v(1.0, 1.0).passed and _v(1.0, 1.0, ">=").passed
  assert not _v(1.1, 1.0).passed and not _v(0.9, 1.0, ">=").passed
  for direction in ("<=", ">="):
    assert not _v(float("nan"), 1.0, direction).passed
    assert not _v(1.0, float("nan"), direction).passed
  assert not _v(float("inf"), float("inf")).passed
  assert _v(2.0, 1.0, ">=").comparison == "2 ≥ 1"
  with pytest.raises(ValueError, match="direction"):
    _v(1.0, 1.0, "<")
  with pytest.raises(ValueError, match="key"):
    verdict("c", key="Has Spaces", statistic="s", value=0, threshold=0)
  with pytest.raises(ValueError, match="fails"):
    Plant("p", "d", fails=())
  with pytest.raises(ValueError, match="unknown plant"):
    workbench.planted("x", OK_PLANTS, "x_tripled")
  assert workbench.planted("x", OK_PLANTS, None) is None


def test_plant_runs_only_the_experiments_declaring_it(fake, tmp_path, monkeypatch):
  monkeypatch.setattr(research, "EXPERIMENTS", ("fake_ok", "fake_fail"))
  assert runner.main(["--plant", "x_doubled", "--out", str(tmp_path), "--quiet"]) == 1
  text = (tmp_path / "REPORT.md").read_text()
  assert "Planted error `x_doubled`" in text and "fake_fail" not in text
  assert "| x equals 2 | 4 | 2 |" in text and "**FAIL**" in text
  assert runner.main(["--plant", "nobody_plants_this", "--out", str(tmp_path), "--quiet"]) == 2


def test_plants_appendix_reports_caught_and_missed(fake, tmp_path):
  # x_halved names y_at_least_1, which it does not flip: the run must say MISSED and exit 1.
  assert runner.main(["fake_ok", "--plants", "--out", str(tmp_path), "--quiet"]) == 1
  text = (tmp_path / "REPORT.md").read_text()
  assert "| fake_ok | `x_doubled` | x is computed as 2·2 | x_equals_2 | x_equals_2 | caught |" in text
  assert "MISSED: x_equals_2, y_at_least_1" in text


def test_seeds_appendix_counts_passes(fake, tmp_path):
  assert runner.main(["fake_ok", "--seeds", "5:8", "--out", str(tmp_path), "--quiet"]) == 0
  text = (tmp_path / "REPORT.md").read_text()
  assert "seeds 5–7" in text
  assert "| fake_ok | x_equals_2 | 3/3 |" in text
  assert "0 of 6 verdicts failed: flake rate 0.00%." in text
  assert [c["seed"] for c in calls] == [0, 5, 6, 7]
  with pytest.raises(SystemExit):
    runner.main(["fake_ok", "--seeds", "8:5", "--quiet"])


def test_progress_respects_quiet():
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
