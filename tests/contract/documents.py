"""The storefront's documents as a client sends them: an operation file plus the fragment files
it spreads (and the ones those spread), from frontend-contract/."""

from __future__ import annotations

from pathlib import Path

from graphql import FragmentSpreadNode, Visitor, parse, visit

CONTRACT = Path(__file__).resolve().parents[2] / "frontend-contract"
OPERATIONS = CONTRACT / "operations"
FRAGMENTS = CONTRACT / "fragments"


class _Spreads(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_fragment_spread(self, node: FragmentSpreadNode, *_: object) -> None:
        self.names.add(node.name.value)


def spreads(text: str) -> set[str]:
    """The fragments a document spreads directly."""
    found = _Spreads()
    visit(parse(text), found)
    return found.names


def document(name: str) -> str:
    """The operation `name` with every fragment it needs appended, ready to send."""
    text = (OPERATIONS / f"{name}.graphql").read_text()
    needed: list[str] = []
    waiting = sorted(spreads(text))
    while waiting:
        fragment = waiting.pop()
        if fragment in needed:
            continue
        needed.append(fragment)
        waiting.extend(sorted(spreads(fragment_text(fragment)) - set(needed)))
    return "\n".join([text, *(fragment_text(f) for f in sorted(needed))])


def fragment_text(name: str) -> str:
    path = FRAGMENTS / f"{name}.graphql"
    if not path.exists():
        raise AssertionError(f"no fragment {name}: add frontend-contract/fragments/{name}.graphql")
    return path.read_text()
