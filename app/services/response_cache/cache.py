"""The shared response cache for anonymous catalog reads (in-process LRU in front of redis).

Only a request without `Authorization` that names a registered query reading nothing but
`products`, `product`, `collections`, `categories` and `shops` (by `documentId` or APQ hash,
over GET or POST) reads or fills an entry; its key is the document, the operation name and the
canonical variables. A hit is the stored bytes and ETag: no GraphQL execution, no encoding
(unless the stock overlay had to write a newer figure in). Identical misses in one process
wait for one execution (single-flight). Nothing is served while this process may have missed an
invalidation (the tag book is not healthy).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from graphql import DocumentNode, GraphQLSchema, OperationType, get_operation_ast, parse
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import Response
from strawberry import Schema
from strawberry.types import ExecutionResult

from app.domain.response_cache import (
    SHAREABLE_ROOTS,
    STOCK_SHOWN,
    cache_key,
    expires_at,
    filters_by_stock,
    is_fresh,
)
from app.services.response_cache import invalidation
from app.services.response_cache.entries import LRU, Entry, StockShown, dump, etag_of, load
from app.services.response_cache.overlay import (
    Feed,
    Refill,
    StockReads,
    StockWatch,
    current,
    stock_shown,
)
from app.services.response_cache.releases import ReleaseCalendar
from app.services.response_cache.tags import PREFIX, TagBook
from app.services.response_cache.walk import NotShareable, answer_tags, root_fields
from app.settings import Settings

log = structlog.get_logger("app.response_cache")

FILL = "vitrina.response_cache.fill"  # the request scope key of the entry being filled
MEMO_ENTRIES, MEMO_BYTES = 10_000, 4096  # requests remembered, and the longest one
KEEP_MARGIN = 10.0  # seconds a tag version is kept past the max age (slow fills, skew)
Run = Callable[[Request], Awaitable[Response]]
Encode = Callable[[Any], bytes]


@dataclass(frozen=True)
class Ask:
    key: str
    method: str
    document: DocumentNode
    operation: str | None
    variables: Mapping[str, object]


@dataclass
class Fill:
    reads: StockReads = field(default_factory=StockReads)
    result: ExecutionResult | None = None
    context: Any = None


@dataclass
class Counts:
    hits: int = 0
    misses: int = 0
    joined: int = 0  # misses that waited for another request's execution
    shared: int = 0  # misses answered from redis
    patched: int = 0
    refills: int = 0


class ResponseCache:
    def __init__(
        self,
        settings: Settings,
        *,
        documents: Mapping[str, str],
        schema: GraphQLSchema | Schema,
        redis: Redis,
        clock: Callable[[], datetime],
        encode: Encode,
        public: str,
        private: str,
        feed: Feed | None = None,
    ) -> None:
        self.enabled = settings.response_cache_on
        self.schema: GraphQLSchema = schema._schema if isinstance(schema, Schema) else schema
        self.redis, self.clock, self.encode = redis, clock, encode
        self.public, self.private = public, private
        self.max_age = timedelta(seconds=settings.response_cache_max_age_seconds)
        self.stock_list_age = timedelta(seconds=settings.response_cache_stock_list_seconds)
        self.lru = LRU(
            max_entries=settings.response_cache_entries,
            max_bytes=settings.response_cache_max_bytes,
        )
        # a version may be forgotten once no entry it could make stale can still be served
        self.book = TagBook(redis, keep_seconds=self.max_age.total_seconds() + KEEP_MARGIN)
        self.calendar = ReleaseCalendar(self.book)
        self.watch = StockWatch(feed) if feed is not None else None
        self.counts = Counts()
        self._documents = _shareable(documents)
        self._flights: dict[str, asyncio.Future[Entry | None]] = {}
        self._writes: set[asyncio.Future[None]] = set()
        self._asked: dict[tuple[str, bytes], Ask | None] = {}

    async def start(self) -> None:
        if self.enabled:
            await self.book.start()
        invalidation.register(self.book)  # this process's writers bump tags even when off

    async def close(self) -> None:
        invalidation.unregister(self.book)
        await asyncio.gather(*self._writes, return_exceptions=True)
        await self.book.close()
        if self.watch is not None:
            self.watch.close()

    # --- the request ---------------------------------------------------------------------------

    async def serve(self, request: Request, run: Run) -> Response:
        """The answer from an entry, or from `run` (filling one when it may be shared)."""
        ask = await self._ask(request) if self.enabled and self.book.healthy else None
        if ask is None:
            return await run(request)
        now = self.clock()
        entry = self._usable(self.lru.get(ask.key), now)
        if entry is not None:
            self.counts.hits += 1
            return self._answer(entry, ask, "hit")
        flight = self._flights.get(ask.key)
        if flight is not None:
            self.counts.joined += 1
            joined = await asyncio.shield(flight)
            return self._answer(joined, ask, "joined") if joined else await run(request)
        return await self._lead(ask, request, run, now)

    def reads_for(self, request: Request) -> StockReads | None:
        """Where this request's availability resolvers say what they showed (a fill only)."""
        fill = request.scope.get(FILL)
        return fill.reads if isinstance(fill, Fill) else None

    def capture(self, request: Request, context: object, result: object) -> None:
        """Keep the execution result of a fill; its per-client cost figure is left out (the
        answer is shared)."""
        fill = request.scope.get(FILL)
        if not isinstance(fill, Fill) or not isinstance(result, ExecutionResult):
            return
        fill.result, fill.context = result, context
        cost = (result.extensions or {}).get("cost")
        if isinstance(cost, dict):
            cost.pop("remaining", None)

    # --- asking --------------------------------------------------------------------------------

    async def _ask(self, request: Request) -> Ask | None:
        """What a request asks, if it may share an entry; memoized by its raw query string or
        body (identical requests are the point of a cache: a hit parses nothing)."""
        if "authorization" in request.headers:
            return None  # a customer, an integration or an admin: never shared
        if request.method == "GET":
            raw = request.scope["query_string"]
        elif request.headers.get("content-type", "").startswith("application/json"):
            raw = await request.body() if request.method == "POST" else b""
        else:
            return None
        memo = (request.method, raw)
        if memo in self._asked:
            return self._asked[memo]
        ask = await self._parse(request)
        if len(raw) <= MEMO_BYTES:
            if len(self._asked) >= MEMO_ENTRIES:
                self._asked.clear()
            self._asked[memo] = ask
        return ask

    async def _parse(self, request: Request) -> Ask | None:
        if request.method == "GET":
            params: Mapping[str, object] = request.query_params
            raw_variables = params.get("variables")
            raw_extensions = params.get("extensions")
        elif request.method == "POST":
            if not request.headers.get("content-type", "").startswith("application/json"):
                return None
            params = _json_object(await request.body()) or {}
            raw_variables, raw_extensions = params.get("variables"), params.get("extensions")
        else:
            return None
        if params.get("query") is not None:
            return None
        document_id = _document_id(params.get("documentId"), raw_extensions)
        document = self._documents.get(document_id or "")
        variables = _variables(raw_variables)
        operation = params.get("operationName")
        if document is None or variables is None or not isinstance(operation, str | None):
            return None
        key = cache_key(document_id or "", variables, operation)
        return Ask(key, request.method, document, operation, variables)

    def _answer(self, entry: Entry, ask: Ask, how: str) -> Response:
        policy = self.public if ask.method == "GET" else self.private
        headers = {"cache-control": policy, "x-cache": how}
        response = Response(entry.body, media_type="application/json", headers=headers)
        if ask.method == "GET":
            response.headers["etag"] = entry.etag  # documents.finish uses it, hashes nothing
        return response

    # --- entries -------------------------------------------------------------------------------

    def _usable(self, entry: Entry | None, now: datetime) -> Entry | None:
        if entry is None:
            return None
        if now >= entry.expires_at or not self._tags_fresh(entry):
            self.lru.drop(entry.key)
            return None
        if entry.stock is None:
            return entry
        try:
            newer = current(entry, self.watch, now, self.encode) if self.watch else None
        except Refill as why:
            log.debug("response_cache.refill", reason=str(why))
            newer = None
        if newer is None:
            self.counts.refills += 1
            self.lru.drop(entry.key)
            return None
        if newer is not entry:
            self.counts.patched += 1
            self.lru.put(newer)
            self._keep(self._share(newer, now))
        return newer

    def _tags_fresh(self, entry: Entry) -> bool:
        if entry.checked_tags == self.book.changes:
            return True
        if not is_fresh(entry.tags, entry.filled_seq, self.book.versions, self.book.floor):
            return False
        entry.checked_tags = self.book.changes
        return True

    async def _lead(self, ask: Ask, request: Request, run: Run, now: datetime) -> Response:
        flight: asyncio.Future[Entry | None] = asyncio.get_running_loop().create_future()
        self._flights[ask.key] = flight
        entry: Entry | None = None
        try:
            entry = self._usable(await self._shared(ask.key), now)
            if entry is not None:
                self.counts.shared += 1
                self.lru.put(entry)
                return self._answer(entry, ask, "shared")
            self.counts.misses += 1
            response, entry = await self._fill(ask, request, run, now)
            return response
        finally:
            del self._flights[ask.key]
            flight.set_result(entry)

    async def _fill(
        self, ask: Ask, request: Request, run: Run, now: datetime
    ) -> tuple[Response, Entry | None]:
        sequence, stock_sequence = self.book.sequence, self._stock_sequence(now)
        fill = Fill()
        request.scope[FILL] = fill
        response = await run(request)
        response.headers["x-cache"] = "miss"
        entry = None
        try:
            entry = await self._entry(ask, fill, response, now, sequence, stock_sequence)
        except NotShareable as why:
            log.debug("response_cache.not_shareable", reason=str(why))
        if entry is not None:
            self.lru.put(entry)
            await self._share(entry, now)
            return response, entry
        return response, _for_waiters(ask, fill, response, now)

    def _stock_sequence(self, now: datetime) -> tuple[int, int] | None:
        """The feed's sequence and generation when it vouches for figures now, else None."""
        watch = self.watch
        if watch is None or not watch.usable(now) or watch.generation is None:
            return None
        return watch.sequence, watch.generation

    async def _entry(
        self,
        ask: Ask,
        fill: Fill,
        response: Response,
        now: datetime,
        sequence: int,
        stock_sequence: tuple[int, int] | None,
    ) -> Entry | None:
        result = fill.result
        if response.status_code != 200 or result is None or result.errors or not result.data:
            return None
        tags = answer_tags(self.schema, ask.document, ask.operation, result.data)
        stock = None
        if fill.reads.reads:
            stock = await self._stock(fill, result.data, now, stock_sequence)
            if stock is None:
                return None
            tags |= {STOCK_SHOWN}
        deadline = expires_at(
            now,
            max_age=self.max_age,
            release=await self.calendar.next_after(now),
            stock_list=filters_by_stock(ask.variables),
            stock_list_age=self.stock_list_age,
        )
        if deadline <= self.clock():
            return None
        body = bytes(response.body)
        return Entry(
            key=ask.key,
            body=body,
            etag=etag_of(body),
            tags=tags,
            filled_seq=sequence,
            filled_at=now,
            expires_at=deadline,
            stock=stock,
            checked_stock=stock_sequence[0] if stock_sequence else 0,
            generation=stock_sequence[1] if stock_sequence else None,
        )

    async def _stock(
        self, fill: Fill, data: Mapping[str, Any], now: datetime, since: tuple[int, int] | None
    ) -> StockShown | None:
        watch = self.watch
        if watch is None or since is None or not watch.usable(self.clock()):
            return None  # figures the feed cannot keep current: computed live every time
        if watch.generation != since[1] or (watch.healthy_since or now) > now:
            return None  # the feed restarted during the fill: it may have missed a change
        positions = fill.context.loaders.stock_positions
        return await stock_shown(
            fill.reads, {"data": data}, positions, watch=watch, since=since[0], now=now
        )

    # --- redis ---------------------------------------------------------------------------------

    async def _shared(self, key: str) -> Entry | None:
        try:
            raw = await self.redis.get(_redis_key(key))
        except (RedisError, OSError) as error:
            log.warning("response_cache.redis_get", error=repr(error))
            return None
        if raw is None:
            return None
        entry = load(raw)
        return entry if entry.key == key else None

    async def _share(self, entry: Entry, now: datetime) -> None:
        ttl = int((entry.expires_at - now).total_seconds() * 1000)
        if ttl <= 0:
            return
        try:
            await self.redis.set(_redis_key(entry.key), dump(entry), px=ttl)
        except (RedisError, OSError) as error:
            log.warning("response_cache.redis_set", error=repr(error))

    def _keep(self, write: Awaitable[None]) -> None:
        """Write a patched entry back to redis without making the hit wait for it."""
        task = asyncio.ensure_future(write)
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)


def _for_waiters(ask: Ask, fill: Fill, response: Response, now: datetime) -> Entry | None:
    """An answer not stored (e.g. its figures cannot be kept current) still serves the
    identical requests that waited for it: a stampede executes once even then."""
    result = fill.result
    if response.status_code != 200 or result is None or result.errors:
        return None
    body = bytes(response.body)
    return Entry(ask.key, body, etag_of(body), frozenset(), 0, now, now)


def _redis_key(key: str) -> str:
    return PREFIX + "entry:" + hashlib.sha256(key.encode()).hexdigest()


def _shareable(documents: Mapping[str, str]) -> dict[str, DocumentNode]:
    """The registered documents whose answer is the same for every anonymous shopper."""
    found = {}
    for document_id, text in documents.items():
        tree = parse(text)
        operation = get_operation_ast(tree)
        if operation is None or operation.operation != OperationType.QUERY:
            continue
        if root_fields(tree, operation) <= SHAREABLE_ROOTS | {"__typename"}:
            found[document_id] = tree
    return found


def _json_object(body: bytes) -> dict[str, object] | None:
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _variables(raw: object) -> Mapping[str, object] | None:
    if raw is None:
        return {}
    if isinstance(raw, str):
        with contextlib.suppress(ValueError, RecursionError):
            raw = json.loads(raw)
    return raw if isinstance(raw, dict) else None


def _document_id(requested: object, extensions: object) -> str | None:
    if isinstance(requested, str):
        return requested
    if isinstance(extensions, str):
        with contextlib.suppress(ValueError, RecursionError):
            extensions = json.loads(extensions)
    apq = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
    digest = apq.get("sha256Hash") if isinstance(apq, dict) else None
    return f"sha256:{digest.lower()}" if isinstance(digest, str) else None
