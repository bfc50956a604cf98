"""The multi-agent market: PettingZoo's API and seed tests, one agent equal to the
single-agent env of its role step by step, trades between agents settled for both,
same-time orders in a seeded order, the batched form equal to the unbatched env, clear
errors for bad input, scenarios."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("pettingzoo")

from pettingzoo.test import parallel_api_test, parallel_seed_test

import mars_gym
from lmm.data.orderflow import OrderKind
from lmm.model.checkpoint import Checkpoint
from lmm.model.outlook import N_OUTLOOK_FEATURES
from mars_gym.envs.multi_agent import (
    AgentSpec,
    MarketParallelEnv,
    MarketParallelVectorEnv,
)
from mars_gym.envs.trading import MARKET
from mars_gym.simulator import AgentOrder, MarketSimulator, SimulatorConfig

FAST = {"warmup_orders": 30}
# three roles, ending at different times, one with a latency of its own
AGENTS = (
    AgentSpec("buyer", "execution", {"quantity": 600, "horizon": 5}),
    AgentSpec("maker", "market_making", {"horizon": 7}),
    AgentSpec("trader", "trading", {"horizon": 6}, latency_ms=20),
)


def _env(checkpoint: Path, agents: Any = AGENTS) -> MarketParallelEnv:
    return MarketParallelEnv(agents=agents, checkpoint=str(checkpoint), **FAST)


def _play(env: MarketParallelEnv, seed: int) -> list:
    """An episode with actions from seeded action spaces: everything the env returned."""
    obs, infos = env.reset(seed=seed)
    for k, name in enumerate(env.possible_agents):
        env.action_space(name).seed(seed + k)
    out = [(obs, infos)]
    while env.agents:
        actions = {name: env.action_space(name).sample() for name in env.agents}
        out.append(env.step(actions))
    return out


def _assert_equal(a: Any, b: Any) -> None:
    """Equal bit for bit, through dicts, tuples and lists of arrays and numbers."""
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _assert_equal(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _assert_equal(x, y)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    else:
        assert a == b and type(a) is type(b)


def test_parallel_api_test(tiny_checkpoint_dir: Path) -> None:
    parallel_api_test(_env(tiny_checkpoint_dir), num_cycles=20)


def test_parallel_seed_test(tiny_checkpoint_dir: Path) -> None:
    parallel_seed_test(lambda: _env(tiny_checkpoint_dir), num_cycles=20)


def test_a_seed_repeats_the_episode_bit_for_bit(tiny_checkpoint_dir: Path) -> None:
    """PettingZoo's seed test stops after one step; this plays whole episodes, twice in
    one env and once in another, and a second seed must give another episode."""
    env, other = _env(tiny_checkpoint_dir), _env(tiny_checkpoint_dir)
    first = _play(env, seed=3)
    assert len(first) == 1 + 7  # the maker's horizon is the longest
    _assert_equal(first, _play(env, seed=3))
    _assert_equal(first, _play(other, seed=3))
    with pytest.raises(AssertionError):
        _assert_equal(first, _play(env, seed=4))


# one agent in the multi-agent env, against the single-agent env of its role; the
# execution quantity is large enough that the deadline's forced buy happens
ROLES = {
    "execution": ("MarS-Execution-v0", {"quantity": 3_000, "horizon": 6}),
    "market_making": ("MarS-MarketMaking-v0", {"horizon": 8, "inventory_limit": 300}),
    "trading": ("MarS-v0", {"horizon": 8}),
}


@pytest.mark.parametrize("role", list(ROLES))
@pytest.mark.parametrize("latency_ms", [0.0, 300.0])
def test_one_agent_equals_the_single_agent_env(
    role: str, latency_ms: float, tiny_checkpoint_dir: Path
) -> None:
    env_id, args = ROLES[role]
    config = {"checkpoint": str(tiny_checkpoint_dir), "latency_ms": latency_ms, **FAST}
    single = gym.make(env_id, **args, **config).unwrapped
    multi = MarketParallelEnv(agents=[AgentSpec("solo", role, args)], **config)
    for seed in (0, 1):
        obs, info = single.reset(seed=seed)
        multi_obs, multi_info = multi.reset(seed=seed)
        _assert_equal({"solo": obs}, multi_obs)
        _assert_equal({"solo": info}, multi_info)
        single.action_space.seed(seed)
        steps = 0
        while multi.agents:
            action = single.action_space.sample()
            expected = single.step(action)
            got = multi.step({"solo": action})
            for value, per_agent in zip(expected, got, strict=True):
                _assert_equal({"solo": value}, per_agent)
            steps += 1
            if expected[2] or expected[3]:
                assert not multi.agents
        assert steps >= 2


def test_agents_trade_with_each_other_and_both_are_settled(tiny_checkpoint: Checkpoint) -> None:
    sim = MarketSimulator(1, SimulatorConfig(**FAST), tiny_checkpoint, agents=2)
    sim.reset([0], [4])
    book = sim.book(0)
    price = book.best_ask - 1 if book.best_ask - book.best_bid > 1 else book.best_ask
    sim.submit(0, [AgentOrder(OrderKind.LIMIT_SELL, price, 100)], agent=0)
    sim.submit(0, [AgentOrder(OrderKind.MARKET_BUY, 0, 100)], agent=1)  # same time, after
    (activity,) = sim.advance([0])
    (sold,) = sim.fills(0, agent=0)
    bought = sim.fills(0, agent=1)[0]
    assert (sold.side, sold.price, sold.size, sold.agent) == (-1, price, 100, 0)
    assert (bought.side, bought.price, bought.size, bought.agent) == (1, price, 100, 1)
    assert sold.order_id < bought.order_id and sold.time_ns == bought.time_ns
    assert {sold, bought} <= set(activity.agent_fills)
    for agent in (0, 1):  # every account is its fills, exactly
        fills = sim.fills(0, agent=agent)
        assert sim.inventory(0, agent) == sum(f.side * f.size for f in fills)
        assert sim.cash_ticks(0, agent) == -sum(f.side * f.size * f.price for f in fills)
    assert sim.inventory(0, 0) == -100 and sim.cash_ticks(0, 0) == 100 * price
    assert not sim.open_orders(0, 0)


def test_shares_and_cash_between_agents_conserve(tiny_checkpoint: Checkpoint) -> None:
    """Three agents with latencies of their own send random orders; the accounts rebuilt
    from the book's own record of every trade (the flow's fills, each naming its maker and
    taker order) equal the simulator's exactly, and trades between agents happened."""
    sim = MarketSimulator(1, SimulatorConfig(**FAST), tiny_checkpoint, agents=3)
    sim.reset([0], [2])
    latency = [0, 0, 1_000_000]
    rng = np.random.default_rng(0)
    owner: dict[int, int] = {}  # agent order id -> agent
    inventory, cash = [0, 0, 0], [0, 0, 0]
    between = 0
    for _ in range(40):
        for agent in rng.permutation(3).tolist():
            side = int(rng.choice([1, -1]))
            if rng.random() < 0.3:
                kind = OrderKind.MARKET_BUY if side == 1 else OrderKind.MARKET_SELL
                order = AgentOrder(kind, 0, int(rng.integers(1, 200)))
            else:
                kind = OrderKind.LIMIT_BUY if side == 1 else OrderKind.LIMIT_SELL
                price = sim.mid_x2(0) // 2 + side * int(rng.integers(-1, 2))
                order = AgentOrder(kind, price, int(rng.integers(1, 200)))
            orders = [order, *sim.cancel_all(0, agent)] if rng.random() < 0.3 else [order]
            sim.submit(0, orders, agent=agent, latency_ns=latency[agent])
        sim.advance([0])
        for event in sim.flow(0):
            r = event.realized
            if event.owner >= 0:
                owner[r.order_id] = event.owner
            for f in r.fills:
                maker = owner.get(f.maker_id)
                side = r.kind.side  # the taker's
                if event.owner >= 0:
                    inventory[event.owner] += side * f.size
                    cash[event.owner] -= side * f.size * f.price
                if maker is not None:
                    inventory[maker] -= side * f.size
                    cash[maker] += side * f.size * f.price
                    between += event.owner >= 0
        sim.clear_flow(0)
    assert between > 0, "the agents should have traded with each other"
    for agent in range(3):
        assert sim.inventory(0, agent) == inventory[agent]
        assert sim.cash_ticks(0, agent) == cash[agent]
        fills = sim.fills(0, agent=agent)
        assert sim.inventory(0, agent) == sum(f.side * f.size for f in fills)
        assert sim.cash_ticks(0, agent) == -sum(f.side * f.size * f.price for f in fills)


def test_same_time_orders_are_submitted_in_a_seeded_order(
    tiny_checkpoint_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Which agent's orders go first is drawn at every step: each is sometimes first, and
    a seed repeats the draws."""
    traders = [AgentSpec(f"t{k}", "trading", {"horizon": 16}) for k in range(3)]

    def firsts(seed: int) -> list[int]:
        env = _env(tiny_checkpoint_dir, traders)
        sim = env.runner.sim
        submitted: list[int] = []
        submit = sim.submit

        def record(i: int, orders: list, agent: int = 0, latency_ns: int | None = None) -> None:
            submitted.append(agent)
            submit(i, orders, agent, latency_ns)

        monkeypatch.setattr(sim, "submit", record)
        env.reset(seed=seed)
        while env.agents:
            env.step({name: [MARKET, 0, 0, 0] for name in env.agents})
        assert len(submitted) == 3 * 16
        return submitted[::3]

    first = firsts(5)
    assert set(first) == {0, 1, 2}
    assert firsts(5) == first and firsts(6) != first


def test_each_agent_has_its_own_latency(tiny_checkpoint_dir: Path) -> None:
    slow = AgentSpec("slow", "trading", {"horizon": 3}, latency_ms=250)
    fast = AgentSpec("fast", "trading", {"horizon": 3})
    env = _env(tiny_checkpoint_dir, [fast, slow])
    env.reset(seed=0)
    sim = env.runner.sim
    decided = sim.decision_ns[0]
    env.step({"fast": [MARKET, 0, 0, 0], "slow": [MARKET, 1, 0, 0]})  # buy, sell
    assert {f.time_ns for f in sim.fills(0, 0)} == {decided}
    assert {f.time_ns for f in sim.fills(0, 1)} == {decided + 250_000_000}


def test_a_finished_agent_leaves_the_market(tiny_checkpoint_dir: Path) -> None:
    """The maker ends first (its horizon); its quotes leave the book with it, and the
    trader goes on alone."""
    agents = [
        AgentSpec("maker", "market_making", {"horizon": 2}),
        AgentSpec("trader", "trading", {"horizon": 4}),
    ]
    env = _env(tiny_checkpoint_dir, agents)
    env.reset(seed=1)
    quote = [0, 0, 1, 1]
    env.step({"maker": quote, "trader": [0, 0, 0, 0]})
    assert env.runner.sim.open_orders(0, 0), "the maker should be quoting"
    *_, truncated, _ = env.step({"maker": quote, "trader": [0, 0, 0, 0]})
    assert truncated["maker"] and env.agents == ["trader"]
    assert not env.runner.sim.open_orders(0, 0)
    obs, *_ = env.step({"trader": [0, 0, 0, 0]})
    assert list(obs) == ["trader"]


@pytest.mark.parametrize(("seed", "ends_with"), [(7, None), ([3, 9], None), (5, "trader")])
def test_the_batched_env_equals_the_unbatched_one(
    tiny_checkpoint_dir: Path, seed: Any, ends_with: str | None
) -> None:
    """Market k of the batched env plays MarketParallelEnv seeded s + k (or the k-th
    seed), step for step, across episode ends: a market whose episode is over starts anew
    at the next step, as the unbatched env after reset()."""
    config = {"checkpoint": str(tiny_checkpoint_dir), "ends_with": ends_with, **FAST}
    venv = MarketParallelVectorEnv(2, agents=AGENTS, **config)
    seeds = [seed, seed + 1] if isinstance(seed, int) else seed
    envs = [MarketParallelEnv(agents=AGENTS, **config) for _ in seeds]
    obs, _ = venv.reset(seed=seed)
    for k, (env, s) in enumerate(zip(envs, seeds, strict=True)):
        o, _ = env.reset(seed=s)
        _assert_equal(o, {name: obs[name][k] for name in o})
    rng = np.random.default_rng(0)
    names = list(venv.possible_agents)
    for _ in range(17):  # past two episode ends (the longest agent has 7 decisions)
        actions = {
            name: np.stack([venv.action_spaces[name].sample() for _ in envs]) for name in names
        }
        rng.shuffle(names)  # the dict's order does not matter
        acting = [[name for name in names if venv.active[name][k]] for k in range(2)]
        got = venv.step(actions)
        for k, env in enumerate(envs):
            if not env.agents:  # the batched env starts the next episode
                o, _ = env.reset()
                for name in names:
                    np.testing.assert_array_equal(got[0][name][k], o[name])
                    assert got[1][name][k] == 0 and not got[2][name][k] and not got[3][name][k]
                continue
            assert sorted(acting[k]) == sorted(env.agents)
            expected = env.step({name: actions[name][k] for name in env.agents})
            for d_expected, d_got in zip(expected, got, strict=True):
                for name in names:
                    if name in d_expected:
                        _assert_equal(d_expected[name], _item(d_got[name][k]))
                    else:  # an agent that finished earlier in this episode
                        assert not venv.active[name][k]


def _transcript(venv: MarketParallelVectorEnv, steps: int, seed: int) -> list[list]:
    """Per market, what the batched env told of it over ``steps`` steps with actions that
    depend only on the market and how many decisions it has made: ``("reset", obs)`` at an
    episode's start, then per step each acting agent's observation after it (its last
    one, where SAME_STEP moved that into the info), reward, ends and info."""
    names = venv.possible_agents
    obs, _ = venv.reset(seed=seed)
    out: list[list] = [[("reset", {n: obs[n][k] for n in names})] for k in range(venv.num_envs)]
    decisions = [0] * venv.num_envs
    for _ in range(steps):
        acting = {n: venv.active[n].copy() for n in names}
        starting = [not any(acting[n][k] for n in names) for k in range(venv.num_envs)]
        actions = {}
        for a, n in enumerate(names):
            space = venv.action_spaces[n]
            rows = [
                np.random.default_rng([k, decisions[k], a]).random(space.shape)
                for k in range(venv.num_envs)
            ]
            actions[n] = (np.stack(rows) * space.nvec).astype(np.int64)
        obs, rewards, term, trunc, infos = venv.step(actions)
        for k in range(venv.num_envs):
            if starting[k]:  # NEXT_STEP: this step started the next episode
                out[k].append(("reset", {n: obs[n][k] for n in names}))
                continue
            decisions[k] += 1
            for n in names:
                if acting[n][k]:
                    info = dict(infos[n][k])
                    last = info.pop("final_obs", obs[n][k])
                    out[k].append((n, last, rewards[n][k], term[n][k], trunc[n][k], info))
            if any("final_obs" in infos[n][k] for n in names):  # SAME_STEP: a new episode
                out[k].append(("reset", {n: obs[n][k] for n in names}))
    return out


def test_same_step_autoreset_tells_what_next_step_tells(tiny_checkpoint_dir: Path) -> None:
    """SAME_STEP starts a market's next episode at the step its last agent ends (the last
    observations in the infos); NEXT_STEP at the step after: the same episodes, events for
    events, across two episode ends."""
    config = {"checkpoint": str(tiny_checkpoint_dir), **FAST}
    same = MarketParallelVectorEnv(2, agents=AGENTS, autoreset_mode="SameStep", **config)
    assert same.metadata["autoreset_mode"] == gym.vector.AutoresetMode.SAME_STEP
    got = _transcript(same, 15, seed=4)
    expected = _transcript(MarketParallelVectorEnv(2, agents=AGENTS, **config), 17, seed=4)
    for k in range(2):
        assert sum(e[0] == "reset" for e in got[k]) >= 3  # two episode ends
        n = min(len(got[k]), len(expected[k]))
        assert n >= len(got[k]) - 3
        _assert_equal(got[k][:n], expected[k][:n])


def test_ends_with_ends_the_episode_with_that_agent(tiny_checkpoint_dir: Path) -> None:
    """With ``ends_with``, the market's episode is over when that agent's is: the others
    still trading are truncated at that step, with their task's outcome of it."""
    agents = (
        AgentSpec("buyer", "execution", {"quantity": 600, "horizon": 8}),
        AgentSpec("maker", "market_making", {"horizon": 4}),
    )
    plain, ending = (
        _env(tiny_checkpoint_dir, agents),
        MarketParallelEnv(agents, "maker", checkpoint=str(tiny_checkpoint_dir), **FAST),
    )
    plain.reset(seed=3)
    ending.reset(seed=3)
    for step in range(1, 5):
        actions = {"buyer": np.array([1, 0]), "maker": np.array([1, 1, 1, 1])}
        a, b = plain.step(actions), ending.step(actions)
        if step < 4:
            _assert_equal(a, b)
    _, rewards, terminations, truncations, infos = b
    assert truncations == {"buyer": True, "maker": True} and ending.agents == []
    assert plain.agents == ["buyer"]  # without ends_with the buyer goes on
    assert rewards == a[1] and infos == a[4] and terminations == a[2]
    assert not ending.runner.sim.open_orders(0, 0)  # the buyer has left the market
    with pytest.raises(
        ValueError, match=r"ends_with must be one of the agents \['buyer', 'maker'\]"
    ):
        MarketParallelEnv(agents, "seller", checkpoint=str(tiny_checkpoint_dir), **FAST)
    with pytest.raises(ValueError, match="DISABLED is not supported"):
        MarketParallelVectorEnv(
            1, agents, autoreset_mode="Disabled", checkpoint=str(tiny_checkpoint_dir)
        )


def _item(value: Any) -> Any:
    """A batched entry as the unbatched env gives it (numpy scalars as Python ones)."""
    return value.item() if isinstance(value, np.generic) else value


def test_bad_input_gets_clear_errors(tiny_checkpoint_dir: Path) -> None:
    with pytest.raises(ValueError, match=r"role of agent 'x' must be one of .*, got 'hedger'"):
        AgentSpec("x", "hedger")
    with pytest.raises(ValueError, match="agent names must be unique, got 'a' 2 times"):
        _env(tiny_checkpoint_dir, [AgentSpec("a", "trading"), AgentSpec("a", "execution")])
    with pytest.raises(ValueError, match="at least one agent"):
        _env(tiny_checkpoint_dir, [])
    with pytest.raises(TypeError, match=r"agent 'a' \(execution\): .*'lots'"):
        _env(tiny_checkpoint_dir, [AgentSpec("a", "execution", {"lots": 3})])
    with pytest.raises(ValueError, match=r"agent 'a' \(execution\): side must be"):
        _env(tiny_checkpoint_dir, [AgentSpec("a", "execution", {"side": "hold"})])
    with pytest.raises(ValueError, match="latency_ms must be >= 0"):
        AgentSpec("a", "trading", latency_ms=-1)
    with pytest.raises(TypeError, match="'horizon' is not a SimulatorConfig field"):
        MarketParallelEnv(agents=AGENTS, horizon=5)
    env = _env(tiny_checkpoint_dir, [{"name": "a", "role": "trading"}, AgentSpec("b", "trading")])
    with pytest.raises(RuntimeError, match="reset"):
        env.step({"a": [0, 0, 0, 0], "b": [0, 0, 0, 0]})
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"agent 'b': action\[0\] = 4 is outside its bound 0\.\.3"):
        env.step({"a": [0, 0, 0, 0], "b": [4, 0, 0, 0]})
    with pytest.raises(ValueError, match="no action for agent 'b'"):
        env.step({"a": [0, 0, 0, 0]})
    with pytest.raises(ValueError, match="'c', which is not acting"):
        env.step({"a": [0, 0, 0, 0], "b": [0, 0, 0, 0], "c": [0, 0, 0, 0]})
    with pytest.raises(ValueError, match=r"agent must be one of \['a', 'b'\], got 'c'"):
        env.action_space("c")
    venv = MarketParallelVectorEnv(2, agents=AGENTS, checkpoint=str(tiny_checkpoint_dir), **FAST)
    venv.reset(seed=0)
    actions = {name: np.stack([space.sample()] * 2) for name, space in venv.action_spaces.items()}
    with pytest.raises(ValueError, match="actions of agent 'buyer' must have a leading"):
        venv.step({**actions, "buyer": actions["buyer"][:1]})


def test_an_agent_cancels_only_its_own_orders(tiny_checkpoint: Checkpoint) -> None:
    sim = MarketSimulator(1, SimulatorConfig(**FAST), tiny_checkpoint, agents=2)
    sim.reset([0], [0])
    sim.submit(0, [AgentOrder(OrderKind.LIMIT_BUY, sim.mid_x2(0) // 2 - 30, 10)], agent=0)
    sim.advance([0])
    (order,) = sim.open_orders(0, agent=0)
    cancel = AgentOrder(OrderKind.CANCEL_BUY, 0, 10, order.order_id)
    with pytest.raises(
        ValueError, match=f"target {order.order_id} is not a resting order of agent 1"
    ):
        sim.submit(0, [cancel], agent=1)
    with pytest.raises(ValueError, match=r"agent must be in 0\.\.1, got 2"):
        sim.inventory(0, agent=2)


def test_without_pettingzoo_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "mars_gym.envs.multi_agent")
    monkeypatch.setitem(sys.modules, "pettingzoo", None)  # as if not installed
    with pytest.raises(ImportError, match=r"pip install 'mars-lmm-gym\[multi\]'"):
        importlib.import_module("mars_gym.envs.multi_agent")
    with pytest.raises(ImportError, match="mars-lmm-gym"):
        mars_gym.parallel_env()


@pytest.mark.parametrize("batched", [False, True])
def test_the_markets_follow_a_scenario(batched: bool, tiny_outlook_checkpoint_dir: Path) -> None:
    config = {"checkpoint": str(tiny_outlook_checkpoint_dir), "scenario": "1m drift -20bp", **FAST}
    if batched:
        env = mars_gym.parallel_vector_env(2, agents=AGENTS, **config)
    else:
        env = mars_gym.parallel_env(agents=AGENTS, **config)
    env.reset(seed=0)
    sim = env.runner.sim
    for i in range(sim.n):
        assert np.all(sim.markets.history(i)[1][:, -N_OUTLOOK_FEATURES] == 1)
