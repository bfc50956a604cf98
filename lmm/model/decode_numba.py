"""The LMM's decoding step compiled with numba: one new position per sequence, and sampling.

Inference only: the model is defined, trained and prefilled in torch
(:mod:`lmm.model.transformer`); :func:`export_weights` copies its parameters once into one
contiguous float32 buffer, and two ``@njit`` kernels do what a generation round asks of it:

* :func:`forward_step` appends one order (token and book features) to each of ``B`` cached
  sequences and writes their final hidden states (the model's forward for ``T = 1``);
* :func:`sample_step` draws each row's next token from its hidden state with the factorized
  heads (kind-and-price, then size, then time) and the row's own three uniforms, as
  :meth:`lmm.model.transformer.LMM.sample_next` does, and reports the probability mass the
  kind-and-price mask removed.

Both take rows in blocks (:data:`BLOCK`, and :data:`GROUP` rows per pass over a weight
matrix), every row through the same instructions, and a row reads only its own inputs and
cache: its result is the same bits whatever the batch holds, wherever the row sits in it,
and however many threads the process has. The sums are not torch's (no BLAS, another order
of additions, its own ``exp`` and ``erf``), so the numbers differ from torch's in the last
bits and a token can differ where a uniform falls within that distance of a class boundary:
this is another numerics path, opt in (``LMMMarkets(decoder="numba")``), reproducible on its
own terms.

The KV cache is the torch :class:`~lmm.model.transformer.KVCache`'s memory seen as numpy
arrays, so torch prefills (a reset, a trimmed context) and numba continues.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
from numba import njit

from lmm.compilation import announce_compiles
from lmm.model.transformer import LMM

__all__ = ["DecoderWeights", "export_weights", "forward_step", "sample_step"]

# the parameters in the buffer, in this order; per-layer ones stacked over layers
_NAMES = (
    "kp_emb",  # (n_kp, C)
    "size_emb",  # (n_size, C)
    "time_emb",  # (n_time, C)
    "pos_emb",  # (context, C)
    "book_w1",  # (C, F), as torch holds it: outputs along the first axis
    "book_b1",  # (C,)
    "book_w2",  # (C, C)
    "book_b2",  # (C,)
    "ln1_w",  # (L, C)
    "ln1_b",
    "qkv_w",  # (L, 3C, C)
    "qkv_b",  # (L, 3C)
    "proj_w",  # (L, C, C)
    "proj_b",  # (L, C)
    "ln2_w",
    "ln2_b",
    "fc1_w",  # (L, 4C, C)
    "fc1_b",  # (L, 4C)
    "fc2_w",  # (L, C, 4C)
    "fc2_b",  # (L, C)
    "lnf_w",  # (C,)
    "lnf_b",
    "kp_w",  # (n_kp, C)
    "kp_b",
    "kp_out",  # (n_kp, C)
    "size_w",  # (n_size, C)
    "size_b",
    "size_out",  # (n_size, C)
    "time_w",  # (n_time, C)
    "time_b",
)
(
    KP_EMB,
    SIZE_EMB,
    TIME_EMB,
    POS_EMB,
    BOOK_W1,
    BOOK_B1,
    BOOK_W2,
    BOOK_B2,
    LN1_W,
    LN1_B,
    QKV_W,
    QKV_B,
    PROJ_W,
    PROJ_B,
    LN2_W,
    LN2_B,
    FC1_W,
    FC1_B,
    FC2_W,
    FC2_B,
    LNF_W,
    LNF_B,
    KP_W,
    KP_B,
    KP_OUT,
    SIZE_W,
    SIZE_B,
    SIZE_OUT,
    TIME_W,
    TIME_B,
) = range(len(_NAMES))
# the model's shape, in DecoderWeights.dims
D_EMBD, D_HEAD, D_LAYER, D_FEAT, D_KP, D_SIZE, D_TIME, D_CONTEXT = range(8)
_SQRT_HALF = 1.0 / math.sqrt(2.0)


class DecoderWeights(NamedTuple):
    """An LMM's inference parameters for the kernels (from :func:`export_weights`).

    Attributes:
        buffer: every parameter, float32, one after another; a linear layer's weight as
            torch holds it (outputs by inputs), so that each output's sum runs along
            contiguous memory.
        offsets: (len(_NAMES) + 1,) int64 start of each parameter in ``buffer``.
        dims: int64 ``(n_embd, n_head, n_layer, n_book_features, n_kp, n_size, n_time,
            context)``.
        eps: the layer norms' epsilon.
    """

    buffer: np.ndarray
    offsets: np.ndarray
    dims: np.ndarray
    eps: float


def export_weights(model: LMM) -> DecoderWeights:
    """Copy ``model``'s parameters into a :class:`DecoderWeights` (once per model; later
    changes to the model are not seen)."""
    announce_compiles()  # the kernels compile on first use
    cfg = model.config
    blocks = list(model.blocks)
    norms = [m for b in blocks for m in (b.ln1, b.ln2)] + [model.ln_f]
    if len({n.eps for n in norms}) != 1:
        raise ValueError("the numba decoder needs one epsilon for every layer norm")

    def stack(get) -> torch.Tensor:
        return torch.stack([get(b) for b in blocks])

    params = {
        "kp_emb": model.kp_emb.weight,
        "size_emb": model.size_emb.weight,
        "time_emb": model.time_emb.weight,
        "pos_emb": model.pos_emb.weight,
        "book_w1": model.book_proj[0].weight,
        "book_b1": model.book_proj[0].bias,
        "book_w2": model.book_proj[2].weight,
        "book_b2": model.book_proj[2].bias,
        "ln1_w": stack(lambda b: b.ln1.weight),
        "ln1_b": stack(lambda b: b.ln1.bias),
        "qkv_w": stack(lambda b: b.attn.qkv.weight),
        "qkv_b": stack(lambda b: b.attn.qkv.bias),
        "proj_w": stack(lambda b: b.attn.proj.weight),
        "proj_b": stack(lambda b: b.attn.proj.bias),
        "ln2_w": stack(lambda b: b.ln2.weight),
        "ln2_b": stack(lambda b: b.ln2.bias),
        "fc1_w": stack(lambda b: b.mlp[0].weight),
        "fc1_b": stack(lambda b: b.mlp[0].bias),
        "fc2_w": stack(lambda b: b.mlp[2].weight),
        "fc2_b": stack(lambda b: b.mlp[2].bias),
        "lnf_w": model.ln_f.weight,
        "lnf_b": model.ln_f.bias,
        "kp_w": model.kp_head.weight,
        "kp_b": model.kp_head.bias,
        "kp_out": model.kp_out.weight,
        "size_w": model.size_head[1].weight,
        "size_b": model.size_head[1].bias,
        "size_out": model.size_out.weight,
        "time_w": model.time_head[1].weight,
        "time_b": model.time_head[1].bias,
    }
    with torch.no_grad():
        flat = [params[name].detach().float().cpu().reshape(-1).numpy() for name in _NAMES]
    offsets = np.concatenate([[0], np.cumsum([len(f) for f in flat])]).astype(np.int64)
    dims = np.array(
        [
            cfg.n_embd,
            cfg.n_head,
            cfg.n_layer,
            cfg.n_book_features,
            cfg.n_kp,
            cfg.n_size,
            cfg.n_time,
            cfg.context,
        ],
        dtype=np.int64,
    )
    return DecoderWeights(
        np.ascontiguousarray(np.concatenate(flat), dtype=np.float32),
        offsets,
        dims,
        float(norms[0].eps),
    )


def conditioning(model: LMM, n: int, profiles: torch.Tensor | None = None) -> np.ndarray:
    """:func:`forward_step`'s ``conditioning`` for ``n`` sequences: the embedding of each
    one's stock profile (``(n, n_profile_features)``; None: the model's default profile),
    float32 ``(n, n_embd)``, or ``(n, 0)`` for a model without profiles."""
    if not model.config.n_profile_features:
        return np.zeros((n, 0), dtype=np.float32)
    with torch.no_grad():
        embedding = model.profile_embedding(profiles, n)
    return np.ascontiguousarray(embedding.float().cpu().numpy())


# ------------------------------------------------------------------ building blocks
def _kernel(**options):
    """``numba.njit`` as every kernel here is compiled: cached on disk, and with numpy's error
    model (a float division by zero gives inf or nan instead of raising), without which no
    loop holding a division vectorises. No division here has a zero divisor."""
    return njit(cache=True, error_model="numpy", **options)


#: Rows decoded together: a weight matrix streams through the cache once per this many rows
#: instead of once per row. A whole number of :data:`GROUP`\ s.
BLOCK = 8


@_kernel(inline="always")
def _param(buf: np.ndarray, offs: np.ndarray, i: int) -> np.ndarray:
    """Parameter ``i`` as a flat view of the buffer."""
    return buf[offs[i] : offs[i + 1]]


#: Rows that share one pass over a weight row in :func:`_linear`. Every row goes through the
#: same instructions, padded to a whole group, so a row's sums are the same in any slot.
GROUP = 4


@_kernel(fastmath={"reassoc"})
def _linear(x: np.ndarray, nr: int, w: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """``out[:nr] = x[:nr] @ w.T + b``, ``w`` flat (out.shape[1], x.shape[1]) as torch holds
    it. Each output is a dot product along contiguous memory, summed in whatever order
    vectorises (fixed for a given length), for ``GROUP`` rows and two outputs at a time: each
    weight row is read once per group, and the eight sums stay in registers. Rows
    ``nr..`` up to the next whole group are computed too (``x`` and ``out`` must have room)
    and are to be ignored. A row's bits depend on its own inputs only."""
    K, N = x.shape[1], out.shape[1]
    for r0 in range(0, nr, GROUP):
        x0, x1, x2, x3 = x[r0], x[r0 + 1], x[r0 + 2], x[r0 + 3]
        for j in range(0, N - 1, 2):
            wa = w[j * K : (j + 1) * K]
            wb = w[(j + 1) * K : (j + 2) * K]
            a0 = a1 = a2 = a3 = b0 = b1 = b2 = b3 = np.float32(0.0)
            for k in range(K):
                u, v = wa[k], wb[k]
                p = x0[k]
                a0 += p * u
                b0 += p * v
                p = x1[k]
                a1 += p * u
                b1 += p * v
                p = x2[k]
                a2 += p * u
                b2 += p * v
                p = x3[k]
                a3 += p * u
                b3 += p * v
            out[r0, j], out[r0, j + 1] = a0 + b[j], b0 + b[j + 1]
            out[r0 + 1, j], out[r0 + 1, j + 1] = a1 + b[j], b1 + b[j + 1]
            out[r0 + 2, j], out[r0 + 2, j + 1] = a2 + b[j], b2 + b[j + 1]
            out[r0 + 3, j], out[r0 + 3, j + 1] = a3 + b[j], b3 + b[j + 1]
        if N % 2:  # the last output of an odd count, alone
            j = N - 1
            wa = w[j * K : (j + 1) * K]
            a0 = a1 = a2 = a3 = np.float32(0.0)
            for k in range(K):
                u = wa[k]
                a0 += x0[k] * u
                a1 += x1[k] * u
                a2 += x2[k] * u
                a3 += x3[k] * u
            out[r0, j], out[r0 + 1, j] = a0 + b[j], a1 + b[j]
            out[r0 + 2, j], out[r0 + 3, j] = a2 + b[j], a3 + b[j]


@_kernel()
def _layer_norm(
    x: np.ndarray, nr: int, w: np.ndarray, b: np.ndarray, eps: float, out: np.ndarray
) -> None:
    """``nn.LayerNorm`` of rows ``x[:nr]`` (mean and biased variance summed in float64)."""
    n = x.shape[1]
    for r in range(nr):
        mean = 0.0
        for j in range(n):
            mean += x[r, j]
        mean /= n
        var = 0.0
        for j in range(n):
            d = x[r, j] - mean
            var += d * d
        inv = 1.0 / math.sqrt(var / n + eps)
        for j in range(n):
            out[r, j] = np.float32((x[r, j] - mean) * inv) * w[j] + b[j]


# erf(x) = x P(x^2) / Q(x^2) on [-4, 4] (+-1 beyond, in float32), Eigen's rational fit:
# within 7e-8 of erf when evaluated in float64, and a loop of it vectorises (libm's erf does
# not, and was half the step's time)
_ERF_P = (
    -2.72614225801306e-10,
    2.77068142495902e-08,
    -2.10102402082508e-06,
    -5.69250639462346e-05,
    -7.34990630326855e-04,
    -2.95459980854025e-03,
    -1.60960333262415e-02,
)
_ERF_Q = (
    -1.45660718464996e-05,
    -2.13374055278905e-04,
    -1.68282697438203e-03,
    -7.37332916720468e-03,
    -1.42647390514189e-02,
)


@_kernel(inline="always")
def _erf(x: float) -> float:
    """erf(x) to within 7e-8 (see _ERF_P)."""
    x = min(max(x, -4.0), 4.0)
    x2 = x * x
    p = _ERF_P[0]
    for c in _ERF_P[1:]:
        p = p * x2 + c
    q = _ERF_Q[0]
    for c in _ERF_Q[1:]:
        q = q * x2 + c
    return x * p / q


@_kernel()
def _gelu(x: np.ndarray, nr: int) -> None:
    """``nn.GELU()`` (the exact, erf form) of rows ``x[:nr]`` in place."""
    for r in range(nr):
        row = x[r]
        for j in range(row.shape[0]):
            v = np.float64(row[j])
            row[j] = 0.5 * v * (1.0 + _erf(v * _SQRT_HALF))


# exp by 2^k e^r, |r| <= ln(2) / 2, e^r by its Taylor polynomial to r^11 (error < 1e-14):
# a loop of it vectorises (libm's expf does not); float32 results, correctly rounded but
# for ties at the last bit
_LOG2E = 1.4426950408889634
_LN2_HI = 6.93145751953125e-1
_LN2_LO = 1.42860682030941723212e-6
_EXP_TAYLOR = tuple(1.0 / math.factorial(i) for i in range(11, -1, -1))
#: Below this, exp is 0 here (float32's smallest normal is e^-87.3); masked classes at -inf.
_EXP_FLOOR = -87.0


@_kernel()
def _exp(x: np.ndarray, n: int, scale: np.ndarray) -> None:
    """``x[:n] = exp(x[:n])`` in place for float32 ``x``; ``scale`` is (>= n,) int64 room."""
    powers = scale.view(np.float64)
    for s in range(n):
        v = max(np.float64(x[s]), _EXP_FLOOR)
        k = math.floor(v * _LOG2E + 0.5)
        r = (v - k * _LN2_HI) - k * _LN2_LO
        p = _EXP_TAYLOR[0]
        for c in _EXP_TAYLOR[1:]:
            p = p * r + c
        scale[s] = (np.int64(k) + 1023) << 52
        x[s] = np.float32(p) if x[s] >= _EXP_FLOOR else np.float32(0.0)
    for s in range(n):
        x[s] = np.float32(np.float64(x[s]) * powers[s])


@_kernel(fastmath={"reassoc"})
def _scores(q: np.ndarray, keys: np.ndarray, n: int, scale: float, out: np.ndarray) -> None:
    """``out[s] = (q . keys[s]) * scale`` for ``s < n``, four positions at a time sharing
    ``q``, each dot summed in whatever order vectorises: fixed for a given length, so a
    position's bits depend on its own key and ``q`` only (the group and the lone tail
    positions sum the same way)."""
    D = q.shape[0]
    sc = np.float32(scale)
    s = 0
    while s + 4 <= n:
        k0, k1, k2, k3 = keys[s], keys[s + 1], keys[s + 2], keys[s + 3]
        a0 = a1 = a2 = a3 = np.float32(0.0)
        for d in range(D):
            qd = q[d]
            a0 += qd * k0[d]
            a1 += qd * k1[d]
            a2 += qd * k2[d]
            a3 += qd * k3[d]
        out[s], out[s + 1], out[s + 2], out[s + 3] = a0 * sc, a1 * sc, a2 * sc, a3 * sc
        s += 4
    while s < n:
        k0 = keys[s]
        a0 = np.float32(0.0)
        for d in range(D):
            a0 += q[d] * k0[d]
        out[s] = a0 * sc
        s += 1


@_kernel()
def _attend(
    qkv: np.ndarray,
    keys: np.ndarray,
    values: np.ndarray,
    pos: int,
    hd: int,
    D: int,
    scores: np.ndarray,
    room: np.ndarray,
    out: np.ndarray,
) -> None:
    """One head of one row: write its key and value at ``pos``, attend over positions
    ``0..pos`` of its cache (``keys``, ``values``: (context, D)), write into ``out``."""
    C = qkv.shape[0] // 3
    for d in range(D):
        keys[pos, d] = qkv[C + hd * D + d]
        values[pos, d] = qkv[2 * C + hd * D + d]
    n = pos + 1
    _scores(qkv[hd * D : (hd + 1) * D], keys, n, 1.0 / math.sqrt(D), scores)
    top = scores[:n].max()
    for s in range(n):
        scores[s] -= top
    _exp(scores, n, room)
    total = np.float32(0.0)
    for s in range(n):
        total += scores[s]
    for s in range(n):
        scores[s] /= total
    # the weighted values, four positions per pass over the output (in registers) instead
    # of one: (p0 v0 + p1 v1) + (p2 v2 + p3 v3) added to the running sum
    o = out[hd * D : (hd + 1) * D]
    o[:] = 0.0
    s = 0
    while s + 4 <= n:
        p0, p1, p2, p3 = scores[s], scores[s + 1], scores[s + 2], scores[s + 3]
        v0, v1, v2, v3 = values[s], values[s + 1], values[s + 2], values[s + 3]
        for d in range(D):
            o[d] += (p0 * v0[d] + p1 * v1[d]) + (p2 * v2[d] + p3 * v3[d])
        s += 4
    while s < n:
        p0, v0 = scores[s], values[s]
        for d in range(D):
            o[d] += p0 * v0[d]
        s += 1


# ------------------------------------------------------------------ the forward step
@_kernel()
def forward_step(
    buf: np.ndarray,
    offs: np.ndarray,
    dims: np.ndarray,
    eps: float,
    tokens: np.ndarray,
    features: np.ndarray,
    rows: np.ndarray,
    lengths: np.ndarray,
    k_cache: np.ndarray,
    v_cache: np.ndarray,
    h: np.ndarray,
    conditioning: np.ndarray,
) -> None:
    """Append one position to each of ``rows``' cached sequences; write their hidden states.

    Args:
        buf, offs, dims, eps: the fields of :class:`DecoderWeights`.
        tokens: (B,) int64 order tokens.
        features: (B, F) float32 book features after each order.
        rows: (B,) int64 cached sequences the inputs continue (distinct).
        lengths: (N,) int64 positions each sequence holds; ``rows``' grow by one. Every
            ``lengths[rows]`` must be below the context (the caller trims).
        k_cache, v_cache: (n_layer, N, n_head, context, head_dim) float32 keys and values.
        h: (N, n_embd) float32; row ``rows[b]`` receives the final-norm state of input b.
        conditioning: (N, n_embd) float32 added to each sequence's every input before its
            position (the stock profile's embedding, :meth:`LMM.profile_embedding`;
            (N, 0) for a model without one).
    """
    C, H, L = dims[D_EMBD], dims[D_HEAD], dims[D_LAYER]
    n_size, n_time = dims[D_SIZE], dims[D_TIME]
    D = C // H
    # zeroed, so that the rows padding a block's last group hold finite numbers
    feats = np.zeros((BLOCK, dims[D_FEAT]), np.float32)
    x = np.zeros((BLOCK, C), np.float32)
    t1 = np.zeros((BLOCK, C), np.float32)
    t2 = np.zeros((BLOCK, C), np.float32)
    qkv = np.zeros((BLOCK, 3 * C), np.float32)
    hidden = np.zeros((BLOCK, 4 * C), np.float32)
    att = np.zeros((BLOCK, C), np.float32)
    out = np.zeros((BLOCK, C), np.float32)
    scores = np.empty(dims[D_CONTEXT], np.float32)
    room = np.empty(dims[D_CONTEXT], np.int64)
    kp_emb, size_emb = _param(buf, offs, KP_EMB), _param(buf, offs, SIZE_EMB)
    time_emb, pos_emb = _param(buf, offs, TIME_EMB), _param(buf, offs, POS_EMB)
    conditioned = conditioning.shape[1] > 0
    for first in range(0, rows.shape[0], BLOCK):
        nr = min(BLOCK, rows.shape[0] - first)
        # token embedding, then the book projection, then the position
        feats[:nr] = features[first : first + nr]
        _linear(
            feats,
            nr,
            _param(buf, offs, BOOK_W1),
            _param(buf, offs, BOOK_B1),
            t1,
        )
        _gelu(t1, nr)
        _linear(t1, nr, _param(buf, offs, BOOK_W2), _param(buf, offs, BOOK_B2), t2)
        for i in range(nr):
            token = tokens[first + i]
            rest = token // n_time
            kp = rest // n_size
            size = rest - kp * n_size
            time = token - rest * n_time
            r = rows[first + i]
            pos = lengths[r]
            for j in range(C):
                e = kp_emb[kp * C + j] + size_emb[size * C + j] + time_emb[time * C + j]
                e = e + t2[i, j]
                if conditioned:
                    e = e + conditioning[r, j]
                x[i, j] = e + pos_emb[pos * C + j]
        for layer in range(L):
            lc = layer * C
            _layer_norm(
                x,
                nr,
                _param(buf, offs, LN1_W)[lc : lc + C],
                _param(buf, offs, LN1_B)[lc : lc + C],
                eps,
                t1,
            )
            _linear(
                t1,
                nr,
                _param(buf, offs, QKV_W)[layer * 3 * C * C : (layer + 1) * 3 * C * C],
                _param(buf, offs, QKV_B)[layer * 3 * C : (layer + 1) * 3 * C],
                qkv,
            )
            for i in range(nr):
                r = rows[first + i]
                for hd in range(H):
                    _attend(
                        qkv[i],
                        k_cache[layer, r, hd],
                        v_cache[layer, r, hd],
                        lengths[r],
                        hd,
                        D,
                        scores,
                        room,
                        att[i],
                    )
            _linear(
                att,
                nr,
                _param(buf, offs, PROJ_W)[layer * C * C : (layer + 1) * C * C],
                _param(buf, offs, PROJ_B)[lc : lc + C],
                t2,
            )
            for i in range(nr):
                for j in range(C):
                    x[i, j] += t2[i, j]
            _layer_norm(
                x,
                nr,
                _param(buf, offs, LN2_W)[lc : lc + C],
                _param(buf, offs, LN2_B)[lc : lc + C],
                eps,
                t1,
            )
            _linear(
                t1,
                nr,
                _param(buf, offs, FC1_W)[layer * 4 * C * C : (layer + 1) * 4 * C * C],
                _param(buf, offs, FC1_B)[layer * 4 * C : (layer + 1) * 4 * C],
                hidden,
            )
            _gelu(hidden, nr)
            _linear(
                hidden,
                nr,
                _param(buf, offs, FC2_W)[layer * 4 * C * C : (layer + 1) * 4 * C * C],
                _param(buf, offs, FC2_B)[lc : lc + C],
                t2,
            )
            for i in range(nr):
                for j in range(C):
                    x[i, j] += t2[i, j]
        _layer_norm(x, nr, _param(buf, offs, LNF_W), _param(buf, offs, LNF_B), eps, out)
        for i in range(nr):
            r = rows[first + i]
            h[r] = out[i]
            lengths[r] += 1


# ------------------------------------------------------------------ sampling
@_kernel()
def _draw(logits: np.ndarray, u: float, temperature: float, probs: np.ndarray) -> int:
    """One class of ``logits`` (masked classes at -inf) for the uniform ``u``, as
    :func:`lmm.model.transformer.sample` draws it: inverse CDF in float64 with the last
    cumulative set to 1, never a class of zero probability."""
    n = logits.shape[0]
    best = 0
    for j in range(1, n):
        if logits[j] > logits[best]:
            best = j
    if temperature == 0:
        return best
    top = logits[best]
    total = np.float32(0.0)
    for j in range(n):
        v = logits[j] if temperature == 1 else np.float32(logits[j] / temperature)
        probs[j] = math.exp(v - (top if temperature == 1 else np.float32(top / temperature)))
        total += probs[j]
    for j in range(n):
        probs[j] /= total
    cdf = 0.0
    pick = n - 1
    for j in range(n - 1):
        cdf += np.float64(probs[j])
        if cdf >= u:
            pick = j
            break
    if probs[pick] > 0:
        return pick
    best = 0
    for j in range(1, n):
        if probs[j] > probs[best]:
            best = j
    return best


@_kernel()
def sample_step(
    buf: np.ndarray,
    offs: np.ndarray,
    dims: np.ndarray,
    h: np.ndarray,
    rows: np.ndarray,
    mask: np.ndarray,
    uniforms: np.ndarray,
    temperature: float,
    tokens: np.ndarray,
    masked: np.ndarray,
) -> None:
    """Draw the next token of each of ``rows`` from its hidden state.

    Args:
        buf, offs, dims: the fields of :class:`DecoderWeights`.
        h: (N, n_embd) float32 hidden states.
        rows: (B,) int64 rows of ``h`` to draw for.
        mask: (B, n_kp) bool allowed kind-and-price classes (each row allows one at least).
        uniforms: (B, 3) float64 draws in [0, 1) for kp, size and time in turn.
        temperature: as in :func:`lmm.model.transformer.sample`.
        tokens: (B,) int64 receives the tokens.
        masked: (B,) float64 receives the probability mass (at temperature 1) the mask
            removed.
    """
    C, n_kp, n_size, n_time = dims[D_EMBD], dims[D_KP], dims[D_SIZE], dims[D_TIME]
    kp_out, size_out = _param(buf, offs, KP_OUT), _param(buf, offs, SIZE_OUT)
    hb = np.zeros((BLOCK, C), np.float32)  # zeroed as in forward_step
    g = np.zeros((BLOCK, C), np.float32)
    logits = np.zeros((BLOCK, n_kp), np.float32)
    size_logits = np.zeros((BLOCK, n_size), np.float32)
    time_logits = np.zeros((BLOCK, n_time), np.float32)
    probs = np.empty(n_kp, np.float32)
    kps = np.empty(BLOCK, np.int64)
    sizes = np.empty(BLOCK, np.int64)
    for first in range(0, rows.shape[0], BLOCK):
        nr = min(BLOCK, rows.shape[0] - first)
        for i in range(nr):
            hb[i] = h[rows[first + i]]
        _linear(hb, nr, _param(buf, offs, KP_W), _param(buf, offs, KP_B), logits)
        for i in range(nr):
            b = first + i
            row = logits[i]
            # the mass the mask removes, from the unmasked softmax
            top = row.max()
            total = np.float32(0.0)
            for j in range(n_kp):
                probs[j] = math.exp(row[j] - top)
                total += probs[j]
            removed = 0.0
            for j in range(n_kp):
                if not mask[b, j]:
                    removed += probs[j] / total
                    row[j] = -np.inf
            masked[b] = removed
            kps[i] = _draw(row, uniforms[b, 0], temperature, probs)
            for j in range(C):
                g[i, j] = hb[i, j] + kp_out[kps[i] * C + j]
        _gelu(g, nr)
        _linear(g, nr, _param(buf, offs, SIZE_W), _param(buf, offs, SIZE_B), size_logits)
        for i in range(nr):
            sizes[i] = _draw(size_logits[i], uniforms[first + i, 1], temperature, probs)
            for j in range(C):
                g[i, j] = (hb[i, j] + kp_out[kps[i] * C + j]) + size_out[sizes[i] * C + j]
        _gelu(g, nr)
        _linear(g, nr, _param(buf, offs, TIME_W), _param(buf, offs, TIME_B), time_logits)
        for i in range(nr):
            time = _draw(time_logits[i], uniforms[first + i, 2], temperature, probs)
            tokens[first + i] = (kps[i] * n_size + sizes[i]) * n_time + time
