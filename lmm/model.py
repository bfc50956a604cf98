"""The Large Market Model: a causal transformer over order tokens, conditioned on the book.

Position ``t`` of a sequence holds order ``t`` *and the book it left behind*: the input is
the order's token embedding plus a projection of the book features after the order was
applied (the state the next order meets). The output at ``t`` predicts order ``t + 1``.
So when the simulator injects an agent's order, both the token and the book it moved enter
the context, and the next generated order can react to it.

A nanoGPT-style decoder (pre-norm blocks, learned positions, tied input/output embeddings)
with a key/value cache for incremental decoding of many independent sequences at once; each
sequence may have its own length (simulated markets diverge once agents act differently).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["LMM", "KVCache", "LMMConfig", "sample"]


@dataclass(frozen=True)
class LMMConfig:
    """Model shape. A checkpoint stores this as JSON and rebuilds the model from it.

    Attributes:
        vocab_size: number of order tokens (from the tokenizer).
        n_book_features: length of the book-state feature vector per position.
        context: the longest sequence the model attends over.
        n_layer: transformer blocks.
        n_head: attention heads per block.
        n_embd: width of the residual stream (divisible by n_head).
        dropout: dropout rate during training.
    """

    vocab_size: int
    n_book_features: int
    context: int = 256
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0

    def __post_init__(self) -> None:
        for name in ("vocab_size", "n_book_features", "context", "n_layer", "n_head", "n_embd"):
            if getattr(self, name) < 1:
                raise ValueError(f"LMMConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    def to_dict(self) -> dict:
        """JSON-serialisable form."""
        return asdict(self)


class KVCache:
    """Keys and values of past positions for ``batch`` independent sequences.

    ``lengths[b]`` is how many positions sequence ``b`` holds; new positions are written
    after it, so sequences may grow at different paces.
    """

    def __init__(
        self,
        config: LMMConfig,
        batch: int,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        head_dim = config.n_embd // config.n_head
        shape = (config.n_layer, batch, config.n_head, config.context, head_dim)
        self.k = torch.zeros(shape, device=device, dtype=dtype)
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        self.lengths = torch.zeros(batch, dtype=torch.long, device=device)
        self.capacity = config.context

    @property
    def batch(self) -> int:
        """Number of sequences."""
        return self.k.shape[1]

    def reset(self, rows: torch.Tensor | None = None) -> None:
        """Empty all sequences, or only ``rows`` (a bool mask or index tensor)."""
        if rows is None:
            self.lengths.zero_()
        else:
            self.lengths[rows] = 0


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention, with an optional cache."""

    def __init__(self, config: LMMConfig) -> None:
        super().__init__()
        self.n_head = config.n_head
        self.qkv = nn.Linear(config.n_embd, 3 * config.n_embd)
        self.proj = nn.Linear(config.n_embd, config.n_embd)
        self.dropout = config.dropout

    def forward(
        self,
        x: torch.Tensor,
        cache: KVCache | None = None,
        layer: int = 0,
        rows: torch.Tensor | None = None,
    ) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        # (B, T, C) -> (B, H, T, D)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        drop = self.dropout if self.training else 0.0
        if cache is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=drop)
        else:
            y = self._attend_cached(q, k, v, cache, layer, rows)
        return self.proj(y.transpose(1, 2).contiguous().view(B, T, C))

    @staticmethod
    def _attend_cached(
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        cache: KVCache,
        layer: int,
        rows: torch.Tensor,
    ) -> torch.Tensor:
        T = q.shape[2]
        pos = cache.lengths[rows][:, None] + torch.arange(T, device=q.device)  # (B, T)
        # write the new keys/values at each sequence's own positions
        cache.k[layer][rows[:, None], :, pos] = k.transpose(1, 2)
        cache.v[layer][rows[:, None], :, pos] = v.transpose(1, 2)
        keys = torch.arange(cache.capacity, device=q.device)
        allowed = keys[None, None, :] <= pos[:, :, None]  # (B, T, capacity)
        return F.scaled_dot_product_attention(
            q, cache.k[layer][rows], cache.v[layer][rows], attn_mask=allowed[:, None]
        )


class Block(nn.Module):
    """Pre-norm transformer block."""

    def __init__(self, config: LMMConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(config)
        self.ln2 = nn.LayerNorm(config.n_embd)
        self.mlp = nn.Sequential(
            nn.Linear(config.n_embd, 4 * config.n_embd),
            nn.GELU(),
            nn.Linear(4 * config.n_embd, config.n_embd),
            nn.Dropout(config.dropout),
        )

    def forward(
        self, x: torch.Tensor, cache: KVCache | None, layer: int, rows: torch.Tensor | None
    ) -> torch.Tensor:
        x = x + self.attn(self.ln1(x), cache, layer, rows)
        return x + self.mlp(self.ln2(x))


class LMM(nn.Module):
    """Order-level generative model: next-order logits from past orders and book states."""

    def __init__(self, config: LMMConfig) -> None:
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.n_embd)
        self.book_proj = nn.Sequential(
            nn.Linear(config.n_book_features, config.n_embd),
            nn.GELU(),
            nn.Linear(config.n_embd, config.n_embd),
        )
        self.pos_emb = nn.Embedding(config.context, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.head.weight = self.tok_emb.weight  # tied embeddings
        self.apply(_init_weights)

    def forward(
        self,
        tokens: torch.Tensor,
        book: torch.Tensor,
        cache: KVCache | None = None,
        rows: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits for the next order at every position.

        Args:
            tokens: (B, T) order tokens.
            book: (B, T, F) book features after each order.
            cache: continue the cached sequences (and append these positions to them).
            rows: with a cache, the (B,) indices of the cached sequences these inputs
                continue (default: all of them, in order). Other sequences are untouched,
                so sequences can grow at different paces.

        Returns:
            (B, T, vocab_size) logits; position t scores order t + 1.
        """
        B, T = tokens.shape
        if book.shape != (B, T, self.config.n_book_features):
            raise ValueError(
                f"book features must have shape {(B, T, self.config.n_book_features)}, "
                f"got {tuple(book.shape)}"
            )
        if cache is not None:
            rows = torch.arange(cache.batch) if rows is None else torch.as_tensor(rows)
            rows = rows.to(cache.lengths.device)
            if rows.shape != (B,):
                raise ValueError(f"rows must list one cached sequence per batch row ({B})")
            start = cache.lengths[rows]
        else:
            start = torch.zeros(B, dtype=torch.long)
        pos = start.to(tokens.device)[:, None] + torch.arange(T, device=tokens.device)
        if int(pos.max()) >= self.config.context:
            raise ValueError(
                f"sequence position {int(pos.max())} exceeds the model's context "
                f"({self.config.context}); start a new cache from the last orders"
            )
        x = self.drop(self.tok_emb(tokens) + self.book_proj(book) + self.pos_emb(pos))  # (B, T, C)
        for layer, block in enumerate(self.blocks):
            x = block(x, cache, layer, rows)
        if cache is not None:
            cache.lengths[rows] += T
        return self.head(self.ln_f(x))  # (B, T, V)

    def num_parameters(self) -> int:
        """Trainable parameters (tied weights counted once)."""
        return sum(p.numel() for p in self.parameters())


def sample(
    logits: torch.Tensor,
    generator: torch.Generator,
    temperature: float = 1.0,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Draw one token per row of ``logits`` (B, V) using only ``generator``.

    Args:
        logits: (B, V) scores.
        generator: the explicit source of randomness (seeded by the caller, e.g. the env).
        temperature: > 0 samples from softmax(logits / temperature); 0 takes the argmax.
        mask: optional (B, V) bool tensor of allowed tokens; every row needs one.

    Returns:
        (B,) long tensor of tokens.
    """
    if temperature < 0 or temperature != temperature:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if mask is not None:
        if not bool(mask.any(dim=-1).all()):
            raise ValueError("the token mask leaves a row with no allowed token")
        logits = logits.masked_fill(~mask, float("-inf"))
    if temperature == 0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
