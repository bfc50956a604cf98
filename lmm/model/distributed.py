"""Training in one process or in several under ``torchrun``: who this process is, and the
few collective operations training needs.

``torchrun --nproc_per_node N`` starts N copies of a command and tells each its place
through the environment (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``,
``MASTER_PORT``). :func:`from_environment` reads them and joins the process group: gloo
when training on the CPU, NCCL on CUDA GPUs (each process on GPU ``LOCAL_RANK``). Without
them it returns the single process, whose operations here do nothing, so one training
loop serves both.

Rank 0 is the one that writes (logs, TensorBoard, run states, the checkpoint); the others
train and stay quiet.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.distributed as dist

from lmm.device import resolve_device

__all__ = ["Distributed", "from_environment"]


@dataclass(frozen=True)
class Distributed:
    """This process's place in a run.

    Attributes:
        rank: its index among the run's processes (0 writes).
        world: how many processes train together.
        local_rank: its index on this machine (which GPU it uses).
        device: where it trains.
    """

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        """Whether this process writes the run's logs and files."""
        return self.rank == 0

    def barrier(self) -> None:
        """Wait until every process has come here."""
        if self.world > 1:
            dist.barrier()

    def sum_(self, values: torch.Tensor) -> torch.Tensor:
        """Sum ``values`` over the processes, in place, and return it."""
        if self.world > 1:
            dist.all_reduce(values, op=dist.ReduceOp.SUM)
        return values

    def sum_array(self, values: np.ndarray) -> np.ndarray:
        """The elementwise sum of ``values`` over the processes (the array itself when alone)."""
        if self.world == 1:
            return values
        t = torch.from_numpy(np.ascontiguousarray(values)).to(self._collective_device)
        return self.sum_(t).cpu().numpy()

    def mean(self, value: float) -> float:
        """The mean of a number over the processes."""
        if self.world == 1:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=self._collective_device)
        return float(self.sum_(t)) / self.world

    def gather(self, value: object) -> list[object]:
        """Every process's ``value`` (any picklable object), in rank order, on every process."""
        if self.world == 1:
            return [value]
        out: list[object] = [None] * self.world
        dist.all_gather_object(out, value)
        return out

    def broadcast(self, value: object) -> object:
        """Rank 0's ``value`` on every process."""
        if self.world == 1:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def close(self, wait: bool = True) -> None:
        """Leave the process group (nothing when alone).

        Args:
            wait: first wait until every process has come here (a process that leaves
                while another still writes can abort in gloo's teardown); ``False`` after
                an error, when the others may never come.
        """
        if self.world > 1 and dist.is_initialized():
            if wait:
                dist.barrier()
            dist.destroy_process_group()

    @property
    def _collective_device(self) -> torch.device:
        # NCCL moves CUDA tensors only; gloo CPU ones
        return self.device if self.device.type == "cuda" else torch.device("cpu")


def from_environment(device: str = "auto") -> Distributed:
    """This process's place, from torchrun's environment; joins the process group when it
    is one of several. ``device`` is the recipe's (``TrainConfig.device``): under torchrun
    a CUDA device means GPU ``LOCAL_RANK``.

    Raises:
        ValueError: the environment names a world but not this process's rank, or more
            processes on this machine than it has GPUs.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    resolved = resolve_device(device, "TrainConfig.device")
    if world <= 1:
        return Distributed(device=resolved)
    try:
        rank, local_rank = int(os.environ["RANK"]), int(os.environ["LOCAL_RANK"])
    except KeyError as exc:
        raise ValueError(
            f"WORLD_SIZE is {world} but {exc.args[0]} is not set: start several processes "
            "with torchrun, which sets both"
        ) from None
    if resolved.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise ValueError(
                f"process {local_rank} on this machine has no GPU of its own "
                f"({torch.cuda.device_count()} GPUs): lower --nproc_per_node"
            )
        resolved = torch.device("cuda", local_rank)
        torch.cuda.set_device(resolved)
    if not dist.is_initialized():
        dist.init_process_group(
            backend="nccl" if resolved.type == "cuda" else "gloo",
            rank=rank,
            world_size=world,
        )
    return Distributed(rank=rank, world=world, local_rank=local_rank, device=resolved)
