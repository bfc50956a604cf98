"""MarS-Execution-v0: buy or sell a parent order of Q shares within T decisions."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from lmm.data.orderflow import OrderKind
from mars_gym.envs.core import Outcome, Task, TradingEnv, TradingVectorEnv
from mars_gym.simulator import (
    AgentFill,
    AgentOrder,
    AgentView,
    StepActivity,
    check_at_least,
    check_integer,
)

__all__ = ["ExecutionEnv", "ExecutionTask", "ExecutionVectorEnv"]

#: aggressiveness levels of a child order
PASSIVE, MID, CROSS = 0, 1, 2


class ExecutionTask(Task):
    """Execute a parent order; reward is implementation shortfall in basis points."""

    extra_fields = ("remaining_fraction", "time_left_fraction", "mid_move_ticks")

    def __init__(
        self,
        side: str = "buy",
        quantity: int = 2_000,
        horizon: int = 60,
        max_slices: int | None = None,
        terminal_penalty_bp: float = 5.0,
    ) -> None:
        if side not in ("buy", "sell"):
            raise ValueError(f"side must be 'buy' or 'sell', got {side!r}")
        max_slices = horizon if max_slices is None else max_slices
        check_integer(1, quantity=quantity, horizon=horizon, max_slices=max_slices)
        check_at_least(0.0, terminal_penalty_bp=terminal_penalty_bp)
        self.side = 1 if side == "buy" else -1
        self.quantity = int(quantity)
        self.horizon = int(horizon)
        self.terminal_penalty_bp = terminal_penalty_bp
        # (child size in quarters of a TWAP slice, aggressiveness)
        self.action_space = spaces.MultiDiscrete([4 * max_slices + 1, 3])

    def child_size(self, quarters: int) -> int:
        """Shares of a child order of ``quarters`` quarter TWAP slices (Q / T / 4 each)."""
        return round(quarters * self.quantity / self.horizon / 4)

    def start(self, sim: AgentView, i: int) -> dict:
        return {"arrival_mid": sim.mid(i), "remaining": self.quantity, "shortfall_bp": 0.0}

    def orders(self, sim: AgentView, i: int, state: dict, action: Any) -> list[AgentOrder]:
        quarters, aggressiveness = (int(a) for a in action)
        buy = self.side == 1
        # children live one interval: what did not fill is cancelled at the next decision
        out = sim.cancel_all(i)
        size = min(self.child_size(quarters), state["remaining"])
        if size <= 0:
            return out
        if aggressiveness == CROSS:
            return [
                *out,
                AgentOrder(OrderKind.MARKET_BUY if buy else OrderKind.MARKET_SELL, 0, size),
            ]
        mid2 = sim.mid_x2(i)
        at_mid = mid2 // 2 if buy else (mid2 + 1) // 2
        best = sim.book(i).best_bid if buy else sim.book(i).best_ask
        price = at_mid if aggressiveness == MID or best is None else best
        return [*out, AgentOrder(OrderKind.LIMIT_BUY if buy else OrderKind.LIMIT_SELL, price, size)]

    def outcome(
        self, sim: AgentView, i: int, state: dict, activity: StepActivity, step: int
    ) -> Outcome:
        cost = self._settle(state, activity.agent_fills)
        forced = unfilled = 0
        if state["remaining"] > 0 and step >= self.horizon:
            # time is up: cancel what rests, buy (sell) the rest at market, and pay a penalty
            forced = state["remaining"]
            buy = self.side == 1
            market = AgentOrder(OrderKind.MARKET_BUY if buy else OrderKind.MARKET_SELL, 0, forced)
            done = sim.execute_now(i, [*sim.cancel_all(i), market])
            cost += self._settle(state, done.agent_fills)
            unfilled = state["remaining"]
            if unfilled > 0:  # the book ran out before the parent order was done
                cost += self._charge(state, unfilled, self._sweep_price(sim, i, done.agent_fills))
            cost += self.terminal_penalty_bp * forced / self.quantity
        state["shortfall_bp"] += cost
        info = {
            "shortfall_bp": state["shortfall_bp"],
            "remaining": state["remaining"],
            "forced": forced,
            "unfilled": unfilled,
        }
        terminated = state["remaining"] <= 0 or forced > 0
        return Outcome(-cost, bool(terminated), False, info)

    def _sweep_price(self, sim: AgentView, i: int, fills: list[AgentFill]) -> int:
        """The worst price (ticks) the forced market order reached: its dearest fill for a
        buy, its cheapest for a sell; with no fill at all (the other side was empty), the
        quote implied by the mid on that side."""
        prices = [f.price for f in fills if f.side == self.side]
        if prices:
            return max(prices) if self.side == 1 else min(prices)
        mid2 = sim.mid_x2(i)
        return (mid2 + 1) // 2 if self.side == 1 else mid2 // 2

    def _charge(self, state: dict, shares: int, price: int) -> float:
        """Charge ``shares`` the book could not fill at ``price``: they count as done, at
        that price; their shortfall in bp of the parent."""
        return self._bp(state, self._book_trade(state, self.side, price, shares))

    def _settle(self, state: dict, fills: list[AgentFill]) -> float:
        """Book ``fills``; their shortfall against the arrival mid in bp of the parent."""
        cost = sum(self._book_trade(state, f.side, f.price, f.size) for f in fills)
        return self._bp(state, cost)

    def _book_trade(self, state: dict, side: int, price: int, shares: int) -> float:
        """Book ``shares`` traded on ``side`` (+1 bought) at ``price`` against the parent's
        remaining shares; the trade's shortfall against the arrival mid in ticks x shares
        (exact: ticks and half ticks times whole shares)."""
        done = shares * side * self.side
        state["remaining"] -= done
        return self.side * (price - state["arrival_mid"]) * done

    def _bp(self, state: dict, cost: float) -> float:
        """A shortfall in ticks x shares, in bp of the parent's notional at arrival."""
        return 1e4 * cost / (self.quantity * state["arrival_mid"])

    def describe(self, sim: AgentView, i: int, state: dict) -> str:
        word = "bought" if self.side == 1 else "sold"
        return (
            f"{word} {self.quantity - state['remaining']:,} of {self.quantity:,} sh, "
            f"shortfall {state['shortfall_bp']:.1f} bp"
        )

    def extra_observation(self, sim: AgentView, i: int, state: dict, step: int) -> np.ndarray:
        return np.array(
            [
                state["remaining"] / self.quantity,
                1.0 - step / self.horizon,
                sim.mid(i) - state["arrival_mid"],
            ],
            dtype=np.float32,
        )


class ExecutionEnv(TradingEnv):
    """## Description
    Optimal execution: buy (or sell) a parent order of ``quantity`` shares within
    ``horizon`` decisions in a market generated by the LMM, which reacts to the child orders.

    ## Action Space
    ``MultiDiscrete([4 * max_slices + 1, 3])``: (size, aggressiveness). Size index k sends a
    child order of ``k / 4`` TWAP slices (a slice is ``quantity / horizon`` shares; k = 4 is
    TWAP's pace), capped at what remains; ``max_slices`` defaults to ``horizon``, so the
    largest child is the whole parent order. Aggressiveness 0 joins the own side's best quote,
    1 posts at the mid (inside the spread), 2 crosses with a market order. A child limit
    order lives one interval: what has not filled is cancelled at the next decision.

    ## Observation Space
    ``Box(-inf, inf, (57,), float32)``: the shared 54 entries (see
    :mod:`mars_gym.envs.core`), then the remaining fraction of the parent order, the
    remaining fraction of time, and the mid's move since arrival (ticks).

    ## Rewards
    Minus the implementation shortfall of this step's fills (and, at the deadline, of the
    shares charged; see Episode End) against the arrival mid, in basis points of the parent
    order's notional (``quantity * arrival mid``): the episode's rewards sum to minus its
    shortfall in bp. Buying below the arrival mid earns a positive reward.

    ## Starting State
    As MarS-v0; the arrival mid is the mid when the episode starts.

    ## Episode End
    Terminated when the parent order is complete, or at the ``horizon``-th decision, when
    whatever remains is executed at market (a cost the reward includes) plus
    ``terminal_penalty_bp`` bp per unit of parent order forced. If that market order empties
    the other side of the book before it is done, every share it could not buy (sell) is
    charged at the worst price the sweep reached (with no fill at all, at the quote the mid
    implies on that side), so that each of the ``quantity`` shares is paid for: waiting can
    never be cheaper than the book it leaves. ``info`` reports the shares ``forced`` at the
    deadline and the ``unfilled`` ones among them that were charged. Not truncated: the
    task's deadline is part of the task.

    ## Arguments
    ``gym.make("MarS-Execution-v0", side="buy", quantity=2000, horizon=60, max_slices=None,
    terminal_penalty_bp=5.0, render_mode=None, **simulator)``.

    ``render_mode="rgb_array"`` renders the book's depth, the mid path and the agent's orders
    and fills as an image; ``"human"`` shows them in a window at every step.

    ## Version History
    * v0: initial version.
    """

    task_class = ExecutionTask


class ExecutionVectorEnv(TradingVectorEnv):
    """``num_envs`` MarS-Execution-v0 markets, the model batched across them (see
    :class:`ExecutionEnv`)."""

    task_class = ExecutionTask
