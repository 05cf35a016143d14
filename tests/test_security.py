"""typeseer reads the code it analyses as text: it never imports or runs it, never starts a
process unasked, loads its model without pickle, writes stubs only under the output directory,
and takes nothing from pyproject.toml that could run a command."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from cli_runner import run

from typeseer import verify
from typeseer.config import ConfigError, load_config
from typeseer.model import runtime

#: Code that leaves a mark when it runs: imported, executed, or picked up from sys.path.
_TRAP = "import pathlib\npathlib.Path({marker!r}).joinpath({name!r}).write_text('ran')\n"

#: Runs typeseer's commands in one process with an audit hook, then prints what the hook saw
#: touch the project: code executed from it, modules loaded from it, processes started.
_AUDITED = """
import json, os, sys
project, out, marker = sys.argv[1:4]
seen = []

def hook(event, args):
    if event == "exec":
        filename = getattr(args[0], "co_filename", "")
        if filename.startswith(project):
            seen.append(f"executed {filename}")
    elif event in ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn"):
        seen.append(f"{event} {args[:2]!r}")

sys.addaudithook(hook)
from typeseer.cli import main
commands = [["infer", project], ["apply", project], ["apply", "--write", project],
            ["stub", project, "-o", out], ["explain", project + "/pkg/mod.py:4"],
            ["coverage", project]]
codes = [main(command) for command in commands]
loaded = [name for name, module in list(sys.modules.items())
          if (getattr(module, "__file__", None) or "").startswith(project)]
print(json.dumps({"codes": codes, "seen": seen, "loaded": loaded}))
"""


def hostile_project(root: Path, marker: Path) -> Path:
    """A project whose every file does something when imported or run."""
    project = root / "project"
    (project / "pkg").mkdir(parents=True)
    traps = {name: _TRAP.format(marker=str(marker), name=name) for name in (
        "pkg_init", "mod", "setup", "conftest", "sitecustomize", "typing", "mypy", "numpy",
        "json")}
    (project / "pkg" / "__init__.py").write_text(traps["pkg_init"])
    (project / "pkg" / "mod.py").write_text(
        traps["mod"] + "exec(\"open('x', 'w')\")\n\n\n"
        "def size(items=()):\n    return len(items)\n\n\n"
        "__import__('os').system('touch never')\n")
    for name in ("setup", "conftest", "sitecustomize", "typing", "mypy", "numpy", "json"):
        (project / f"{name}.py").write_text(traps[name])
    (project / "pyproject.toml").write_text(
        "[tool.typeseer]\nexclude = []\n[tool.setuptools]\npackages = ['pkg']\n")
    return project


def test_analysed_code_is_never_imported_or_run(tmp_path: Path) -> None:
    marker = tmp_path / "marks"
    marker.mkdir()
    project = hostile_project(tmp_path, marker)
    # -I: the working directory (the project, as for a user) is not on sys.path: the audit
    # is of typeseer, not of `python -c`, which would import the project's typing.py itself.
    command = [sys.executable, "-I", "-c", _AUDITED, str(project), str(tmp_path / "out"),
               str(marker)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=project,
                          check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["seen"] == [] and report["loaded"] == []
    assert list(marker.iterdir()) == []
    assert report["codes"][:2] == [0, 0]
    # Annotated all the same: the file was read as text.
    assert ") -> int:\n    return len(items)" in (project / "pkg" / "mod.py").read_text()
    assert (tmp_path / "out" / "pkg" / "mod.pyi").is_file()


def test_a_checker_started_as_a_module_is_not_shadowed_by_the_project(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``python -m mypy`` run in the project would import a ``mypy.py`` found there."""
    monkeypatch.setattr(verify.shutil, "which", lambda name: None)
    monkeypatch.setattr(verify.Path, "is_file", lambda self: False)
    command = verify.checker_command(verify.Checker.MYPY)
    assert command[0] == sys.executable and command[-2:] == ["-m", "mypy"]
    flag = command[1]
    probe = subprocess.run([sys.executable, flag, "-c", "import sys; print('' in sys.path)"],
                           capture_output=True, text=True, check=True)
    assert probe.stdout.strip() == "False"


def test_the_model_loads_without_pickle(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*args: object, **kwargs: object) -> None:
        raise AssertionError("pickle used")

    monkeypatch.setattr(pickle, "loads", refused)
    monkeypatch.setattr(pickle, "load", refused)
    monkeypatch.setattr(pickle, "Unpickler", refused)
    assert runtime.load_model() is not None


@pytest.mark.parametrize("value", [
    'verify = "mypy; touch pwned"',
    'verify = ["mypy", "--python-executable", "./evil"]',
    'jobs = "$(touch pwned)"',
    'python-version = "3.10; rm -rf ~"',
    'cache = "yes"',
    'plugins = ["evil"]',
])
def test_pyproject_values_are_data_and_checked(tmp_path: Path, value: str) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[tool.typeseer]\n{value}\n")
    with pytest.raises(ConfigError):
        load_config(tmp_path)
    code, _, err = run("infer", str(tmp_path))
    assert code != 0 and "pyproject.toml" in err and "Traceback" not in err
    assert not (tmp_path / "pwned").exists()


def test_stubs_are_not_written_through_a_link_out_of_the_output_directory(
        tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "pkg").mkdir(parents=True)
    (project / "pkg" / "mod.py").write_text("def f():\n    return 1\n")
    (project / "top.py").write_text("def g():\n    return 1\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "pkg").symlink_to(outside, target_is_directory=True)
    code, _, err = run("stub", str(project), "-o", str(out), "--no-model")
    assert list(outside.iterdir()) == []
    assert "stub path would leave the output directory" in err
    assert (out / "top.pyi").is_file() and code in (0, 1)


def test_a_file_given_from_outside_the_working_directory_gets_no_stub_outside(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "mod.py").write_text("def f():\n    return 1\n")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    run("stub", "../elsewhere/mod.py", "-o", "out", "--no-model")
    assert not (tmp_path / "elsewhere" / "mod.pyi").exists()
    assert not (tmp_path / "mod.pyi").exists()
    assert [p.name for p in (tmp_path / "elsewhere").iterdir()] == ["mod.py"]
