"""Partner apps and the integration tokens that act for them."""

from __future__ import annotations

from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app.domain.access import IntegrationPrincipal, Scope
from app.domain.contact import normalise_email
from app.domain.errors import DomainError, ErrorCode
from app.domain.webhooks import check_partner_name, check_partner_scopes
from app.models.partners import PartnerApp, PartnerToken
from app.services import tokens

MAX_TOKEN_DAYS = 3650


async def create_partner(*, name: str, contact_email: str, now: datetime) -> PartnerApp:
    """Register a partner; `contact_email` hears when one of its subscriptions is paused."""
    clean = check_partner_name(name)
    email = normalise_email(contact_email, ("contactEmail",))
    try:
        return await PartnerApp.create(name=clean, contact_email=email, created_at=now)
    except IntegrityError:
        raise DomainError(
            ErrorCode.INVALID, f"a partner is named {clean!r} already", ("name",)
        ) from None


async def list_partners() -> list[PartnerApp]:
    return await PartnerApp.all().order_by("id")


async def find_partner(ref: str) -> PartnerApp:
    """A partner by id or by name (the CLI's way of naming one)."""
    text = ref.strip()
    partner = None
    if text.isascii() and text.isdecimal() and len(text) <= 10:
        partner = await PartnerApp.get_or_none(id=int(text))
    partner = partner or await PartnerApp.get_or_none(name=text)
    if partner is None:
        raise DomainError(ErrorCode.NOT_FOUND, f"no partner {text[:60]!r}", ("partner",))
    return partner


async def issue_partner_token(
    *, partner_id: int, scopes: list[Scope], expires_in_days: int | None, now: datetime
) -> str:
    """A token that acts for the partner, returned in clear text once (only a hash is kept)."""
    chosen = check_partner_scopes(scopes)
    expires_at = None
    if expires_in_days is not None:
        if not 1 <= expires_in_days <= MAX_TOKEN_DAYS:
            raise DomainError(ErrorCode.INVALID, f"1..{MAX_TOKEN_DAYS} days", ("expiresInDays",))
        expires_at = now + timedelta(days=expires_in_days)
    partner = await PartnerApp.get_or_none(id=partner_id)
    if partner is None:
        raise DomainError(ErrorCode.NOT_FOUND, f"no partner has id {partner_id}", ("partner",))
    async with in_transaction():
        raw = await tokens.create_token(
            name=f"partner {partner.name}"[:200], scopes=chosen, expires_at=expires_at
        )
        row = await tokens.token_row(raw)
        assert row is not None  # written a line above, in this transaction
        await PartnerToken.create(partner_id=partner.id, token_id=row.id)
    return raw


async def partner_id_of(principal: IntegrationPrincipal) -> int | None:
    """The partner a token acts for, or None for the brand's own tokens (1C, admin)."""
    link = await PartnerToken.get_or_none(token_id=principal.token_id)
    return None if link is None else link.partner_id
