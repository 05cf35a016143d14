"""What every benchmark records with its figures: the commit they come from, and the results
file written atomically."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from typeseer.fileio import atomic_write_text

ROOT = Path(__file__).resolve().parent.parent


def git_state() -> dict[str, object]:
    """The commit the results come from, and whether the working tree had changes in src."""
    def git(*command: str) -> str | None:
        try:
            done = subprocess.run(["git", *command], cwd=ROOT, capture_output=True, text=True,
                                  check=False, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    status = git("status", "--porcelain", "--untracked-files=no", "--", "src")
    return {"commit": git("rev-parse", "HEAD"), "src_modified": bool(status)}


def write_json(path: Path, data: object) -> None:
    """Write a results file atomically (a reader never sees half of it)."""
    atomic_write_text(path, json.dumps(data, indent=1) + "\n")
