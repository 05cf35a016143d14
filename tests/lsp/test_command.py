"""``typeseer lsp`` on the command line: options, and a clear message without pygls."""

from __future__ import annotations

import argparse
import io
import subprocess
import sys

import pytest

from typeseer.lsp import add_lsp_parser, run_lsp


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="typeseer")
    add_lsp_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["lsp", *argv])


def test_editors_may_pass_stdio() -> None:
    args = _parse("--stdio", "--debounce", "0.5", "--log-level", "info")
    assert args.stdio and args.debounce == 0.5 and args.log_level == "info"


def test_without_pygls_it_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pygls", None)  # ``import pygls`` raises ImportError
    stderr = io.StringIO()
    assert run_lsp(_parse(), io.StringIO(), stderr) == 2
    assert "install typeseer[lsp]" in stderr.getvalue()


def test_a_bad_debounce_is_a_usage_error() -> None:
    stderr = io.StringIO()
    assert run_lsp(_parse("--debounce", "-1"), io.StringIO(), stderr) == 2
    assert "--debounce" in stderr.getvalue()


def test_the_server_exits_when_its_input_ends() -> None:
    done = subprocess.run([sys.executable, "-m", "typeseer.lsp"], input=b"",
                          capture_output=True, timeout=60, check=False)
    assert done.returncode == 0
    assert done.stdout == b""
