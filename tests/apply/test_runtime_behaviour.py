"""Annotations written by `apply` never change what the code does at run time.

The fixture uses every standard construct that reads annotations (dataclass fields,
NamedTuple fields, TypedDict keys, singledispatch registration); the module is imported in a
fresh interpreter before and after `apply --write` (at the lowest threshold, so everything
inferable is written) and what those constructs see is compared.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typeseer.apply.options import Level
from typeseer.apply.run import apply
from typeseer.config import Config

MODULE = '''\
import dataclasses
from functools import singledispatch
from typing import NamedTuple, TypedDict


@dataclasses.dataclass
class Point:
    x: int
    label = "p"
    scale = 1.0


class Pair(NamedTuple):
    left: int
    size = 2


class Movie(TypedDict):
    title: str


class Registry:
    kinds = ["a"]


@singledispatch
def show(value):
    return "any"


@show.register
def _(value: int):
    return "int"


def handler(value, strict=False):
    return str(value)


def make(flag):
    if flag:
        return None
    return Point(1)
'''

PROBE = '''\
import dataclasses, json, mod
print(json.dumps({
    "fields": [f.name for f in dataclasses.fields(mod.Point)],
    "pair": list(mod.Pair._fields),
    "movie": sorted(mod.Movie.__annotations__),
    "dispatch": [mod.show(1), mod.show("x"), mod.show(1.5)],
    "registry": sorted(t.__name__ for t in mod.show.registry),
    "make": repr(mod.make(False)),
}))
'''


def _probe(directory: Path) -> object:
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=directory, capture_output=True,
                          text=True, check=True)
    return json.loads(done.stdout)


def test_runtime_behaviour_is_unchanged(tmp_path: Path) -> None:
    (tmp_path / "mod.py").write_text(MODULE)
    before = _probe(tmp_path)
    config = Config(use_model=False, min_confidence=0.0, level=Level.AGGRESSIVE)
    result = apply([tmp_path], config, write=True)
    assert result.edits, "the fixture should get some annotations"
    text = (tmp_path / "mod.py").read_text()
    assert 'label = "p"' in text and "size = 2" in text and "def show(value):" in text
    assert "kinds: list[str]" in text  # a plain class is annotated
    assert _probe(tmp_path) == before
