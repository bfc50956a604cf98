"""What a training run reports as it goes: lines above the progress bar and, with a
folder, the same figures as TensorBoard scalars. In a run of several processes only rank
0 reports; the others' logs say nothing."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from tqdm import tqdm

__all__ = ["TrainingLog"]


class TrainingLog:
    """Lines of training figures (above the progress bar, if any) and, with a folder, the
    same figures as TensorBoard scalars.

    Args:
        steps: the run's last step (for the width of the step column).
        bar: the progress bar to print above, or None to print plainly.
        tensorboard_dir: folder for TensorBoard event files; None writes none.
        enabled: False silences the log (a process other than rank 0).
    """

    def __init__(
        self,
        steps: int,
        bar: tqdm | None,
        tensorboard_dir: str | Path | None,
        enabled: bool = True,
    ) -> None:
        self.steps, self.bar, self.enabled = steps, bar, enabled
        self.writer = None
        if tensorboard_dir is not None and enabled:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(tensorboard_dir))

    def start(
        self, parameters: int, flops: int, processes: int, batch: int, device: torch.device
    ) -> None:
        """Report the model's size and cost, and how the run is spread."""
        self._print(
            f"model: {parameters:,} parameters, {flops / 1e6:,.2f} MFLOP per token forward "
            f"({3 * flops / 1e6:,.2f} per training token); {processes} process"
            f"{'' if processes == 1 else 'es'} on {device.type}, {batch} windows per step"
        )

    def train(
        self, step: int, loss_bits: float, lr: float, tokens_per_second: float, flops: float
    ) -> None:
        """Report the training figures at ``step`` (``flops``: training FLOP per second)."""
        self._print(
            f"step {step:>{len(str(self.steps))}}/{self.steps}  train {loss_bits:.4f} bits  "
            f"lr {lr:.2e}  {tokens_per_second:,.0f} tokens/s  {flops / 1e9:,.2f} GFLOP/s"
        )
        if self.writer is not None:
            self.writer.add_scalar("train/loss_bits", loss_bits, step)
            self.writer.add_scalar("train/lr", lr, step)
            self.writer.add_scalar("train/tokens_per_second", tokens_per_second, step)

    def validation(self, step: int, loss_bits: float) -> None:
        """Report a validation pass at ``step``."""
        self._print(
            f"step {step:>{len(str(self.steps))}}/{self.steps}  validation {loss_bits:.4f} bits"
        )
        if self.writer is not None:
            self.writer.add_scalar("validation/loss_bits", loss_bits, step)

    def close(self) -> None:
        """Flush and close the event file."""
        if self.writer is not None:
            self.writer.close()

    def _print(self, line: str) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.write(line)
        else:
            print(line, flush=True)
