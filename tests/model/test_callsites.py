"""Interprocedural context: the arguments the project passes to each parameter."""

from __future__ import annotations

import textwrap
from pathlib import Path

from typeseer.model.callsites import CallSites
from typeseer.project import Project
from typeseer.sites import Site
from typeseer.sources import discover
from typeseer.static import StaticEngine


def _sites(tmp_path: Path, files: dict[str, str]) -> tuple[CallSites, dict[tuple[str, str], Site]]:
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
    return CallSites(engine, modules), sites


def test_arguments_from_other_modules_reach_the_parameters(tmp_path: Path) -> None:
    call_sites, sites = _sites(tmp_path, {
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
    assert "cst=str" in call_sites.features(sites[("make", "name")])
    assert "cs.const=int" in call_sites.features(sites[("make", "level")])
    init_name = call_sites.features(sites[("User.__init__", "name")])
    assert "cs.JoinedStr" in init_name and "cst=str" in init_name
    assert "cst=bool" in call_sites.features(sites[("User.__init__", "admin")])


def test_a_parameter_nobody_passes_says_so(tmp_path: Path) -> None:
    call_sites, sites = _sites(tmp_path, {"lonely.py": "def f(x):\n    return x\n"})
    assert call_sites.features(sites[("f", "x")]) == ["cs.none"]
