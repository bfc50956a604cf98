"""Named model sizes, a ladder from the fast checkpoint's shape to about 90 M parameters,
and the arithmetic a training run prints about its model.

Each rung widens the residual stream and deepens the stack, as language-model scaling
ladders do (GPT-2's small model is the top rung's shape). Parameter counts depend a little
on the tokenizer's class counts (the embeddings and output heads); with the default
tokenizer's (264 kind-price classes, 7 size bins, 12 time bins):

======== ======= ====== ====== ============
size     layers  heads  width  parameters
======== ======= ====== ====== ============
tiny     2       4      64     0.17 M (the ``fast`` checkpoint's shape)
default  4       4      128    0.94 M (the ``default`` checkpoint's)
small    6       8      256    5.1 M
medium   8       8      512    26 M
large    12      12     768    86 M
======== ======= ====== ====== ============
"""

from __future__ import annotations

from dataclasses import fields
from enum import Enum

from torch import nn

from lmm.model.transformer import LMM, LMMConfig

__all__ = ["ModelSize", "flops_per_token"]

_DEFAULTS = {f.name: f.default for f in fields(LMMConfig)}


class ModelSize(Enum):
    """A named model shape (``train-lmm --size``); explicit shape flags override it."""

    TINY = "tiny"
    DEFAULT = "default"
    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"

    @property
    def shape(self) -> dict[str, int]:
        """``n_layer``, ``n_head`` and ``n_embd`` of this size."""
        if self is ModelSize.DEFAULT:  # the model's own defaults, from their one definition
            return {k: _DEFAULTS[k] for k in ("n_layer", "n_head", "n_embd")}
        n_layer, n_head, n_embd = {
            ModelSize.TINY: (2, 4, 64),
            ModelSize.SMALL: (6, 8, 256),
            ModelSize.MEDIUM: (8, 8, 512),
            ModelSize.LARGE: (12, 12, 768),
        }[self]
        return {"n_layer": n_layer, "n_head": n_head, "n_embd": n_embd}


def flops_per_token(model: LMM) -> int:
    """Floating-point operations of one forward pass per training position.

    Every weight matrix costs two operations (a multiply and an add) per entry per
    position (embedding look-ups cost none), and attention over a full window of
    ``context`` positions costs ``4 * context * n_embd`` per layer (scores and weighted
    values; the causal mask's savings are not counted, the usual convention, as in
    PaLM's and nanoGPT's estimates). A training step costs about three times this
    (the backward pass twice the forward).
    """
    c = model.config
    matmul = sum(m.weight.numel() for m in model.modules() if isinstance(m, nn.Linear))
    return 2 * matmul + 4 * c.n_layer * c.context * c.n_embd
