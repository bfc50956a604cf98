"""The Large Market Model: a causal transformer over order tokens, conditioned on the book.

Position ``t`` of a sequence holds order ``t`` *and the book it left behind*: the input is
the order's token embedding plus a projection of the book features after the order was
applied (the state the next order meets). The output at ``t`` predicts order ``t + 1``.
So when the simulator injects an agent's order, both the token and the book it moved enter
the context, and the next generated order can react to it.

An order token combines four fields: kind, price bucket, size bin and time bin (see
:mod:`lmm.model.tokenizer`; ``token = (kp * S + s) * T + t`` with ``kp = kind * P + price``).
The model keeps one token per order but factorizes its distribution by the chain rule,

    p(token) = p(kp) * p(size | kp) * p(time | kp, size),

which is exact (the log-likelihood of a token is the sum of the three terms) and replaces a
softmax over ``6 P S T`` (thousands of) classes by three small ones: the output layer was
most of the cost of training on a CPU. The input embedding of a token is likewise the sum
of its field embeddings, so rare combinations share what their fields have in common.

A nanoGPT-style decoder (pre-norm blocks, learned positions) with a key/value cache for
incremental decoding of many independent sequences at once; each sequence may have its own
length (simulated markets diverge once agents act differently).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["LMM", "KVCache", "LMMConfig", "RowInvariantLinear", "sample"]

#: Linear layers compute rows in multiples of this many (padding with zeros), see
#: :class:`RowInvariantLinear`.
ROW_MULTIPLE = 16


@dataclass(frozen=True)
class LMMConfig:
    """Model shape, defined here only: the training recipe (:class:`lmm.model.train.TrainConfig`)
    takes its shape defaults from these. A checkpoint stores this as JSON and rebuilds the
    model from it.

    Attributes:
        n_kp: kind x price-bucket classes (the tokenizer's ``6 * n_price``).
        n_size: size bins.
        n_time: inter-arrival-time bins.
        n_book_features: length of the book-state feature vector per position.
        context: the longest sequence the model attends over.
        n_layer: transformer blocks.
        n_head: attention heads per block.
        n_embd: width of the residual stream (divisible by n_head).
        dropout: dropout rate while the model trains (none while it generates); 0 unless
            the training recipe asks for it.
        n_profile_features: length of the stock profile (:mod:`lmm.model.profile`) the model is
            conditioned on at every position; 0 (a model without one, as every checkpoint
            trained before profiles) takes none.
        n_memory_features: length of the memory features (:mod:`lmm.model.memory`) the
            model reads after the book features at every position; 0 (every checkpoint
            trained before them) reads none.
        n_outlook_features: length of the outlook features (:mod:`lmm.model.outlook`: what
            the coming minute does, the condition a scenario sets) the model reads after
            the memory features at every position; 0 (every checkpoint trained before
            scenarios) reads none.
    """

    n_kp: int
    n_size: int
    n_time: int
    n_book_features: int
    context: int = 128
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    n_profile_features: int = 0
    n_memory_features: int = 0
    n_outlook_features: int = 0

    @property
    def n_inputs(self) -> int:
        """Length of the per-position input vector: book, memory and outlook features."""
        return self.n_book_features + self.n_memory_features + self.n_outlook_features

    def __post_init__(self) -> None:
        for name in (
            "n_kp",
            "n_size",
            "n_time",
            "n_book_features",
            "context",
            "n_layer",
            "n_head",
            "n_embd",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"LMMConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        for name in ("n_profile_features", "n_memory_features", "n_outlook_features"):
            if getattr(self, name) < 0:
                raise ValueError(f"LMMConfig.{name} must be >= 0, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def vocab_size(self) -> int:
        """Number of distinct order tokens."""
        return self.n_kp * self.n_size * self.n_time

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


@dataclass(frozen=True)
class CacheStep:
    """Where one forward pass writes into and reads from a :class:`KVCache`: the same for
    every layer, so it is worked out once per pass.

    Attributes:
        rows: (B,) cached sequences the inputs continue.
        pos: (B, T) cache positions of the new inputs.
        allowed: (B, 1, T, capacity) attention mask (a position sees itself and its past).
            Attention always runs over the cache's whole capacity, whatever the sequences'
            lengths: its sums are rounded differently over another span, and a sequence's
            result must not depend on the longest one beside it.
        all_rows: whether ``rows`` is every sequence in order (no gather needed).
    """

    rows: torch.Tensor
    pos: torch.Tensor
    allowed: torch.Tensor
    all_rows: bool

    @classmethod
    def plan(cls, cache: KVCache, rows: torch.Tensor, T: int) -> CacheStep:
        """The step that appends ``T`` positions to sequences ``rows``."""
        pos = cache.lengths[rows][:, None] + torch.arange(T, device=rows.device)  # (B, T)
        allowed = torch.arange(cache.capacity, device=rows.device)[None, None, :] <= pos[:, :, None]
        all_rows = len(rows) == cache.batch and bool(
            (rows == torch.arange(cache.batch, device=rows.device)).all()
        )
        return cls(rows, pos, allowed[:, None], all_rows)


@contextmanager
def _one_thread() -> Iterator[None]:
    """Run torch on one thread inside, whatever it runs on outside.

    Attention over the cache for a single new position is rounded differently on two
    threads than on one (torch 2.13's CPU kernel; checked by ``tests/lmm/test_model.py``),
    so a simulated market would depend on the machine's thread count: on one thread, a
    seed gives the same market everywhere. Switching the count costs well under a
    microsecond.
    """
    threads = torch.get_num_threads()
    if threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class RowInvariantLinear(nn.Linear):
    """``nn.Linear`` whose result for a row is bit for bit the same however many rows share
    the call.

    BLAS picks its kernel by the number of rows: on this project's CPUs a product of one to
    three rows (up to eleven with two threads) is rounded differently from one of many. A
    simulated market's next order would then depend on how many other markets happen to be
    generating in the same call, and a native vector env would drift away from
    ``SyncVectorEnv`` with the same seeds. Padding the rows with zeros to a multiple of
    :data:`ROW_MULTIPLE` keeps every call on the many-row kernel (checked by
    ``tests/lmm/test_model.py``); training batches are multiples already. Parameters and
    state-dict keys are those of ``nn.Linear``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, self.in_features)  # (N, in)
        n = rows.shape[0]  # not len(): Tensor.__len__ is Python, and this runs per layer
        pad = -n % ROW_MULTIPLE
        if pad:
            rows = torch.cat([rows, rows.new_zeros(pad, self.in_features)])
        out = F.linear(rows, self.weight, self.bias)  # (N + pad, out)
        return out[:n].view(*x.shape[:-1], self.out_features)


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention, with an optional cache."""

    def __init__(self, config: LMMConfig) -> None:
        super().__init__()
        self.n_head = config.n_head
        self.qkv = RowInvariantLinear(config.n_embd, 3 * config.n_embd)
        self.proj = RowInvariantLinear(config.n_embd, config.n_embd)
        self.dropout = config.dropout

    def forward(
        self,
        x: torch.Tensor,
        cache: KVCache | None = None,
        layer: int = 0,
        step: CacheStep | None = None,
    ) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        # (B, T, C) -> (B, H, T, D)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        drop = self.dropout if self.training else 0.0
        if cache is None or step is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=drop)
        else:
            y = self._attend_cached(q, k, v, cache, layer, step)
        return self.proj(y.transpose(1, 2).contiguous().view(B, T, C))

    @staticmethod
    def _attend_cached(
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        cache: KVCache,
        layer: int,
        step: CacheStep,
    ) -> torch.Tensor:
        # write the new keys/values at each sequence's own positions
        cache.k[layer][step.rows[:, None], :, step.pos] = k.transpose(1, 2)
        cache.v[layer][step.rows[:, None], :, step.pos] = v.transpose(1, 2)
        # attend over the whole cache (see CacheStep); gather rows only when not all step
        keys_k, keys_v = cache.k[layer], cache.v[layer]
        if not step.all_rows:
            keys_k, keys_v = keys_k.index_select(0, step.rows), keys_v.index_select(0, step.rows)
        with _one_thread():
            return F.scaled_dot_product_attention(q, keys_k, keys_v, attn_mask=step.allowed)


class Block(nn.Module):
    """Pre-norm transformer block."""

    def __init__(self, config: LMMConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(config)
        self.ln2 = nn.LayerNorm(config.n_embd)
        self.mlp = nn.Sequential(
            RowInvariantLinear(config.n_embd, 4 * config.n_embd),
            nn.GELU(),
            RowInvariantLinear(4 * config.n_embd, config.n_embd),
            nn.Dropout(config.dropout),
        )

    def forward(
        self, x: torch.Tensor, cache: KVCache | None, layer: int, step: CacheStep | None
    ) -> torch.Tensor:
        x = x + self.attn(self.ln1(x), cache, layer, step)
        return x + self.mlp(self.ln2(x))


class LMM(nn.Module):
    """Order-level generative model: next-order distribution from past orders and books.

    With ``config.n_profile_features > 0`` the model is also conditioned on a stock profile
    (:mod:`lmm.model.profile`), one per sequence: a linear projection of its difference from
    ``profile_center`` (a buffer, saved with the weights: the mean profile of the training
    days, and the profile used where none is given) is added at every position. With
    ``config.n_memory_features > 0`` it also reads memory features (:mod:`lmm.model.memory`)
    after the book features at every position, through a projection of their own, and with
    ``config.n_outlook_features > 0`` outlook features (:mod:`lmm.model.outlook`) after those,
    through another. The outlook's range in the training data is kept in the buffer
    ``outlook_range`` (``(3, 3)``: the 0.5th, 50th and 99.5th percentiles of each of
    :data:`lmm.model.outlook.OUTLOOK_VALUES`), what a scenario is checked against.
    """

    def __init__(self, config: LMMConfig) -> None:
        super().__init__()
        self.config = config
        C = config.n_embd
        self.kp_emb = nn.Embedding(config.n_kp, C)
        self.size_emb = nn.Embedding(config.n_size, C)
        self.time_emb = nn.Embedding(config.n_time, C)
        self.book_proj = nn.Sequential(
            RowInvariantLinear(config.n_book_features, C), nn.GELU(), RowInvariantLinear(C, C)
        )
        self.pos_emb = nn.Embedding(config.context, C)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(C)
        # output heads: kp from the hidden state; size given kp; time given kp and size
        self.kp_head = RowInvariantLinear(C, config.n_kp)
        self.kp_out = nn.Embedding(config.n_kp, C)
        self.size_head = nn.Sequential(nn.GELU(), RowInvariantLinear(C, config.n_size))
        self.size_out = nn.Embedding(config.n_size, C)
        self.time_head = nn.Sequential(nn.GELU(), RowInvariantLinear(C, config.n_time))
        # the optional inputs: constructing them draws from the seed before the
        # initialisation pass below, so a model with one starts as another seed's would
        # (not as the same model without it)
        if config.n_profile_features:
            self.profile_proj = RowInvariantLinear(config.n_profile_features, C)
            self.register_buffer("profile_center", torch.zeros(config.n_profile_features))
        if config.n_memory_features:
            self.memory_proj = nn.Sequential(
                RowInvariantLinear(config.n_memory_features, C),
                nn.GELU(),
                RowInvariantLinear(C, C),
            )
        if config.n_outlook_features:
            self.outlook_proj = nn.Sequential(
                RowInvariantLinear(config.n_outlook_features, C),
                nn.GELU(),
                RowInvariantLinear(C, C),
            )
            self.register_buffer("outlook_range", torch.zeros(3, 3, dtype=torch.float64))
        self.apply(_init_weights)

    # ------------------------------------------------------------------ tokens
    def split(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(kp, size bin, time bin) of tokens."""
        rest = torch.div(tokens, self.config.n_time, rounding_mode="floor")
        kp = torch.div(rest, self.config.n_size, rounding_mode="floor")
        return kp, rest - kp * self.config.n_size, tokens - rest * self.config.n_time

    def join(self, kp: torch.Tensor, size: torch.Tensor, time: torch.Tensor) -> torch.Tensor:
        """Tokens from their fields."""
        return (kp * self.config.n_size + size) * self.config.n_time + time

    # ------------------------------------------------------------------ network
    def forward(
        self,
        tokens: torch.Tensor,
        book: torch.Tensor,
        cache: KVCache | None = None,
        rows: torch.Tensor | None = None,
        profile: torch.Tensor | None = None,
        outlook_guidance: float = 1.0,
    ) -> torch.Tensor:
        """Hidden states that score the next order at every position.

        Args:
            tokens: (B, T) order tokens.
            book: (B, T, F) book features after each order, followed by its memory
                features and its outlook features for a model that reads them
                (F = ``config.n_inputs``).
            cache: continue the cached sequences (and append these positions to them).
            rows: with a cache, the (B,) indices of the cached sequences these inputs
                continue (default: all of them, in order). Other sequences are untouched,
                so sequences can grow at different paces.
            profile: (B, n_profile_features) the stock profile of each sequence, for a model
                conditioned on one (None: ``profile_center``); a model without one takes
                none.
            outlook_guidance: for a model with outlook features, how strongly it reads
                them: the outlook's embedding ``e(o)`` enters as ``e(0) + g * (e(o) -
                e(0))``, ``e(0)`` being an unknown outlook's (guidance in the embedding,
                after classifier-free guidance, which trains with the condition dropped for
                the same reason); 1 is the model as trained, and an unknown outlook reads
                the same at any ``g``.

        Returns:
            (B, T, n_embd) hidden states; feed them to :meth:`log_prob`,
            :meth:`kp_logits` or :meth:`sample_next`. Position t scores order t + 1.
        """
        B, T = tokens.shape
        F = self.config.n_inputs
        if book.shape != (B, T, F):
            raise ValueError(f"book features must have shape {(B, T, F)}, got {tuple(book.shape)}")
        if tokens.numel() and (
            int(tokens.min()) < 0 or int(tokens.max()) >= self.config.vocab_size
        ):
            raise ValueError(f"tokens must be in 0..{self.config.vocab_size - 1}")
        if cache is not None:
            rows = torch.arange(cache.batch) if rows is None else torch.as_tensor(rows)
            rows = rows.to(cache.lengths.device)
            if rows.shape != (B,):
                raise ValueError(f"rows must list one cached sequence per batch row ({B})")
            step = CacheStep.plan(cache, rows, T)
            pos = step.pos.to(tokens.device)
        else:
            step = None
            pos = torch.arange(T, device=tokens.device).expand(B, T)
        if B and int(pos[:, -1].max()) >= self.config.context:
            raise ValueError(
                f"sequence position {int(pos[:, -1].max())} exceeds the model's context "
                f"({self.config.context}); start a new cache from the last orders"
            )
        kp, size, time = self.split(tokens)
        x = self.kp_emb(kp) + self.size_emb(size) + self.time_emb(time)  # (B, T, C)
        n_book, n_memory = self.config.n_book_features, self.config.n_memory_features
        x = x + self.book_proj(book[..., :n_book])
        if n_memory:
            x = x + self.memory_proj(book[..., n_book : n_book + n_memory])
        if self.config.n_outlook_features:
            x = x + self._outlook_embedding(book[..., n_book + n_memory :], outlook_guidance)
        if self.config.n_profile_features:
            x = x + self.profile_embedding(profile, B)[:, None, :]
        elif profile is not None:
            raise ValueError("this model is not conditioned on a stock profile")
        x = self.drop(x + self.pos_emb(pos))
        for layer, block in enumerate(self.blocks):
            x = block(x, cache, layer, step)
        if cache is not None:
            cache.lengths[rows] += T
        return self.ln_f(x)

    def _outlook_embedding(self, outlook: torch.Tensor, guidance: float) -> torch.Tensor:
        """(B, T, C) embeddings of the outlook features, with ``guidance`` (see forward)."""
        e = self.outlook_proj(outlook)
        if guidance == 1.0:
            return e
        unknown = self.outlook_proj(outlook.new_zeros(1, outlook.shape[-1]))[0]
        return unknown + guidance * (e - unknown)

    def profile_embedding(self, profile: torch.Tensor | None, B: int) -> torch.Tensor:
        """(B, C) what the model adds at every position of B sequences for their stock
        profiles ((B, n_profile_features); None: ``profile_center`` for each)."""
        P = self.config.n_profile_features
        if profile is None:
            profile = self.profile_center.expand(B, P)
        elif profile.shape != (B, P):
            raise ValueError(f"profile must have shape {(B, P)}, got {tuple(profile.shape)}")
        return self.profile_proj(profile.to(self.profile_center.dtype) - self.profile_center)

    def kp_logits(self, h: torch.Tensor) -> torch.Tensor:
        """(..., n_kp) logits of the next order's kind and price bucket."""
        return self.kp_head(h)

    def size_logits(self, h: torch.Tensor, kp: torch.Tensor) -> torch.Tensor:
        """(..., n_size) logits of its size bin given its kp."""
        return self.size_head(h + self.kp_out(kp))

    def time_logits(self, h: torch.Tensor, kp: torch.Tensor, size: torch.Tensor) -> torch.Tensor:
        """(..., n_time) logits of its time bin given its kp and size bin."""
        return self.time_head(h + self.kp_out(kp) + self.size_out(size))

    def log_prob(self, h: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Log-probability (nats) of ``targets`` (next-order tokens) under ``h``: (...,)."""
        kp, size, time = self.split(targets)
        return (
            _pick(self.kp_logits(h), kp)
            + _pick(self.size_logits(h, kp), size)
            + _pick(self.time_logits(h, kp, size), time)
        )

    def token_log_probs(self, h: torch.Tensor) -> torch.Tensor:
        """(B, vocab_size) log-probabilities of every token for (B, C) states.

        Enumerates the whole vocabulary: for evaluation and tests, not for sampling.
        """
        cfg = self.config
        B = h.shape[0]
        kp = torch.arange(cfg.n_kp).repeat_interleave(cfg.n_size)  # (n_kp * S,)
        size = torch.arange(cfg.n_size).repeat(cfg.n_kp)
        hk = h[:, None, :]  # (B, 1, C)
        lp_kp = torch.log_softmax(self.kp_logits(h), -1)[:, kp]  # (B, n_kp * S)
        lp_size = torch.log_softmax(self.size_logits(hk, kp[None]), -1)  # (B, n_kp*S, S)
        lp_size = lp_size.gather(-1, size[None, :, None].expand(B, -1, 1)).squeeze(-1)
        lp_time = torch.log_softmax(self.time_logits(hk, kp[None], size[None]), -1)
        return (lp_kp + lp_size)[..., None].add(lp_time).reshape(B, -1)

    @torch.no_grad()
    def sample_next(
        self,
        h: torch.Tensor,
        generators: list[torch.Generator],
        temperature: float = 1.0,
        kp_mask: torch.Tensor | None = None,
        kp_logits: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Draw the next token for each of B sequences from (B, C) states.

        Row ``b`` draws only from ``generators[b]`` (three uniforms per token, for its kp,
        size and time in turn), so a sequence's samples do not depend on which other
        sequences share the batch.

        Args:
            h: (B, C) hidden states of the last position of each sequence.
            generators: one seeded ``torch.Generator`` per row.
            temperature: as in :func:`sample`.
            kp_mask: optional (B, n_kp) bool mask of allowed kind/price classes.
            kp_logits: ``self.kp_logits(h)``, for a caller that has computed it already.
        """
        if len(generators) != len(h):
            raise ValueError(f"need one generator per row: {len(generators)} for {len(h)} rows")
        u = torch.stack([torch.rand(3, generator=g, dtype=torch.float64) for g in generators])
        if kp_logits is None:
            kp_logits = self.kp_logits(h)
        kp = sample(kp_logits, u[:, 0], temperature, kp_mask)
        size = sample(self.size_logits(h, kp), u[:, 1], temperature)
        time = sample(self.time_logits(h, kp, size), u[:, 2], temperature)
        return self.join(kp, size, time)

    def num_parameters(self) -> int:
        """Trainable parameters."""
        return sum(p.numel() for p in self.parameters())


def _pick(logits: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    return torch.log_softmax(logits, -1).gather(-1, index[..., None]).squeeze(-1)


def sample(
    logits: torch.Tensor,
    draws: torch.Generator | list[torch.Generator] | torch.Tensor,
    temperature: float = 1.0,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Draw one class per row of ``logits`` (B, K).

    Args:
        logits: (B, K) scores.
        draws: the randomness: one ``torch.Generator`` for all rows; one generator per row;
            or a (B,) tensor of uniforms in [0, 1), one per row. With one generator or
            uniform per row, row b's class depends only on its own draw (inverse-CDF
            sampling).
        temperature: > 0 samples from softmax(logits / temperature); 0 takes the argmax.
        mask: optional (B, K) bool tensor of allowed classes; every row needs one.

    Returns:
        (B,) long tensor of classes.
    """
    if not temperature >= 0:  # also rejects NaN
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if mask is not None:
        if not bool(mask.any(dim=-1).all()):
            raise ValueError("the mask leaves a row with no allowed class")
        logits = logits.masked_fill(~mask, float("-inf"))
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = logits.float()
    if temperature != 1:  # dividing by 1 changes no bit: skip the op
        logits = logits / temperature
    probs = torch.softmax(logits, dim=-1)
    if isinstance(draws, torch.Generator):
        return torch.multinomial(probs, 1, generator=draws).squeeze(-1)
    if isinstance(draws, torch.Tensor):
        u = draws.to(torch.float64).contiguous()
    else:
        u = torch.cat([torch.rand(1, generator=g, dtype=torch.float64) for g in draws])
    if u.shape != (len(probs),):
        raise ValueError(f"need one draw per row: {tuple(u.shape)} for {len(probs)} rows")
    u = u.to(probs.device)  # seeded CPU generators draw them, whatever runs the model
    cdf = probs.double().cumsum(-1)
    cdf[:, -1] = 1.0
    out = torch.searchsorted(cdf, u[:, None]).squeeze(-1)
    # never land on a class of zero probability (possible only at float edges)
    return torch.where(probs.gather(-1, out[:, None]).squeeze(-1) > 0, out, probs.argmax(-1))


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
