"""The frontend contract: the committed SDL is the code's, and every operation still validates."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import (
    FragmentDefinitionNode,
    GraphQLSchema,
    OperationDefinitionNode,
    parse,
    validate,
)

from app.schema import contract_schema
from tests.contract.documents import CONTRACT, FRAGMENTS, document, spreads

OPERATIONS = sorted((CONTRACT / "operations").glob("*.graphql"))
FRAGMENT_FILES = sorted(FRAGMENTS.glob("*.graphql"))


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return contract_schema()._schema


def test_the_committed_schema_is_the_codes_schema() -> None:
    committed = (CONTRACT / "schema.graphql").read_text()
    assert committed == str(contract_schema()) + "\n", (
        "schema drift: run `uv run vitrina export-schema --output frontend-contract/schema.graphql`"
        " and note breaking changes in frontend-contract/CHANGELOG.md"
    )


def test_there_are_operations_to_check() -> None:
    assert len(OPERATIONS) >= 5


@pytest.mark.parametrize("path", OPERATIONS, ids=lambda p: p.stem)
def test_operation_validates_against_the_schema(schema: GraphQLSchema, path: Path) -> None:
    # with the fragments it spreads, as the storefront sends it (unused fragments would fail)
    assert [e.message for e in validate(schema, parse(document(path.stem)))] == []


@pytest.mark.parametrize("path", OPERATIONS, ids=lambda p: p.stem)
def test_each_file_holds_one_operation_named_after_it(path: Path) -> None:
    operations = list(parse(path.read_text()).definitions)
    assert all(isinstance(d, OperationDefinitionNode) for d in operations)
    names = [d.name.value for d in operations if isinstance(d, OperationDefinitionNode) and d.name]
    assert names == [path.stem]


@pytest.mark.parametrize("path", FRAGMENT_FILES, ids=lambda p: p.stem)
def test_each_fragment_file_holds_one_fragment_named_after_it(path: Path) -> None:
    definitions = parse(path.read_text()).definitions
    fragments = [d for d in definitions if isinstance(d, FragmentDefinitionNode)]
    assert len(fragments) == len(definitions)
    assert [d.name.value for d in fragments] == [path.stem]


def test_every_fragment_is_used_by_an_operation() -> None:
    used = set().union(*(spreads(document(p.stem)) for p in OPERATIONS))
    assert {p.stem for p in FRAGMENT_FILES} <= used
