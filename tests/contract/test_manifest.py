"""The trusted-documents manifest: in step with the operations, each text hashing to its id."""

from __future__ import annotations

import hashlib
import json

from graphql import parse, print_ast

from app.schema.documents import MANIFEST, build_manifest, load_documents, manifest_json
from tests.contract.documents import OPERATIONS, document

COMMITTED = json.loads(MANIFEST.read_text())


def test_the_committed_manifest_is_the_operations() -> None:
    assert MANIFEST.read_text() == manifest_json(build_manifest()), (
        "manifest drift: run `uv run vitrina export-documents` and commit"
        " frontend-contract/persisted-documents.json"
    )


def test_every_operation_is_registered_once_under_its_name() -> None:
    names = [entry["name"] for entry in COMMITTED.values()]
    assert names == sorted(p.stem for p in OPERATIONS.glob("*.graphql"))


def test_each_id_is_the_sha256_of_its_text() -> None:
    for key, entry in COMMITTED.items():
        assert key == "sha256:" + hashlib.sha256(entry["text"].encode()).hexdigest()


def test_each_text_is_the_canonical_print_of_what_the_storefront_sends() -> None:
    # the same operation and fragments as tests/contract/documents.py assembles, printed
    for entry in COMMITTED.values():
        assert entry["text"] == print_ast(parse(document(entry["name"])))


def test_the_app_loads_the_committed_manifest() -> None:
    loaded = load_documents(MANIFEST)
    assert loaded["sha256:" + _sha(COMMITTED, "CatalogProducts")].catalog_only
    assert not loaded["sha256:" + _sha(COMMITTED, "CartView")].catalog_only
    assert not loaded["sha256:" + _sha(COMMITTED, "Me")].catalog_only


def _sha(manifest: dict[str, dict[str, str]], name: str) -> str:
    [key] = [k for k, entry in manifest.items() if entry["name"] == name]
    return key.removeprefix("sha256:")
