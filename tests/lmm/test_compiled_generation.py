"""The compiled generation round equals the Python one, order by order and bit for bit."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import mars_gym  # noqa: F401  (registers the environments)
from lmm.data.orderflow import OrderKind
from lmm.engine.compiled import generation as cg
from lmm.model.checkpoint import Checkpoint, load_checkpoint
from lmm.model.dataset import build_dataset
from lmm.model.generate import LMMMarkets, OutsideOrder, StartState, synthetic_start


@pytest.fixture(scope="module")
def shipped() -> dict[str | None, Checkpoint]:
    return {name: load_checkpoint(name) for name in (None, "fast")}


def test_compiled_draws_consume_numpy_generators_exactly() -> None:
    """random() and integers(n), drawn in compiled code between Python draws of the same
    generator, give numpy's numbers and leave it where numpy would."""
    highs = np.random.default_rng(0).integers(1, 2**32, 3000)
    highs[::5], highs[::7], highs[::11] = 1, 2, 2**32  # no draw; one bit; the whole range
    for seed in range(3):
        ours, theirs = np.random.default_rng(seed), np.random.default_rng(seed)
        state = np.array([cg.rng_state(ours)])
        for high in highs.tolist():
            assert ours.random() == theirs.random()
            assert _integers(state, high) == theirs.integers(high)
        assert ours.random() == theirs.random()


def _integers(state: np.ndarray, high: int) -> int:
    return int(cg._integers(cg.RNG_FUNCTIONS, int(state[0]), high))


def test_only_pcg64_generators_are_accepted() -> None:
    with pytest.raises(TypeError, match="PCG64"):
        cg.rng_state(np.random.Generator(np.random.MT19937(0)))


def _session(
    checkpoint: Checkpoint, engine: str, start: StartState, seeds: list[int], steps: int
) -> list:
    """Everything observable of ``steps`` rounds of ``len(seeds)`` markets, with agent
    orders injected along the way (resting ones, protected from generated cancels; their
    cancels; sweeps of a whole side)."""
    n = len(seeds)
    m = LMMMarkets(checkpoint, n, engine=engine)
    for i, seed in enumerate(seeds):
        m.reset(i, start, seed)
    seen: list = []
    agent: list[int] = []
    for step in range(steps):
        seen.append(m.step())
        seen.append([m.book(i).snapshot(10).tolist() for i in range(n)])
        seen.append([(m.time_ns(i), m.mid_x2(i)) for i in range(n)])
        i = step % n
        book = m.book(i)
        if step % 23 == 5 and book.best_bid is not None:
            (r,) = m.inject([OutsideOrder(i, OrderKind.LIMIT_BUY, book.best_bid, 37, 0)])
            agent.append(r.order_id)
            seen.append(r)
        elif step % 23 == 16 and agent and agent[0] in m.book(0):
            seen.append(
                m.inject([OutsideOrder(0, OrderKind.CANCEL_BUY, 0, 10**6, 0, target=agent[0])])
            )
        elif step % 97 == 50:
            shares = sum(size for _, size in book.levels(-1, 10**4))
            seen.append(m.inject([OutsideOrder(i, OrderKind.MARKET_BUY, 2**62, shares, 0)]))
        m.propose()  # half the rounds go through a pending proposal
    seen.append(m.masked_rate)
    seen.append([m._market(i).history_tokens for i in range(n)])
    seen.append(m._h.numpy().tolist())
    return seen


@pytest.mark.parametrize("name", [None, "fast"])
def test_compiled_sessions_equal_python_sessions_from_the_synthetic_start(
    shipped: dict, name: str | None
) -> None:
    checkpoint = shipped[name]
    start = synthetic_start(checkpoint.tokenizer)
    seeds = [3, 17, 17, 2024]
    python, compiled = (_session(checkpoint, e, start, seeds, 300) for e in ("python", "compiled"))
    for a, b in zip(python, compiled, strict=True):
        assert a == b


@pytest.mark.parametrize("name", [None, "fast"])
def test_compiled_sessions_equal_python_sessions_from_a_real_start(
    shipped: dict, name: str | None, lobster_dir: Path
) -> None:
    checkpoint = shipped[name]
    files = [lobster_dir / "LOBSTER_SampleFile_GOOG_2012-06-21_10.zip"]
    day = build_dataset(files, tokenizer=checkpoint.tokenizer).days[0]
    start = day.start_state(day.index_at(36_000 * 10**9), checkpoint.model.config.context)
    python, compiled = (
        _session(checkpoint, e, start, [5, 6, 7], 200) for e in ("python", "compiled")
    )
    for a, b in zip(python, compiled, strict=True):
        assert a == b


def test_an_execution_rollout_is_the_same_under_both_engines() -> None:
    runs = []
    for engine in ("python", "compiled"):
        env = gym.make_vec(
            "MarS-Execution-v0",
            num_envs=16,
            vectorization_mode="vector_entry_point",
            checkpoint="fast",
            warmup_orders=50,
            engine=engine,
        )
        env.action_space.seed(7)
        obs, info = env.reset(seed=11)
        seen = [obs, info]
        for _ in range(20):
            seen.extend(env.step(env.action_space.sample()))
        env.close()
        runs.append(seen)
    for a, b in zip(*runs, strict=True):
        if isinstance(a, dict):
            assert a.keys() == b.keys()
            for key in a:
                np.testing.assert_array_equal(a[key], b[key])
        else:
            np.testing.assert_array_equal(a, b)


def test_an_unknown_engine_is_refused(shipped: dict) -> None:
    with pytest.raises(ValueError, match="engine must be one of python, compiled"):
        LMMMarkets(shipped["fast"], 1, engine="rust")
    with pytest.raises(ValueError, match="engine must be one of python, compiled"):
        gym.make("MarS-Execution-v0", engine="rust")
