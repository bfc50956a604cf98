"""A simulated session with an agent, exported as LOBSTER files and replayed exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lmm.data.export import write_lobster
from lmm.data.lobster import EventType, read_lobster
from lmm.data.orderflow import OrderKind
from lmm.engine.recording import SessionRecorder
from lmm.engine.replay import replay
from lmm.model.checkpoint import load_checkpoint
from mars_gym.simulator import AgentOrder, MarketSimulator, SimulatorConfig


@pytest.fixture(scope="module")
def session() -> tuple[MarketSimulator, SessionRecorder, dict[int, int]]:
    """30 s of the packaged model's market with an agent that rests, takes and cancels;
    with the times (ns) of the agent's orders by decision step."""
    sim = MarketSimulator(1, SimulatorConfig(warmup_orders=0), load_checkpoint(None))
    # the plan needs a two-sided book at steps 5 and 6; the data-free start's first seconds
    # are turbulent, and seed 2 keeps both sides there (a test of the export, not the market)
    sim.reset([0], [2])
    recorder = sim.record(0, levels=10)
    # the first event joins the best bid: the file's first row then shows the whole book
    plan = {
        0: lambda: [AgentOrder(OrderKind.LIMIT_BUY, sim.book(0).best_bid, 100)],
        3: lambda: [AgentOrder(OrderKind.MARKET_BUY, 0, 400)],
        # crossing: takes the whole best bid level and rests 200 shares at its price
        5: lambda: [AgentOrder(OrderKind.LIMIT_SELL, bb(), sim.book(0).depth(1, bb()) + 200)],
        6: lambda: [AgentOrder(OrderKind.LIMIT_BUY, bb() - 5, 100)],
        8: lambda: sim.cancel_all(0),
        9: lambda: [AgentOrder(OrderKind.LIMIT_SELL, sim.book(0).best_ask + 1, 300)],
        12: lambda: [AgentOrder(OrderKind.CANCEL_SELL, 0, 100, sim.open_orders(0)[-1].order_id)],
    }
    times = {}
    bb = lambda: sim.book(0).best_bid  # noqa: E731
    for step in range(30):
        if step in plan:
            times[step] = sim.decision_ns[0]  # no latency: the orders reach the book then
            sim.submit(0, plan[step]())
        sim.advance([0])
    return sim, recorder, times


def test_export_replays_with_the_same_events_and_books(session, tmp_path: Path) -> None:
    sim, recorder, _ = session
    assert recorder.complete_start
    day = recorder.to_day(ticker="SIM", date="2012-06-21")
    (path,) = write_lobster(day, tmp_path, zipped=True)
    back = read_lobster(path)
    for name in back.messages.dtype.names:
        np.testing.assert_array_equal(back.messages[name], day.messages[name], err_msg=name)
    np.testing.assert_array_equal(back.book, day.book)
    _, report = replay(back, verify=True)
    assert report.match_rate == 1.0
    assert report.rows_matched_without_reconciliation == report.rows_compared == len(day) - 1
    assert report.reconciliations == report.unresolved_events == report.size_shortfalls == 0
    assert report.priority_violations == 0
    # the final book of the replay is the simulator's, at every level shown
    assert back.book[-1].ravel().tolist() == sim.book(0).snapshot_row(10)


def test_the_agents_orders_are_in_the_export(session) -> None:
    sim, recorder, times = session
    m = recorder.to_day().messages
    at = {step: m[m["time"] == t] for step, t in times.items()}
    assert at[0]["type"].tolist() == [EventType.SUBMIT] and at[0]["size"][0] == 100
    # the market buy: one execution per sell maker it hit, as many shares as the agent got
    bought = sum(f.size for f in sim.fills(0) if f.time_ns == times[3] and f.side == 1)
    assert len(at[3]) >= 2 and bought > 0
    assert (at[3]["type"] == EventType.EXECUTE).all() and (at[3]["direction"] == -1).all()
    assert at[3]["size"].sum() == bought
    # the crossing limit sell: executions of buy makers, then its remainder rests
    sold = sum(f.size for f in sim.fills(0) if f.time_ns == times[5] and f.side == -1)
    fills, rest = at[5][:-1], at[5][-1]
    assert (fills["type"] == EventType.EXECUTE).all() and (fills["direction"] == 1).all()
    assert fills["size"].sum() == sold > 0
    assert rest["type"] == EventType.SUBMIT and rest["size"] == 200
    # cancel_all deletes; cancelling 100 of the 300-share sell is a partial cancel
    assert len(at[8]) and (at[8]["type"] == EventType.DELETE).all()
    assert at[12][["type", "size", "direction"]].tolist() == [(EventType.CANCEL, 100, -1)]


def test_a_reset_ends_the_recording(session) -> None:
    sim, recorder, _ = session
    n = len(recorder)
    # the plan needs a two-sided book at steps 5 and 6; the data-free start's first seconds
    # are turbulent, and seed 2 keeps both sides there (a test of the export, not the market)
    sim.reset([0], [2])
    sim.advance([0])
    assert len(recorder) == n
