"""Read shop confirmations for ops: the requests by shop and state, each shop's figures over a
period, and both as text tables for the CLI. Reads only."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.expressions import Q
from tortoise.functions import Count
from tortoise.queryset import QuerySet

from app.domain.cursors import decode_cursor, encode_cursor, instant_key, instant_of_key
from app.domain.errors import DomainError, ErrorCode
from app.domain.reservations import ShopConfirmation
from app.domain.shop_confirmation import DeclineReason, RequestState
from app.domain.shop_reporting import (
    AskedLine,
    ShopFigures,
    check_instant,
    check_period,
    shop_figures,
)
from app.models.catalog import Warehouse, WarehouseKind
from app.models.shops import ShopRequest, ShopRequestLine

MAX_PAGE = 200
_LISTING = "shop_requests"
NOT_CLOSED = (RequestState.POSTING, RequestState.OPEN)


@dataclass(frozen=True, kw_only=True)
class RequestPage:
    requests: list[ShopRequest]  # newest first, each with its order and warehouse fetched
    lines: dict[int, list[ShopRequestLine]]  # by request id, each with its order line fetched
    has_next_page: bool
    cursors: list[str]  # one per request, for `after`


@dataclass(frozen=True, kw_only=True)
class ShopStats:
    shop: Warehouse
    figures: ShopFigures


async def find_warehouse(guid: str, *, path: tuple[str | int, ...] = ("warehouse",)) -> Warehouse:
    """The warehouse with this 1C GUID, or UNKNOWN_WAREHOUSE at `path`."""
    warehouse = await Warehouse.get_or_none(guid=guid.strip().lower())
    if warehouse is None:
        raise DomainError(ErrorCode.UNKNOWN_WAREHOUSE, f"no warehouse {guid[:40]!r}", path)
    return warehouse


async def list_requests(
    *,
    warehouse: str | None,
    state: RequestState | None,
    since: datetime | None,
    first: int,
    after: str | None,
) -> RequestPage:
    """Requests newest first, filtered by shop, state and creation, keyset-paginated (2 queries
    after the shop's, whatever the page size)."""
    if not 1 <= first <= MAX_PAGE:
        raise DomainError(ErrorCode.INVALID, f"a page holds 1..{MAX_PAGE} requests", ("first",))
    query = ShopRequest.all()
    if warehouse is not None:
        query = query.filter(warehouse_id=(await find_warehouse(warehouse)).id)
    if state is not None:
        query = query.filter(state=state)
    if since is not None:
        query = query.filter(created_at__gte=check_instant(since, ("since",)))
    if after is not None:
        query = query.filter(_after(after))
    ordered = query.order_by("-created_at", "-id").limit(first + 1)
    rows = list(await ordered.select_related("order", "warehouse"))
    page = rows[:first]
    return RequestPage(
        requests=page,
        lines=await _lines_of([r.id for r in page]),
        has_next_page=len(rows) > first,
        cursors=[encode_cursor(_LISTING, instant_key(r.created_at), r.id) for r in page],
    )


def _after(cursor: str) -> Q:
    created, request_id = decode_cursor(cursor, _LISTING, 2)
    at = instant_of_key(created)
    return Q(created_at__lt=at) | Q(created_at=at, id__lt=request_id)


async def _lines_of(request_ids: list[int]) -> dict[int, list[ShopRequestLine]]:
    lines: dict[int, list[ShopRequestLine]] = {rid: [] for rid in request_ids}
    if request_ids:
        found = ShopRequestLine.filter(request_id__in=request_ids).select_related("order_line")
        for line in await found.order_by("id"):
            lines[line.request_id].append(line)
    return lines


async def shop_stats(
    *, since: datetime, until: datetime, warehouse: str | None = None
) -> list[ShopStats]:
    """Each shop's answers to the requests created in [since, until), every shop listed (zeros
    included), in allocation order; open_now counts requests not closed, whenever created."""
    check_period(since, until)
    chosen = None if warehouse is None else await find_warehouse(warehouse)
    only = None if chosen is None else chosen.id
    created = Q(created_at__gte=since, created_at__lt=until)
    requests = await _per_warehouse(ShopRequest.filter(created), only)
    open_now = await _per_warehouse(ShopRequest.filter(state__in=list(NOT_CLOSED)), only)
    lines = await _asked_lines(since, until, only)
    shops = [chosen] if chosen else await _shops_and_asked([*requests, *open_now, *lines])
    return [
        ShopStats(
            shop=shop,
            figures=shop_figures(
                lines=lines.get(shop.id, []),
                requests=requests.get(shop.id, 0),
                open_now=open_now.get(shop.id, 0),
            ),
        )
        for shop in shops
    ]


async def _per_warehouse(query: QuerySet[ShopRequest], only: int | None) -> dict[int, int]:
    if only is not None:
        query = query.filter(warehouse_id=only)
    grouped = query.annotate(n=Count("id")).group_by("warehouse_id")
    return {int(w): int(n) for w, n in await grouped.values_list("warehouse_id", "n")}


async def _asked_lines(
    since: datetime, until: datetime, only: int | None
) -> dict[int, list[AskedLine]]:
    query = ShopRequestLine.filter(request__created_at__gte=since, request__created_at__lt=until)
    if only is not None:
        query = query.filter(request__warehouse_id=only)
    rows = await query.values_list(
        "request__warehouse_id", "state", "reason", "decided_by", "decided_at", "request__posted_at"
    )
    found: dict[int, list[AskedLine]] = defaultdict(list)
    for shop_id, state, reason, by, decided_at, posted_at in rows:
        found[int(shop_id)].append(
            AskedLine(
                state=ShopConfirmation(state),
                reason=DeclineReason(reason) if reason else None,
                decided_by=by,
                decided_at=decided_at,
                posted_at=posted_at,
            )
        )
    return found


async def _shops_and_asked(asked: Sequence[int]) -> list[Warehouse]:
    """Every shop, and any other warehouse that was asked (its kind changed since)."""
    query = Warehouse.filter(Q(kind=WarehouseKind.SHOP) | Q(id__in=sorted(set(asked))))
    return await query.order_by("priority", "name", "id")


# -- the CLI's tables -------------------------------------------------------------------------

_STATS_COLUMNS = (
    ("requests", 8),
    ("lines", 5),
    ("confirmed", 9),
    ("declined", 8),
    ("timed out", 9),
    ("not shown", 9),
    ("withdrawn", 9),
    ("waiting", 7),
    ("median", 6),
    ("declines", 8),
    ("timeouts", 8),
    ("open now", 8),
)


def stats_table(stats: Sequence[ShopStats]) -> str:
    """The figures as text: one row per shop, then its code and the declines by reason."""
    header = f"{'shop':<24}" + "".join(f"  {name:>{width}}" for name, width in _STATS_COLUMNS)
    lines = [header + f"  {'code':<36}  declined by reason"]
    for row in stats:
        f = row.figures
        cells = (
            f.requests,
            f.lines,
            f.confirmed,
            f.declined_total,
            f.timed_out,
            f.not_shown,
            f.withdrawn,
            f.waiting,
            _duration(f.median_answer_seconds),
            _percent(f.decline_rate),
            _percent(f.timeout_rate),
            f.open_now,
        )
        text = "".join(
            f"  {cell!s:>{width}}" for cell, (_, width) in zip(cells, _STATS_COLUMNS, strict=True)
        )
        reasons = ", ".join(f"{reason.value} {n}" for reason, n in f.declined if n)
        lines.append(
            f"{_cut(row.shop.name, 24):<24}{text}  {row.shop.guid:<36}  {reasons}".rstrip()
        )
    return "\n".join(lines)


def requests_table(page: RequestPage) -> str:
    """The requests as text, newest first: one row each, then one indented row per line."""
    header = (
        f"{'created':<16}  {'order':<12}  {'shop':<20}  {'state':<7}  {'channel':<16}  "
        f"{'deadline':<16}  closed"
    )
    lines = [header]
    for r in page.requests:
        row = (
            f"{_minute(r.created_at):<16}  {r.order.number:<12}  {_cut(r.warehouse.name, 20):<20}"
            f"  {r.state.value:<7}  {_cut(r.channel or '-', 16):<16}  {_minute(r.deadline):<16}"
            f"  {_minute(r.closed_at)}"
        )
        lines.append(row.rstrip())
        lines.extend(f"    {_line_text(line)}" for line in page.lines[r.id])
    return "\n".join(lines)


def _line_text(line: ShopRequestLine) -> str:
    what = f"{line.order_line.sku} ×{line.quantity}"
    text = f"{_cut(what, 32):<32}  {line.state.value:<10}"
    if line.decided_by_name or line.decided_by:
        text += f"  by {line.decided_by_name or line.decided_by}"
    if line.decided_at is not None:
        text += f" at {_minute(line.decided_at)}"
    if line.reason is not None:
        text += f"  ({line.reason.value})"
    if line.note:
        text += f"  {line.note}"
    return text.rstrip()


def _minute(instant: datetime | None) -> str:
    return "-" if instant is None else instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.0%}"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
