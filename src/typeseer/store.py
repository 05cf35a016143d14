"""Where batch runs keep their results: a local folder, written atomically, or a URI of a
file system pyarrow writes (``s3://``, ``gs://``, ``hdfs://``), on storage every worker sees."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .fileio import atomic_write_bytes

__all__ = ["ResultStore", "StoreError", "parquet_bytes", "read_parquet", "require_pyarrow"]


class StoreError(ValueError):
    """Results cannot be stored (pyarrow is missing, the URI is not one pyarrow knows)."""


def require_pyarrow() -> Any:
    """The pyarrow module, with its file systems and Parquet loaded."""
    try:
        import pyarrow
        import pyarrow.fs
        import pyarrow.parquet
    except ImportError:
        raise StoreError("batch runs write Parquet: pip install 'typeseer[ray]' "
                         "(or pyarrow)") from None
    return pyarrow


class ResultStore:
    """OUT: a local folder (each file written atomically) or a pyarrow file system URI (an
    object store makes each object visible whole, once it is closed)."""

    def __init__(self, out: str) -> None:
        pa = require_pyarrow()
        self.local: Path | None = None
        if "://" in out and not out.startswith("file://"):
            try:
                self.fs, self.base = pa.fs.FileSystem.from_uri(out)
            except (ValueError, OSError) as error:
                raise StoreError(f"cannot use {out}: {error}") from None
            #: Where the store is, as a worker anywhere must be told: the URI, or the
            #: absolute path of a folder (a worker's working directory is not the driver's).
            self.location = out
        else:
            self.local = Path(out.removeprefix("file://")).resolve()
            self.fs, self.base = pa.fs.LocalFileSystem(), self.local.as_posix()
            self.location = str(self.local)
        self.base = self.base.rstrip("/")

    def write(self, relative: str, data: bytes) -> None:
        if self.local is not None:
            atomic_write_bytes(self.local / relative, data)
            return
        path = f"{self.base}/{relative}"
        self.fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
        with self.fs.open_output_stream(path) as sink:
            sink.write(data)

    def read(self, relative: str) -> bytes:
        with self.fs.open_input_stream(f"{self.base}/{relative}") as source:
            data: bytes = source.read()
        return data

    def files(self, folder: str) -> list[str]:
        """Paths (relative to OUT) of the files under ``folder``; none when it is missing."""
        pa = require_pyarrow()
        selector = pa.fs.FileSelector(f"{self.base}/{folder}", allow_not_found=True,
                                      recursive=True)
        return sorted(info.path[len(self.base) + 1:] for info in self.fs.get_file_info(selector)
                      if info.type == pa.fs.FileType.File)

    def delete(self, relative: str) -> None:
        self.fs.delete_file(f"{self.base}/{relative}")

    def by_project(self, folders: Iterable[str], name: re.Pattern[str]
                   ) -> dict[str, list[tuple[str, re.Match[str]]]]:
        """The files ``FOLDER/PROJECT/NAME`` whose NAME matches ``name``, by project:
        ``(path, match)``. Others (the temporary file of a killed write, anything not
        ours) are left out. One listing of each folder, whatever the number of projects."""
        found: dict[str, list[tuple[str, re.Match[str]]]] = {}
        for folder in folders:
            for path in self.files(folder):
                parts = path.split("/")
                match = name.fullmatch(parts[-1]) if len(parts) == 3 else None
                if match is not None:
                    found.setdefault(parts[1], []).append((path, match))
        return found


def read_parquet(store: ResultStore, paths: Iterable[str], schema: Any) -> Any:
    """The Parquet files at ``paths`` as one pyarrow Table of ``schema`` (empty for none)."""
    pa = require_pyarrow()
    tables = [pa.parquet.read_table(pa.BufferReader(store.read(path)), schema=schema)
              for path in paths]
    return pa.concat_tables(tables) if tables else schema.empty_table()


def parquet_bytes(table: Any) -> bytes:
    """A pyarrow Table as the bytes of a Parquet file (zstd)."""
    pa = require_pyarrow()
    sink = pa.BufferOutputStream()
    pa.parquet.write_table(table, sink, compression="zstd")
    data: bytes = sink.getvalue().to_pybytes()
    return data
