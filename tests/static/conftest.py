from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from typeseer.api import Prediction, infer
from typeseer.config import Config

Infer = Callable[..., dict[tuple[str, str, str], Prediction]]


@pytest.fixture
def infer_types(tmp_path: Path) -> Infer:
    """Write ``files`` (name -> dedented source) and infer them; keyed by (scope, kind, name)."""

    def run(files: dict[str, str] | str, disabled: tuple[str, ...] = ()) -> dict[
            tuple[str, str, str], Prediction]:
        if isinstance(files, str):
            files = {"mod.py": files}
        for name, text in files.items():
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text))
        config = Config(report_all=True, jobs=1, disabled_rules=frozenset(disabled),
                        use_model=False)  # the static rules alone
        result = infer([tmp_path], config)
        return {(p.scope, p.kind, p.name): p for p in result.predictions}

    return run
