"""Trusted documents and HTTP caching for /graphql.

The storefront's operations (`frontend-contract/operations/`, with the fragments they spread
from `fragments/`) are registered ahead of time in `persisted-documents.json`: a map
`documentId → {name, text}`. A document's *canonical text* is graphql-core's `print_ast` of the
operation followed by every fragment it needs (transitively), fragments sorted by name; its id
is `sha256:` and the hex SHA-256 of that text's UTF-8 bytes (the GraphQL-over-HTTP
persisted-documents appendix). Clients send `documentId` (POST body or GET query string) or
Apollo APQ's `extensions.persistedQuery.sha256Hash` (looked up as `sha256:<hash>`) instead of
`query`; a request that carries `query` is free-form and its id, if any, is not looked at.

Modes (`TRUSTED_DOCUMENTS`): `strict` runs only registered documents, except for requests with
a valid integration token, which may send any document; `permissive` runs both; `off` does not
read the manifest: ids are unknown (`PERSISTED_QUERY_NOT_FOUND`), free-form documents run.

Caching: a GET of a registered query whose root fields are all catalog fields, sent without
`Authorization`, answered without errors, is `public` for a few seconds with a strong ETag;
everything else is `private, no-store`, and every error `no-store`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    Visitor,
    get_operation_ast,
    parse,
    print_ast,
    visit,
)
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from strawberry.http import GraphQLRequestData
from strawberry.types import ExecutionResult

from app.settings import Settings

Mode = Literal["off", "permissive", "strict"]
CONTRACT = Path(__file__).resolve().parents[2] / "frontend-contract"
MANIFEST = CONTRACT / "persisted-documents.json"
# Root fields that read the catalog only: the same answer for every anonymous shopper.
CATALOG_FIELDS = frozenset(
    {"products", "product", "collections", "categories", "shops", "looks", "look"}
)
NO_STORE = "no-store"
PRIVATE = "private, no-store"


@dataclass(frozen=True)
class Document:
    name: str
    text: str
    kind: OperationType
    catalog_only: bool


class DocumentRefused(Exception):
    """A request turned away before it ran: a typed GraphQL error with its HTTP status."""

    def __init__(self, status: int, code: str, message: str, allow: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.allow = status, code, message, allow


# --- building the manifest ----------------------------------------------------------------------


def canonical_text(operation: str, fragments: Mapping[str, str]) -> str:
    """The operation with every fragment it needs, sorted by name, as print_ast prints them."""
    needed: set[str] = set()
    waiting = _spreads(parse(operation))
    while waiting:
        name = waiting.pop()
        if name not in needed:
            needed.add(name)
            waiting |= _spreads(parse(fragments[name]))
    return print_ast(parse("\n".join([operation, *(fragments[n] for n in sorted(needed))])))


def document_id(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def build_manifest(contract: Path = CONTRACT) -> dict[str, dict[str, str]]:
    """Every operation in `contract/operations/` as `documentId → {name, text}`, by name."""
    fragments = {p.stem: p.read_text() for p in (contract / "fragments").glob("*.graphql")}
    manifest: dict[str, dict[str, str]] = {}
    for path in sorted((contract / "operations").glob("*.graphql")):
        text = canonical_text(path.read_text(), fragments)
        manifest[document_id(text)] = {"name": path.stem, "text": text}
    return manifest


def manifest_json(manifest: Mapping[str, Mapping[str, str]]) -> str:
    return json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"


class _Spreads(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_fragment_spread(self, node: FragmentSpreadNode, *_: object) -> None:
        self.names.add(node.name.value)


def _spreads(tree: DocumentNode) -> set[str]:
    found = _Spreads()
    visit(tree, found)
    return found.names


# --- loading it ---------------------------------------------------------------------------------


def load_documents(path: Path) -> dict[str, Document]:
    """The manifest at `path`, each text checked against its id."""
    documents = {}
    for key, entry in json.loads(path.read_text()).items():
        if document_id(entry["text"]) != key:
            raise RuntimeError(f"{path}: {entry['name']} does not hash to {key}")
        documents[key] = _document(entry["name"], entry["text"])
    return documents


def _document(name: str, text: str) -> Document:
    tree = parse(text)
    operation = get_operation_ast(tree)
    if operation is None:
        raise RuntimeError(f"persisted document {name} must hold one operation")
    roots = _root_fields(operation.selection_set, _fragments(tree))
    catalog = operation.operation == OperationType.QUERY and roots <= CATALOG_FIELDS | {
        "__typename"
    }
    return Document(name=name, text=text, kind=operation.operation, catalog_only=catalog)


def _fragments(tree: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in tree.definitions if isinstance(d, FragmentDefinitionNode)}


def _root_fields(
    selections: SelectionSetNode, fragments: Mapping[str, FragmentDefinitionNode]
) -> set[str]:
    names: set[str] = set()
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            names.add(selection.name.value)
        elif isinstance(selection, InlineFragmentNode):
            names |= _root_fields(selection.selection_set, fragments)
        elif isinstance(selection, FragmentSpreadNode):
            names |= _root_fields(fragments[selection.name.value].selection_set, fragments)
    return names


# --- admitting a request ------------------------------------------------------------------------


@dataclass(frozen=True)
class Admitted:
    data: GraphQLRequestData
    document: Document | None  # None: a free-form document


class TrustedDocuments:
    """The registered documents and the rules of one mode."""

    def __init__(self, settings: Settings) -> None:
        self.mode: Mode = settings.trusted_documents_mode
        self.public = (
            f"public, max-age={settings.catalog_cache_seconds}, "
            f"stale-while-revalidate={settings.catalog_stale_seconds}"
        )
        path = settings.persisted_documents_file or MANIFEST
        self.documents = {} if self.mode == "off" else load_documents(path)

    def admit(
        self, method: str, data: GraphQLRequestData, requested_id: object, trusted: bool
    ) -> Admitted:
        """The request with its registered text, or DocumentRefused. `trusted`: the caller
        holds a valid integration token (asked only in strict mode, see `needs_trust`)."""
        if data.query is None:
            document = self._lookup(_id_of(requested_id, data.extensions))
            admitted = Admitted(replace(data, query=document.text), document)
        elif self.mode == "strict" and not trusted:
            raise DocumentRefused(
                400, "PERSISTED_QUERY_REQUIRED", "send a registered documentId, not a query"
            )
        else:
            admitted = Admitted(data, None)
        if method == "GET" and _kind(admitted) == OperationType.MUTATION:
            raise DocumentRefused(
                405, "METHOD_NOT_ALLOWED", "mutations are sent with POST", allow="POST"
            )
        return admitted

    def needs_trust(self, data: GraphQLRequestData) -> bool:
        return self.mode == "strict" and data.query is not None

    def cache_control(
        self, method: str, admitted: Admitted, authorization: str | None, result: object
    ) -> str:
        """`public, …` for an anonymous GET of a registered catalog query answered without
        errors (its per-client budget figure removed: the answer is shared), else private."""
        if not isinstance(result, ExecutionResult) or result.errors:
            return NO_STORE
        document = admitted.document
        if method == "GET" and authorization is None and document and document.catalog_only:
            cost = (result.extensions or {}).get("cost")
            if isinstance(cost, dict):
                cost.pop("remaining", None)
            return self.public
        return PRIVATE

    def _lookup(self, key: str | None) -> Document:
        if key is None:
            raise DocumentRefused(400, "BAD_REQUEST", "No GraphQL query found in the request")
        document = self.documents.get(key)
        if document is None:
            raise DocumentRefused(
                400, "PERSISTED_QUERY_NOT_FOUND", f"no registered document {key[:80]}"
            )
        return document


def _id_of(requested: object, extensions: Mapping[str, object] | None) -> str | None:
    if requested is not None:
        if not isinstance(requested, str):
            raise DocumentRefused(400, "BAD_REQUEST", "`documentId` must be a string")
        return requested
    apq = (extensions or {}).get("persistedQuery")
    digest = apq.get("sha256Hash") if isinstance(apq, dict) else None
    if digest is None:
        return None
    if not isinstance(digest, str):
        raise DocumentRefused(400, "BAD_REQUEST", "`sha256Hash` must be a string")
    return f"sha256:{digest.lower()}"


def _kind(admitted: Admitted) -> OperationType | None:
    if admitted.document is not None:
        return admitted.document.kind
    try:
        operation = get_operation_ast(
            parse(admitted.data.query or ""), admitted.data.operation_name
        )
    except GraphQLError:
        return None  # strawberry answers the syntax error itself
    return operation.operation if isinstance(operation, OperationDefinitionNode) else None


def requested_id(method: str, query_params: Mapping[str, object], body: bytes) -> object:
    """The `documentId` a request names, from its query string (GET) or JSON body (POST)."""
    if method == "GET":
        return query_params.get("documentId")
    value = json.loads(body)  # already parsed once by the view: valid JSON here
    return value.get("documentId") if isinstance(value, dict) else None


def names_a_document(query_params: Mapping[str, object]) -> bool:
    """A GET that names a document is an operation, not a request for the GraphQL IDE."""
    return "documentId" in query_params or "extensions" in query_params


# --- the response -------------------------------------------------------------------------------


def refusal(error: DocumentRefused) -> Response:
    body = {"errors": [{"message": error.message, "extensions": {"code": error.code}}]}
    headers = {"Allow": error.allow} if error.allow else None
    return JSONResponse(body, status_code=error.status, headers=headers)


def finish(request: Request, response: Response) -> Response:
    """Cache headers on the way out: ETag and 304 for public answers, no-store for errors."""
    if response.status_code >= 400:
        response.headers["cache-control"] = NO_STORE
        return response
    policy = response.headers.get("cache-control", "")
    if policy == NO_STORE:  # an answer with errors
        return response
    if not policy.startswith("public"):
        response.headers["cache-control"] = PRIVATE
        return response
    etag = response.headers.get("etag")  # a cached answer brings its own (response_cache)
    if etag is None:
        etag = '"' + hashlib.sha256(bytes(response.body)).hexdigest()[:40] + '"'
    headers = {"ETag": etag, "Cache-Control": policy, "Vary": "Authorization"}
    if etag in _tags(request.headers.get("if-none-match", "")):
        return Response(status_code=304, headers=headers)
    response.headers.update(headers)
    return response


def _tags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}
