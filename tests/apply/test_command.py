"""The `apply` and `stub` subcommands: modes, exit codes, reports, configuration, hooks."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
from cli_runner import run

ROOT = Path(__file__).resolve().parents[2]
STATIC = ["--no-model", "--min-confidence", "0.3"]




@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "m.py").write_text("def f():\n    return 1\n\nX = 'a'\n")
    return tmp_path


def test_preview_prints_a_diff_and_writes_nothing(project: Path) -> None:
    code, out, err = run("apply", str(project), *STATIC)
    assert code == 0
    assert out.startswith("--- a/m.py\n+++ b/m.py\n")
    assert "+def f() -> int:" in out
    assert "would write 2 annotations in 1 file" in err
    assert (project / "m.py").read_text() == "def f():\n    return 1\n\nX = 'a'\n"


def test_check_exits_1_when_something_would_change_then_0(project: Path) -> None:
    assert run("apply", str(project), "--check", *STATIC)[0] == 1
    assert run("apply", str(project), "--write", *STATIC)[0] == 0
    assert run("apply", str(project), "--check", *STATIC)[0] == 0


def test_write_and_check_are_exclusive(project: Path) -> None:
    code, _, err = run("apply", str(project), "--write", "--check")
    assert code == 2 and "not allowed with" in err


def test_zero_files_is_a_success(tmp_path: Path) -> None:
    assert run("apply", "--check")[0] == 0
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run("apply", str(empty), "--check", "-q")[0] == 0


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = run("apply", str(tmp_path / "nope"), "--check")
    assert code == 2 and "no such file or directory" in err


def test_dropped_annotations_are_listed_with_their_reason(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("def scale(value, factor=2):\n    return value * factor\n"
                                   "\n\nRESULT = scale(3, 1.5)\n")
    code, _, err = run("apply", str(tmp_path), "--verify", "mypy", *STATIC)
    assert code == 0
    assert "dropped m.py:1 scale factor: int (m.py:5: Argument 2" in err
    assert "1 dropped by mypy" in err


def test_report_lists_written_annotations(project: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    code, _, _ = run("apply", str(project), "--write", "--report", str(report), *STATIC)
    assert code == 0
    data = json.loads(report.read_text())
    assert data["changed_files"] == ["m.py"]
    assert {(a["kind"], a["name"], a["type"]) for a in data["annotations"]} == {
        ("return", "", "int"), ("variable", "X", "str")}
    assert data["verify"] is None and data["written"] is True


def test_kinds_and_types_select_what_is_written(project: Path) -> None:
    code, out, _ = run("apply", str(project), "--kinds", "variable", *STATIC)
    assert code == 0 and "+X: str = 'a'" in out and "-> int" not in out
    code, out, _ = run("apply", str(project), "--types", "int", *STATIC)
    assert "-> int" in out and "X: str" not in out


def test_python_version_spelling(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("def f(x):\n    if x:\n        return None\n    return [1]\n")
    _, out, _ = run("apply", str(tmp_path), "--python-version", "3.8", *STATIC)
    assert "-> Optional[List[int]]" in out and "from typing import List, Optional" in out
    _, out, _ = run("apply", str(tmp_path), *STATIC)
    assert "-> list[int] | None" in out


def test_level_sets_the_threshold(tmp_path: Path) -> None:
    # Static confidences: f's None 0.99, g's tuple 0.92.
    (tmp_path / "m.py").write_text('def f():\n    print(1)\n\n\ndef g():\n    return 1, "a"\n')
    _, out, _ = run("apply", str(tmp_path), "--no-model", "--level", "safe")
    assert "-> None" in out and "tuple" not in out
    _, out, _ = run("apply", str(tmp_path), "--no-model")
    assert "-> None" in out and "-> tuple[int, str]" in out
    _, out, _ = run("apply", str(tmp_path), "--no-model", "--level", "safe",
                    "--min-confidence", "0.9")
    assert "-> tuple[int, str]" in out


def test_configuration_in_pyproject(project: Path) -> None:
    (project / "pyproject.toml").write_text(
        '[tool.typeseer]\nuse-model = false\nmin-confidence = 0.3\nkinds = ["variable"]\n'
        'level = "balanced"\npython-version = "3.9"\nmax-union = 2\nmax-depth = 2\n'
        'existing = "keep"\ntypes = ["str"]\nexclude = ["skip_*"]\n')
    (project / "skip_me.py").write_text("Y = 'b'\n")
    code, out, _ = run("apply", str(project))
    assert code == 0 and "+X: str = 'a'" in out and "skip_me" not in out


@pytest.mark.parametrize("setting", ['level = "reckless"', 'python-version = "2.7"',
                                     "max-union = 0", 'existing = "merge"',
                                     'verify = "pytype"'])
def test_bad_configuration_is_a_usage_error(project: Path, setting: str) -> None:
    (project / "pyproject.toml").write_text(f"[tool.typeseer]\n{setting}\n")
    code, _, err = run("apply", str(project), "--check")
    assert code == 2 and "configuration error" in err


def test_unknown_checker_is_rejected(project: Path) -> None:
    code, _, err = run("apply", str(project), "--verify", "pytype")
    assert code == 2 and "invalid choice" in err


def test_pre_commit_hooks_run_typeseer_apply() -> None:
    text = (ROOT / ".pre-commit-hooks.yaml").read_text()
    yaml = pytest.importorskip("yaml")
    hooks = {hook["id"]: hook for hook in yaml.safe_load(text)}
    assert hooks["typeseer-check"]["entry"] == "typeseer apply --check"
    assert hooks["typeseer-apply"]["entry"] == "typeseer apply --write"
    assert all(h["language"] == "python" and h["types"] == ["python"] for h in hooks.values())


def test_stub_writes_valid_stubs_with_inferred_types(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "stubs"
    code, _, err = run("stub", str(project), "-o", str(out), *STATIC)
    assert code == 0, err
    stub = (out / "m.pyi").read_text()
    ast.parse(stub)
    assert "def f() -> int: ..." in stub and "X: str" in stub
    assert (project / "m.py").read_text() == "def f():\n    return 1\n\nX = 'a'\n"
    checked = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "m.pyi"],
                             cwd=out, capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout


@pytest.mark.parametrize("given", ["root", "package", "subpackage"])
def test_stubs_keep_the_package_layout(tmp_path: Path, given: str) -> None:
    """Whether the root holds packages or is one, the stubs are where a type checker looks:
    ``OUT/shop/__init__.pyi``, ``OUT/shop/orders/model.pyi``."""
    root = tmp_path / "src"
    (root / "shop" / "orders").mkdir(parents=True)
    (root / "shop" / "__init__.py").write_text("def version():\n    return '1'\n")
    (root / "shop" / "orders" / "__init__.py").write_text("")
    (root / "shop" / "orders" / "model.py").write_text("def total():\n    return 2\n")
    path = {"root": root, "package": root / "shop", "subpackage": root / "shop" / "orders"}
    out = tmp_path / "out"
    code, _, err = run("stub", str(path[given]), "-o", str(out), *STATIC)
    assert code == 0, err
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.pyi"))
    expected = ["shop/__init__.pyi", "shop/orders/__init__.pyi", "shop/orders/model.pyi"]
    assert written == (expected[1:] if given == "subpackage" else expected)
    assert "def total() -> int: ..." in (out / "shop" / "orders" / "model.pyi").read_text()


def test_stub_paths_cannot_leave_the_output_directory(tmp_path: Path) -> None:
    from typeseer.apply.stubs import stub_path

    out = tmp_path / "out"
    assert stub_path(out, "pkg/mod.py") == out / "pkg" / "mod.pyi"
    assert stub_path(out, "../evil.py") is None
    assert stub_path(out, "/etc/evil.py") is None
