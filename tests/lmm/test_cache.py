"""The on-disk day cache: the same dataset as in memory, bit for bit; readable by numpy
alone; reused, not re-encoded; a tokenizer fitted on a bounded sample; clear errors for a
cache that holds something else."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from lmm.model.cache import CacheError, build_cached_dataset, tokenizer_fingerprint
from lmm.model.dataset import build_dataset

DAY = "LOBSTER_SampleFile_AMZN_2012-06-21_5.zip"
ARRAYS = ("flow", "price_offset", "dt", "features", "book_after", "is_validation", "touch")


@pytest.fixture(scope="module")
def cached(lobster_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    root = tmp_path_factory.mktemp("cache")
    return root, build_cached_dataset([lobster_dir / DAY], root)


def test_the_cache_gives_the_in_memory_dataset_bit_for_bit(
    lobster_dir: Path, cached: tuple[Path, object]
) -> None:
    _, dataset = cached
    memory = build_dataset([lobster_dir / DAY])
    assert dataset.tokenizer.to_dict() == memory.tokenizer.to_dict()
    (a,), (b,) = memory.days, dataset.days
    assert a.name == b.name == DAY
    for name in (*ARRAYS, "memory", "profile", "tokens"):
        np.testing.assert_array_equal(getattr(b, name), getattr(a, name), err_msg=name)
    assert isinstance(b.features, np.memmap) and isinstance(b.tokens, np.memmap)


def test_the_cache_is_numpy_and_json_and_is_reused(
    lobster_dir: Path, cached: tuple[Path, object]
) -> None:
    root, dataset = cached
    index = json.loads((root / "index.json").read_text())
    (key,) = index["days"]
    entry = index["days"][key]
    assert entry["source"] == DAY and key.startswith(entry["sha256"][:16])
    assert key.endswith("-same_side_best-90min")
    folder = root / "days" / key
    for name, array in entry["arrays"].items():  # numpy alone reads every array
        value = np.load(folder / array["file"])
        assert [str(value.dtype), list(value.shape)] == [array["dtype"], array["shape"]], name
    fingerprint = tokenizer_fingerprint(dataset.tokenizer)
    assert index["tokenizers"][fingerprint] == dataset.tokenizer.to_dict()
    assert np.load(folder / entry["tokens"][fingerprint]).shape == (entry["orders"],)
    # a second build reads the folder and writes no day again
    before = (folder / "features.npy").stat().st_mtime_ns
    again = build_cached_dataset([lobster_dir / DAY], root)
    assert (folder / "features.npy").stat().st_mtime_ns == before
    np.testing.assert_array_equal(again.days[0].tokens, dataset.days[0].tokens)


def test_the_tokenizer_can_be_fitted_on_a_bounded_sample(
    lobster_dir: Path, cached: tuple[Path, object]
) -> None:
    root, whole = cached
    sampled = [build_cached_dataset([lobster_dir / DAY], root, fit_orders=5000) for _ in range(2)]
    assert sampled[0].tokenizer.to_dict() == sampled[1].tokenizer.to_dict()  # seeded
    assert sampled[0].tokenizer.to_dict() != whole.tokenizer.to_dict()
    with pytest.raises(ValueError, match="fit_orders"):
        build_cached_dataset([lobster_dir / DAY], root, fit_orders=0)


def test_a_cache_holding_something_else_is_refused(
    lobster_dir: Path, cached: tuple[Path, object], tmp_path: Path
) -> None:
    root, dataset = cached
    # a copy of the cache whose index says its tokens came from another tokenizer
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    index = json.loads((copy / "index.json").read_text())
    fingerprint = tokenizer_fingerprint(dataset.tokenizer)
    index["tokenizers"][fingerprint]["config"]["time_bins"] += 1
    (copy / "index.json").write_text(json.dumps(index))
    with pytest.raises(CacheError, match="another tokenizer"):
        build_cached_dataset([lobster_dir / DAY], copy, tokenizer=dataset.tokenizer)
    # a day folder written by another format of the cache
    (key,) = index["days"]
    day_json = copy / "days" / key / "day.json"
    day_json.write_text(day_json.read_text().replace('"format_version": 1', '"format_version": 0'))
    with pytest.raises(CacheError, match="cache format 0"):
        build_cached_dataset([lobster_dir / DAY], copy)
