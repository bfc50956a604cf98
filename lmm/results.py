"""JSON files: measured figures written to read the same on every machine, and the
format-versioned descriptions (checkpoints, run states, the day cache) read back.

Result files record their setup (data files, checkpoints, output folders), and a setup
written as this machine's absolute paths (``/home/me/data/...``, ``/tmp/run3/...``) says
nothing on another one. :func:`write_json` writes every absolute path as a path relative
to the working directory when it lies inside it (``lmm/checkpoints/fast``), and otherwise
as its last component (``LOBSTER_SampleFile_GOOG_2012-06-21_10.zip``), which is what
names a data file or a checkpoint folder anywhere.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["portable", "read_versioned_json", "write_json"]


def portable(value: Any, root: Path | None = None) -> Any:
    """``value`` (JSON-like: dicts, lists, tuples, strings, numbers) with every string that
    is an absolute path made relative to ``root`` (default: the working directory) when
    inside it, else cut to its last component."""
    root = Path.cwd() if root is None else root
    if isinstance(value, dict):
        return {k: portable(v, root) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [portable(v, root) for v in value]
    if isinstance(value, str) and value.startswith("/") and len(value) > 1:
        path = Path(value)
        return str(path.relative_to(root)) if path.is_relative_to(root) else path.name
    return value


def write_json(
    path: str | Path,
    result: Any,
    indent: int = 1,
    default: Callable[[Any], Any] | None = None,
) -> None:
    """Write ``result`` to ``path`` as JSON (its folder made if needed), absolute paths made
    portable (:func:`portable`); ``default`` converts objects JSON does not know, as in
    :func:`json.dumps`."""
    plain = json.loads(json.dumps(result, default=default))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(portable(plain), indent=indent) + "\n")


def read_versioned_json(
    file: Path, version: int, what: str, error: type[Exception], remedy: str = ""
) -> dict:
    """The JSON object in ``file``, written in format ``version`` (its ``format_version``
    field, kept in the result).

    Raises:
        error: ``file`` is not valid JSON, or not an object of format ``version`` (the
            message names the file, the format found and ``what`` it should describe, then
            ``remedy``).
    """
    try:
        meta = json.loads(Path(file).read_text())
    except json.JSONDecodeError as exc:
        raise error(f"{file}: not valid JSON ({exc})") from None
    found = meta.get("format_version") if isinstance(meta, dict) else meta
    if not isinstance(meta, dict) or found != version:
        raise error(f"{file}: unsupported {what} format {found!r} (expected {version}){remedy}")
    return meta
