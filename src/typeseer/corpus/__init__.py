"""The training corpus: labelled sites of typed PyPI packages (``typeseer corpus build``).

See ``typeseer.corpus.build`` for the stages and the shard format; the committed lists
(``packages.txt``, ``holdout.txt``, ``lock.txt``, ``splits/*.txt``) live beside this file.
"""

from __future__ import annotations

from typeseer.corpus.build import (
    CorpusSummary,
    add_corpus_parser,
    build_corpus,
    package_sources,
    read_sites,
    run_corpus_command,
)
from typeseer.corpus.lists import load_splits
from typeseer.corpus.split import assign_split

__all__ = [
    "CorpusSummary",
    "add_corpus_parser",
    "assign_split",
    "build_corpus",
    "load_splits",
    "package_sources",
    "read_sites",
    "run_corpus_command",
]
