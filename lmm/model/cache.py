"""An on-disk cache of encoded LOBSTER days, so that training on many days reads each day
once and holds none of them in memory.

Each day is replayed, verified and encoded once (:func:`lmm.model.dataset.day_orders`) into
a folder of ``.npy`` files, one per array of :class:`lmm.model.dataset.DayData` (the
orders, their price offsets, inter-arrival times, book features, the top-L books after
them, the validation mask, touch sizes, memory and outlook features and, when there is
one, the stock profile), and described by a ``day.json`` beside them. Its tokens, which depend on
the tokenizer, are a ``tokens-<tokenizer fingerprint>.npy`` in the same folder. The
folder's name is its key: the file's content hash (SHA-256), the price reference the
offsets are measured from and the validation minutes, e.g.
``days/3fa9c1d2e4b5a6f7-same_side_best-90min``. ``index.json`` at the top lists every day
and every tokenizer (as :meth:`OrderTokenizer.to_dict`) by fingerprint. numpy alone reads
all of it: ``np.load(folder / "features.npy", mmap_mode="r")``.

Training opens the arrays as memory maps and copies out only the windows it draws, so its
memory does not grow with the number of days (the operating system pages the files in
and out as a cache it may reclaim). The tokenizer is fitted in a second pass over the
cached days: on all their training orders when they are at most ``fit_orders`` (the
sample days' 221,556 are fitted whole, exactly as :func:`build_dataset` fits them), else
on a seeded uniform sample of ``fit_orders`` of them, drawn day by day in proportion to
each day's training orders, so that fitting too stays within a bounded memory.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from lmm.data.lobster import read_lobster
from lmm.model.dataset import DayData, OrderDataset, day_orders
from lmm.model.distributed import Distributed
from lmm.model.price_reference import PriceReference
from lmm.model.tokenizer import OrderTokenizer, TokenizerConfig
from lmm.results import read_versioned_json

__all__ = [
    "DEFAULT_FIT_ORDERS",
    "CacheError",
    "build_cached_dataset",
    "content_hash",
    "tokenizer_fingerprint",
]

FORMAT_VERSION = 1
#: Training orders the tokenizer is fitted on at most (a sample of them beyond).
DEFAULT_FIT_ORDERS = 1_000_000
_ARRAYS = (
    "flow",
    "price_offset",
    "dt",
    "features",
    "book_after",
    "is_validation",
    "touch",
    "memory",
    "outlook",
    "profile",
)
_FIT_SEED = 0  # the tokenizer's sample does not depend on the training seed


class CacheError(ValueError):
    """A cache folder holds something other than what it is asked for."""


def content_hash(path: str | Path) -> str:
    """SHA-256 of a LOBSTER day's bytes: the zip's, or the message CSV's followed by its
    orderbook CSV's."""
    path = Path(path)
    files = [path]
    if path.suffix.lower() != ".zip":
        files.append(path.with_name(path.name.replace("message", "orderbook")))
    digest = hashlib.sha256()
    for f in files:
        with open(f, "rb") as stream:
            for block in iter(lambda s=stream: s.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def tokenizer_fingerprint(tokenizer: OrderTokenizer) -> str:
    """A short hash of a fitted tokenizer (its config and bins)."""
    text = json.dumps(tokenizer.to_dict(), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def build_cached_dataset(
    paths: Sequence[str | Path],
    cache_dir: str | Path,
    tokenizer_config: TokenizerConfig | None = None,
    validation_minutes: int = 90,
    progress: bool = False,
    tokenizer: OrderTokenizer | None = None,
    fit_orders: int = DEFAULT_FIT_ORDERS,
    distributed: Distributed | None = None,
) -> OrderDataset:
    """The days of ``paths`` through the cache in ``cache_dir``: encoded where they are
    not yet, the tokenizer fitted on their training orders (unless one is given) and their
    tokens written, then every array opened as a memory map.

    In a run of several processes rank 0 alone writes; the others wait for it, then read.

    Raises:
        CacheError: a day's folder or the index describes another file, other settings,
            another tokenizer or another cache format.
        ValueError: no paths, or a day the engine does not reproduce.
    """
    if not paths:
        raise ValueError("no LOBSTER files given")
    if fit_orders < 1:
        raise ValueError(f"fit_orders must be >= 1, got {fit_orders}")
    run = distributed or Distributed()
    root = Path(cache_dir)
    reference = (
        tokenizer.config if tokenizer else tokenizer_config or TokenizerConfig()
    ).price_reference
    keys = []
    iterator = [Path(p) for p in paths]
    if progress and run.is_main:
        from tqdm import tqdm

        iterator = tqdm(iterator, desc="hashing and encoding days", unit="day")
    for path in iterator:
        key = f"{content_hash(path)[:16]}-{reference.value}-{validation_minutes}min"
        keys.append(key)
        if run.is_main:
            _encode(root, key, path, validation_minutes, reference)
    run.barrier()
    names = [Path(p).name for p in paths]
    days = [
        _load_day(root / "days" / key, key, name) for key, name in zip(keys, names, strict=True)
    ]
    if tokenizer is None:
        fitted = _fit(days, tokenizer_config, fit_orders).to_dict() if run.is_main else None
        tokenizer = OrderTokenizer.from_dict(run.broadcast(fitted))
    fingerprint = tokenizer_fingerprint(tokenizer)
    _check_tokenizer(root, tokenizer, fingerprint, missing_ok=True)
    if run.is_main:
        for key, day in zip(keys, days, strict=True):
            _write_tokens(root / "days" / key, day, tokenizer, fingerprint)
        _write_index(root, keys, tokenizer, fingerprint)
    run.barrier()
    tokenized = tuple(
        replace(day, tokens=_load_tokens(root, root / "days" / key, tokenizer, fingerprint))
        for key, day in zip(keys, days, strict=True)
    )
    return OrderDataset(days=tokenized, tokenizer=tokenizer, validation_minutes=validation_minutes)


def _encode(
    root: Path, key: str, path: Path, validation_minutes: int, reference: PriceReference
) -> None:
    """Replay, verify and encode the day ``path`` into ``root/days/key`` unless it is there."""
    folder = root / "days" / key
    if (folder / "day.json").is_file():
        return
    day = day_orders(read_lobster(path), validation_minutes, reference)
    fresh = folder.with_name(folder.name + ".new")
    fresh.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for name in _ARRAYS:
        value = getattr(day, name)
        if value is None:
            continue
        np.save(fresh / f"{name}.npy", value)
        arrays[name] = {
            "file": f"{name}.npy",
            "dtype": str(value.dtype),
            "shape": list(value.shape),
        }
    n_train = int((~day.is_validation).sum())
    meta = {
        "format_version": FORMAT_VERSION,
        "key": key,
        "source": path.name,
        "sha256": content_hash(path),
        "price_reference": reference.value,
        "validation_minutes": validation_minutes,
        "orders": len(day.flow),
        "training_orders": n_train,
        "arrays": arrays,
        "tokens": {},
    }
    (fresh / "day.json").write_text(json.dumps(meta, indent=1) + "\n")
    os.replace(fresh, folder)  # whole or not at all: a killed encoding leaves only .new


def _day_meta(folder: Path, key: str) -> dict:
    """A day folder's description, checked against the key it is read for."""
    file = folder / "day.json"
    if not file.is_file():
        raise CacheError(f"{folder}: not a cached day (day.json is missing)")
    meta = read_versioned_json(
        file, FORMAT_VERSION, "cache", CacheError, "; delete the folder to encode the day again"
    )
    if meta.get("key") != key:
        raise CacheError(f"{folder}: holds the day keyed {meta.get('key')!r}, not {key!r}")
    return meta


def _load_day(folder: Path, key: str, name: str) -> DayData:
    """A cached day (without tokens), every array a read-only memory map."""
    meta = _day_meta(folder, key)
    arrays = {}
    for array, entry in meta["arrays"].items():
        value = np.load(folder / entry["file"], mmap_mode="r")
        if list(value.shape) != entry["shape"] or str(value.dtype) != entry["dtype"]:
            raise CacheError(
                f"{folder / entry['file']}: {value.dtype}{list(value.shape)}, day.json says "
                f"{entry['dtype']}{entry['shape']}"
            )
        arrays[array] = value
    if "profile" in arrays:  # a few numbers: read, not mapped
        arrays["profile"] = np.array(arrays["profile"])
    return DayData(name=name, **arrays)


def _fit(days: list[DayData], config: TokenizerConfig | None, fit_orders: int) -> OrderTokenizer:
    """The tokenizer fitted on the days' training orders, or on a sample of ``fit_orders``."""
    train = [np.flatnonzero(~d.is_validation) for d in days]
    total = sum(len(t) for t in train)
    if total > fit_orders:
        rng = np.random.default_rng(_FIT_SEED)
        train = [
            np.sort(rng.choice(t, int(fit_orders * len(t) // total), replace=False)) for t in train
        ]

    def rows(column: str) -> np.ndarray:
        parts = []
        for d, t in zip(days, train, strict=True):
            values = d.flow[column] if column in ("size", "kind") else getattr(d, column)
            parts.append(np.asarray(values[t]))
        return np.concatenate(parts)

    return OrderTokenizer.fit(
        rows("price_offset"),
        rows("size"),
        rows("dt"),
        config,
        kind=rows("kind"),
        touch=rows("touch"),
    )


def _write_tokens(folder: Path, day: DayData, tokenizer: OrderTokenizer, fingerprint: str) -> None:
    """Encode a cached day's tokens with ``tokenizer`` unless they are there."""
    meta = json.loads((folder / "day.json").read_text())
    file = f"tokens-{fingerprint}.npy"
    if meta["tokens"].get(fingerprint) == file and (folder / file).is_file():
        return
    tokens = tokenizer.encode(
        np.asarray(day.flow["kind"]),
        np.asarray(day.price_offset),
        np.asarray(day.flow["size"]),
        np.asarray(day.dt),
        None if day.touch is None else np.asarray(day.touch),
    )
    np.save(folder / (file + ".new.npy"), tokens)
    os.replace(folder / (file + ".new.npy"), folder / file)
    meta["tokens"][fingerprint] = file
    _write_json(folder / "day.json", meta)


def _write_index(root: Path, keys: list[str], tokenizer: OrderTokenizer, fingerprint: str) -> None:
    """Add the days and the tokenizer to ``root/index.json``."""
    index = _read_index(root)
    for key in keys:
        index["days"][key] = json.loads((root / "days" / key / "day.json").read_text())
    index["tokenizers"][fingerprint] = tokenizer.to_dict()
    _write_json(root / "index.json", index)


def _read_index(root: Path) -> dict:
    file = root / "index.json"
    if not file.is_file():
        return {"format_version": FORMAT_VERSION, "days": {}, "tokenizers": {}}
    return read_versioned_json(
        file, FORMAT_VERSION, "cache", CacheError, "; use another --cache folder"
    )


def _load_tokens(
    root: Path, folder: Path, tokenizer: OrderTokenizer, fingerprint: str
) -> np.ndarray:
    """A cached day's tokens for ``tokenizer``."""
    _check_tokenizer(root, tokenizer, fingerprint, missing_ok=False)
    file = folder / f"tokens-{fingerprint}.npy"
    if not file.is_file():
        raise CacheError(f"{file}: missing (the day was not encoded with this tokenizer)")
    return np.load(file, mmap_mode="r")


def _check_tokenizer(
    root: Path, tokenizer: OrderTokenizer, fingerprint: str, missing_ok: bool
) -> None:
    """Refuse a cache whose tokens of this fingerprint were encoded by another tokenizer."""
    saved = _read_index(root)["tokenizers"].get(fingerprint)
    if saved is None and missing_ok:
        return
    if saved != json.loads(json.dumps(tokenizer.to_dict())):
        raise CacheError(
            f"{root / 'index.json'}: the tokens {fingerprint} were encoded by another "
            "tokenizer than this one (or are missing); use another --cache folder"
        )


def _write_json(path: Path, value: dict) -> None:
    fresh = path.with_name(path.name + ".new")
    fresh.write_text(json.dumps(value, indent=1) + "\n")
    os.replace(fresh, path)
