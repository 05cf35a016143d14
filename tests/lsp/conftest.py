"""A small project to serve: a package whose modules exercise every kind of site."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from typeseer.lsp.session import Analysis, Session

SHAPES = textwrap.dedent('''\
    """Shapes of sites: defaults, multi-line signatures, attributes, declarations."""
    import os
    from pathlib import Path


    def tight(count=0, name="x", flag=True):
        total = count + 1
        return total


    def spaced(count = 0, *args, limit: int = 3, **options):
        label = "n" + str(count)
        return label


    async def fetch(url, timeout=1.5):
        return url.upper()


    def multi(
        first,
        second=2,
    ):
        for index in range(second):
            first = first + index
        with open(first) as handle:
            data = handle.read()
        left, right = 1, "a"
        return data


    class Point:
        limit = 10

        def __init__(self, x, y=0.0):
            self.x = x
            self.y = y
            self.path = Path(".")
            self.ok=True

        def norm(self):
            return (self.x ** 2 + self.y ** 2) ** 0.5

        def where(self):
            return os.path.join("a", "b")


    if True: flag = False
    values = [1, 2, 3]
    table = {"a": 1}
    counter=0
''')

MODELS = textwrap.dedent('''\
    """Classes other modules use."""


    class User:
        def __init__(self, name):
            self.name = name


    def make_user(name):
        return User(name)
''')

SERVICE = textwrap.dedent('''\
    """Uses the models: its types come from another module."""
    from .models import make_user


    def admin():
        user = make_user("root")
        return user
''')


@dataclass(frozen=True)
class Project:
    """The files of the fixture project."""

    root: Path
    shapes: Path
    models: Path
    service: Path


def write_project(root: Path, pyproject: str = "") -> Project:
    package = root / "pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    files = Project(root, package / "shapes.py", package / "models.py", package / "service.py")
    files.shapes.write_text(SHAPES)
    files.models.write_text(MODELS)
    files.service.write_text(SERVICE)
    if pyproject:
        (root / "pyproject.toml").write_text(pyproject)
    return files


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return write_project(tmp_path / "proj")


@pytest.fixture
def session(project: Project) -> Iterator[Session]:
    """A session over the project, static inference only, with a short debounce."""
    running = Session([project.root], {"use_model": False}, debounce=0.05)
    yield running
    running.shutdown()


def analysed(session: Session, path: Path, text: str | None = None) -> Analysis:
    """Open ``path`` (with ``text`` instead of its content) and wait for its analysis."""
    uri = path.as_uri()
    session.open(uri, path.read_text() if text is None else text, 1)
    analysis = session.wait(uri, 60)
    assert analysis is not None
    return analysis
