"""A native vector environment split over worker processes, to use more than one core.

A native vector environment (:class:`mars_gym.envs.core.TradingVectorEnv`) batches the
model across its markets, but the rest of the per-order work (matching engine, masks,
features, decoding) is Python and runs on one core. :class:`ShardedVectorEnv` runs
``workers`` native vector environments, each in its own process with its share of the
markets, steps them all at once and joins their results.

Sub-environment ``i`` is seeded exactly as in the single-process environment (``s + i`` for
a reset with seed ``s``), and a market's path never depends on which other markets share
its batch, so a sharded environment is step for step identical to the single-process one
(``tests/mars_gym/test_sharded.py``). Make one with
``gym.make_vec(env_id, num_envs=n, workers=k)``.

Each worker is a fresh Python process that imports only this module (and, through the
environment's entry point, what it needs), never the caller's script: a script, a notebook
or code piped to ``python -`` makes a sharded environment without the
``if __name__ == "__main__":`` guard that :mod:`multiprocessing`'s spawned processes need
(they re-run the caller's main module), and without forking a process whose torch threads
are already running. A worker sees the modules its parent sees (the parent's ``sys.path``)
and talks to it over a socket pair, with :mod:`multiprocessing.connection`'s messages.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import traceback
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
import torch
from gymnasium.envs.registration import load_env_creator
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from mars_gym.envs.core import batched_actions, split_kwargs, sub_env_info, sub_env_seeds
from mars_gym.simulator import check_integer

__all__ = ["ShardedVectorEnv", "shard_sizes"]


def shard_sizes(num_envs: int, workers: int) -> list[int]:
    """How many sub-environments each worker runs: as equal as possible, larger first."""
    check_integer(1, num_envs=num_envs, workers=workers)
    if workers > num_envs:
        raise ValueError(f"workers ({workers}) must not exceed num_envs ({num_envs})")
    base, extra = divmod(num_envs, workers)
    return [base + (j < extra) for j in range(workers)]


def serve(fd: int) -> None:
    """A worker's whole life: serve one native vector env over the connection on file
    descriptor ``fd`` until told to close (the parent's first message says which env)."""
    conn = Connection(fd)
    class_path, num_envs, torch_threads, kwargs = conn.recv()
    torch.set_num_threads(torch_threads)
    try:
        env = load_env_creator(class_path)(num_envs=num_envs, **kwargs)
        conn.send(("ok", (env.single_observation_space, env.single_action_space)))
    except Exception as exc:  # report, then stop: the parent raises it
        _send_error(conn, exc)
        conn.close()
        return
    while True:
        try:
            command, payload = conn.recv()
        except EOFError:  # the parent is gone
            command, payload = "close", None
        if command == "close":
            env.close()
            conn.close()
            return
        try:
            if command == "reset":
                result = env.reset(**payload)
            elif command == "step":
                result = env.step(payload)
            else:
                raise ValueError(f"unknown command {command!r}")
            conn.send(("ok", result))
        except Exception as exc:
            _send_error(conn, exc)


def _start_worker() -> tuple[Connection, subprocess.Popen]:
    """A fresh worker process running :func:`serve`, and the parent's end of its
    connection."""
    parent, child = socket.socketpair()
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    with child:
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                f"from mars_gym.envs.sharded import serve; serve({child.fileno()})",
            ],
            pass_fds=(child.fileno(),),
            env=environment,
        )
    return Connection(parent.detach()), process


def _send_error(conn: Connection, exc: Exception) -> None:
    """Send ``exc`` and its traceback (as text); a RuntimeError if it cannot be pickled."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    try:
        conn.send(("error", (exc, text)))
    except Exception:
        conn.send(("error", (RuntimeError(str(exc)), text)))


class ShardedVectorEnv(VectorEnv):
    """``num_envs`` markets of a native MarS vector environment, run by ``workers``
    processes.

    Args:
        class_path: the native vector environment, ``"module:Class"`` (what the
            environment registers as its ``vector_entry_point``).
        num_envs: sub-environments in all.
        workers: processes; each runs a native vector env of about ``num_envs / workers``
            markets with ``torch_threads`` torch threads.
        torch_threads: torch threads per worker (1: one core each).
        kwargs: the environment's keyword arguments (task and simulator settings, and
            ``autoreset_mode``), passed to every worker.

    Per-market internals (the simulator) live in the workers and are not reachable from
    here; everything the Gymnasium vector API returns is, and :attr:`task` (the task's
    parameters), as on the native env.
    """

    def __init__(
        self,
        class_path: str,
        num_envs: int,
        workers: int,
        torch_threads: int = 1,
        **kwargs: Any,
    ) -> None:
        # the task, built here too: its arguments are checked before any worker starts,
        # and actions are checked here, since a bad one must reach no worker (all markets
        # stay in step)
        task_args, _ = split_kwargs({k: v for k, v in kwargs.items() if k != "autoreset_mode"})
        self.task = load_env_creator(class_path).task_class(**task_args)
        self.sizes = shard_sizes(num_envs, workers)
        self.offsets = np.cumsum([0, *self.sizes[:-1]]).tolist()
        self.num_envs = num_envs
        self.autoreset_mode = AutoresetMode(kwargs.get("autoreset_mode", AutoresetMode.NEXT_STEP))
        self.metadata = {"render_modes": [], "autoreset_mode": self.autoreset_mode}
        self._conns: list[Connection] = []
        self._processes: list[subprocess.Popen] = []
        try:
            for size in self.sizes:
                conn, process = _start_worker()
                self._conns.append(conn)
                self._processes.append(process)
                conn.send((class_path, size, torch_threads, kwargs))
            spaces = self._gather()
        except Exception:
            self.close_extras()
            raise
        self.single_observation_space, self.single_action_space = spaces[0]
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)

    def reset(self, *, seed: int | list[int] | None = None, options: dict | None = None):
        seeds = sub_env_seeds(seed, self.num_envs)
        for conn, start, size in zip(self._conns, self.offsets, self.sizes, strict=True):
            shard = seeds[start : start + size]
            conn.send(("reset", {"seed": None if seed is None else shard, "options": options}))
        results = self._gather()
        obs = np.concatenate([o for o, _ in results])
        return obs, self._join_infos([info for _, info in results])

    def step(self, actions: Any):
        actions = batched_actions(actions, self.num_envs)
        for action in actions:
            self.task.check_action(action)
        for conn, start, size in zip(self._conns, self.offsets, self.sizes, strict=True):
            conn.send(("step", actions[start : start + size]))
        results = self._gather()
        obs, rewards, terminated, truncated = (
            np.concatenate([r[k] for r in results]) for k in range(4)
        )
        return obs, rewards, terminated, truncated, self._join_infos([r[4] for r in results])

    def close_extras(self, **kwargs: Any) -> None:
        """Stop the workers."""
        for conn in self._conns:
            with contextlib.suppress(BrokenPipeError, OSError):
                conn.send(("close", None))
        for conn in self._conns:
            conn.close()
        for process in self._processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def _gather(self) -> list[Any]:
        """Every worker's answer, in order. The first worker exception is raised here, as
        itself, caused by a RuntimeError that holds the worker's traceback."""
        answers = []
        for j, conn in enumerate(self._conns):
            try:
                answers.append(conn.recv())
            except EOFError:
                code = self._processes[j].wait()
                raise RuntimeError(
                    f"worker {j} of the sharded environment died (exit code {code}; what it "
                    "printed is on standard error)"
                ) from None
        for j, (status, payload) in enumerate(answers):
            if status == "error":
                exc, text = payload
                raise exc from RuntimeError(f"in worker {j} of the sharded environment:\n{text}")
        return [payload for _, payload in answers]

    def _join_infos(self, infos: list[dict]) -> dict:
        """One vector info dict from the workers' (sub-environment ``k`` of worker ``j`` is
        sub-environment ``offset_j + k``), built the way the native env builds its own."""
        joined: dict[str, Any] = {}
        for info, start, size in zip(infos, self.offsets, self.sizes, strict=True):
            for k in range(size):
                entry = sub_env_info(info, k)
                if entry:
                    joined = self._add_info(joined, entry, start + k)
        return joined
