"""The environments: docstrings in Gymnasium's template, Gymnasium's and SB3's checkers,
seeding, the native vector env against SyncVectorEnv in both autoreset modes, clear errors
for bad actions, rendering, scenarios."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode, SyncVectorEnv

import mars_gym
from lmm.data.orderflow import OrderKind
from lmm.model.outlook import N_OUTLOOK_FEATURES
from mars_gym.envs.trading import NOTHING
from mars_gym.simulator import AgentOrder

FAST = {"warmup_orders": 30}
# short episodes, so that autoresets happen within a test
SHORT = {
    "MarS-v0": {"horizon": 6},
    "MarS-Execution-v0": {"horizon": 5, "quantity": 500},
    "MarS-MarketMaking-v0": {"horizon": 6},
}


def _kwargs(env_id: str, checkpoint: Path) -> dict:
    return {"checkpoint": str(checkpoint), **FAST, **SHORT[env_id]}


#: The sections of Gymnasium's environment docstrings, in their order.
DOC_SECTIONS = (
    "Description",
    "Action Space",
    "Observation Space",
    "Rewards",
    "Starting State",
    "Episode End",
    "Arguments",
    "Version History",
)


@pytest.mark.parametrize("env_id", mars_gym.ENV_IDS)
def test_docstrings_follow_gymnasiums_template(env_id: str) -> None:
    entry = gym.spec(env_id).entry_point
    env_class = gym.envs.registration.load_env_creator(entry) if isinstance(entry, str) else entry
    headings = [line.strip()[3:] for line in env_class.__doc__.splitlines() if "## " in line]
    assert headings == list(DOC_SECTIONS)
    for section in env_class.__doc__.split("## ")[1:]:
        assert section.split("\n", 1)[1].strip(), f"{env_id}: {section.splitlines()[0]} is empty"


@pytest.mark.parametrize("env_id", mars_gym.ENV_IDS)
def test_gymnasium_check_env(env_id: str, tiny_checkpoint_dir: Path) -> None:
    env = gym.make(env_id, render_mode="rgb_array", **_kwargs(env_id, tiny_checkpoint_dir))
    check_env(env.unwrapped)  # rendering included


@pytest.mark.parametrize("env_id", mars_gym.ENV_IDS)
def test_sb3_check_env(env_id: str, tiny_checkpoint_dir: Path) -> None:
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    sb3_check_env(gym.make(env_id, **_kwargs(env_id, tiny_checkpoint_dir)).unwrapped, warn=True)


def _rollout(env: gym.Env, seed: int, actions: list) -> list:
    obs, _ = env.reset(seed=seed)
    out = [obs]
    for a in actions:
        obs, r, term, trunc, _ = env.step(a)
        out.append((obs, r, term, trunc))
        if term or trunc:
            out.append(env.reset()[0])
    return out


@pytest.mark.parametrize("env_id", mars_gym.ENV_IDS)
def test_same_seed_same_trajectory(env_id: str, tiny_checkpoint_dir: Path) -> None:
    env = gym.make(env_id, **_kwargs(env_id, tiny_checkpoint_dir))
    env.action_space.seed(0)
    actions = [env.action_space.sample() for _ in range(12)]
    a, b = (_rollout(env, 3, actions) for _ in range(2))
    for x, y in zip(a, b, strict=True):
        np.testing.assert_equal(x, y)
    c = _rollout(env, 4, actions)
    assert not np.array_equal(a[0], c[0])  # another seed, another warmed-up market


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
@pytest.mark.parametrize("env_id", mars_gym.ENV_IDS)
def test_native_vector_env_equals_sync_vector_env(
    env_id: str, mode: AutoresetMode, tiny_checkpoint_dir: Path
) -> None:
    kwargs = _kwargs(env_id, tiny_checkpoint_dir)
    n = 3
    native = gym.make_vec(
        env_id, num_envs=n, vectorization_mode="vector_entry_point", autoreset_mode=mode, **kwargs
    )
    sync = SyncVectorEnv(
        [lambda: gym.make(env_id, **kwargs) for _ in range(n)], autoreset_mode=mode
    )
    assert native.metadata["autoreset_mode"] == mode
    o1, _ = native.reset(seed=11)
    o2, _ = sync.reset(seed=11)
    np.testing.assert_array_equal(o1, o2)
    native.action_space.seed(5)
    for _ in range(14):  # several autoresets with horizons of 5-6
        actions = native.action_space.sample()
        r1, r2 = native.step(actions), sync.step(actions)
        for x, y in zip(r1[:4], r2[:4], strict=True):
            np.testing.assert_array_equal(x, y)
        if mode == AutoresetMode.SAME_STEP and "final_obs" in r2[4]:
            np.testing.assert_array_equal(r1[4]["_final_obs"], r2[4]["_final_obs"])
            for i in np.flatnonzero(r2[4]["_final_obs"]):
                np.testing.assert_array_equal(r1[4]["final_obs"][i], r2[4]["final_obs"][i])


@pytest.mark.slow
def test_native_vector_env_equals_sync_vector_env_with_the_packaged_model() -> None:
    # the packaged model over most of an execution episode: env 8 of 16 left SyncVectorEnv
    # at step 32 while the model's rounding depended on the batch (tests/lmm/test_model.py)
    n = 16
    native = gym.make_vec("MarS-Execution-v0", num_envs=n, vectorization_mode="vector_entry_point")
    sync = SyncVectorEnv([lambda: gym.make("MarS-Execution-v0") for _ in range(n)])
    np.testing.assert_array_equal(native.reset(seed=11)[0], sync.reset(seed=11)[0])
    native.action_space.seed(5)
    for _ in range(40):
        actions = native.action_space.sample()
        r1, r2 = native.step(actions), sync.step(actions)
        for x, y in zip(r1[:4], r2[:4], strict=True):
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (np.array([1, 0, 99, 0]), r"action\[2\] = 99 is outside its bound 0..20"),
        (np.array([1, 0, 3]), "shape"),
        (np.array([np.nan, 0, 0, 0]), "integers"),
        (np.array([-1, 0, 0, 0]), r"action\[0\] = -1 is outside its bound 0..3"),
    ],
)
def test_bad_actions_raise_clear_errors(
    action: np.ndarray, message: str, tiny_checkpoint_dir: Path
) -> None:
    env = gym.make("MarS-v0", **_kwargs("MarS-v0", tiny_checkpoint_dir)).unwrapped
    env.reset(seed=0)
    with pytest.raises(ValueError, match=message):
        env.step(action)


@pytest.mark.parametrize(
    ("env_id", "setting", "message"),
    [
        ("MarS-v0", {"horizon": 0}, "horizon must be >= 1, got 0"),
        ("MarS-v0", {"cash_limit": float("nan")}, "cash_limit must be >= 0.0, got nan"),
        ("MarS-Execution-v0", {"max_slices": 0}, "max_slices must be >= 1, got 0"),
        ("MarS-Execution-v0", {"terminal_penalty_bp": -1.0}, "terminal_penalty_bp must be >= 0.0"),
        ("MarS-MarketMaking-v0", {"max_offset": 0}, "max_offset must be >= 1, got 0"),
        ("MarS-MarketMaking-v0", {"inventory_limit": -1}, "inventory_limit must be >= 0, got -1"),
        ("MarS-MarketMaking-v0", {"inventory_penalty": float("nan")}, "inventory_penalty"),
    ],
)
def test_bad_task_settings_raise_before_a_market_is_built(
    env_id: str, setting: dict, message: str
) -> None:
    # no checkpoint is loaded: a wrong setting fails fast, naming itself
    with pytest.raises(ValueError, match=message):
        gym.make(env_id, checkpoint="/nonexistent", **setting)


@pytest.mark.parametrize(
    ("env_id", "setting", "error", "message"),
    [
        ("MarS-v0", {"horizon": 2.5}, TypeError, r"horizon must be an integer >= 1, got 2\.5"),
        ("MarS-v0", {"horizon": True}, TypeError, "horizon must be an integer >= 1, got True"),
        ("MarS-v0", {"lot": "100"}, TypeError, "lot must be an integer >= 1, got '100'"),
        ("MarS-Execution-v0", {"quantity": 2e3}, TypeError, "quantity must be an integer"),
        ("MarS-MarketMaking-v0", {"horizon": 30.0}, TypeError, "horizon must be an integer"),
        ("MarS-v0", {"cash_limit": "1e6"}, TypeError, "cash_limit must be a number >= 0.0"),
        ("MarS-v0", {"start_time": "25:99"}, ValueError, r"start_time must be a time of day HH:MM"),
        ("MarS-v0", {"start_time": "9:5"}, ValueError, r"from 00:00 to 23:59, got '9:5'"),
        ("MarS-v0", {"warmup_orders": 1.5}, TypeError, "warmup_orders must be an integer >= 0"),
    ],
)
def test_settings_of_the_wrong_type_or_form_name_themselves(
    env_id: str, setting: dict, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        gym.make(env_id, checkpoint="/nonexistent", **setting)


def test_numpy_integers_are_integers(tiny_checkpoint_dir: Path) -> None:
    env = gym.make(
        "MarS-Execution-v0",
        horizon=np.int64(5),
        quantity=np.int32(500),
        checkpoint=str(tiny_checkpoint_dir),
        **FAST,
    ).unwrapped
    assert env.runner.task.horizon == 5 and type(env.runner.task.horizon) is int


@pytest.mark.parametrize("env_id", mars_gym.ENV_IDS)
def test_a_horizon_past_the_session_end_is_refused(env_id: str, tiny_checkpoint_dir: Path) -> None:
    # the synthetic start is at 10:00 and the session closes at 16:00: 21,600 one-second
    # decisions fit, 10**9 do not
    kwargs = {"checkpoint": str(tiny_checkpoint_dir), **FAST}
    gym.make(env_id, horizon=21_600, **kwargs)
    with pytest.raises(ValueError, match=r"horizon must be at most 21,600 decisions of 1\.0 s"):
        gym.make(env_id, horizon=21_601, **kwargs)
    with pytest.raises(ValueError, match=r"16:00:00, got 1,000,000,000"):
        gym.make_vec(env_id, num_envs=2, horizon=10**9, **kwargs)
    with pytest.raises(ValueError, match="at most 360 decisions of 60"):
        gym.make(env_id, horizon=361, decision_interval_s=60.0, **kwargs)


@pytest.mark.parametrize(
    ("setting", "error", "message"),
    [
        ({"num_envs": 2.5}, TypeError, r"num_envs must be an integer >= 1, got 2\.5"),
        ({"num_envs": 0}, ValueError, "num_envs must be >= 1, got 0"),
        ({"num_envs": 2, "workers": 2.5}, TypeError, r"workers must be an integer >= 1, got 2\.5"),
        ({"num_envs": 2, "workers": "2"}, TypeError, "workers must be an integer >= 1, got '2'"),
        ({"num_envs": 2, "workers": 0}, ValueError, "workers must be >= 1, got 0"),
    ],
)
def test_make_vec_counts_must_be_integers(
    setting: dict, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        gym.make_vec("MarS-v0", checkpoint="/nonexistent", **setting)


def test_rgb_array_render_draws_the_market_and_the_agents_orders(
    tiny_checkpoint_dir: Path,
) -> None:
    env = gym.make("MarS-v0", render_mode="rgb_array", **_kwargs("MarS-v0", tiny_checkpoint_dir))
    env.reset(seed=0)
    env.step(np.array([NOTHING, 0, 0, 0]))
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.shape == (400, 800, 3)
    assert (frame < 128).mean() > 0.01  # axes, labels and curves, not a blank canvas
    np.testing.assert_array_equal(env.render(), frame)  # rendering changes nothing
    # the same market with a resting order of the agent's, far below the mid
    sim = env.unwrapped.runner.sim
    price = sim.book(0).best_bid - 5
    sim.execute_now(0, [AgentOrder(OrderKind.LIMIT_BUY, price, 300)])
    assert [(o.price, o.size) for o in sim.open_orders(0)] == [(price, 300)]
    assert (env.render() != frame).any()
    env.close()


def test_human_render_draws_in_a_window_and_returns_none(
    tiny_checkpoint_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import matplotlib.pyplot as plt

    plt.switch_backend("Agg")  # no display needed: the window is drawn off-screen
    monkeypatch.setattr(plt, "pause", lambda interval: None)
    env = gym.make("MarS-v0", render_mode="human", **_kwargs("MarS-v0", tiny_checkpoint_dir))
    before = set(plt.get_fignums())
    env.reset(seed=0)
    env.step(env.action_space.sample())
    (opened,) = set(plt.get_fignums()) - before  # one window, reused at every step
    assert env.render() is None
    assert len(plt.figure(opened).axes) == 2
    env.close()
    assert opened not in plt.get_fignums()


def test_no_render_mode_draws_nothing(
    tiny_checkpoint_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mars_gym.envs import render

    def fail(*args: object) -> None:
        raise AssertionError("drew a frame without a render mode")

    monkeypatch.setattr(render, "draw_market", fail)
    env = gym.make("MarS-v0", **_kwargs("MarS-v0", tiny_checkpoint_dir))
    env.reset(seed=0)
    env.step(env.action_space.sample())
    assert env.render() is None
    with pytest.raises(ValueError, match="render_mode must be one of"):
        gym.make("MarS-v0", render_mode="ansi", **_kwargs("MarS-v0", tiny_checkpoint_dir))


def test_execution_completes_the_parent_order(tiny_checkpoint_dir: Path) -> None:
    env = gym.make("MarS-Execution-v0", **_kwargs("MarS-Execution-v0", tiny_checkpoint_dir))
    env.reset(seed=1)
    total, done = 0.0, False
    steps = 0
    while not done:
        _, r, term, trunc, info = env.step(np.array([0, 0]))  # never trade: forced at T
        total += r
        done = term or trunc
        steps += 1
    assert steps == 5 and term and not trunc
    assert info["remaining"] == 0 and info["forced"] == 500
    assert total == pytest.approx(-info["shortfall_bp"])


def test_a_vector_env_too_large_for_the_memory_is_refused(
    tiny_checkpoint_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lmm.model import generate

    monkeypatch.setattr(generate, "available_memory", lambda device: 100 * 2**20)  # 100 MiB
    with pytest.raises(MemoryError, match=r"100,000 markets \(one per environment\) need about"):
        gym.make_vec("MarS-Execution-v0", num_envs=100_000, checkpoint=str(tiny_checkpoint_dir))


def test_a_large_reset_shows_its_progress(
    tiny_checkpoint_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    kwargs = {"checkpoint": str(tiny_checkpoint_dir), "warmup_orders": 5}
    gym.make_vec("MarS-v0", num_envs=2, **kwargs).reset(seed=0)  # 12 orders: too few for a bar
    assert capsys.readouterr().err == ""
    gym.make_vec("MarS-v0", num_envs=2, progress=True, **kwargs).reset(seed=0)
    assert "starting 2 markets" in capsys.readouterr().err
    with pytest.raises(TypeError, match="progress must be None, True or False, got 'yes'"):
        gym.make_vec("MarS-v0", num_envs=2, progress="yes", **kwargs)


def test_native_vector_env_equals_sync_vector_env_under_the_numba_decoder(
    tiny_checkpoint_dir: Path, numba_decoder: str
) -> None:
    env_id = "MarS-Execution-v0"
    kwargs = {**_kwargs(env_id, tiny_checkpoint_dir), "decoder": numba_decoder}
    native = gym.make_vec(env_id, num_envs=3, vectorization_mode="vector_entry_point", **kwargs)
    sync = SyncVectorEnv([lambda: gym.make(env_id, **kwargs) for _ in range(3)])
    np.testing.assert_array_equal(native.reset(seed=11)[0], sync.reset(seed=11)[0])
    native.action_space.seed(5)
    for _ in range(8):
        actions = native.action_space.sample()
        r1, r2 = native.step(actions), sync.step(actions)
        for x, y in zip(r1[:4], r2[:4], strict=True):
            np.testing.assert_array_equal(x, y)


SCENARIO = "1m drift -20bp vol 12bp volume 3x; 1m calm"


def test_a_seeded_episode_with_a_scenario_repeats_and_differs_from_the_unconditional(
    tiny_outlook_checkpoint_dir: Path,
) -> None:
    kwargs = _kwargs("MarS-Execution-v0", tiny_outlook_checkpoint_dir)
    first, second = (gym.make("MarS-Execution-v0", scenario=SCENARIO, **kwargs) for _ in range(2))
    first.action_space.seed(0)
    actions = [first.action_space.sample() for _ in range(8)]
    a, b = _rollout(first, 3, actions), _rollout(second, 3, actions)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_equal(x, y)
    plain = _rollout(gym.make("MarS-Execution-v0", **kwargs), 3, actions)
    assert not np.array_equal(a[0], plain[0])  # the same seed, another market


@pytest.mark.parametrize("vectorised", [False, True])
def test_single_and_vector_envs_follow_a_scenario(
    vectorised: bool, tiny_outlook_checkpoint_dir: Path
) -> None:
    kwargs = {**_kwargs("MarS-v0", tiny_outlook_checkpoint_dir), "scenario": SCENARIO}
    if vectorised:
        env = gym.make_vec("MarS-v0", num_envs=2, vectorization_mode="vector_entry_point", **kwargs)
    else:
        env = gym.make("MarS-v0", **kwargs)
    env.reset(seed=0)
    sim = env.unwrapped.runner.sim if not vectorised else env.runner.sim
    for i in range(sim.n):
        known = sim.markets.history(i)[1][:, -N_OUTLOOK_FEATURES]
        assert np.all(known == 1)


def test_the_native_vector_env_equals_sync_vector_env_under_a_scenario(
    tiny_outlook_checkpoint_dir: Path,
) -> None:
    kwargs = {**_kwargs("MarS-Execution-v0", tiny_outlook_checkpoint_dir), "scenario": SCENARIO}
    native = gym.make_vec(
        "MarS-Execution-v0", num_envs=2, vectorization_mode="vector_entry_point", **kwargs
    )
    sync = SyncVectorEnv([lambda: gym.make("MarS-Execution-v0", **kwargs) for _ in range(2)])
    np.testing.assert_array_equal(native.reset(seed=5)[0], sync.reset(seed=5)[0])
    native.action_space.seed(1)
    for _ in range(6):
        actions = native.action_space.sample()
        for x, y in zip(native.step(actions)[:4], sync.step(actions)[:4], strict=True):
            np.testing.assert_array_equal(x, y)
