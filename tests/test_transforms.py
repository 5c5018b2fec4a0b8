"""Transforms: scikit-learn's solutions reached through optax chains, and
composition with optax.chain / masked / inject_hyperparams / MultiSteps."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import ElasticNet, Lasso, Ridge

import jaxreg as jr

_X, _Y = load_diabetes(return_X_y=True)
_X = (_X - _X.mean(0)) / _X.std(0)
N, P = _X.shape


def fit_diabetes(tx, n_steps):
  """Full-batch training on diabetes with a bias leaf, in float64."""
  X, y = jnp.asarray(_X), jnp.asarray(_Y)
  loss = lambda p: 0.5 * jnp.mean((X @ p["w"] + p["b"] - y) ** 2)

  @jax.jit
  def run(params):
    def body(carry, _):
      p, s = carry
      u, s = tx.update(jax.grad(loss)(p), s, p)
      return (optax.apply_updates(p, u), s), None

    (p, _), _ = jax.lax.scan(body, (params, tx.init(params)), None, length=n_steps)
    return p

  return run({"w": jnp.zeros(P), "b": jnp.zeros(())})


def lipschitz():
  # Largest eigenvalue of the Hessian of the data term: XᵀX/n for w, 1 for b.
  return max(np.linalg.eigvalsh(_X.T @ _X / N)[-1], 1.0)


def assert_matches_sklearn(params, ref):
  w, b = np.asarray(params["w"]), float(params["b"])
  np.testing.assert_array_equal(w == 0, ref.coef_ == 0)
  np.testing.assert_allclose(w, ref.coef_, rtol=1e-5, atol=1e-5 * np.max(np.abs(ref.coef_)))
  assert b == pytest.approx(ref.intercept_, rel=1e-8)


BIAS_FREE = {"w": True, "b": False}


@pytest.mark.parametrize("alpha", [0.5, 5.0])
def test_ista_reaches_sklearn_lasso(alpha):
  with jax.enable_x64(True):
    lr = 1.0 / lipschitz()
    tx = optax.chain(optax.sgd(lr), jr.proximal(jr.L1(alpha, mask=BIAS_FREE), lr))
    ref = Lasso(alpha=alpha, tol=1e-12, max_iter=1_000_000).fit(_X, _Y)
    assert np.sum(ref.coef_ == 0) >= 1  # exact zeros are part of what is compared.
    assert_matches_sklearn(fit_diabetes(tx, 20_000), ref)


def test_ista_reaches_sklearn_elastic_net():
  with jax.enable_x64(True):
    lr = 1.0 / lipschitz()
    tx = optax.chain(optax.sgd(lr), jr.proximal(jr.ElasticNet(2.0, 0.7), lr, mask=BIAS_FREE))
    ref = ElasticNet(alpha=2.0, l1_ratio=0.7, tol=1e-12, max_iter=1_000_000).fit(_X, _Y)
    assert np.sum(ref.coef_ == 0) >= 1
    assert_matches_sklearn(fit_diabetes(tx, 20_000), ref)


@pytest.mark.parametrize("how", ["gradient", "proximal"])
def test_reaches_sklearn_ridge_through_conversion(how):
  with jax.enable_x64(True):
    a = 50.0
    pen = jr.conventions.convert(a, "sklearn.Ridge", n_samples=N, mask=BIAS_FREE)
    lr = 1.0 / lipschitz()
    if how == "gradient":
      tx = optax.chain(jr.add_penalty_gradient(pen), optax.sgd(lr))
    else:
      tx = optax.chain(optax.sgd(lr), jr.proximal(pen, lr))
    ref = Ridge(alpha=a, solver="cholesky").fit(_X, _Y)
    assert_matches_sklearn(fit_diabetes(tx, 20_000), ref)


# --- composition with optax -----------------------------------------------
def _tree(seed=0, dtype=jnp.float32):
  rng = np.random.default_rng(seed)
  return {"dense": {"kernel": jnp.asarray(rng.standard_normal((3, 4)), dtype),
                    "bias": jnp.asarray(rng.standard_normal(4), dtype)},
          "scale": jnp.asarray(rng.standard_normal(4), dtype)}


def _run(tx, params, grads_seq):
  state = tx.init(params)
  step = jax.jit(lambda g, s, p: tx.update(g, s, p))
  for g in grads_seq:
    u, state = step(g, state, params)
    params = optax.apply_updates(params, u)
  return params, state


def _grads(n, seed=1, dtype=jnp.float32):
  return [_tree(seed + k, dtype) for k in range(n)]


def test_decoupled_decay_equals_adamw():
  with jax.enable_x64(True):
    lr, wd = 1e-2, 0.3
    ours = optax.chain(optax.scale_by_adam(), jr.add_penalty_gradient(jr.L2(wd)),
                       optax.scale_by_learning_rate(lr))
    a, _ = _run(ours, _tree(dtype=jnp.float64), _grads(15, dtype=jnp.float64))
    b, _ = _run(optax.adamw(lr, weight_decay=wd), _tree(dtype=jnp.float64),
                _grads(15, dtype=jnp.float64))
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
      np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-12)
    # The same mask semantics: optax masks a callable, so do we.
    ours_m = optax.chain(optax.scale_by_adam(),
                         jr.add_penalty_gradient(jr.L2(wd, mask=jr.masks.weights_only)),
                         optax.scale_by_learning_rate(lr))
    a, _ = _run(ours_m, _tree(dtype=jnp.float64), _grads(15, dtype=jnp.float64))
    b, _ = _run(optax.adamw(lr, weight_decay=wd, mask=jr.masks.weights_only),
                _tree(dtype=jnp.float64), _grads(15, dtype=jnp.float64))
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
      np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-12)


def test_coupled_sgd_l2_by_hand():
  lr, a = 0.1, 0.5
  p0, gs = _tree(), _grads(3)
  got, _ = _run(optax.chain(jr.add_penalty_gradient(jr.L2(a)), optax.sgd(lr)), p0, gs)
  want = p0
  for g in gs:
    want = jax.tree_util.tree_map(lambda w, gi: w - lr * (gi + a * w), want, g)
  for x, y in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
    np.testing.assert_allclose(x, y, rtol=1e-5)


def test_inject_hyperparams_sweeps_alpha_without_recompiling():
  lr = 0.1
  tx = optax.inject_hyperparams(
      lambda alpha: optax.chain(jr.add_penalty_gradient(jr.L2(alpha)), optax.sgd(lr)))(alpha=0.5)
  params = _tree()
  state = tx.init(params)
  step = jax.jit(tx.update)
  zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
  want = params
  for alpha in (0.5, 0.2, 1.5):
    state.hyperparams["alpha"] = jnp.asarray(alpha)
    u, state = step(zeros, state, params)
    params = optax.apply_updates(params, u)
    want = jax.tree_util.tree_map(lambda w: w * (1 - lr * alpha), want)
  assert step._cache_size() == 1
  for x, y in zip(jax.tree_util.tree_leaves(params), jax.tree_util.tree_leaves(want)):
    np.testing.assert_allclose(x, y, rtol=1e-5)


def test_multisteps_applies_penalty_once_per_accumulated_step():
  lr, a = 0.1, 0.5
  tx = optax.MultiSteps(optax.chain(jr.add_penalty_gradient(jr.L2(a)), optax.sgd(lr)),
                        every_k_schedule=2)
  p0, (g1, g2) = _tree(), _grads(2)
  got, _ = _run(tx, p0, [g1, g2])
  want = jax.tree_util.tree_map(lambda w, x, y: w - lr * ((x + y) / 2 + a * w), p0, g1, g2)
  for x, y in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
    np.testing.assert_allclose(x, y, rtol=1e-5)


def test_optax_masked_proximal():
  lr, a = 0.1, 0.4
  mask = {"dense": {"kernel": True, "bias": False}, "scale": False}
  tx = optax.chain(optax.sgd(lr), optax.masked(jr.proximal(jr.L1(a), lr), mask))
  p0, gs = _tree(), _grads(1)
  got, _ = _run(tx, p0, gs)
  moved = jax.tree_util.tree_map(lambda w, g: w - lr * g, p0, gs[0])
  k = np.asarray(moved["dense"]["kernel"])
  np.testing.assert_allclose(got["dense"]["kernel"], np.sign(k) * np.maximum(np.abs(k) - lr * a, 0),
                             rtol=1e-6, atol=1e-7)
  np.testing.assert_allclose(got["dense"]["bias"], moved["dense"]["bias"], rtol=1e-6)
  np.testing.assert_allclose(got["scale"], moved["scale"], rtol=1e-6)


def test_proximal_uses_schedule_value_each_step():
  a = 0.3
  sched = optax.linear_schedule(0.2, 0.02, transition_steps=4)
  tx = optax.chain(optax.sgd(sched), jr.proximal(jr.L1(a), sched))
  params = _tree()
  zeros = [jax.tree_util.tree_map(jnp.zeros_like, params)] * 5
  got, state = _run(tx, params, zeros)
  want = np.asarray(params["dense"]["kernel"])
  for t in range(5):
    want = np.sign(want) * np.maximum(np.abs(want) - float(sched(t)) * a, 0)
  np.testing.assert_allclose(got["dense"]["kernel"], want, rtol=1e-5, atol=1e-7)
  assert int(state[1].count) == 5


def test_project_keeps_iterates_in_ball():
  C = 1.5
  tx = optax.chain(optax.sgd(0.5), jr.project(jr.L1Ball(C)))
  params = _tree()
  state = tx.init(params)
  step = jax.jit(tx.update)
  for g in _grads(6, seed=10):
    u, state = step(g, state, params)
    params = optax.apply_updates(params, u)
    norm = sum(float(jnp.sum(jnp.abs(x))) for x in jax.tree_util.tree_leaves(params))
    assert norm <= C * (1 + 1e-5)
  assert norm == pytest.approx(C, rel=1e-4)  # the constraint is active.


def test_vmap_and_grad_through_a_training_step():
  # A batch of penalties through one jitted proximal step, and the derivative
  # of the result w.r.t. α against finite differences.
  lr = 0.1
  params, g = _tree(), _grads(1)[0]

  def step(pen, params):
    tx = optax.chain(optax.sgd(lr), jr.proximal(pen, lr))
    u, _ = tx.update(g, tx.init(params), params)
    return optax.apply_updates(params, u)

  batched = jax.jit(jax.vmap(step, in_axes=(0, None)))(jr.L1(jnp.logspace(-3, 0, 5)), params)
  for k, al in enumerate(np.logspace(-3, 0, 5)):
    one = step(jr.L1(float(al)), params)
    np.testing.assert_allclose(batched["dense"]["kernel"][k], one["dense"]["kernel"], rtol=1e-5,
                               atol=1e-7)
  with jax.enable_x64(True):
    p64 = jax.tree_util.tree_map(lambda x: x.astype(jnp.float64), params)
    f = jax.jit(lambda al: jnp.sum(jnp.sin(step(jr.ElasticNet(al, 0.5), p64)["dense"]["kernel"])))
    d = jax.grad(f)(0.3)
    np.testing.assert_allclose(d, (f(0.3 + 1e-6) - f(0.3 - 1e-6)) / 2e-6, rtol=1e-5)


@pytest.mark.parametrize("make", [
    lambda: optax.chain(jr.add_penalty_gradient(jr.L2(0.1)), optax.sgd(0.1)),
    lambda: optax.chain(optax.sgd(0.1), jr.proximal(jr.Lp(0.1, 0.5), 0.1)),
    lambda: optax.chain(optax.sgd(0.1), jr.proximal(jr.GroupLasso(0.1, axis=-1), 0.1)),
    lambda: optax.chain(optax.sgd(0.1), jr.project(jr.L2Ball(1.0))),
])
def test_dtypes_preserved_through_transforms(make):
  with jax.enable_x64(True):
    for dtype in (jnp.float32, jnp.float64):
      params, _ = _run(make(), _tree(dtype=dtype), _grads(1, dtype=dtype))
      assert all(x.dtype == dtype for x in jax.tree_util.tree_leaves(params))


def test_transform_errors():
  params = _tree()
  for tx in (jr.add_penalty_gradient(jr.L2(0.1)), jr.proximal(jr.L1(0.1), 0.1),
             jr.project(jr.L1Ball(1.0))):
    with pytest.raises(ValueError, match="params"):
      tx.update(params, tx.init(params))
  with pytest.raises(ValueError, match="learning_rate"):
    jr.proximal(jr.L1(0.1), -0.1)
  with pytest.raises(TypeError, match="penalty"):
    jr.add_penalty_gradient(0.1)
  with pytest.raises(TypeError, match="constraint"):
    jr.project(jr.L1(0.1))
  with pytest.raises(ValueError, match="step"):
    jr.L1(0.1).prox(params, -1.0)
  bad = dict(params, count=jnp.array(3))
  tx = jr.add_penalty_gradient(jr.L2(0.1))
  with pytest.raises(TypeError, match=r"params\['count'\]"):
    tx.update(bad, tx.init(bad), bad)


# --- invalid learning rates, schedules, injected α and shapes ----------------------
def test_bad_learning_rates_raise_naming_learning_rate():
  for bad in (float("nan"), float("inf"), -1e-3, jnp.array([0.1, 0.2])):
    with pytest.raises(ValueError, match="learning_rate"):
      jr.proximal(jr.L1(0.1), bad)
  for junk in ("0.1", None):
    with pytest.raises(TypeError, match="learning_rate"):
      jr.proximal(jr.L1(0.1), junk)


def _all(tree, pred):
  return all(bool(jnp.all(pred(v))) for v in jax.tree_util.tree_leaves(tree))


def test_schedule_turning_negative_is_nan_in_jit_and_an_error_otherwise():
  sched = optax.linear_schedule(0.1, -0.1, transition_steps=2)  # 0.1, 0, −0.1, …
  tx = optax.chain(optax.sgd(0.1), jr.proximal(jr.L1(0.5), sched))
  params, g = _tree(), _grads(1)[0]
  step = jax.jit(tx.update)
  state = tx.init(params)
  for _ in range(2):
    u, state = step(g, state, params)
    assert _all(u, jnp.isfinite)
  u, _ = step(g, state, params)
  assert _all(u, jnp.isnan)  # never a finite update that grows the weights.
  with pytest.raises(ValueError, match="learning_rate must be >= 0"):
    jr.checked(step)(g, state, params)
  with pytest.raises(ValueError, match="learning_rate"):
    tx.update(g, state, params)  # eagerly the schedule's value is concrete.


def test_negative_alpha_injected_into_state_is_nan_in_jit_and_an_error_when_checked():
  lr = 0.1
  tx = optax.inject_hyperparams(
      lambda alpha: optax.chain(jr.add_penalty_gradient(jr.L2(alpha)), optax.sgd(lr)))(alpha=0.5)
  params = _tree()
  zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
  state = tx.init(params)
  step = jax.jit(tx.update)
  state.hyperparams["alpha"] = jnp.asarray(-2.0)
  u, _ = step(zeros, state, params)
  assert _all(u, jnp.isnan)
  with pytest.raises(ValueError, match="alpha must be >= 0"):
    jr.checked(step)(zeros, state, params)
  with pytest.raises(ValueError, match="alpha"):
    tx.update(zeros, state, params)  # eagerly: a concrete α, checked when built.
  state.hyperparams["alpha"] = jnp.asarray(0.5)
  u, _ = jr.checked(step)(zeros, state, params)
  np.testing.assert_allclose(u["scale"], -lr * 0.5 * params["scale"], rtol=1e-6)


def test_injected_nan_learning_rate_is_nan_and_an_error_when_checked():
  tx = optax.inject_hyperparams(
      lambda lr: optax.chain(optax.sgd(lr), jr.proximal(jr.L1(0.1), lr)))(lr=0.1)
  params, g = _tree(), _grads(1)[0]
  state = tx.init(params)
  state.hyperparams["lr"] = jnp.asarray(jnp.nan)
  step = jax.jit(tx.update)
  assert _all(step(g, state, params)[0], jnp.isnan)
  with pytest.raises(ValueError, match="learning_rate"):
    jr.checked(step)(g, state, params)


def test_mismatched_updates_and_params_are_named_by_path():
  params = _tree()
  bad = jax.tree_util.tree_map(lambda x: x, params)
  bad["dense"]["kernel"] = jnp.ones((4, 3))
  for tx in (jr.add_penalty_gradient(jr.L2(0.1)), jr.proximal(jr.L1(0.1), 0.1),
             jr.project(jr.L2Ball(1.0))):
    with pytest.raises(ValueError,
                       match=r"updates\['dense'\]\['kernel'\] has shape \(4, 3\).*\(3, 4\)"):
      tx.update(bad, tx.init(params), params)
    with pytest.raises(ValueError, match=r"updates\['extra'\] is not in params"):
      tx.update(dict(params, extra=jnp.ones(2)), tx.init(params), params)
