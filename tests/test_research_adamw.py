"""Tests for research.adamw: AdamW against Adam + L2 over (η, α) grids on digits."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from research import adamw, workbench


@pytest.fixture(scope="module")
def result(tmp_path_factory):
  return adamw.run(out_dir=tmp_path_factory.mktemp("adamw"), **adamw.TEST_SETTINGS)


def test_result_shape(result):
  assert isinstance(result, workbench.Result)
  assert result.name == "adamw" and result.plant is None
  assert len(result.figures) == 1 and all(p.exists() for p in result.figures)
  assert result.summary and len(result.tables) == 3
  assert {v.key for v in result.verdicts} == {
      "adamw_chain_is_optax_adamw", "adam_l2_chain_is_optax", "lh_best_decay_grows_with_lr",
      "adam_l2_best_alpha_does_not_fall_with_lr", "tuned_alpha_inside_grid"}
  reps, n_lr, _ = result.data["adamw"]["val_loss"].shape
  assert reps == adamw.TEST_SETTINGS["replicates"] and n_lr == adamw.TEST_SETTINGS["lr_grid"][2]


def test_every_verdict_passes_unplanted(result):
  failed = [(v.key, v.comparison) for v in result.verdicts if not v.passed]
  assert not failed, failed


def test_summary_states_the_paper_and_the_measured_slopes(result):
  assert "Loshchilov & Hutter (2019)" in result.summary
  fw, fl = result.data["adamw"]["fit"], result.data["adam_l2"]["fit"]
  assert f"**{fw['slope']:+.2f} ± {fw['se']:.2f}**" in result.summary
  assert f"**{fl['slope']:+.2f} ± {fl['se']:.2f}**" in result.summary


def test_tuned_errors_are_those_of_the_lowest_validation_loss(result):
  for kind in ("adamw", "adam_l2"):
    s, t = result.data[kind], result.data["tuned"]["per_optimizer"][kind]
    for r in range(s["val_loss"].shape[0]):
      e, a = np.unravel_index(np.nanargmin(s["val_loss"][r]), s["val_loss"][r].shape)
      assert t["test_error"][r] == s["test_error"][r, e, a]


# --- oracles independent of the module's measurement ----------------------------------------

def test_best_log_alpha_finds_a_parabola_vertex():
  la = np.linspace(-4, 0, 13)
  vertices = np.array([-2.9, -2.0, -1.13])
  curves = 0.2 + 0.05 * (la[None, :] - vertices[:, None]) ** 2
  got, edge = adamw.best_log_alpha(curves, la)
  np.testing.assert_allclose(got, vertices, atol=1e-9)
  assert not edge.any()
  # A minimum at the end of the grid is flagged, and a diverged run (NaN) is never the best.
  rising = np.where(np.arange(13) == 5, np.nan, 0.1 + la - la[0])
  got, edge = adamw.best_log_alpha(rising[None], la)
  assert edge[0] and got[0] == pytest.approx(la[0], abs=0.5 * (la[1] - la[0]))


def test_within_slope_against_least_squares_with_replicate_dummies():
  rng = np.random.default_rng(3)
  reps, x = 5, np.log10([3e-3, 6e-3, 1.2e-2, 2.4e-2])
  y = rng.normal(size=(reps, 1)) + 0.4 * x[None, :] + 0.1 * rng.normal(size=(reps, len(x)))
  design = np.concatenate([np.kron(np.eye(reps), np.ones((len(x), 1))),
                           np.tile(x, reps)[:, None]], axis=1)
  coef, res, *_ = np.linalg.lstsq(design, y.ravel(), rcond=None)
  dof = len(y.ravel()) - design.shape[1]
  cov = res[0] / dof * np.linalg.inv(design.T @ design)
  fit = adamw.within_slope(y, x)
  assert fit["dof"] == dof
  assert fit["slope"] == pytest.approx(coef[-1], rel=1e-10)
  assert fit["se"] == pytest.approx(np.sqrt(cov[-1, -1]), rel=1e-8)


@pytest.mark.parametrize("kind", ["adamw", "adam_l2"])
def test_chains_match_optax_on_a_small_problem(kind):
  rng = np.random.default_rng(4)
  params = {"layer": {"kernel": jnp.asarray(rng.normal(size=(3, 2)), jnp.float32),
                      "bias": jnp.asarray(rng.normal(size=2), jnp.float32)}}
  grads = [jax.tree_util.tree_map(lambda p: jnp.asarray(rng.normal(size=p.shape), p.dtype), params)
           for _ in range(5)]
  lr, alpha = 0.05, 0.3
  ref = (optax.adamw(lr, weight_decay=alpha, mask=lambda p: jax.tree_util.tree_map(
      lambda x: x.ndim >= 2, p)) if kind == "adamw" else
         optax.chain(optax.add_decayed_weights(alpha, mask=lambda p: jax.tree_util.tree_map(
             lambda x: x.ndim >= 2, p)), optax.adam(lr)))
  paths = {}
  for name, tx in (("ours", adamw.chain(kind, lr, alpha)), ("ref", ref)):
    p, s = params, tx.init(params)
    for g in grads:
      u, s = tx.update(g, s, p)
      p = optax.apply_updates(p, u)
    paths[name] = p
  jax.tree_util.tree_map(lambda a, b: np.testing.assert_array_equal(np.asarray(a), np.asarray(b)),
                         paths["ours"], paths["ref"])
  # The planted chains are not optax's.
  wrong = "decay_scaled_by_lr_twice" if kind == "adamw" else "l2_scaled_by_lr"
  p, s = params, adamw.chain(kind, lr, alpha, wrong).init(params)
  for g in grads:
    u, s = adamw.chain(kind, lr, alpha, wrong).update(g, s, p)
    p = optax.apply_updates(p, u)
  assert not np.allclose(np.asarray(p["layer"]["kernel"]),
                         np.asarray(paths["ref"]["layer"]["kernel"]))


def test_unknown_plant_and_setting_are_refused():
  with pytest.raises(ValueError, match="unknown plant"):
    adamw.run(plant="alpha_squared", **adamw.TEST_SETTINGS)
  with pytest.raises(TypeError, match="unknown settings"):
    adamw.run(replicas=3)


def test_one_se_alpha_is_the_last_crossing_of_min_plus_se():
  la = np.linspace(-4, 0, 9)                               # steps of 0.5
  # A dip on the flat small-α side ties the basin; the rule reads the large-α side.
  val = np.array([[0.20, 0.30, 0.26, 0.21, 0.205, 0.25, 0.40, 0.8, 1.6]])
  se = np.full_like(val, 0.02)
  got, edge = adamw.one_se_log_alpha(val, se, la)
  # min 0.20 + 0.02 = 0.22 is crossed between α = 10^-2 (0.205) and 10^-1.5 (0.25).
  assert got[0] == pytest.approx(-2.0 + 0.5 * (0.22 - 0.205) / (0.25 - 0.205))
  assert not edge[0]
  flat = np.full((1, 9), 0.3)
  got, edge = adamw.one_se_log_alpha(flat, se, la)
  assert edge[0] and got[0] == la[-1]
