"""Tests for typeseer.verify: real checker runs on small fixture projects, and the parsing of
each checker's output on samples captured from real runs."""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from typeseer import verify as verify_module
from typeseer.verify import (
    BUDGET_EXHAUSTED,
    Candidate,
    Checker,
    CheckerError,
    Rendering,
    VerifyError,
    checker_command,
    parse_output,
    run_checker,
    verify,
)

FIXTURES = Path(__file__).parent / "fixtures" / "verify"
SAMPLES = FIXTURES / "samples"
#: The root the JSON samples were captured in (pyright prints absolute paths).
SAMPLE_ROOT = Path("/project")


def _installed(checker: Checker) -> bool:
    try:
        checker_command(checker)
    except VerifyError:
        return False
    return checker is not Checker.PYRIGHT or shutil.which("node") is not None


needs_pyright = pytest.mark.skipif(not _installed(Checker.PYRIGHT), reason="pyright missing")
needs_pyrefly = pytest.mark.skipif(not _installed(Checker.PYREFLY), reason="pyrefly missing")


@pytest.fixture
def local(tmp_path: Path) -> Path:
    """shapes.py: functions to annotate, one of them with an error already.

    Copied out of the repository: inside it, the repository's own (strict) mypy
    configuration would apply, as it does to any project below its repository's top."""
    return Path(shutil.copytree(FIXTURES / "local", tmp_path / "local"))


@pytest.fixture
def cross(tmp_path: Path) -> Path:
    """store.py and client.py, which calls store.find."""
    return Path(shutil.copytree(FIXTURES / "cross", tmp_path / "cross"))


# --- A small renderer: each candidate replaces text on one line --------------------------------

@dataclass(frozen=True)
class Edit:
    id: int
    file: str
    line: int  # 1-based, in the original text
    old: str
    new: str


def _scope_of(text: str, line: int) -> tuple[int, int]:
    """The innermost def/class around ``line`` (the def itself for a line of its header)."""
    best = (1, len(text.splitlines()))
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            end = node.end_lineno or node.lineno
            if node.lineno <= line <= end and end - node.lineno < best[1] - best[0]:
                best = (node.lineno, end)
    return best


def make_render(root: Path, edits: list[Edit], *, header: str = "",
                calls: list[frozenset[int]] | None = None
                ) -> Callable[[frozenset[int]], Rendering]:
    """``header`` is inserted at the top of every changed file, shifting its lines (as an
    inserted import does)."""
    shift = header.count("\n")

    def render(kept: frozenset[int]) -> Rendering:
        if calls is not None:
            calls.append(kept)
        texts: dict[str, str] = {}
        lines: dict[int, int] = {}
        for file in sorted({edit.file for edit in edits if edit.id in kept}):
            source = (root / file).read_text().splitlines(keepends=True)
            for edit in edits:
                if edit.id in kept and edit.file == file:
                    assert edit.old in source[edit.line - 1]
                    source[edit.line - 1] = source[edit.line - 1].replace(edit.old, edit.new, 1)
                    lines[edit.id] = edit.line + shift
            texts[file] = header + "".join(source)
        scopes = {edit.id: _scope_of(texts[edit.file], lines[edit.id])
                  for edit in edits if edit.id in kept}
        return Rendering(texts=texts, lines=lines, scopes=scopes)

    return render


def _candidates(edits: list[Edit]) -> list[Candidate]:
    return [Candidate(id=edit.id, file=edit.file) for edit in edits]


def _digest(root: Path) -> dict[str, str]:
    return {path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(root.rglob("*")) if path.is_file()}


LOCAL_EDITS = [
    Edit(1, "shapes.py", 1, "def area(radius):", "def area(radius: float):"),
    Edit(2, "shapes.py", 5, "def shout(word):", "def shout(word: int):"),
    Edit(3, "shapes.py", 9, "def count(items):", "def count(items) -> str:"),
    # In the function that already has an error (``return str(result)``): must be kept.
    Edit(4, "shapes.py", 14, "result = 0", "result: int = 0"),
]

CROSS_EDITS = [
    # Right in store.py, but client.py's ``find(key, None) + 1`` fails on ``None``.
    Edit(1, "store.py", 1, "def find(key, default):", "def find(key, default) -> int | None:"),
    Edit(2, "store.py", 7, "def size(text):", "def size(text: str):"),
    Edit(3, "store.py", 11, "def names():", "def names() -> list[str]:"),
    Edit(4, "client.py", 3, "LIMIT = 10", "LIMIT: int = 10"),
    Edit(5, "client.py", 10, "def first():", "def first() -> str:"),
]


# --- verify with mypy ---------------------------------------------------------------------------

@pytest.mark.parametrize("header", ["", "from __future__ import annotations\n"])
def test_annotations_adding_errors_are_dropped_and_good_ones_kept(local: Path,
                                                                  header: str) -> None:
    before = _digest(local)
    outcome = verify(local, Checker.MYPY, ["shapes.py"], _candidates(LOCAL_EDITS),
                     make_render(local, LOCAL_EDITS, header=header))
    assert outcome.kept == {1, 4}
    assert set(outcome.dropped) == {2, 3}
    assert 'has no attribute "upper"' in outcome.dropped[2]
    assert outcome.dropped[2].startswith(f"shapes.py:{6 + len(header.splitlines())}:")
    assert "Incompatible return value type" in outcome.dropped[3]
    assert outcome.baseline_errors == 1  # total() returns str
    assert outcome.new_errors == []
    assert outcome.rounds == 2
    assert outcome.seconds > 0
    assert _digest(local) == before, "the user's files must not be touched"


def test_mypy_without_json_output_gives_the_same_outcome(local: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """mypy before 1.11 has no ``-O json``: its one-line text form is read instead."""
    monkeypatch.setattr(verify_module, "_mypy_has_json_output", lambda prefix: False)
    outcome = verify(local, Checker.MYPY, ["shapes.py"], _candidates(LOCAL_EDITS),
                     make_render(local, LOCAL_EDITS))
    assert outcome.kept == {1, 4} and set(outcome.dropped) == {2, 3}
    assert outcome.dropped[2] == 'shapes.py:6: "int" has no attribute "upper"  [attr-defined]'


def test_baseline_errors_alone_cause_no_drop(local: Path) -> None:
    edits = [LOCAL_EDITS[0], LOCAL_EDITS[3]]
    outcome = verify(local, Checker.MYPY, ["shapes.py"], _candidates(edits),
                     make_render(local, edits, header="from __future__ import annotations\n"))
    assert outcome.kept == {1, 4}
    assert outcome.dropped == {}
    assert (outcome.baseline_errors, outcome.rounds) == (1, 1)


def test_cross_file_error_is_found_by_the_split_search(cross: Path) -> None:
    outcome = verify(cross, Checker.MYPY, ["client.py", "store.py"], _candidates(CROSS_EDITS),
                     make_render(cross, CROSS_EDITS))
    assert outcome.kept == {2, 3, 4, 5}
    assert list(outcome.dropped) == [1]
    assert outcome.dropped[1].startswith("client.py:7:")
    assert outcome.baseline_errors == 0
    # all, then [4, 5] (clean) and [4, 5, 1] (the error), then the kept ones.
    assert outcome.rounds == 4


def test_exhausted_budget_keeps_the_largest_subset_checked_clean(cross: Path) -> None:
    outcome = verify(cross, Checker.MYPY, ["client.py"], _candidates(CROSS_EDITS),
                     make_render(cross, CROSS_EDITS), max_rounds=2)
    assert outcome.kept == {4, 5}  # the first half tried by the split search
    assert outcome.dropped == dict.fromkeys([1, 2, 3], BUDGET_EXHAUSTED)
    assert outcome.rounds == 2
    assert outcome.new_errors == []


def test_no_rounds_drops_everything_and_never_renders(local: Path) -> None:
    calls: list[frozenset[int]] = []
    outcome = verify(local, Checker.MYPY, ["shapes.py"], _candidates(LOCAL_EDITS),
                     make_render(local, LOCAL_EDITS, calls=calls), max_rounds=0)
    assert outcome.kept == frozenset()
    assert outcome.dropped == dict.fromkeys([1, 2, 3, 4], BUDGET_EXHAUSTED)
    assert (outcome.baseline_errors, outcome.rounds, calls) == (1, 0, [])


def test_the_empty_subset_is_the_baseline(local: Path, tmp_path: Path) -> None:
    """All candidates bad: nothing is kept, and what is left is exactly the baseline."""
    bad = [LOCAL_EDITS[1], LOCAL_EDITS[2]]
    calls: list[frozenset[int]] = []
    outcome = verify(local, Checker.MYPY, ["shapes.py"], _candidates(bad),
                     make_render(local, bad, calls=calls))
    assert outcome.kept == frozenset() and set(outcome.dropped) == {2, 3}
    assert frozenset() not in calls
    assert make_render(local, bad)(frozenset()).texts == {}
    direct = run_checker(Checker.MYPY, local, ["shapes.py"], cache_dir=tmp_path / "cache")
    assert outcome.baseline_errors == len(direct) == 1
    assert direct[0] == CheckerError("shapes.py", 17, "return-value",
                                     'Incompatible return value type (got "str", expected "int")')
    assert not (local / ".mypy_cache").exists()


def test_no_candidates_checks_only_the_baseline(local: Path) -> None:
    outcome = verify(local, Checker.MYPY, ["shapes.py"], [], make_render(local, []))
    assert (outcome.kept, outcome.dropped, outcome.rounds) == (frozenset(), {}, 0)
    assert outcome.baseline_errors == 1


def test_configuration_at_the_repository_top_applies_below_it(tmp_path: Path) -> None:
    """``typeseer apply src`` in a repository whose pyproject.toml is at the top: the copy
    keeps that configuration, as mypy run in ``src`` would find it."""
    repository = tmp_path / "repo"
    (repository / ".git").mkdir(parents=True)
    (repository / "pyproject.toml").write_text("[tool.mypy]\ndisallow_incomplete_defs = true\n")
    source = repository / "src"
    source.mkdir()
    (source / "pair.py").write_text("def pair(left, right):\n    return (left, right)\n")
    edits = [Edit(1, "pair.py", 1, "(left, right)", "(left: int, right)")]
    outcome = verify(source, Checker.MYPY, ["pair.py"], _candidates(edits),
                     make_render(source, edits))
    assert outcome.kept == frozenset()
    assert outcome.dropped[1].endswith("[no-untyped-def]")
    (repository / ".git").rmdir()  # not in a repository: the configuration above is not used
    outcome = verify(source, Checker.MYPY, ["pair.py"], _candidates(edits),
                     make_render(source, edits))
    assert outcome.kept == {1}


# --- other checkers (skipped when not installed) ------------------------------------------------

@needs_pyright
def test_pyright_verifies(local: Path) -> None:
    outcome = verify(local, Checker.PYRIGHT, ["shapes.py"], _candidates(LOCAL_EDITS),
                     make_render(local, LOCAL_EDITS))
    assert outcome.kept == {1, 4} and set(outcome.dropped) == {2, 3}
    assert "[reportAttributeAccessIssue]" in outcome.dropped[2]


@needs_pyrefly
def test_pyrefly_verifies_an_unconfigured_project_with_its_default_checks(local: Path) -> None:
    outcome = verify(local, Checker.PYREFLY, ["shapes.py"], _candidates(LOCAL_EDITS),
                     make_render(local, LOCAL_EDITS))
    assert outcome.kept == {1, 4} and set(outcome.dropped) == {2, 3}
    assert "[bad-return]" in outcome.dropped[3]
    assert outcome.baseline_errors == 1


@needs_pyrefly
def test_pyrefly_cross_file(cross: Path) -> None:
    outcome = verify(cross, Checker.PYREFLY, ["client.py", "store.py"],
                     _candidates(CROSS_EDITS), make_render(cross, CROSS_EDITS))
    assert outcome.kept == {2, 3, 4, 5} and list(outcome.dropped) == [1]


# --- locating and running a checker -------------------------------------------------------------

def test_missing_checker_names_the_extra_to_install(local: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify_module.shutil, "which", lambda name: None)
    monkeypatch.setattr(verify_module.sys, "executable", str(tmp_path / "python"))
    monkeypatch.setattr(verify_module.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(VerifyError, match=r"pyrefly not found: pip install 'typeseer\[pyrefly\]'"):
        checker_command(Checker.PYREFLY)
    with pytest.raises(VerifyError, match=r"mypy not found"):
        verify(local, Checker.MYPY, ["shapes.py"], [], make_render(local, []))


def test_importable_checker_runs_as_a_module(monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    monkeypatch.setattr(verify_module.shutil, "which", lambda name: None)
    monkeypatch.setattr(verify_module.sys, "executable", str(tmp_path / "python"))
    assert importlib.util.find_spec("mypy") is not None
    assert checker_command(Checker.MYPY) == [str(tmp_path / "python"), *verify_module._SAFE_PATH,
                                             "-m", "mypy"]


def _fake_checker(monkeypatch: pytest.MonkeyPatch, script: str) -> None:
    command = [sys.executable, "-c", script]
    monkeypatch.setattr(verify_module, "checker_command", lambda checker: command)


def test_checker_crash_gives_the_tail_of_its_output(local: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_checker(monkeypatch, "import sys; sys.stderr.write('Traceback: boom'); sys.exit(2)")
    with pytest.raises(VerifyError, match=r"pyright failed \(exit status 2\):\nTraceback: boom"):
        run_checker(Checker.PYRIGHT, local, ["shapes.py"])


def test_unreadable_output_is_an_error(local: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_checker(monkeypatch, "print('Please install node')")
    with pytest.raises(VerifyError, match=r"could not read pyrefly's JSON output:\n"
                                          r"Please install node"):
        run_checker(Checker.PYREFLY, local, ["shapes.py"])


def test_checker_time_limit(local: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_checker(monkeypatch, "import time; time.sleep(10)")
    with pytest.raises(VerifyError, match=r"pyright did not finish within 0.5 s"):
        run_checker(Checker.PYRIGHT, local, ["shapes.py"], timeout_s=0.5)


def test_mypy_blocking_error_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("def f(:\n    pass\n")
    with pytest.raises(VerifyError, match=r"mypy failed \(exit status 2\):\n.*broken.py"):
        run_checker(Checker.MYPY, tmp_path, ["broken.py"], cache_dir=tmp_path / "cache")


# --- parsing captured output --------------------------------------------------------------------

# The samples: each checker run on fixtures/verify/local/shapes.py with shout(word: int) and
# count(items) -> str, beside a use.py holding ``reveal_type(shapes.area)``, in /project.

def _sample(name: str) -> str:
    return (SAMPLES / name).read_text()


@pytest.mark.parametrize("sample", ["mypy.jsonl", "mypy.txt"])
def test_parse_mypy_output(sample: str) -> None:
    errors = parse_output(Checker.MYPY, _sample(sample), SAMPLE_ROOT)
    assert errors == [
        CheckerError("shapes.py", 6, "attr-defined", '"int" has no attribute "upper"'),
        CheckerError("shapes.py", 10, "return-value",
                     'Incompatible return value type (got "int", expected "str")'),
        CheckerError("shapes.py", 17, "return-value",
                     'Incompatible return value type (got "str", expected "int")'),
    ]  # the note (reveal_type in use.py) is left out


def test_parse_mypy_text_variants() -> None:
    output = ("C:\\p\\a.py:3: error: Name \"x\" is not defined  [name-defined]\n"
              "pkg/b.py: error: Duplicate module named \"b\"\n"
              "pkg/c.py:4:2: warning: unused 'type: ignore' comment\n")
    assert parse_output(Checker.MYPY, output, SAMPLE_ROOT) == [
        CheckerError("C:\\p\\a.py", 3, "name-defined", 'Name "x" is not defined'),
        CheckerError("pkg/b.py", 0, "", 'Duplicate module named "b"'),
    ]


def test_parse_pyright_output() -> None:
    errors = parse_output(Checker.PYRIGHT, _sample("pyright.json"), SAMPLE_ROOT)
    assert [(error.file, error.line, error.code) for error in errors] == [
        ("shapes.py", 6, "reportAttributeAccessIssue"),
        ("shapes.py", 10, "reportReturnType"),
        ("shapes.py", 17, "reportReturnType"),
    ]  # the information entry (reveal_type) is left out
    assert errors[0].message.startswith('Cannot access attribute "upper" for class "int"')


def test_parse_pyright_output_after_a_wrapper_warning() -> None:
    output = "WARNING: there is a new pyright version available\n" + _sample("pyright.json")
    assert len(parse_output(Checker.PYRIGHT, output, SAMPLE_ROOT)) == 3


def test_parse_pyrefly_output() -> None:
    errors = parse_output(Checker.PYREFLY, _sample("pyrefly.json"), SAMPLE_ROOT)
    assert [(error.file, error.line, error.code) for error in errors] == [
        ("shapes.py", 6, "missing-attribute"),
        ("shapes.py", 10, "bad-return"),
        ("shapes.py", 17, "bad-return"),
        ("use.py", 3, "unimported-directive"),
    ]  # the info entry (the revealed type) is left out
    assert errors[1].message == ("Returned type `int` is not assignable to declared return "
                                 "type `str`")


@pytest.mark.parametrize(("checker", "output"), [
    (Checker.PYRIGHT, '{"version": "1"}'),
    (Checker.PYREFLY, "[]"),
    (Checker.MYPY, "{not json\n"),
])
def test_malformed_output_is_an_error(checker: Checker, output: str) -> None:
    with pytest.raises(VerifyError):
        parse_output(checker, output, SAMPLE_ROOT)


# --- telling new errors from baseline ones ------------------------------------------------------

def _workspace(tmp_path: Path, files: Mapping[str, str],
               shown: Mapping[str, str]) -> verify_module._Workspace:
    root = tmp_path / "project"
    root.mkdir()
    for name, text in files.items():
        (root / name).write_text(text)
    workspace = verify_module._Workspace(root, tmp_path / "work")
    workspace.show(shown)
    return workspace


def test_new_errors_ignore_shifted_lines_and_pick_the_moved_instance(tmp_path: Path) -> None:
    before = "x = f()\ny = f()\nz = 1\n"
    after = "import typing\nx = f()\ny = f()\nz: str = 1\nw = f()\n"
    workspace = _workspace(tmp_path, {"a.py": before}, {"a.py": after})
    undefined = 'Name "f" is not defined'
    baseline = [CheckerError("a.py", 1, "name-defined", undefined),
                CheckerError("a.py", 2, "name-defined", undefined)]
    current = [CheckerError("a.py", line, "name-defined", undefined) for line in (2, 3, 5)]
    current.append(CheckerError("a.py", 4, "assignment", "Incompatible types"))
    assert verify_module._new_errors(baseline, current, workspace) == [
        CheckerError("a.py", 4, "assignment", "Incompatible types"),
        CheckerError("a.py", 5, "name-defined", undefined),
    ]


def test_line_numbers_inside_messages_do_not_make_errors_new(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path, {"a.py": "x = 1\n"}, {"a.py": "import os\nx = 1\n"})
    baseline = [CheckerError("a.py", 9, "no-redef", 'Name "g" already defined on line 3')]
    current = [CheckerError("a.py", 10, "no-redef", 'Name "g" already defined on line 4')]
    assert verify_module._new_errors(baseline, current, workspace) == []


def test_workspace_restores_files_the_rendering_no_longer_changes(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path, {"a.py": "x = 1\n", "b.py": "y = 2\n"},
                           {"a.py": "x: int = 1\n"})
    tree = workspace.tree
    assert (tree / "a.py").read_text() == "x: int = 1\n"
    first_stamp = (tree / "a.py").stat().st_mtime
    workspace.show({"b.py": "y: int = 2\n"})
    assert (tree / "a.py").read_text() == "x = 1\n"
    assert (tree / "b.py").read_text() == "y: int = 2\n"
    assert (tree / "a.py").stat().st_mtime > first_stamp


def test_workspace_copies_sources_and_config_but_not_environments(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    for relpath in ["pkg/__init__.py", "pkg/py.typed", "pkg/m.pyi", "pyproject.toml",
                    "pyrightconfig.json", "README.md", ".git/hooks/x.py",
                    "pkg/__pycache__/m.py", ".venv/lib/site.py", "env/lib/os.py",
                    "node_modules/n.py"]:
        (root / relpath).parent.mkdir(parents=True, exist_ok=True)
        (root / relpath).write_text("")
    (root / "env" / "pyvenv.cfg").write_text("home = /usr\n")
    tree = verify_module._Workspace(root, tmp_path / "work").tree
    assert tree.name == "proj"
    copied = sorted(path.relative_to(tree).as_posix() for path in tree.rglob("*")
                    if path.is_file() and not path.is_symlink()
                    and path.relative_to(tree).parts[0] != "env")
    assert copied == ["pkg/__init__.py", "pkg/m.pyi", "pkg/py.typed", "pyproject.toml",
                      "pyrightconfig.json"]
    assert (tree / "env").is_symlink()  # a virtualenv is linked so configs naming it work


def test_partly_annotating_an_untyped_def_is_not_a_new_error(tmp_path: Path) -> None:
    # Under disallow_untyped_defs, annotating some parameters changes the message only.
    workspace = _workspace(tmp_path, {"a.py": "def f(x, y):\n    pass\n"},
                           {"a.py": "def f(x: int, y):\n    pass\n"})
    baseline = [CheckerError("a.py", 1, "no-untyped-def",
                             "Function is missing a type annotation")]
    current = [CheckerError("a.py", 1, "no-untyped-def",
                            "Function is missing a type annotation for one or more arguments")]
    assert verify_module._new_errors(baseline, current, workspace) == []
