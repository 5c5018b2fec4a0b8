"""Every research verdict can fail: each experiment's planted errors flip the verdicts they name.

Each module ``research/<name>.py`` declares ``PLANTS`` (realistic mistakes,
injected by ``run(plant=...)``) and ``TEST_SETTINGS`` (small settings). For
each module this runs every plant at those settings and checks that

* every verdict the plant names FAILs under it (a plant that leaves its
  verdicts passing means the verdict cannot see that mistake), and
* every verdict the experiment reports is named by at least one plant (a
  verdict that no realistic mistake can flip is not a claim), and
* every verdict is in the one format: the measured and predicted
  quantities, the statistic, and where its threshold comes from.

The unplanted run passing every verdict is each module's own test.
"""

import importlib

import pytest

import research
from research import workbench


def _module(name):
  return importlib.import_module(f"research.{name}")


@pytest.mark.parametrize("name", research.EXPERIMENTS)
def test_module_declares_plants_and_test_settings(name):
  module = _module(name)
  plants = getattr(module, "PLANTS", None)
  assert plants, f"research.{name} declares no PLANTS"
  assert all(isinstance(p, workbench.Plant) for p in plants)
  assert len({p.name for p in plants}) == len(plants), "plant names must be unique"
  assert isinstance(getattr(module, "TEST_SETTINGS", None), dict)
  with pytest.raises(ValueError, match="unknown plant"):
    module.run(plant="no_such_mistake", **module.TEST_SETTINGS)


@pytest.mark.parametrize("name", research.EXPERIMENTS)
def test_planted_errors_flip_their_verdicts(name, tmp_path):
  module = _module(name)
  missed, keys, named = [], None, set()
  for plant in module.PLANTS:
    result = module.run(seed=0, out_dir=tmp_path / plant.name, plant=plant.name,
                        **module.TEST_SETTINGS)
    assert result.plant == plant.name, "run(plant=...) must record the plant in the Result"
    run_keys = {v.key for v in result.verdicts}
    assert len(run_keys) == len(result.verdicts), "verdict keys must be unique"
    keys = run_keys if keys is None else keys
    incomplete = [v.key for v in result.verdicts
                  if not (v.statistic and v.threshold_from and str(v.measured) != ""
                          and str(v.predicted) != "")]
    assert not incomplete, f"verdicts without statistic/measured/predicted/threshold_from: {incomplete}"
    assert run_keys == keys, "a planted run must report the same verdicts"
    unknown = set(plant.fails) - run_keys
    assert not unknown, f"plant {plant.name} names verdicts that do not exist: {unknown}"
    named |= set(plant.fails)
    for key in plant.fails:
      v = result.verdict(key)
      if v.passed:
        missed.append(f"{plant.name} left {key} passing ({v.statistic}: {v.comparison})")
  assert not missed, missed
  unflippable = keys - named
  assert not unflippable, f"verdicts no plant can flip: {sorted(unflippable)}"
