"""Reading and writing the files of a batch job: CSV, Parquet and JSON lines, on local
paths, globs or fsspec URLs.

Owns the formats (names and suffixes), reading the input as a Dask DataFrame,
writing one frame, and joining part files into the output in order with
bounded memory. It knows nothing of services or APIs: it must never import
``bentonb.service``, ``bentonb.bundle`` or the other batch modules.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bentonb.errors import BadInput, InvalidArgument

FORMATS = ("csv", "parquet", "jsonl")
_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl",
             ".ndjson": "jsonl", ".json": "jsonl"}


def detect_format(path: str) -> str:
    """The format named by ``path``'s suffix (a directory is a Parquet dataset)."""
    suffix = Path(path.rstrip("/")).suffix.lower()
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    if "://" not in path and Path(path).is_dir():
        return "parquet"
    raise InvalidArgument(f"cannot tell the format of '{path}' from its name; "
                          f"say --format {'|'.join(FORMATS)}")


def output_format(output: str, format: str | None) -> str:
    """The format to write ``output`` in: ``format``, else its suffix's, else Parquet."""
    fmt = format or (_SUFFIXES.get(Path(output).suffix.lower()) or "parquet")
    if fmt not in FORMATS:
        raise InvalidArgument(f"unknown output format '{fmt}'; use one of {FORMATS}")
    return fmt


def _input_paths(pattern: str) -> list[str]:
    import fsspec

    fs, _, paths = fsspec.core.get_fs_token_paths(pattern)
    if "://" not in pattern and Path(pattern).is_dir():
        return [pattern]
    if not paths:
        raise BadInput(f"input '{pattern}' matches no file")
    return sorted(fs.unstrip_protocol(p) if "://" in pattern else p for p in paths)


def read_input(pattern: str, fmt: str | None, partition_rows: int | None) -> Any:
    """The input as a Dask DataFrame, partitions in file and row order."""
    import dask.dataframe as dd

    paths = _input_paths(pattern)
    fmt = fmt or detect_format(paths[0])
    try:
        if fmt == "parquet":
            return dd.read_parquet(paths if len(paths) > 1 else paths[0])
        blocksize = _blocksize(paths[0], partition_rows) if partition_rows else "64MB"
        if fmt == "csv":
            return dd.read_csv(paths, blocksize=blocksize)
        return dd.read_json(paths, lines=True, blocksize=blocksize)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read {fmt} input '{pattern}': {exc}") from exc


def _blocksize(path: str, rows: int) -> int:
    """Bytes per partition for about ``rows`` rows, from the first lines' lengths."""
    import fsspec

    with fsspec.open(path, "rb") as f:
        sample = f.read(1 << 16)
    lines = sample.count(b"\n") or 1
    return max(1 << 12, int(rows * len(sample) / lines))


def write_frame(df: Any, path: str, fmt: str) -> None:
    """Write the pandas DataFrame ``df`` to ``path`` in ``fmt``, without its index."""
    import fsspec

    with fsspec.open(path, "wb") as f:
        if fmt == "csv":
            df.to_csv(f, index=False)
        elif fmt == "jsonl":
            df.to_json(f, orient="records", lines=True)
        else:
            df.to_parquet(f, index=False)


def join_parts(parts: Sequence[str], output: str, fmt: str) -> None:
    """Concatenate the part files, in order, into ``output`` with bounded memory."""
    import fsspec

    if fmt == "parquet":
        import pyarrow.parquet as pq

        writer = None
        try:
            for part in parts:
                with fsspec.open(part, "rb") as f:
                    table = pq.read_table(f)
                if writer is None:
                    writer = pq.ParquetWriter(fsspec.open(output, "wb").open(), table.schema)
                writer.write_table(table.cast(writer.schema))
        finally:
            if writer is not None:
                writer.close()
        return
    with fsspec.open(output, "wb") as out:
        for i, part in enumerate(parts):
            with fsspec.open(part, "rb") as f:
                if fmt == "csv" and i > 0:
                    f.readline()  # the header is written once
                shutil.copyfileobj(f, out)


def errors_path(output: str, fmt: str) -> str:
    """Where the failed rows of a job writing ``output`` go: ``<output>.errors.<fmt>``."""
    base = output[: -len(Path(output).suffix)] if Path(output).suffix else output
    return f"{base}.errors.{fmt}"


def fresh_dir(path: str) -> None:
    """Make ``path`` an empty directory (removing what was there)."""
    import fsspec

    fs, _, (root,) = fsspec.core.get_fs_token_paths(path)
    if fs.exists(root):
        fs.rm(root, recursive=True)
    fs.makedirs(root, exist_ok=True)


def remove(path: str) -> None:
    """Remove the directory ``path`` and everything in it."""
    import fsspec

    fs, _, (root,) = fsspec.core.get_fs_token_paths(path)
    fs.rm(root, recursive=True)
