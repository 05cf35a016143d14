"""`apply --write` killed with SIGKILL at random points: every file is either its old self or
its annotated self, never a part of one, and a second run finishes the job."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")

#: Runs `typeseer apply --write --no-model DIR` on a slow disk: each fsync takes 20 ms, so
#: that the writes are spread over time and the kills land among them. Prints "writing" when
#: the first file is about to reach the disk.
_APPLY_ON_A_SLOW_DISK = """
import os, sys, time
real_fsync = os.fsync
started = []

def slow_fsync(fd):
    if not started:
        started.append(True)
        print("writing", flush=True)
    time.sleep(0.02)
    real_fsync(fd)

os.fsync = slow_fsync
from typeseer.cli import main
sys.exit(main(["apply", "--write", "--no-model", sys.argv[1]]))
"""

FILES = 24


def make_project(root: Path) -> Path:
    project = root / "project"
    project.mkdir()
    for index in range(FILES):
        (project / f"module{index}.py").write_text(
            f"# module {index}\n"
            f"def size{index}(items=()):\n    return len(items)\n\n\n"
            f"class Box{index}:\n    def __init__(self, label='', count=0):\n"
            f"        self.label = label\n        self.count = count\n\n"
            f"    def total(self):\n        return self.count * {index}\n")
    return project


def snapshot(project: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(project.iterdir()) if p.suffix == ".py"}


def start(project: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", _APPLY_ON_A_SLOW_DISK, str(project)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def finished(project: Path) -> dict[str, bytes]:
    process = start(project)
    process.communicate(timeout=120)
    assert process.returncode == 0
    return snapshot(project)


@pytest.fixture(scope="module")
def states(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """Every file before, and after an uninterrupted run."""
    project = make_project(tmp_path_factory.mktemp("reference"))
    before = snapshot(project)
    after = finished(project)
    assert all(after[name] != before[name] for name in before)
    return before, after


def kill_while_writing(project: Path, rng: random.Random) -> None:
    process = start(project)
    assert process.stdout is not None
    assert process.stdout.readline() == "writing\n"
    time.sleep(rng.uniform(0, FILES * 0.04))  # two fsyncs per file
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)


def kill_at_any_time(project: Path, rng: random.Random) -> None:
    process = start(project)
    time.sleep(rng.uniform(0, 3.0))
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)


@pytest.mark.parametrize("seed", range(5))
def test_a_killed_run_leaves_every_file_old_or_new(
        tmp_path: Path, states: tuple[dict[str, bytes], dict[str, bytes]], seed: int) -> None:
    before, after = states
    project = make_project(tmp_path)
    rng = random.Random(seed)
    (kill_while_writing if seed % 3 else kill_at_any_time)(project, rng)
    killed = snapshot(project)
    assert killed.keys() == before.keys(), "a file was lost"
    for name, data in killed.items():
        assert data in (before[name], after[name]), f"{name} is half-written"
    # A killed write may leave its temporary file (never a .py file); nothing else appears.
    strays = [p.name for p in project.iterdir() if p.suffix != ".py"]
    assert all(name.startswith(".module") and name.endswith(".tmp") for name in strays)
    for stray in strays:
        (project / stray).unlink()
    if seed < 2:  # running again finishes the job, from wherever the kill left it
        assert finished(project) == after


def test_the_kills_fell_among_the_writes(tmp_path: Path,
                                         states: tuple[dict[str, bytes], dict[str, bytes]]
                                         ) -> None:
    """The slow disk really spreads the writes: a kill in the middle of them leaves some
    files written and some not."""
    after = states[1]
    project = make_project(tmp_path)
    process = start(project)
    assert process.stdout is not None and process.stdout.readline() == "writing\n"
    time.sleep(FILES * 0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    killed = snapshot(project)
    written = sum(killed[name] == after[name] for name in killed)
    assert 0 < written < FILES
