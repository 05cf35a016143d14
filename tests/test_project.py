"""The project's module index: files whose module name another file provides (a clash)."""

from __future__ import annotations

import gc
from pathlib import Path

from typeseer.api import ProjectAnalysis, infer
from typeseer.config import Config
from typeseer.project import Project
from typeseer.sources import discover


def clashing_project(root: Path) -> Path:
    """Two script folders (no ``__init__.py``), each with its own module ``tools``."""
    for folder, body in (("first", "def width():\n    return 3\n"),
                         ("second", "def label():\n    return 'x'\n\n\ndef size(n):\n"
                                    "    return [n * 2 for _ in range(n)]\n")):
        (root / folder).mkdir(parents=True)
        (root / folder / "tools.py").write_text(body)
        (root / folder / "main.py").write_text("from tools import *\n\n\ndef run():\n"
                                               "    return 1\n")
    return root


def test_a_shadowed_file_is_loaded_once_and_kept(tmp_path: Path) -> None:
    files, _ = discover([clashing_project(tmp_path)])
    project = Project(files)
    second = next(f for f in files if f.relpath == "second/tools.py")
    assert project.module_name(second) == "tools"
    assert project.source_of_module("tools") != second  # the first file wins the name
    loaded = project.load(second)
    gc.collect()
    assert project.load(second) is loaded  # not parsed again, and its scopes kept alive
    assert loaded.sites is not None
    assert project.module_of_root(loaded.sites.scope) == "tools"
    assert project.loaded_lines == len(loaded.sites.lines)
    project.release()
    assert project.load(second) is not loaded and project.loaded_lines > 0


def test_a_shadowed_file_given_up_stays_failed(tmp_path: Path) -> None:
    files, _ = discover([clashing_project(tmp_path)])
    project = Project(files)
    second = next(f for f in files if f.relpath == "second/tools.py")
    project.give_up(second, "too slow")
    assert project.load(second).error == "too slow"
    assert project.load(project.source_of_module("tools")).sites is not None  # type: ignore[arg-type]


def test_collections_between_files_change_nothing(tmp_path: Path) -> None:
    # Facts are memoised by the identity of scope objects: a shadowed module parsed again
    # for each use died between files, and a new object at its address got its facts.
    root = clashing_project(tmp_path)
    config = Config(cache=False, report_all=True)
    expected = infer([root], config).predictions
    files, _ = discover([root])
    analysis = ProjectAnalysis(files, config)
    found = []
    for index in range(len(files)):
        gc.collect()
        found.extend(analysis.analyse([index])[0].predictions)
    assert found == expected
