"""Several agents in one generated market: a PettingZoo ``ParallelEnv`` and its batched form.

Each agent plays a role, one of the single-agent tasks (:data:`ROLES`): the same actions,
observation, reward and episode end as the environment of that role, with an account,
inventory, limits and latency of its own. All agents' orders go into the one book and into
the model's context; generated cancels never touch an agent's order; a trade between two
agents is booked to both (:class:`~mars_gym.simulator.MarketSimulator`).

**Same-time actions.** All agents decide at the same decision times. At each step the
order in which their orders are submitted is a permutation drawn from the market's seeded
generator (the env's ``np_random``), so no agent is always first; orders reaching the book
at the same nanosecond apply in that order (each agent's own orders in the order its task
made them), and an agent's ``latency_ms`` decides the rest: with different latencies, the
orders arrive, and apply, at different times. The tasks' outcomes (rewards, episode ends,
and an execution agent's forced buy at its deadline) are evaluated in the same drawn order.

**Agents that finish.** An agent whose episode ends (terminated or truncated) leaves the
market at once: its resting orders are cancelled and its orders on their way dropped. The
market goes on for the others; the episode ends when every agent has finished, or, with
``ends_with=name``, when that agent has: the others still in the market are truncated at
that step (their outcome for it is their task's, with ``truncated`` set) and leave with
it. Training one agent among fixed ones needs this: its episode is the market's.
PettingZoo's ``ParallelEnv`` does not reset by itself: call ``reset`` then.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode

try:
    from pettingzoo import ParallelEnv
except ImportError as error:  # an optional extra: `import mars_gym` works without it
    raise ImportError(
        "the multi-agent environment needs PettingZoo: pip install 'mars-lmm-gym[multi]'"
    ) from error

from mars_gym.envs.core import (
    Outcome,
    Task,
    market_seed,
    observation,
    observation_space,
    sub_env_seeds,
)
from mars_gym.envs.execution import ExecutionTask
from mars_gym.envs.market_making import MarketMakingTask
from mars_gym.envs.trading import TradingTask
from mars_gym.simulator import (
    MarketSimulator,
    SimulatorConfig,
    StepActivity,
    check_at_least,
    check_integer,
)

__all__ = [
    "DEFAULT_AGENTS",
    "ROLES",
    "AgentSpec",
    "MarketParallelEnv",
    "MarketParallelVectorEnv",
    "MultiAgentRunner",
    "agent_specs",
]

#: The roles an agent can play: the task of the single-agent environment of that name.
ROLES: dict[str, type[Task]] = {
    "execution": ExecutionTask,
    "market_making": MarketMakingTask,
    "trading": TradingTask,
}


@dataclass(frozen=True)
class AgentSpec:
    """One agent of a multi-agent market.

    Attributes:
        name: the agent's name, its key in every dict the environment takes and returns.
        role: the task it plays, a key of :data:`ROLES`: ``"execution"``,
            ``"market_making"`` or ``"trading"``.
        args: the task's arguments, those of the single-agent environment of its role (e.g.
            ``{"side": "sell", "quantity": 1000, "horizon": 60}``).
        latency_ms: delay between its decisions and its orders reaching the book; None for
            the simulator's ``latency_ms``.
    """

    name: str
    role: str
    args: Mapping[str, Any] = field(default_factory=dict)
    latency_ms: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        if self.role not in ROLES:
            raise ValueError(
                f"role of agent {self.name!r} must be one of {', '.join(ROLES)}, got {self.role!r}"
            )
        if not isinstance(self.args, Mapping):
            raise TypeError(
                f"args of agent {self.name!r} must be a mapping of its task's arguments, "
                f"got {self.args!r}"
            )
        if self.latency_ms is not None:
            check_at_least(0, latency_ms=self.latency_ms)

    @property
    def latency_ns(self) -> int | None:
        """Its latency in ns; None for the simulator's."""
        return None if self.latency_ms is None else round(self.latency_ms * 1_000_000)

    def task(self) -> Task:
        """A new task of its role with its arguments; a bad argument's error names the
        agent."""
        try:
            return ROLES[self.role](**self.args)
        except (TypeError, ValueError) as error:
            raise type(error)(f"agent {self.name!r} ({self.role}): {error}") from error


#: A buyer executing 2,000 shares within a minute and a market maker quoting for a minute.
DEFAULT_AGENTS: tuple[AgentSpec, ...] = (
    AgentSpec("buyer", "execution", {"side": "buy", "quantity": 2_000, "horizon": 60}),
    AgentSpec("maker", "market_making", {"horizon": 60}),
)


def agent_specs(agents: Sequence[AgentSpec | Mapping[str, Any]]) -> tuple[AgentSpec, ...]:
    """The agents as :class:`AgentSpec`\\ s (a mapping holds the fields, as in a config
    file), checked: at least one, names unique.

    Raises:
        TypeError: ``agents`` is not a sequence, or an entry is neither a spec nor a mapping.
        ValueError: no agents, or two with one name.
    """
    if isinstance(agents, (str, Mapping)) or not isinstance(agents, Sequence):
        raise TypeError(f"agents must be a sequence of AgentSpec, got {agents!r}")
    specs = []
    for entry in agents:
        if isinstance(entry, Mapping):
            entry = AgentSpec(**entry)
        if not isinstance(entry, AgentSpec):
            raise TypeError(f"each of agents must be an AgentSpec or a mapping, got {entry!r}")
        specs.append(entry)
    if not specs:
        raise ValueError("agents must name at least one agent, got none")
    names = [s.name for s in specs]
    for name in names:
        if names.count(name) > 1:
            raise ValueError(f"agent names must be unique, got {name!r} {names.count(name)} times")
    return tuple(specs)


def _simulator_config(kwargs: dict[str, Any]) -> SimulatorConfig:
    fields = SimulatorConfig.__dataclass_fields__
    for key in kwargs:
        if key not in fields:
            raise TypeError(
                f"{key!r} is not a SimulatorConfig field (an agent's task arguments go in its "
                "AgentSpec's args)"
            )
    return SimulatorConfig(**kwargs)


#: One agent's step: observation, reward, terminated, truncated, info.
AgentStep = tuple[np.ndarray, float, bool, bool, dict[str, Any]]


class MultiAgentRunner:
    """``n`` markets with the same agents in each, advanced together: one
    :class:`~mars_gym.simulator.MarketSimulator` whose model calls are batched over the
    markets. Agents are numbered in the order of ``specs``.

    Attributes:
        tasks: each agent's task.
        names: each agent's name.
        ends_with: the number of the agent whose episode end ends its market's (the
            others are truncated then), or None: a market ends when all its agents have.
        observation_spaces: each agent's observation space, by name.
        action_spaces: each agent's action space, by name.
        live: per market, the agents still in its episode, in their order.
        steps: per market, decisions so far in its episode.
    """

    def __init__(
        self,
        specs: tuple[AgentSpec, ...],
        n: int,
        config: SimulatorConfig,
        ends_with: str | None = None,
    ) -> None:
        self.specs = specs
        names = [s.name for s in specs]
        if ends_with is not None and ends_with not in names:
            raise ValueError(f"ends_with must be one of the agents {names}, got {ends_with!r}")
        self.ends_with = None if ends_with is None else names.index(ends_with)
        self.tasks = [s.task() for s in specs]
        self.sim = MarketSimulator(n, config, agents=len(specs))
        self.sim.check_horizon(max(t.horizon for t in self.tasks))
        self.views = [self.sim.view(a, s.latency_ns) for a, s in enumerate(specs)]
        self.n = n
        self.names = [s.name for s in specs]
        self.observation_spaces = {
            s.name: observation_space(t) for s, t in zip(specs, self.tasks, strict=True)
        }
        self.action_spaces = {
            s.name: t.action_space for s, t in zip(specs, self.tasks, strict=True)
        }
        self.states: list[list[dict]] = [[{} for _ in specs] for _ in range(n)]
        self.steps = np.zeros(n, dtype=np.int64)
        self.live: list[list[int]] = [[] for _ in range(n)]
        self._reported = [[0] * len(specs) for _ in range(n)]  # fills told to each task

    def reset(self, rows: list[int], seeds: list[int]) -> list[list[np.ndarray]]:
        """Start new episodes in ``rows`` with the given market seeds; every agent's first
        observation, per row."""
        self.sim.reset(rows, seeds)
        out = []
        for i in rows:
            self.steps[i] = 0
            self.live[i] = list(range(len(self.specs)))
            self._reported[i] = [0] * len(self.specs)
            self.states[i] = [t.start(v, i) for t, v in zip(self.tasks, self.views, strict=True)]
            out.append([self._observe(i, a) for a in self.live[i]])
            self.sim.clear_flow(i)
        return out

    def check_action(self, agent: int, action: Any) -> Any:
        """The agent's action validated by its task; a ValueError names the agent and the
        bound it breaks."""
        try:
            return self.tasks[agent].check_action(action)
        except ValueError as error:
            raise ValueError(f"agent {self.specs[agent].name!r}: {error}") from error

    def step(
        self, rows: list[int], actions: list[dict[int, Any]], rngs: list[np.random.Generator]
    ) -> list[dict[int, AgentStep]]:
        """One decision in ``rows``: ``actions[k]`` holds an action for every live agent of
        market ``rows[k]`` (by agent number), ``rngs[k]`` draws the order in which they are
        submitted (see the module docstring). Returns, per row, every agent that acted."""
        checked = [
            {a: self.check_action(a, acts[a]) for a in self.live[i]}
            for i, acts in zip(rows, actions, strict=True)
        ]
        orders = []
        for i, acts, rng in zip(rows, checked, rngs, strict=True):
            live = self.live[i]
            order = [live[k] for k in rng.permutation(len(live))]
            orders.append(order)
            for a in order:
                view = self.views[a]
                view.submit(i, self.tasks[a].orders(view, i, self.states[i][a], acts[a]))
        activity = self.sim.advance(rows)
        return [
            self._settle(i, act, order)
            for i, act, order in zip(rows, activity, orders, strict=True)
        ]

    def _settle(self, i: int, activity: StepActivity, order: list[int]) -> dict[int, AgentStep]:
        """Every acting agent's outcome in market ``i``, in the drawn ``order``; an agent
        that finishes is observed, then withdrawn at once, the others once all have acted."""
        self.steps[i] += 1
        step = int(self.steps[i])
        outcomes: dict[int, Outcome] = {}
        final: dict[int, np.ndarray] = {}
        for a in order:
            # its fills since its last outcome: in this step's orders, and in another
            # agent's forced execution after that outcome
            mine = StepActivity(activity.orders, self.sim.fills(i, a, self._reported[i][a]))
            outcome = self.tasks[a].outcome(self.views[a], i, self.states[i][a], mine, step)
            self._reported[i][a] = self.sim.fill_count(i, a)
            outcomes[a] = outcome
            if outcome.terminated or outcome.truncated:
                final[a] = self._observe(i, a)
                self.sim.withdraw(i, a)
        if self.ends_with in final:  # the market's episode is over: the others leave too
            for a in order:
                if a not in final:
                    outcomes[a] = replace(outcomes[a], truncated=True)
                    final[a] = self._observe(i, a)
                    self.sim.withdraw(i, a)
        results = {
            a: (
                final[a] if a in final else self._observe(i, a),
                float(o.reward),
                bool(o.terminated),
                bool(o.truncated),
                o.info,
            )
            for a, o in sorted(outcomes.items())
        }
        self.sim.clear_flow(i)
        self.live[i] = [a for a in self.live[i] if a not in final]
        return results

    def _observe(self, i: int, agent: int) -> np.ndarray:
        return observation(
            self.views[agent],
            i,
            self.tasks[agent],
            self.states[i][agent],
            int(self.steps[i]),
            self.sim.flow(i),
        )


class MarketParallelEnv(ParallelEnv):
    """## Description
    Several agents trading in one market generated order by order by the LMM, which reacts
    to all of them: an execution agent's buying moves the price a market maker quotes
    around. Each agent plays a role, the task of a single-agent environment
    (``"execution"``: MarS-Execution-v0, ``"market_making"``: MarS-MarketMaking-v0,
    ``"trading"``: MarS-v0), with its own account, inventory, limits and latency. Their
    orders share one book and the model's context; generated cancels never touch them; a
    trade between two agents is booked to both.

    ## Agents
    ``possible_agents`` are the names of ``agents`` in their order (default: ``"buyer"``,
    executing 2,000 shares within 60 decisions, and ``"maker"``, quoting for 60). All decide
    at the same decision times; at each step their orders are submitted in an order drawn
    from the env's seeded generator (no agent is always first), and orders that reach the
    book at the same nanosecond apply in that order; each agent's ``latency_ms`` decides the
    rest (see :mod:`mars_gym.envs.multi_agent`).

    ## Action Space
    Each agent's is its role's: ``MultiDiscrete([4 * max_slices + 1, 3])`` for execution,
    ``MultiDiscrete([K, K, M + 1, M + 1])`` for market making, ``MultiDiscrete([4, 2,
    2K + 1, M])`` for trading (see those environments). An action outside its space raises
    a ValueError naming the agent and the bound.

    ## Observation Space
    Each agent's is its role's ``Box`` (54 entries, 57 for execution): the book, the order
    flow since the last decision (generated orders and the other agents', its own left
    out), its own inventory, resting shares, cash and elapsed fraction, then its role's
    extras.

    ## Rewards
    Each agent's is its role's: minus the implementation shortfall (bp) for execution, the
    change of mark-to-market PnL (dollars) for trading, minus an inventory penalty for
    market making.

    ## Starting State
    As the single-agent environments: the start book and ``warmup_orders`` generated orders
    that depend on the seed, every agent with no inventory and no cash. With one agent and
    the same seed, the env plays exactly the single-agent environment of its role.

    ## Episode End
    Each agent ends as in its role (its terminations and truncations); an agent that ends
    leaves ``agents`` and the market: its resting orders are cancelled and its orders still
    on their way dropped. The market goes on for the others; the episode is over when
    ``agents`` is empty (PettingZoo's parallel envs do not reset by themselves). With
    ``ends_with=name`` it is over as soon as that agent ends: the others are truncated then.

    ## Arguments
    ``MarketParallelEnv(agents=DEFAULT_AGENTS, ends_with=None, **simulator)``, or
    ``mars_gym.parallel_env(...)``: ``agents`` a sequence of :class:`AgentSpec` (or of
    mappings with its fields: ``name``, ``role``, ``args``, ``latency_ms``); ``ends_with``
    the name of an agent whose end ends the episode, or None; ``simulator`` the fields of
    :class:`mars_gym.simulator.SimulatorConfig`. No rendering.

    ## Version History
    * v0: initial version.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "name": "mars_market_v0",
        "render_modes": [],
        "is_parallelizable": True,
    }

    def __init__(
        self,
        agents: Sequence[AgentSpec | Mapping[str, Any]] = DEFAULT_AGENTS,
        ends_with: str | None = None,
        **simulator: Any,
    ) -> None:
        self.runner = MultiAgentRunner(
            agent_specs(agents), 1, _simulator_config(simulator), ends_with
        )
        self.possible_agents = list(self.runner.names)
        self.agents: list[str] = []
        self.render_mode = None
        self._index = {name: a for a, name in enumerate(self.runner.names)}
        self.observation_spaces = self.runner.observation_spaces
        self.action_spaces = self.runner.action_spaces
        self._np_random: np.random.Generator | None = None

    def observation_space(self, agent: str) -> spaces.Space:
        """The agent's observation space (the same object at every call)."""
        return self.observation_spaces[self._name(agent)]

    def action_space(self, agent: str) -> spaces.Space:
        """The agent's action space (the same object at every call)."""
        return self.action_spaces[self._name(agent)]

    def _name(self, agent: str) -> str:
        if agent not in self._index:
            raise ValueError(f"agent must be one of {self.runner.names}, got {agent!r}")
        return agent

    @property
    def np_random(self) -> np.random.Generator:
        """The env's generator: market seeds and the order of same-time actions."""
        if self._np_random is None:
            self._np_random, _ = seeding.np_random()
        return self._np_random

    def reset(
        self, seed: int | None = None, options: dict | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
        if seed is not None:
            self._np_random, _ = seeding.np_random(seed)
        (obs,) = self.runner.reset([0], [market_seed(self.np_random)])
        self.agents = list(self.runner.names)
        return dict(zip(self.agents, obs, strict=True)), {name: {} for name in self.agents}

    def step(
        self, actions: Mapping[str, Any]
    ) -> tuple[
        dict[str, np.ndarray],
        dict[str, float],
        dict[str, bool],
        dict[str, bool],
        dict[str, dict],
    ]:
        if not self.agents:
            raise RuntimeError("no agent is acting: call reset() to start an episode")
        by_index = _actions_by_index(actions, self.agents, self._index)
        (results,) = self.runner.step([0], [by_index], [self.np_random])
        out: tuple[dict, dict, dict, dict, dict] = ({}, {}, {}, {}, {})
        for a, result in results.items():
            for d, value in zip(out, result, strict=True):
                d[self.runner.names[a]] = value
        self.agents = [self.runner.names[a] for a in self.runner.live[0]]
        return out

    def close(self) -> None:
        """Nothing to release: the market lives in this process."""


def _actions_by_index(
    actions: Mapping[str, Any], acting: list[str], index: dict[str, int]
) -> dict[int, Any]:
    """``actions`` keyed by agent number, checked to hold exactly the ``acting`` agents."""
    if not isinstance(actions, Mapping):
        raise TypeError(f"actions must be a dict of agent name to action, got {actions!r}")
    for name in actions:
        if name not in acting:
            raise ValueError(f"actions holds {name!r}, which is not acting; acting: {acting}")
    for name in acting:
        if name not in actions:
            raise ValueError(f"actions has no action for agent {name!r}; acting: {acting}")
    return {index[name]: action for name, action in actions.items()}


class MarketParallelVectorEnv:
    """``num_envs`` multi-agent markets in one process, the model batched over all of them
    (one model call per generated order, as :class:`~mars_gym.envs.core.TradingVectorEnv`).

    Not a PettingZoo API (it has none for batches): dicts of arrays, one row per market.
    ``reset`` returns every agent's ``(num_envs, d)`` observations and a list of infos;
    ``step`` takes each agent's ``(num_envs, ...)`` actions and returns observations,
    rewards (float64), terminations and truncations (bool), ``(num_envs,)`` each, and each
    agent's list of ``num_envs`` infos. ``active[name][k]`` says whether the agent acts in
    market ``k`` at the next step: its action there is read, and only there. An agent that
    has finished while others go on is inactive; its entries are zeros, False and ``{}``.

    A market whose episode is over (all its agents have finished, or the agent
    ``ends_with`` names) starts its next one by itself, as Gymnasium's vector envs do, in
    ``autoreset_mode``:

    * ``NEXT_STEP`` (the default): at the next step, whose entries are the first
      observations, with rewards 0, and every agent active again (its actions ignored);
    * ``SAME_STEP`` (what SB3 expects): at once. The step's observations are then the
      first of the next episode, and each agent that finished at that step finds its last
      observation in its info, as ``infos[name][k]["final_obs"]`` (beside the entries of
      its last info; an episode's first infos are empty, so nothing is lost); its reward,
      termination and truncation are its last step's.

    Market ``k`` of ``reset(seed=s)`` plays exactly :class:`MarketParallelEnv` (with the
    same ``agents`` and ``ends_with``) reset with ``seed=s + k``, step for step, in either
    mode (a list gives each market its seed; None continues each market's own stream).
    """

    def __init__(
        self,
        num_envs: int = 1,
        agents: Sequence[AgentSpec | Mapping[str, Any]] = DEFAULT_AGENTS,
        ends_with: str | None = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        **simulator: Any,
    ) -> None:
        check_integer(1, num_envs=num_envs)
        mode = AutoresetMode(autoreset_mode)
        if mode == AutoresetMode.DISABLED:
            raise ValueError("autoreset_mode DISABLED is not supported; use NEXT_STEP or SAME_STEP")
        self.autoreset_mode = mode
        self.metadata = {"autoreset_mode": mode}
        self.num_envs = int(num_envs)
        config = _simulator_config(simulator)
        self.runner = MultiAgentRunner(agent_specs(agents), self.num_envs, config, ends_with)
        self.ends_with = ends_with
        self.render_mode = None  # no rendering
        self.possible_agents = list(self.runner.names)
        self.observation_spaces = self.runner.observation_spaces
        self.action_spaces = self.runner.action_spaces
        self.active = {name: np.zeros(self.num_envs, dtype=bool) for name in self.runner.names}
        self._rngs = [seeding.np_random()[0] for _ in range(self.num_envs)]
        self._started = False

    @property
    def tasks(self) -> dict[str, Task]:
        """Each agent's task, by name (its parameters, e.g. to build a policy for it)."""
        return dict(zip(self.runner.names, self.runner.tasks, strict=True))

    def reset(
        self, seed: int | list[int] | None = None, options: dict | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, list[dict]]]:
        seeds = sub_env_seeds(seed, self.num_envs)
        self._rngs = [
            rng if s is None else seeding.np_random(s)[0]
            for rng, s in zip(self._rngs, seeds, strict=True)
        ]
        rows = list(range(self.num_envs))
        obs = self._blank_obs()
        for k, first in zip(rows, self._reset_rows(rows), strict=True):
            for a, o in enumerate(first):
                obs[self.runner.names[a]][k] = o
        self._started = True
        return obs, {name: [{} for _ in rows] for name in self.runner.names}

    def _reset_rows(self, rows: list[int]) -> list[list[np.ndarray]]:
        first = self.runner.reset(rows, [market_seed(self._rngs[k]) for k in rows])
        for name in self.runner.names:
            self.active[name][rows] = True
        return first

    def _blank_obs(self) -> dict[str, np.ndarray]:
        return {
            name: np.zeros((self.num_envs, *space.shape), dtype=np.float32)
            for name, space in self.observation_spaces.items()
        }

    def step(
        self, actions: Mapping[str, Any]
    ) -> tuple[
        dict[str, np.ndarray],
        dict[str, np.ndarray],
        dict[str, np.ndarray],
        dict[str, np.ndarray],
        dict[str, list[dict]],
    ]:
        if not self._started:
            raise RuntimeError("call reset() before step()")
        batched = _batched(actions, self.runner.names, self.num_envs)
        obs = self._blank_obs()
        rewards = {name: np.zeros(self.num_envs) for name in self.runner.names}
        terminated = {name: np.zeros(self.num_envs, dtype=bool) for name in self.runner.names}
        truncated = {name: np.zeros(self.num_envs, dtype=bool) for name in self.runner.names}
        infos: dict[str, list[dict]] = {
            name: [{} for _ in range(self.num_envs)] for name in self.runner.names
        }
        live = self.runner.live
        resets = [k for k in range(self.num_envs) if not live[k]]  # only in NEXT_STEP mode
        stepping = [k for k in range(self.num_envs) if live[k]]
        if resets:
            self._start_next(resets, obs)
        if stepping:
            acts = [{a: batched[self.runner.names[a]][k] for a in live[k]} for k in stepping]
            results = self.runner.step(stepping, acts, [self._rngs[k] for k in stepping])
            for k, result in zip(stepping, results, strict=True):
                for a, (o, r, term, trunc, info) in result.items():
                    name = self.runner.names[a]
                    obs[name][k], rewards[name][k] = o, r
                    terminated[name][k], truncated[name][k], infos[name][k] = term, trunc, info
                    self.active[name][k] = not (term or trunc)
        over = [k for k in stepping if not live[k]]
        if over and self.autoreset_mode == AutoresetMode.SAME_STEP:
            for k in over:
                for name in self.runner.names:
                    if terminated[name][k] or truncated[name][k]:  # it finished at this step
                        infos[name][k] = {**infos[name][k], "final_obs": obs[name][k].copy()}
            self._start_next(over, obs)
        return obs, rewards, terminated, truncated, infos

    def _start_next(self, rows: list[int], obs: dict[str, np.ndarray]) -> None:
        """Start the next episode in ``rows``, writing its first observations into ``obs``."""
        for k, first in zip(rows, self._reset_rows(rows), strict=True):
            for a, o in enumerate(first):
                obs[self.runner.names[a]][k] = o

    def close(self) -> None:
        """Nothing to release: the markets live in this process."""


def _batched(actions: Mapping[str, Any], names: list[str], num_envs: int) -> dict[str, np.ndarray]:
    """Each agent's actions as an array with one row per market, or a clear error."""
    if not isinstance(actions, Mapping):
        raise TypeError(f"actions must be a dict of agent name to actions, got {actions!r}")
    for name in actions:
        if name not in names:
            raise ValueError(f"actions holds {name!r}, which is not an agent; agents: {names}")
    out = {}
    for name in names:
        if name not in actions:
            raise ValueError(f"actions has no actions for agent {name!r}")
        arr = np.asarray(actions[name])
        if arr.shape[:1] != (num_envs,):
            raise ValueError(
                f"actions of agent {name!r} must have a leading dimension of {num_envs}, "
                f"got {arr.shape}"
            )
        out[name] = arr
    return out
