"""The result store: a local folder written atomically, or a pyarrow file system URI."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("pyarrow")

from typeseer.store import ResultStore, StoreError, parquet_bytes, read_parquet

PART = re.compile(r"part-(\d+)\.bin")


@pytest.mark.parametrize("kind", ["folder", "uri"])
def test_write_list_read_delete(tmp_path: Path, kind: str) -> None:
    # mock:// is pyarrow's in-memory file system: the code path of s3:// and gs://.
    store = ResultStore(str(tmp_path / "out") if kind == "folder" else "mock:///out")
    store.write("table/alpha/part-1.bin", b"one")
    store.write("table/alpha/part-2.bin", b"two")
    store.write("table/beta/part-1.bin", b"three")
    store.write("table/beta/.part-1.bin.x1y2.tmp", b"left by a killed write")
    assert store.files("table") == ["table/alpha/part-1.bin", "table/alpha/part-2.bin",
                                    "table/beta/.part-1.bin.x1y2.tmp",
                                    "table/beta/part-1.bin"]
    assert store.files("missing") == []
    found = store.by_project(["table"], PART)
    assert {project: [path for path, _ in parts] for project, parts in found.items()} == {
        "alpha": ["table/alpha/part-1.bin", "table/alpha/part-2.bin"],
        "beta": ["table/beta/part-1.bin"]}
    assert store.read("table/beta/part-1.bin") == b"three"
    store.delete("table/alpha/part-1.bin")
    assert "table/alpha/part-1.bin" not in store.files("table")


def test_a_local_write_is_atomic_and_leaves_nothing_behind(tmp_path: Path) -> None:
    store = ResultStore(f"file://{tmp_path}")
    store.write("a/b.bin", b"first")
    store.write("a/b.bin", b"second")
    assert (tmp_path / "a" / "b.bin").read_bytes() == b"second"
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["b.bin"]


def test_parquet_round_trip(tmp_path: Path) -> None:
    import pyarrow as pa  # type: ignore[import-untyped]

    schema = pa.schema([("name", pa.string()), ("size", pa.int32())])
    store = ResultStore(str(tmp_path))
    for index, rows in enumerate(([{"name": "a", "size": 1}], [{"name": "b", "size": 2}])):
        store.write(f"t/p{index}.parquet", parquet_bytes(pa.Table.from_pylist(rows, schema)))
    table = read_parquet(store, ["t/p0.parquet", "t/p1.parquet"], schema)
    assert table.to_pylist() == [{"name": "a", "size": 1}, {"name": "b", "size": 2}]
    assert read_parquet(store, [], schema).num_rows == 0


def test_an_unknown_scheme_is_refused() -> None:
    with pytest.raises(StoreError, match="cannot use nosuch://bucket"):
        ResultStore("nosuch://bucket/out")
