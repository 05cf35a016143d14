"""Interprocedural context: the arguments the project passes to each parameter."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

from typeseer.model.callsites import CallSites
from typeseer.project import Project
from typeseer.sites import Site
from typeseer.sources import discover
from typeseer.static import StaticEngine

Features = Callable[[Site], list[str]]


def _sites(tmp_path: Path, files: dict[str, str]) -> tuple[Features, dict[tuple[str, str], Site]]:
    for name, text in files.items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    found, _ = discover([tmp_path])
    project = Project(found)
    engine = StaticEngine(project, use_annotations=False)
    modules = []
    for source in found:
        loaded = project.load(source)
        assert loaded.sites is not None
        modules.append(loaded.sites)
    sites = {(s.scope, s.name): s for m in modules for s in m.sites if s.kind.value == "param"}
    call_sites = CallSites(engine, modules)
    return (lambda site: call_sites.features(site, project)), sites


def test_arguments_from_other_modules_reach_the_parameters(tmp_path: Path) -> None:
    features, sites = _sites(tmp_path, {
        "users.py": """
            class User:
                def __init__(self, name, admin=False):
                    self.name = name

            def make(name, *, level):
                return User(name)
            """,
        "main.py": """
            from users import User, make

            def run():
                make("ada", level=3)
                User(f"x{1}", admin=True)
            """,
    })
    assert "cst=str" in features(sites[("make", "name")])
    assert "cs.const=int" in features(sites[("make", "level")])
    init_name = features(sites[("User.__init__", "name")])
    assert "cs.JoinedStr" in init_name and "cst=str" in init_name
    assert "cst=bool" in features(sites[("User.__init__", "admin")])


def test_a_parameter_nobody_passes_says_so(tmp_path: Path) -> None:
    features, sites = _sites(tmp_path, {"lonely.py": "def f(x):\n    return x\n"})
    assert features(sites[("f", "x")]) == ["cs.none"]
