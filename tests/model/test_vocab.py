"""Templates over the project's classes: the open vocabulary."""

from __future__ import annotations

import pytest

from typeseer.model.vocab import fill, template_of


@pytest.mark.parametrize(("label", "candidates", "expected"), [
    ("Response", ["Response", "Request"], ("@", "Response")),
    ("Response | None", ["Response"], ("@ | None", "Response")),
    ("list[Node]", ["Node"], ("list[@]", "Node")),
    ("dict[str, Node]", ["Node"], ("dict[str, @]", "Node")),
    ("int", ["Node"], None),
    ("Node | Edge", ["Node", "Edge"], None),  # two candidates: not one template
])
def test_template_of(label: str, candidates: list[str],
                     expected: tuple[str, str] | None) -> None:
    assert template_of(label, candidates) == expected


def test_fill_normalises_unions() -> None:
    assert fill("@ | None", "Zebra") == "Zebra | None"
    assert fill("@ | int", "Zebra") == "Zebra | int"
    assert fill("list[@]", "Order") == "list[Order]"


def test_fill_gives_a_class_never_seen_in_training() -> None:
    template, name = template_of("Sequence[QuasarWidget] | None", ["QuasarWidget"]) or ("", "")
    assert fill(template, "BrandNewClass") == "Sequence[BrandNewClass] | None"
    assert name == "QuasarWidget"
