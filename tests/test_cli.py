"""The command line: formats, options, exit codes, and one diagnostic line per bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cli_runner import run

CONTRACT_FIELDS = {"file", "line", "col", "scope", "kind", "name", "type", "confidence",
                   "source", "alternatives"}




@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "models.py").write_text(textwrap.dedent("""\
        class User:
            def __init__(self, name, admin=False):
                self.name = name
                self.admin = admin

            def greeting(self):
                return f"hello {self.name}"
        """))
    (root / "pkg" / "service.py").write_text(textwrap.dedent("""\
        from .models import User

        def make_user(name):
            return User(name)

        def count(items):
            total = 0
            for _ in items:
                total += 1
            return total
        """))
    return root


def records(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines()]


def test_jsonl_follows_the_contract(project: Path) -> None:
    code, out, err = run("infer", str(project), "--format", "jsonl", "--all", "--no-model")
    assert code == 0, err
    rows = records(out)
    assert rows and all(row.keys() >= CONTRACT_FIELDS for row in rows)
    by_key = {(r["file"], r["scope"], r["kind"], r["name"]): r for r in rows}
    make_user = by_key[("pkg/service.py", "make_user", "return", "")]
    assert make_user["type"] == "User"
    assert make_user["source"] == "static"
    assert make_user["alternatives"][0][0] == "User"  # type: ignore[index]
    assert by_key[("pkg/models.py", "User.greeting", "return", "")]["type"] == "str"
    # Cross-file: the class comes from another module of the project.
    assert by_key[("pkg/models.py", "User", "attribute", "name")]["type"] is None


def test_the_model_types_what_static_inference_cannot(project: Path) -> None:
    _, out, _ = run("infer", str(project), "--format", "jsonl", "--all")
    by_key = {(r["file"], r["scope"], r["kind"], r["name"]): r for r in records(out)}
    name = by_key[("pkg/models.py", "User.__init__", "param", "name")]
    assert name["type"] == "str"
    assert name["source"] == "model"
    assert 0.0 < name["confidence"] < 1.0  # type: ignore[operator]
    # A certain static fact is never contradicted.
    init = by_key[("pkg/models.py", "User.__init__", "return", "")]
    assert init["type"] == "None" and init["source"] == "static"


def test_json_and_table_formats(project: Path) -> None:
    code, out, _ = run("infer", str(project), "--format", "json")
    document = json.loads(out)
    assert code == 0
    assert {"predictions", "diagnostics", "summary"} <= document.keys()
    assert document["summary"]["files"] == 3
    code, out, _ = run("infer", str(project), "--format", "table", "--all")
    assert code == 0
    assert "make_user" in out and "User" in out and "sites typed" in out


def test_threshold_all_and_kinds(project: Path) -> None:
    _, strict, _ = run("infer", str(project), "-f", "jsonl", "--min-confidence", "1.0")
    assert all(r["type"] is None for r in records(strict) if r["source"] == "static")
    _, forced, _ = run("infer", str(project), "-f", "jsonl", "--min-confidence", "1.0", "--all")
    assert any(r["type"] is not None for r in records(forced))
    _, returns, _ = run("infer", str(project), "-f", "jsonl", "--kinds", "return")
    assert {r["kind"] for r in records(returns)} == {"return"}


def test_exclude_and_jobs_give_the_same_sites(project: Path) -> None:
    _, one, _ = run("infer", str(project), "-f", "jsonl", "--jobs", "1")
    _, two, _ = run("infer", str(project), "-f", "jsonl", "--jobs", "2")
    assert one == two
    _, excluded, _ = run("infer", str(project), "-f", "jsonl", "--exclude", "service.py")
    assert {r["file"] for r in records(excluded)} == {"pkg/models.py"}


def test_output_file_is_written(project: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    code, out, _ = run("infer", str(project), "-f", "jsonl", "-o", str(target))
    assert code == 0 and out == ""
    assert records(target.read_text())
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_usage_errors_exit_2() -> None:
    assert run("infer")[0] == 2
    assert run("infer", ".", "--min-confidence", "2")[0] == 2
    assert run("infer", ".", "--kinds", "bogus")[0] == 2
    assert run("infer", ".", "--disable-rule", "bogus")[0] == 2
    assert run("no-such-command")[0] == 2


def test_rules_command_lists_every_rule() -> None:
    code, out, _ = run("rules")
    assert code == 0
    assert "param_default" in out and "typeshed_call" in out


def test_config_from_pyproject(project: Path) -> None:
    (project / "pyproject.toml").write_text('[tool.typeseer]\nkinds = ["param"]\n')
    _, out, _ = run("infer", str(project), "-f", "jsonl")
    assert {r["kind"] for r in records(out)} == {"param"}
    (project / "pyproject.toml").write_text('[tool.typeseer]\nunknown-key = 1\n')
    code, _, err = run("infer", str(project), "-f", "jsonl")
    assert code == 2 and "unknown key" in err


def test_module_entry_point(project: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "typeseer", "infer", str(project)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0
    assert records(done.stdout)  # piped: jsonl by default
    assert done.stderr == ""  # piped: no progress bar


# -- bad input: one diagnostic line each, the rest still processed, no traceback -----------

def _bad_inputs(root: Path) -> dict[str, str]:
    """Bad files beside a good one; returns file -> expected words in its diagnostic."""
    root.mkdir()
    (root / "good.py").write_text("def ok():\n    return 1\n")
    (root / "syntax.py").write_text("def broken(:\n    pass\n")
    (root / "latin.py").write_bytes(b"name = '\xe9t\xe9'\n")
    (root / "binary.py").write_bytes(b"\x00\x01\x02ELF\x00")
    (root / "empty.py").write_text("")
    (root / "generated.py").write_text("x = 1\n" * 900_000)  # ~5.4 MB
    (root / "loop").mkdir()
    os.symlink(root / "loop", root / "loop" / "again")
    os.symlink("self.py", root / "self.py")
    return {"syntax.py": "syntax error at line 1", "latin.py": "not valid utf-8",
            "binary.py": "binary file", "generated.py": "mb", "loop/again": "symlink loop",
            "self.py": "symlink loop"}


def test_each_bad_input_gets_one_clear_line(tmp_path: Path) -> None:
    root = tmp_path / "bad"
    expected = _bad_inputs(root)
    code, out, err = run("infer", str(root), "-f", "jsonl", "--verbose")
    assert code == 0
    assert "Traceback" not in err
    lines = err.splitlines()
    for name, words in expected.items():
        mine = [line for line in lines if f": {name}:" in f": {line}" or line.startswith(
            f"typeseer: {name}:")]
        assert len(mine) == 1, (name, lines)
        assert words in mine[0].lower(), mine[0]
    assert any("empty.py" in line and "empty file" in line for line in lines)
    assert {r["file"] for r in records(out)} == {"good.py"}


def test_missing_path_and_directory_without_python(tmp_path: Path, project: Path) -> None:
    empty = tmp_path / "docs"
    empty.mkdir()
    (empty / "readme.txt").write_text("no python here")
    code, out, err = run("infer", str(project), str(empty), str(tmp_path / "nope"), "-f",
                         "jsonl")
    assert code == 2  # a path that does not exist is a usage error, reported after the run
    assert "no Python files" in err and "no such file or directory" in err
    assert len(err.splitlines()) == 2
    assert records(out)  # the existing project was still processed


def test_quiet_silences_diagnostics(tmp_path: Path) -> None:
    root = tmp_path / "bad"
    _bad_inputs(root)
    code, _, err = run("infer", str(root), "-f", "jsonl", "--quiet")
    assert code == 0 and err == ""


def test_enum_members_are_never_typed(tmp_path: Path) -> None:
    (tmp_path / "colors.py").write_text(
        "import enum\n\nclass Color(enum.Enum):\n    RED = 'red'\n    BLUE = 'blue'\n")
    _, out, _ = run("infer", str(tmp_path), "-f", "jsonl", "--all")
    members = [r for r in records(out) if r["scope"] == "Color"]
    assert members and all(r["type"] is None for r in members)


def test_train_without_pytorch_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # importing it now raises ImportError
    code, _, err = run("train", "--skip-featurise")
    assert code == 2
    assert "typeseer[train]" in err


def test_train_needs_a_corpus(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    code, _, err = run("train", "--corpus", str(tmp_path / "none"))
    assert code == 2 and "no corpus" in err
