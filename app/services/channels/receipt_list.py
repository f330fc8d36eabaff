"""The shops' till receipts for the brand's staff: newest first, a keyset page at a time, by
shop, sale instant, customer profile and kind. A page that shows a customer's data (the till's
view: phone, e-mail, card) is logged like a profile read (ProfileAccess), once per profile on
the page, in the read's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from app.domain.catalog import parse_guid
from app.domain.cursors import decode_cursor, encode_cursor, instant_key, instant_of_key
from app.domain.errors import DomainError, ErrorCode
from app.domain.shop_sales import ReceiptKind
from app.models.catalog import Warehouse
from app.models.channels import ShopReceipt
from app.models.identity import IdentityRecord
from app.services.identity.customer360 import log_access

LISTING = "shop_receipts"
MAX_PAGE = 100
ACTION = "shop_receipts"
ANONYMOUS = "receipt:"  # the customer key of a sale nobody was seen at (app/domain/shop_sales)
GUIDS_PER_ROW = 12  # 12 × 37 characters fit a ProfileAccess detail


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiptFilter:
    shop_guid: str | None = None
    sold_from: datetime | None = None  # inclusive
    sold_until: datetime | None = None  # exclusive
    profile_id: int | None = None
    kind: ReceiptKind | None = None


@dataclass(frozen=True, slots=True)
class ReceiptPage:
    receipts: list[ShopReceipt]  # lines and shop fetched
    profiles: dict[int, int]  # identity record id → its profile
    has_next_page: bool
    end_cursor: str | None


async def list_shop_receipts(
    *, where: ReceiptFilter, first: int, after: str | None, actor: str, now: datetime
) -> ReceiptPage:
    """One page of receipts (first 1..100), logged for each customer profile it shows."""
    if not 1 <= first <= MAX_PAGE:
        raise DomainError(ErrorCode.INVALID, f"first is 1..{MAX_PAGE}", ("first",))
    keys = decode_cursor(after, LISTING, 2) if after is not None else None
    async with in_transaction() as conn:
        query = await _filtered(conn, where)
        if keys is not None:
            at = instant_of_key(keys[0])
            query = query.filter(Q(sold_at__lt=at) | Q(sold_at=at, id__lt=keys[1]))
        rows = (
            await query.order_by("-sold_at", "-id")
            .limit(first + 1)
            .prefetch_related("lines", "shop")
        )
        page, more = list(rows[:first]), len(rows) > first
        profiles = await _profiles(conn, page)
        await _log_reads(conn, page, profiles, where, actor, now)
    end = encode_cursor(LISTING, instant_key(page[-1].sold_at), page[-1].id) if page else None
    return ReceiptPage(page, profiles, more, end)


async def _filtered(conn: BaseDBAsyncClient, where: ReceiptFilter) -> QuerySet[ShopReceipt]:
    query = ShopReceipt.all().using_db(conn)
    if where.shop_guid is not None:
        guid = parse_guid(where.shop_guid, path=("shopGuid",))
        shop = await Warehouse.filter(guid=guid).using_db(conn).first()
        query = query.filter(shop_id=shop.id if shop else -1)
    if where.sold_from is not None:
        query = query.filter(sold_at__gte=where.sold_from)
    if where.sold_until is not None:
        query = query.filter(sold_at__lt=where.sold_until)
    if where.kind is not None:
        query = query.filter(kind=where.kind)
    if where.profile_id is not None:
        records = IdentityRecord.filter(profile_id=where.profile_id).using_db(conn)
        ids = await records.values_list("id", flat=True)
        query = query.filter(identity_record_id__in=[int(str(i)) for i in ids] or [-1])
    return query


async def _profiles(conn: BaseDBAsyncClient, page: list[ShopReceipt]) -> dict[int, int]:
    """The profile of each receipt's customer; an anonymous sale's record (a record of its own,
    `receipt:<guid>`) is nobody's: no profile, nothing shown, nothing logged."""
    ids = sorted(
        {
            r.identity_record_id
            for r in page
            if r.identity_record_id is not None and not r.customer_key.startswith(ANONYMOUS)
        }
    )
    if not ids:
        return {}
    rows = await IdentityRecord.filter(id__in=ids).using_db(conn).values_list("id", "profile_id")
    return {int(str(i)): int(str(p)) for i, p in rows}


def _shows_customer(receipt: ShopReceipt) -> bool:
    return any((receipt.phone, receipt.email, receipt.loyalty_card, receipt.customer_guid))


async def _log_reads(
    conn: BaseDBAsyncClient,
    page: list[ShopReceipt],
    profiles: dict[int, int],
    where: ReceiptFilter,
    actor: str,
    now: datetime,
) -> None:
    """One ProfileAccess row per profile shown (the receipts' GUIDs in its detail); receipts
    with the till's data but no profile (a blocked identifier) under profile None; a search
    by profile is logged even when it finds nothing (it tells whether they shop in stores)."""
    shown: dict[int | None, list[str]] = {}
    if where.profile_id is not None:
        shown[where.profile_id] = []
    for receipt in page:
        profile = profiles.get(receipt.identity_record_id or -1)
        if profile is not None or _shows_customer(receipt):
            shown.setdefault(profile, []).append(receipt.guid)
    for profile, guids in shown.items():
        # ProfileAccess.detail holds 500 characters: a row per dozen GUIDs, none cut off
        chunks = [guids[i : i + GUIDS_PER_ROW] for i in range(0, len(guids), GUIDS_PER_ROW)]
        for chunk in chunks or [[]]:
            detail = f"receipts {','.join(chunk)}" if chunk else "receipts: none"
            await log_access(
                conn, actor=actor, action=ACTION, profile_id=profile, now=now, detail=detail
            )
