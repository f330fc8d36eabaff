"""`vitrina partners …`: partner apps, their tokens, webhook subscriptions and deliveries.

Tokens are revoked with `vitrina tokens revoke`, like every integration token.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from app.domain.access import Scope
from app.domain.outbox import EventKind, EventState
from app.domain.webhooks import PARTNER_EVENTS, PARTNER_SCOPES
from app.settings import Settings


def add_partner_commands(sub: Any) -> None:
    """The `partners` command and its actions, on the main parser's subcommands."""
    partners = sub.add_parser("partners", help="partner apps, tokens and webhook subscriptions")
    actions = partners.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="register a partner app")
    create.add_argument("name")
    create.add_argument("--contact", required=True, help="e-mail told when a subscription stops")
    actions.add_parser("list", help="partners and their subscriptions")
    token = actions.add_parser("token", help="print a new token acting for a partner")
    token.add_argument("partner", metavar="PARTNER", help="its id or name")
    token.add_argument(
        "--scope",
        action="append",
        required=True,
        dest="scopes",
        choices=sorted(s.value for s in PARTNER_SCOPES),
    )
    token.add_argument("--expires-in-days", type=int, metavar="N")
    subscribe = actions.add_parser("subscribe", help="subscribe a partner to events at a URL")
    subscribe.add_argument("partner", metavar="PARTNER")
    subscribe.add_argument("url")
    subscribe.add_argument(
        "--event",
        action="append",
        required=True,
        dest="events",
        choices=[k.value for k in PARTNER_EVENTS],
    )
    subscribe.add_argument("--collection", metavar="GUID", help="only this collection's events")
    for name, text in (
        ("pause", "stop sending (events are kept)"),
        ("resume", "send again"),
        ("delete", "delete it and what it had not received"),
        ("rotate-secret", "print a new signing secret (the old one stops at once)"),
    ):
        actions.add_parser(name, help=text).add_argument("subscription", metavar="SUBSCRIPTION")
    listing = actions.add_parser("deliveries", help="a subscription's deliveries, newest first")
    listing.add_argument("subscription", metavar="SUBSCRIPTION")
    listing.add_argument("--state", choices=[s.value for s in EventState])
    listing.add_argument("--limit", type=int, default=50)
    replay = actions.add_parser("replay", help="send a subscription's dead letters again")
    replay.add_argument("subscription", metavar="SUBSCRIPTION")
    replay.add_argument("event_ids", nargs="*", metavar="EVENT_ID")
    replay.add_argument("--all", action="store_true")


async def cmd_partners(settings: Settings, args: argparse.Namespace) -> None:
    """Run one `partners` action; a refusal is printed as `vitrina: …` with exit status 1."""
    from app.db import close_db, init_db
    from app.domain.errors import DomainError

    await init_db(settings.resolved_database_url)
    try:
        print(await _run(settings, args, datetime.now(UTC)))
    except DomainError as error:
        sys.exit(f"vitrina: {error.message}")
    finally:
        await close_db()


async def _run(settings: Settings, args: argparse.Namespace, now: datetime) -> str:
    from app.services.partners import apps
    from app.services.partners import subscriptions as subs

    action, ref = args.action, getattr(args, "subscription", "")
    if action == "create":
        partner = await apps.create_partner(name=args.name, contact_email=args.contact, now=now)
        return f"partner {partner.id} ({partner.name}) created"
    if action == "list":
        return await _listing()
    if action == "token":
        partner = await apps.find_partner(args.partner)
        return await apps.issue_partner_token(
            partner_id=partner.id,
            scopes=[Scope(s) for s in args.scopes],
            expires_in_days=args.expires_in_days,
            now=now,
        )
    if action == "subscribe":
        return await _subscribe(settings, args, now)
    if action in ("pause", "resume"):
        change = subs.pause if action == "pause" else subs.resume
        row = await change(partner_id=None, subscription_id=ref, now=now)
        return f"subscription {row.id} is {row.state.value}"
    if action == "delete":
        number = await subs.delete_subscription(partner_id=None, subscription_id=ref)
        return f"subscription {number} deleted"
    if action == "rotate-secret":
        key = settings.resolved_partner_secret_key
        made = await subs.rotate_secret(partner_id=None, subscription_id=ref, key=key)
        return made.secret
    if action == "deliveries":
        return await _deliveries(args)
    return await _replay(args, now)


async def _subscribe(settings: Settings, args: argparse.Namespace, now: datetime) -> str:
    from app.services.partners import apps
    from app.services.partners.subscriptions import UrlRules, create_subscription

    partner = await apps.find_partner(args.partner)
    made = await create_subscription(
        partner_id=partner.id,
        url=args.url,
        events=[EventKind(e) for e in args.events],
        collection_guid=args.collection,
        scopes=frozenset({Scope.ADMIN}),
        rules=UrlRules(
            require_https=settings.webhook_https_required,
            allow_loopback=settings.webhook_loopback_allowed,
        ),
        key=settings.resolved_partner_secret_key,
        now=now,
    )
    return f"subscription {made.subscription.id}; its signing secret (shown once):\n{made.secret}"


async def _listing() -> str:
    from app.services.partners import apps
    from app.services.partners.subscriptions import list_subscriptions

    partners = await apps.list_partners()
    if not partners:
        return "no partners"
    lines = [f"{'id':>4}  {'partner':<24}  contact"]
    lines += [f"{p.id:>4}  {p.name[:24]:<24}  {p.contact_email}" for p in partners]
    listed = await list_subscriptions(partner_id=None)
    if not listed:
        return "\n".join([*lines, "", "no webhook subscriptions"])
    lines += ["", f"{'id':>4}  {'partner':>7}  {'state':<7}  {'failing since':<16}  url  events"]
    for s in listed:
        since = s.failing_since.strftime("%Y-%m-%d %H:%M") if s.failing_since else "-"
        lines.append(
            f"{s.id:>4}  {s.partner_id:>7}  {s.state.value:<7}  {since:<16}  {s.url}  "
            + ",".join(s.events)
        )
    return "\n".join(lines)


async def _deliveries(args: argparse.Namespace) -> str:
    from app.services.partners.deliveries import list_deliveries

    page = await list_deliveries(
        partner_id=None,
        subscription_id=args.subscription,
        state=EventState(args.state) if args.state else None,
        first=args.limit,
        after=None,
    )
    if not page.events:
        return "no deliveries"
    lines = [f"{'event id':<36}  {'state':<9}  {'event':<22}  attempts  error"]
    for d in page.events:
        error = " ".join(d.last_error.split())[:60]
        row = f"{d.event_id:<36}  {d.state.value:<9}  {d.kind.value:<22}  {d.attempts:>8}"
        lines.append(f"{row}  {error}".rstrip())
    return "\n".join(lines)


async def _replay(args: argparse.Namespace, now: datetime) -> str:
    from app.services.partners.deliveries import replay_deliveries

    n = await replay_deliveries(
        partner_id=None,
        subscription_id=args.subscription,
        event_ids=args.event_ids or None,
        replay_all=args.all,
        now=now,
    )
    return f"replayed {n} dead letter(s); they are sent within seconds"
