"""The frontend contract: the committed SDL is the code's, and every operation still validates."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import GraphQLSchema, parse, validate

from app.schema import contract_schema

CONTRACT = Path(__file__).resolve().parents[2] / "frontend-contract"
OPERATIONS = sorted((CONTRACT / "operations").glob("*.graphql"))


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
    document = parse(path.read_text())
    assert [e.message for e in validate(schema, document)] == []


@pytest.mark.parametrize("path", OPERATIONS, ids=lambda p: p.stem)
def test_each_file_holds_one_operation_named_after_it(path: Path) -> None:
    document = parse(path.read_text())
    names = [getattr(d, "name", None) for d in document.definitions]
    assert [n.value for n in names if n] == [path.stem]
