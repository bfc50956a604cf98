"""Drawing a market for ``render_mode="rgb_array"`` and ``"human"``.

One figure with two panels: the book's cumulative depth against price (dollars), with the
agent's resting orders marked at their prices with their sizes, and the mid price over the
episode so far (seconds since its start), with the agent's fills as markers at their
prices (buys ▲, sells ▼). Everything is read through the simulator's public queries.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from lmm.engine.orderbook import Side
from lmm.units import NS_PER_SECOND
from mars_gym.simulator import MarketSimulator

__all__ = ["FIGSIZE", "draw_market", "market_frame"]

#: Figure size in inches; at :data:`_DPI` a frame is ``(400, 800, 3)``.
FIGSIZE = (8.0, 4.0)
_DPI = 100
_BID, _ASK, _MID = "tab:green", "tab:red", "tab:blue"


def draw_market(
    fig: Figure,
    sim: MarketSimulator,
    i: int,
    path: Sequence[tuple[int, float]],
    title: str,
    levels: int = 20,
) -> None:
    """Draw market ``i`` of ``sim`` on ``fig`` (cleared first).

    Args:
        fig: the figure to draw on.
        sim: the simulator.
        i: the market.
        path: ``(time ns, mid ticks)`` at each decision of the episode so far, oldest first.
        title: the figure's title (step, time, the task's state).
        levels: book levels per side in the depth chart.
    """
    fig.clear()
    depth_ax, mid_ax = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.0, 1.3]})
    _draw_depth(depth_ax, sim, i, levels)
    _draw_mid_path(mid_ax, sim, i, path)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()


def market_frame(
    sim: MarketSimulator, i: int, path: Sequence[tuple[int, float]], title: str
) -> np.ndarray:
    """:func:`draw_market` rendered off-screen (Agg, no pyplot) as an ``(H, W, 3)`` uint8
    RGB array."""
    fig = Figure(figsize=FIGSIZE, dpi=_DPI)
    canvas = FigureCanvasAgg(fig)
    draw_market(fig, sim, i, path, title)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def _draw_depth(ax: Axes, sim: MarketSimulator, i: int, levels: int) -> None:
    tick = sim.config.tick_size
    book = sim.book(i)
    for side, color, label in ((Side.BUY, _BID, "bids"), (Side.SELL, _ASK, "asks")):
        quotes = book.levels(side, levels)
        if not quotes:
            continue
        prices = np.array([p for p, _ in quotes]) * tick
        depth = np.cumsum([s for _, s in quotes])
        # from the best price outwards: the shares available at that price or better
        ax.fill_between(prices, depth, step="post", color=color, alpha=0.35, label=label)
        ax.step(prices, depth, where="post", color=color, lw=1)
    ax.axvline(sim.mid(i) * tick, color=_MID, ls="--", lw=1, label="mid")
    for order in sim.open_orders(i):
        color = _BID if order.side == Side.BUY else _ASK
        x = order.price * tick
        ax.bar(x, order.size, width=0.8 * tick, color="none", edgecolor="black", hatch="//")
        word = "buy" if order.side == Side.BUY else "sell"
        ax.annotate(
            f"agent {word}\n{order.size}",
            (x, order.size),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            fontsize=7,
            color=color,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1},
        )
    ax.set_xlabel("price ($)")
    ax.set_ylabel("cumulative depth (shares)")
    ax.set_title("order book", fontsize=9)
    ax.ticklabel_format(axis="x", useOffset=False)
    ax.legend(fontsize=7, loc="upper center")


def _draw_mid_path(
    ax: Axes, sim: MarketSimulator, i: int, path: Sequence[tuple[int, float]]
) -> None:
    tick = sim.config.tick_size
    start = path[0][0] if path else 0
    times = np.array([t - start for t, _ in path]) / NS_PER_SECOND
    mids = np.array([m for _, m in path]) * tick
    ax.plot(times, mids, color=_MID, lw=1.2, marker="." if len(path) < 30 else None, label="mid")
    for side, color, marker, label in (
        (1, _BID, "^", "agent bought"),
        (-1, _ASK, "v", "agent sold"),
    ):
        fills = [f for f in sim.fills(i) if f.side == side]
        if fills:
            ax.scatter(
                [(f.time_ns - start) / NS_PER_SECOND for f in fills],
                [f.price * tick for f in fills],
                s=[12 + 40 * min(f.size / 500, 1.0) for f in fills],
                color=color,
                marker=marker,
                edgecolor="black",
                linewidths=0.5,
                zorder=3,
                label=label,
            )
    ax.set_xlabel("time since episode start (s)")
    ax.set_ylabel("mid price ($)")
    ax.set_title("mid price and agent fills", fontsize=9)
    ax.ticklabel_format(axis="y", useOffset=False)
    ax.legend(fontsize=7, loc="best")
