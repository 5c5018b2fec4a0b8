"""Masks on every penalty and transform, on plain dicts, flax linen params
and flax nnx State, and a flax nnx model trained through nnx.Optimizer."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import jaxreg as jr

PARAMS = {"dense": {"kernel": jnp.array([[1.0, -2.0], [0.5, 3.0]]), "bias": jnp.array([1.0, -1.0])}}
BOOL = {"dense": {"kernel": True, "bias": False}}
PENALTIES = [lambda m: jr.L1(0.3, mask=m), lambda m: jr.L2(0.3, mask=m),
             lambda m: jr.ElasticNet(0.3, 0.5, mask=m), lambda m: jr.Lp(0.3, 0.5, mask=m),
             lambda m: jr.Lp(0.3, 1.5, mask=m), lambda m: jr.GroupLasso(0.3, axis=-1, mask=m)]


@pytest.mark.parametrize("make", PENALTIES)
@pytest.mark.parametrize("mask", [BOOL, jr.masks.weights_only], ids=["bool", "callable"])
def test_penalty_mask(make, mask):
  pen, full = make(mask), make(None)
  kernel_only = {"dense": {"kernel": PARAMS["dense"]["kernel"]}}
  np.testing.assert_allclose(pen(PARAMS), full(kernel_only), rtol=1e-6)
  g, pr = pen.grad(PARAMS), pen.prox(PARAMS, 0.5)
  np.testing.assert_array_equal(g["dense"]["bias"], 0.0)
  np.testing.assert_array_equal(pr["dense"]["bias"], PARAMS["dense"]["bias"])
  np.testing.assert_allclose(g["dense"]["kernel"], full.grad(kernel_only)["dense"]["kernel"])
  np.testing.assert_allclose(pr["dense"]["kernel"], full.prox(kernel_only, 0.5)["dense"]["kernel"])


@pytest.mark.parametrize("mask", [BOOL, jr.masks.weights_only], ids=["bool", "callable"])
def test_transform_and_constraint_masks(mask):
  zeros = jax.tree_util.tree_map(jnp.zeros_like, PARAMS)
  for tx in (jr.add_penalty_gradient(jr.L2(0.3), mask=mask),
             jr.proximal(jr.L1(0.3), 0.1, mask=mask),
             jr.project(jr.L1Ball(0.1), mask=mask),
             jr.project(jr.L2Ball(0.1, mask=mask))):
    u, _ = tx.update(zeros, tx.init(PARAMS), PARAMS)
    np.testing.assert_array_equal(u["dense"]["bias"], 0.0)
    assert np.any(np.asarray(u["dense"]["kernel"]) != 0)


def test_prefix_mask_and_helpers():
  pen = jr.L2(1.0, mask={"dense": False})
  assert float(pen(PARAMS)) == 0.0
  inv = jr.masks.invert(jr.masks.weights_only)(PARAMS)
  assert inv == {"dense": {"kernel": False, "bias": True}}
  assert jr.masks.path_matches(r"kernel$")(PARAMS) == BOOL


def test_weights_only_on_linen_params():
  model = nn.Sequential([nn.Dense(4), nn.relu, nn.LayerNorm(), nn.Dense(2)])
  params = model.init(jax.random.key(0), jnp.ones((1, 3)))["params"]
  mask = jr.masks.weights_only(params)
  flat = {jax.tree_util.keystr(p): v for p, v in jax.tree_util.tree_flatten_with_path(mask)[0]}
  assert flat and all(v == k.endswith("['kernel']") for k, v in flat.items())
  pen = jr.L2(1.0, mask=jr.masks.weights_only)
  want = sum(0.5 * float(jnp.sum(params[k]["kernel"] ** 2)) for k in ("layers_0", "layers_3"))
  np.testing.assert_allclose(float(pen(params)), want, rtol=1e-6)


class MLP(nnx.Module):

  def __init__(self, rngs):
    self.l1 = nnx.Linear(3, 5, rngs=rngs)
    self.l2 = nnx.Linear(5, 2, rngs=rngs)

  def __call__(self, x):
    return self.l2(jax.nn.tanh(self.l1(x)))


def _nnx_model():
  model = MLP(nnx.Rngs(0))
  # nnx initialises biases to 0, where any decay is invisible: move them off 0.
  model.l1.bias.value = jnp.linspace(0.5, 1.5, 5)
  model.l2.bias.value = jnp.array([-1.0, 2.0])
  return model


def test_weights_only_on_nnx_state_with_variables_and_pure():
  state = nnx.state(_nnx_model(), nnx.Param)
  for tree in (state, nnx.to_pure_dict(state)):
    leaves = jax.tree_util.tree_flatten_with_path(jr.masks.weights_only(tree))[0]
    assert len(leaves) == 4
    for path, flag in leaves:
      assert flag == ("kernel" in jax.tree_util.keystr(path))
  pen = jr.L2(1.0, mask=jr.masks.weights_only)
  want = 0.5 * sum(float(jnp.sum(state[k]["kernel"].value ** 2)) for k in ("l1", "l2"))
  np.testing.assert_allclose(float(pen(state)), want, rtol=1e-6)


def test_nnx_optimizer_decay_leaves_biases_untouched():
  model = _nnx_model()
  lr, a, steps = 0.1, 0.5, 4
  kernels0 = [np.asarray(model.l1.kernel.value), np.asarray(model.l2.kernel.value)]
  biases0 = [np.asarray(model.l1.bias.value), np.asarray(model.l2.bias.value)]
  tx = optax.chain(jr.add_penalty_gradient(jr.L2(a, mask=jr.masks.weights_only)), optax.sgd(lr))
  opt = nnx.Optimizer(model, tx, wrt=nnx.Param)
  zeros = jax.tree_util.tree_map(jnp.zeros_like, nnx.state(model, nnx.Param))
  for _ in range(steps):
    opt.update(model, zeros)
  np.testing.assert_array_equal(model.l1.bias.value, biases0[0])
  np.testing.assert_array_equal(model.l2.bias.value, biases0[1])
  for k0, k in zip(kernels0, (model.l1.kernel.value, model.l2.kernel.value)):
    np.testing.assert_allclose(k, k0 * (1 - lr * a) ** steps, rtol=1e-6)


def test_nnx_training_run_bias_trajectory_matches_hand_reference():
  # Real gradients: the bias must follow plain SGD on the loss gradient, the
  # kernel SGD on loss gradient + a·kernel, computed here by hand.
  model = _nnx_model()
  lr, a = 0.05, 0.3
  rng = np.random.default_rng(0)
  x, y = jnp.asarray(rng.standard_normal((8, 3)), jnp.float32), jnp.asarray(
      rng.standard_normal((8, 2)), jnp.float32)
  tx = optax.chain(jr.add_penalty_gradient(jr.L2(a, mask=jr.masks.weights_only)), optax.sgd(lr))
  opt = nnx.Optimizer(model, tx, wrt=nnx.Param)

  def loss_fn(m):
    return jnp.mean((m(x) - y) ** 2)

  @nnx.jit
  def train_step(m, o):
    grads = nnx.grad(loss_fn)(m)
    o.update(m, grads)

  graphdef, state = nnx.split(model, nnx.Param)
  ref = nnx.to_pure_dict(state)

  @jax.jit
  def ref_step(p):
    g = jax.grad(lambda q: loss_fn(nnx.merge(graphdef, q)))(p)
    return jax.tree_util.tree_map_with_path(
        lambda path, w, gi: w - lr * (gi + (a * w if "kernel" in jax.tree_util.keystr(path) else 0)),
        p, g)

  for _ in range(5):
    train_step(model, opt)
    ref = ref_step(ref)
    np.testing.assert_allclose(model.l1.bias.value, ref["l1"]["bias"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.l2.bias.value, ref["l2"]["bias"], rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(model.l1.kernel.value, ref["l1"]["kernel"], rtol=1e-5, atol=1e-6)


def test_mismatched_mask_names_path():
  pen = jr.L2(1.0, mask={"dense": {"kernel": True, "bais": False}})
  with pytest.raises(ValueError, match=r"\['dense'\]\['bias'\]"):
    pen(PARAMS)
  tx = jr.add_penalty_gradient(jr.L2(1.0), mask={"other": True})
  with pytest.raises(ValueError, match=r"\['dense'\]"):
    tx.update(PARAMS, tx.init(PARAMS), PARAMS)
  with pytest.raises(ValueError, match="mask"):
    jr.L1Ball(1.0, mask={"dense": {"kernel": True}}).project(PARAMS)


def test_non_bool_mask_entries_raise_type_error():
  with pytest.raises(TypeError, match=r"mask\['dense'\]\['kernel'\]"):
    jr.L1(1.0, mask={"dense": {"kernel": 1.0, "bias": False}})
  with pytest.raises(TypeError, match="mask"):
    jr.L2(1.0, mask={"dense": {"kernel": jnp.array([True, False]), "bias": False}})
  pen = jr.L2(1.0, mask=lambda p: jax.tree_util.tree_map(lambda _: 1, p))
  with pytest.raises(TypeError, match="mask"):
    pen(PARAMS)


def test_masked_penalty_jits_once_per_mask():
  f = jax.jit(lambda pen, p: pen(p))
  f(jr.L1(0.1, mask=BOOL), PARAMS)
  f(jr.L1(0.7, mask={"dense": {"kernel": True, "bias": False}}), PARAMS)
  assert f._cache_size() == 1
