"""What every MarS environment shares: the simulator loop, observations, seeding, autoreset.

An environment is a :class:`Task` (its actions, rewards, episode end and extra observations)
run by :class:`TaskRunner` over a :class:`~mars_gym.simulator.MarketSimulator`; a task acts
through the agent's :class:`~mars_gym.simulator.AgentView` (its account, its orders), so that
the same task also plays one agent among several (:mod:`mars_gym.envs.multi_agent`). The single
environment (:class:`TradingEnv`) is a runner of one market; the native vector environment
(:class:`TradingVectorEnv`) is a runner of ``num_envs`` markets whose model calls are batched.
Both derive every market's seed the same way from their own ``np_random`` (sub-environment i
of a vector env seeded ``s`` uses ``s + i``), so the vector env with seed ``s`` behaves
step for step like ``SyncVectorEnv`` of single envs seeded ``s + i``.

Observation (float32, the same for every task, then the task's extras):

* the top ``K`` levels: for each level, ask distance from the mid (ticks), ask size (shares),
  bid distance from the mid (ticks, positive below it), bid size; empty levels are 0;
* the order flow since the last decision, the agent's own orders left out (the generated
  orders, and other agents' where there are several): counts of limit buys, limit sells,
  market buys, market sells, cancels on the bid, cancels on the ask; buyer- and
  seller-initiated traded shares; the last trade's distance from the mid (ticks, 0 if none);
* the agent: inventory (shares), shares in resting buy and sell orders, cash (dollars),
  elapsed fraction of the episode.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from lmm.units import NS_PER_SECOND
from mars_gym.simulator import (
    AgentOrder,
    AgentView,
    FlowEvent,
    MarketSimulator,
    SimulatorConfig,
    StepActivity,
    check_integer,
)

__all__ = [
    "BOOK_LEVELS",
    "OBSERVATION_FIELDS",
    "ORDER_COUNT_FIELDS",
    "Task",
    "TaskRunner",
    "TradingEnv",
    "TradingVectorEnv",
    "batched_actions",
    "market_seed",
    "observation",
    "observation_space",
    "split_kwargs",
    "sub_env_info",
    "sub_env_seeds",
]

#: Book levels per side in the observation.
BOOK_LEVELS = 10
#: The observation entries that count the generated orders since the last decision, one
#: per order kind, in :class:`lmm.data.orderflow.OrderKind`'s order.
ORDER_COUNT_FIELDS: tuple[str, ...] = (
    "limit_buys",
    "limit_sells",
    "market_buys",
    "market_sells",
    "cancels_bid",
    "cancels_ask",
)
#: Names of the observation entries every environment shares, in order.
OBSERVATION_FIELDS: tuple[str, ...] = (
    *(
        f"{name}_{level}"
        for level in range(1, BOOK_LEVELS + 1)
        for name in ("ask_distance", "ask_size", "bid_distance", "bid_size")
    ),
    *ORDER_COUNT_FIELDS,
    "bought_shares",
    "sold_shares",
    "last_trade_distance",
    "inventory",
    "resting_buy_shares",
    "resting_sell_shares",
    "cash_dollars",
    "elapsed_fraction",
)
_N_BASE_OBS = len(OBSERVATION_FIELDS)


@dataclass
class Outcome:
    """A task's verdict on one step."""

    reward: float
    terminated: bool
    truncated: bool
    info: dict[str, Any]


class Task(ABC):
    """What an environment asks of the agent. Subclasses document their units.

    Every method gets the agent's view of the simulator (``sim``) and the market ``i``."""

    #: the action space of one environment
    action_space: spaces.Space
    #: names of the task-specific observation entries (after OBSERVATION_FIELDS)
    extra_fields: tuple[str, ...] = ()
    #: episode length in decisions
    horizon: int

    @abstractmethod
    def start(self, sim: AgentView, i: int) -> dict:
        """Per-episode state of market ``i`` (called after the market is reset)."""

    @abstractmethod
    def orders(self, sim: AgentView, i: int, state: dict, action: Any) -> list[AgentOrder]:
        """The agent orders an action stands for (the action is already validated)."""

    @abstractmethod
    def outcome(
        self, sim: AgentView, i: int, state: dict, activity: StepActivity, step: int
    ) -> Outcome:
        """Reward and episode end after decision number ``step`` (from 1) played out."""

    def extra_observation(self, sim: AgentView, i: int, state: dict, step: int) -> np.ndarray:
        """Task-specific observation entries (float32, one per ``extra_fields`` name)."""
        return np.zeros(0, dtype=np.float32)

    def describe(self, sim: AgentView, i: int, state: dict) -> str:
        """A short line on the agent's state in market ``i``, for rendering."""
        value = (sim.cash_ticks(i) + sim.inventory(i) * sim.mid(i)) * sim.config.tick_size
        return f"inventory {sim.inventory(i):,} sh, PnL ${value:,.2f}"

    def check_action(self, action: Any) -> Any:
        """Validate an action, raising ValueError that names the bound it breaks."""
        space = self.action_space
        arr = np.asarray(action)
        if isinstance(space, spaces.MultiDiscrete):
            if arr.shape != space.shape:
                raise ValueError(f"action must have shape {space.shape}, got {arr.shape}")
            if not np.issubdtype(arr.dtype, np.integer):
                if not np.isfinite(arr.astype(float)).all() or (arr != np.round(arr)).any():
                    raise ValueError(f"action must be integers, got {arr!r}")
                arr = arr.astype(np.int64)
            for k, (a, n) in enumerate(zip(arr.tolist(), space.nvec.tolist(), strict=True)):
                if not 0 <= a < n:
                    raise ValueError(f"action[{k}] = {a} is outside its bound 0..{n - 1}")
            return arr
        if not space.contains(arr):
            raise ValueError(f"action {action!r} is not in {space}")
        return arr


def observation_space(task: Task) -> spaces.Box:
    """The observation space of an agent playing ``task`` (see the module docstring)."""
    return spaces.Box(
        -np.inf, np.inf, shape=(_N_BASE_OBS + len(task.extra_fields),), dtype=np.float32
    )


def observation(
    sim: AgentView, i: int, task: Task, state: dict, step: int, flow: list[FlowEvent]
) -> np.ndarray:
    """What the agent of ``sim`` playing ``task`` sees of market ``i`` after decision
    number ``step``, ``flow`` being the market's orders since its last observation (see the
    module docstring)."""
    mid = sim.mid(i)
    levels = np.zeros((BOOK_LEVELS, 4), dtype=np.float64)
    snap = sim.book(i).snapshot(BOOK_LEVELS).astype(np.float64)
    has_ask, has_bid = snap[:, 1] > 0, snap[:, 3] > 0
    levels[:, 0] = np.where(has_ask, snap[:, 0] - mid, 0.0)
    levels[:, 1] = snap[:, 1]
    levels[:, 2] = np.where(has_bid, mid - snap[:, 2], 0.0)
    levels[:, 3] = snap[:, 3]
    counts = np.zeros(6)
    bought = sold = 0.0
    last_trade = 0.0
    for owner, r in flow:
        if owner == sim.agent:
            continue
        counts[int(r.kind)] += 1
        for f in r.fills:
            if r.kind.side == 1:
                bought += f.size
            else:
                sold += f.size
            last_trade = f.price - mid
    resting = sim.open_orders(i)
    resting_buy = sum(s.size for s in resting if s.side == 1)
    resting_sell = sum(s.size for s in resting if s.side == -1)
    agent = [
        sim.inventory(i),
        resting_buy,
        resting_sell,
        sim.cash_ticks(i) * sim.config.tick_size,
        step / task.horizon,
    ]
    base = np.concatenate([levels.ravel(), counts, [bought, sold, last_trade], agent])
    extra = task.extra_observation(sim, i, state, step)
    return np.concatenate([base, extra]).astype(np.float32)


class TaskRunner:
    """``n`` episodes of a task, one per simulated market, advanced together."""

    def __init__(self, task: Task, n: int, config: SimulatorConfig) -> None:
        self.task = task
        self.sim = MarketSimulator(n, config)
        self.sim.check_horizon(task.horizon)
        self.view = self.sim.view(0)  # what the task acts through
        self.n = n
        self.states: list[dict] = [{} for _ in range(n)]
        self.steps = np.zeros(n, dtype=np.int64)
        self.observation_space = observation_space(task)

    def reset(self, rows: list[int], seeds: list[int]) -> list[np.ndarray]:
        """Start new episodes in ``rows`` with the given market seeds."""
        self.sim.reset(rows, seeds)
        for i in rows:
            self.states[i] = self.task.start(self.view, i)
            self.steps[i] = 0
        return [self.observe(i) for i in rows]

    def step(
        self, rows: list[int], actions: list[Any]
    ) -> list[tuple[np.ndarray, float, bool, bool, dict]]:
        """Apply one action per row and advance those markets to their next decision."""
        checked = [self.task.check_action(a) for a in actions]
        for i, a in zip(rows, checked, strict=True):
            self.view.submit(i, self.task.orders(self.view, i, self.states[i], a))
        activity = self.sim.advance(rows)
        out = []
        for i, act in zip(rows, activity, strict=True):
            self.steps[i] += 1
            result = self.task.outcome(self.view, i, self.states[i], act, int(self.steps[i]))
            out.append(
                (
                    self.observe(i),
                    result.reward,
                    result.terminated,
                    result.truncated,
                    result.info,
                )
            )
        return out

    def observe(self, i: int) -> np.ndarray:
        """The observation of market ``i`` (see the module docstring); the flow it counts
        starts afresh."""
        obs = observation(
            self.view, i, self.task, self.states[i], int(self.steps[i]), self.sim.flow(i)
        )
        self.sim.clear_flow(i)
        return obs


def market_seed(rng: np.random.Generator) -> int:
    """The seed of a market's generators, drawn from its environment's ``rng`` (the first
    draw after the environment is seeded: every environment draws it alike)."""
    return int(rng.integers(0, 2**62))


class TradingEnv(gym.Env):
    """One simulated market with an agent in it; subclasses name their :class:`Task`.

    Keyword arguments are the task's and the :class:`SimulatorConfig` fields.
    ``render_mode="rgb_array"`` makes :meth:`render` return the market as an RGB image;
    ``"human"`` shows it in a matplotlib window updated at every step (see
    :mod:`mars_gym.envs.render`). Without a render mode nothing is recorded or drawn.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["human", "rgb_array"], "render_fps": 4}
    task_class: ClassVar[type[Task]]

    def __init__(self, render_mode: str | None = None, **kwargs: Any) -> None:
        task_args, config = split_kwargs(kwargs)
        task = self.task_class(**task_args)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be one of {self.metadata['render_modes']}, got {render_mode!r}"
            )
        self.runner = TaskRunner(task, 1, config)
        self.action_space = task.action_space
        self.observation_space = self.runner.observation_space
        self.render_mode = render_mode
        self._path: list[tuple[int, float]] = []  # (decision ns, mid ticks), when rendering
        self._figure: Any = None  # the human-mode window, opened by the first render

    def reset(
        self, *, seed: int | None = None, options: dict | None = None
    ) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        (obs,) = self.runner.reset([0], [market_seed(self.np_random)])
        if self.render_mode is not None:
            self._path = [(self.runner.sim.decision_ns[0], self.runner.sim.mid(0))]
        if self.render_mode == "human":
            self.render()
        return obs, {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        if not self.runner.states[0]:
            raise RuntimeError("call reset() before step()")
        ((obs, reward, terminated, truncated, info),) = self.runner.step([0], [action])
        if self.render_mode is not None:
            self._path.append((self.runner.sim.decision_ns[0], self.runner.sim.mid(0)))
        if self.render_mode == "human":
            self.render()
        return obs, reward, terminated, truncated, info

    def render(self) -> np.ndarray | None:
        """The market as an ``(H, W, 3)`` uint8 image (``rgb_array``); drawn in a window
        (``human``, returns None); None without a render mode or before :meth:`reset`."""
        if self.render_mode is None or not self.runner.states[0]:
            return None
        from mars_gym.envs import render

        sim, step = self.runner.sim, int(self.runner.steps[0])
        seconds = (self._path[-1][0] - self._path[0][0]) / NS_PER_SECOND
        title = (
            f"step {step}/{self.runner.task.horizon}, t = {seconds:.1f} s: "
            f"{self.runner.task.describe(self.runner.view, 0, self.runner.states[0])}"
        )
        if self.render_mode == "rgb_array":
            return render.market_frame(sim, 0, self._path, title)
        import matplotlib.pyplot as plt

        if self._figure is None:
            self._figure = plt.figure(figsize=render.FIGSIZE)
        render.draw_market(self._figure, sim, 0, self._path, title)
        plt.figure(self._figure)  # plt.pause shows and waits on the active figure
        plt.pause(1 / self.metadata["render_fps"])
        return None

    def close(self) -> None:
        """Close the human-mode window, if one is open."""
        if self._figure is not None:
            import matplotlib.pyplot as plt

            plt.close(self._figure)
            self._figure = None
        super().close()


class TradingVectorEnv(VectorEnv):
    """``num_envs`` markets of one task; the model generates for all in batched calls.

    Keyword arguments are the task's and the :class:`SimulatorConfig` fields.
    ``gym.make_vec(env_id, num_envs, workers=k)`` splits the markets over ``k`` processes,
    each running one of these (:class:`mars_gym.envs.sharded.ShardedVectorEnv`).

    Each market needs about 1.3 MB with the default checkpoint (its KV cache, its share of
    the largest forward pass, its book: :func:`lmm.model.generate.memory_estimate`); a vector env
    that would need more than the machine has available is refused with a MemoryError
    before anything is allocated. Starting one (the first reset) generates
    ``warmup_orders`` orders in every market, about 6,000 a second on one core; a progress
    bar shows it when it takes seconds (``progress=``, see
    :class:`~mars_gym.simulator.SimulatorConfig`).
    """

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": [],
        "autoreset_mode": AutoresetMode.NEXT_STEP,
    }

    task_class: ClassVar[type[Task]]

    def __init__(
        self,
        num_envs: int = 1,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        **kwargs: Any,
    ) -> None:
        task_args, config = split_kwargs(kwargs)
        task = self.task_class(**task_args)
        check_integer(1, num_envs=num_envs)
        mode = AutoresetMode(autoreset_mode)
        if mode == AutoresetMode.DISABLED:
            raise ValueError("autoreset_mode DISABLED is not supported; use NEXT_STEP or SAME_STEP")
        self.metadata = {**self.metadata, "autoreset_mode": mode}
        self.autoreset_mode = mode
        self.num_envs = num_envs
        self.runner = TaskRunner(task, num_envs, config)
        self.single_action_space = task.action_space
        self.single_observation_space = self.runner.observation_space
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self._rngs = [seeding.np_random()[0] for _ in range(num_envs)]
        self._obs = np.zeros((num_envs, *self.single_observation_space.shape), dtype=np.float32)
        self._needs_reset = np.zeros(num_envs, dtype=bool)
        self._started = False

    @property
    def task(self) -> Task:
        """The task every sub-environment runs (its parameters, e.g. for policies)."""
        return self.runner.task

    def reset(self, *, seed: int | list[int] | None = None, options: dict | None = None):
        seeds = sub_env_seeds(seed, self.num_envs)
        # like a single env's reset: a seed reseeds, None continues the env's own stream
        self._rngs = [
            rng if s is None else seeding.np_random(s)[0]
            for rng, s in zip(self._rngs, seeds, strict=True)
        ]
        rows = list(range(self.num_envs))
        obs = self.runner.reset(rows, [market_seed(r) for r in self._rngs])
        self._obs = np.stack(obs)
        self._needs_reset[:] = False
        self._started = True
        return self._obs.copy(), {}

    def step(self, actions: Any):
        if not self._started:
            raise RuntimeError("call reset() before step()")
        actions = batched_actions(actions, self.num_envs)
        rewards = np.zeros(self.num_envs, dtype=np.float64)
        terminated = np.zeros(self.num_envs, dtype=bool)
        truncated = np.zeros(self.num_envs, dtype=bool)
        infos: dict[str, Any] = {}
        if self.autoreset_mode == AutoresetMode.NEXT_STEP:
            resets = np.flatnonzero(self._needs_reset).tolist()
            stepping = np.flatnonzero(~self._needs_reset).tolist()
            if resets:
                for i, o in zip(
                    resets,
                    self.runner.reset(resets, [market_seed(self._rngs[i]) for i in resets]),
                    strict=True,
                ):
                    self._obs[i] = o
                    infos = self._add_info(infos, {}, i)
        else:
            stepping = list(range(self.num_envs))
        results = self.runner.step(stepping, [actions[i] for i in stepping]) if stepping else []
        done_rows = []
        for i, (o, r, term, trunc, info) in zip(stepping, results, strict=True):
            self._obs[i], rewards[i], terminated[i], truncated[i] = o, r, term, trunc
            if self.autoreset_mode == AutoresetMode.SAME_STEP and (term or trunc):
                infos = self._add_info(infos, {"final_obs": o, "final_info": info}, i)
                done_rows.append(i)
                info = {}  # the info of the reset that follows, as SyncVectorEnv reports it
            infos = self._add_info(infos, info, i)
        if done_rows:
            fresh = self.runner.reset(done_rows, [market_seed(self._rngs[i]) for i in done_rows])
            for i, o in zip(done_rows, fresh, strict=True):
                self._obs[i] = o
        self._needs_reset = terminated | truncated
        return self._obs.copy(), rewards, terminated, truncated, infos

    def close_extras(self, **kwargs: Any) -> None:
        """Nothing to release: the markets live in this process."""


def sub_env_seeds(seed: int | list[int] | None, num_envs: int) -> list[int | None]:
    """The seed of every sub-environment for a vector env's ``reset(seed=...)``: ``s + i``
    for an int ``s``, the list as given (one per sub-environment), or None for each."""
    if seed is None:
        return [None] * num_envs
    if isinstance(seed, int):
        return [seed + i for i in range(num_envs)]
    if len(seed) != num_envs:
        raise ValueError(f"need {num_envs} seeds, got {len(seed)}")
    return list(seed)


def batched_actions(actions: Any, num_envs: int) -> np.ndarray:
    """``actions`` as an array with one row per sub-environment, or a ValueError."""
    actions = np.asarray(actions)
    if actions.shape[:1] != (num_envs,):
        raise ValueError(
            f"actions must have a leading dimension of {num_envs}, got {actions.shape}"
        )
    return actions


def split_kwargs(kwargs: dict[str, Any]) -> tuple[dict[str, Any], SimulatorConfig]:
    """Separate an environment's keyword arguments into task arguments and the
    :class:`SimulatorConfig` (whose field names it recognises)."""
    fields = SimulatorConfig.__dataclass_fields__
    sim = {k: v for k, v in kwargs.items() if k in fields}
    task = {k: v for k, v in kwargs.items() if k not in fields}
    return task, SimulatorConfig(**sim)


def sub_env_info(info: dict[str, Any], i: int) -> dict[str, Any]:
    """Environment ``i``'s entries of a Gymnasium vector info dict (arrays + masks)."""
    out = {}
    for key, value in info.items():
        if key.startswith("_") or not info[f"_{key}"][i]:
            continue
        out[key] = sub_env_info(value, i) if isinstance(value, dict) else value[i]
    return out
