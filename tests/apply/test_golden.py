"""Golden before/after trees for every insertion form and policy of `typeseer apply`.

Each case under tests/fixtures/apply/ holds ``before/`` (with a pyproject.toml setting the
case's options) and ``after/``: ``typeseer apply --write`` must turn the one into the other,
the result must compile, and a second run must change nothing. A case with a
``same-code-as`` file takes the code of the case it names and only its own pyproject.toml.
Set TYPESEER_REGENERATE=1 to rewrite the ``after/`` trees (then review their diff).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from cli_runner import run

CASES = Path(__file__).resolve().parents[1] / "fixtures" / "apply"


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


def _apply(root: Path, *flags: str) -> tuple[int, str, str]:
    return run("apply", str(root), *flags)


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def test_apply_turns_before_into_after(case: str, tmp_path: Path) -> None:
    work = tmp_path / case
    base = CASES / case / "same-code-as"
    if base.is_file():  # the same code as another case, under other settings
        shutil.copytree(CASES / base.read_text().strip() / "before", work,
                        ignore=shutil.ignore_patterns("pyproject.toml"))
    shutil.copytree(CASES / case / "before", work, dirs_exist_ok=True)
    code, _, stderr = _apply(work, "--write")
    assert code == 0, stderr
    expected_dir = CASES / case / "after"
    if os.environ.get("TYPESEER_REGENERATE"):
        shutil.rmtree(expected_dir, ignore_errors=True)
        shutil.copytree(work, expected_dir)
    assert _tree(work) == _tree(expected_dir)
    for path in work.rglob("*.py"):
        compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
    # Idempotent: a second run has nothing left to write.
    assert _apply(work, "--check")[0] == 0
    before = _tree(work)
    assert _apply(work, "--write")[0] == 0
    assert _tree(work) == before
