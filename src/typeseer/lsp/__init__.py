"""The language server (``typeseer lsp``): inferred types in the editor.

``session`` keeps the analyses of open documents up to date in a background thread;
``features`` turns an analysis into inlay hints, hovers and code actions; ``edits`` is the
bridge to `apply`'s planner and renderer; ``server`` speaks the protocol (pygls, the optional
``typeseer[lsp]`` dependency, imported only when the server runs).
"""

from __future__ import annotations

from .command import add_lsp_parser, run_lsp

__all__ = ["add_lsp_parser", "run_lsp"]
