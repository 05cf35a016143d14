"""Site features: the same strings for the same code, carrying the documented signals."""

from __future__ import annotations

import textwrap

from typeseer.model.features import (
    BUCKETS,
    candidate_classes,
    doc_type,
    hash_features,
    site_features,
    subtokens,
)
from typeseer.parsing import parse_source
from typeseer.sites import ModuleSites, extract_sites

SOURCE = textwrap.dedent('''\
    from collections import OrderedDict
    from .models import UserRecord

    class Cache:
        def get(self, user_id, retries=3):
            """Fetch.

            :param user_id: the key
            :type user_id: int
            :rtype: str
            """
            for item in self.items:
                item.refresh()
            return user_id.bit_length()
    ''')


def _module() -> ModuleSites:
    return extract_sites("m.py", SOURCE, parse_source(SOURCE), "pkg.m")


def _features(name: str, kind: str) -> list[str]:
    module = _module()
    site = next(s for s in module.sites if s.name == name and s.kind.value == kind)
    return site_features(site, module, None, 0.0)


def test_subtokens() -> None:
    assert subtokens("maxRetryCount") == ("max", "retry", "count")
    assert subtokens("max_retry_count") == ("max", "retry", "count")
    assert subtokens("HTTPServer") == ("http", "server")


def test_param_features_carry_name_docstring_default_and_usage() -> None:
    found = _features("user_id", "param")
    assert {"k=param", "n=user", "n=id", "n$=id", "f=get", "c=cache", "doc=int",
            "u.=bit_length", "s=<none>"} <= set(found)
    assert "dv=int" in _features("retries", "param")


def test_return_features_carry_returned_expression_and_rtype() -> None:
    found = set(_features("", "return"))
    assert {"k=return", "doc=str", "r.Call", "r.call=bit", "r.call$=length"} <= found


def test_doc_type_styles() -> None:
    assert doc_type(":param int x: the x", "x") == "int"
    assert doc_type("Args:\n    x (List[str]): names\n", "x") == "List[str]"
    assert doc_type("Parameters\n----------\nx : float\n", "x") == "float"
    assert doc_type("Returns:\n    bool: whether\n", None) == "bool"


def test_hashing_is_stable_and_bounded() -> None:
    ids = hash_features(["n=user", "k=param"])
    assert ids == hash_features(["n=user", "k=param"])
    assert all(0 <= i < BUCKETS for i in ids)


def test_candidates_are_defined_then_imported_classes() -> None:
    # OrderedDict is also a typing name: the vocabulary spells it, not a template.
    assert candidate_classes(_module()) == ["Cache", "UserRecord"]
