"""Partners' webhook rules: events and scopes, where events may go, signatures, pausing."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from datetime import UTC, datetime, timedelta

import pytest

from app.domain.access import Scope
from app.domain.errors import DomainError, ErrorCode
from app.domain.outbox import EventKind
from app.domain.webhooks import (
    Entity,
    address_refusal,
    check_events,
    check_partner_scopes,
    check_target_url,
    matches_filter,
    partner_aggregate,
    product_event,
    refused_among,
    rest_after,
    should_pause,
    signature,
    signature_is_valid,
    status_events,
    subscription_of,
    subscription_secret,
)

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
BODY = b'{"id":"e1","type":"order.placed"}'


def _refused(work: object) -> DomainError:
    with pytest.raises(DomainError) as error:
        work()  # type: ignore[operator]
    return error.value


def test_each_event_needs_the_read_scope_of_what_it_is_about() -> None:
    orders_only = frozenset({Scope.ORDERS_READ, Scope.WEBHOOKS_MANAGE})
    assert check_events([EventKind.ORDER_PAID, EventKind.ORDER_PLACED], orders_only) == [
        EventKind.ORDER_PLACED,
        EventKind.ORDER_PAID,
    ]
    refused = _refused(lambda: check_events([EventKind.STOCK_CHANGED], orders_only))
    assert (refused.code, refused.path) == (ErrorCode.INVALID, ("events", 0))
    assert "stock:read" in refused.message
    assert check_events([EventKind.STOCK_CHANGED], frozenset({Scope.ADMIN})) == [
        EventKind.STOCK_CHANGED
    ]


def test_internal_events_and_no_events_are_refused() -> None:
    admin = frozenset({Scope.ADMIN})
    assert _refused(lambda: check_events([], admin)).path == ("events",)
    assert (
        "not a partner event"
        in _refused(lambda: check_events([EventKind.CUSTOMER_MESSAGE], admin)).message
    )


def test_a_status_change_says_what_it_means() -> None:
    assert status_events(paid=False, cancelled=False) == [EventKind.ORDER_STATUS_CHANGED]
    assert status_events(paid=True, cancelled=False) == [
        EventKind.ORDER_STATUS_CHANGED,
        EventKind.ORDER_PAID,
    ]
    assert status_events(paid=False, cancelled=True)[-1] is EventKind.ORDER_CANCELLED


def test_partners_hear_of_products_only_as_shoppers_see_them() -> None:
    assert product_event(None, True) is EventKind.PRODUCT_CREATED
    assert product_event(False, True) is EventKind.PRODUCT_CREATED  # its drop started
    assert product_event(True, True) is EventKind.PRODUCT_UPDATED
    assert product_event(True, False) is EventKind.PRODUCT_WITHDRAWN
    assert product_event(None, False) is None  # a product of a drop still to come
    assert product_event(False, False) is None


def test_a_collection_filter_lets_through_only_its_own() -> None:
    assert matches_filter(None, ["a"])
    assert matches_filter("a", ["b", "a"])
    assert not matches_filter("a", [None, "b"])


def test_partner_tokens_carry_only_partner_scopes() -> None:
    assert check_partner_scopes([Scope.ORDERS_READ, Scope.ORDERS_READ]) == [Scope.ORDERS_READ]
    refused = _refused(lambda: check_partner_scopes([Scope.ORDERS_READ, Scope.ADMIN]))
    assert refused.message.startswith("not for partners: admin")
    assert _refused(lambda: check_partner_scopes([])).path == ("scopes",)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "a loopback address"),
        ("::1", "a loopback address"),
        ("10.0.0.7", "a private or reserved address"),
        ("172.16.5.4", "a private or reserved address"),
        ("192.168.1.1", "a private or reserved address"),
        ("100.64.0.1", "a private or reserved address"),  # carrier-grade NAT
        ("169.254.169.254", "a link-local address"),  # cloud metadata
        ("fe80::1", "a link-local address"),
        ("fd12::1", "a private or reserved address"),
        ("0.0.0.0", "a private or reserved address"),
        ("224.0.0.1", "a multicast address"),
        ("::ffff:10.0.0.1", "a private or reserved address"),  # IPv4 inside IPv6
        ("64:ff9b::a9fe:a9fe", "a link-local address"),  # NAT64 of 169.254.169.254
        ("2002:7f00:1::", "a loopback address"),  # 6to4 of 127.0.0.1
        ("8.8.8.8", None),
        ("2a00:1450:4010::65", None),
    ],
)
def test_only_global_addresses_may_receive_events(address: str, reason: str | None) -> None:
    assert address_refusal(ipaddress.ip_address(address), allow_loopback=False) == reason


def test_the_dev_setting_lets_loopback_in_and_nothing_else() -> None:
    assert address_refusal(ipaddress.ip_address("127.0.0.1"), allow_loopback=True) is None
    assert address_refusal(ipaddress.ip_address("10.0.0.1"), allow_loopback=True) is not None


def test_one_inward_address_of_a_name_refuses_it() -> None:
    addresses = [ipaddress.ip_address("8.8.8.8"), ipaddress.ip_address("10.1.1.1")]
    assert refused_among(addresses, False) == "a private or reserved address (10.1.1.1)"
    assert refused_among(addresses[:1], False) is None


def test_a_target_url_is_https_with_a_host_and_nothing_hidden() -> None:
    target = check_target_url(
        "https://Hooks.Partner.example:8443/in?x=1", require_https=True, allow_loopback=False
    )
    assert (target.host, target.port, target.https) == ("hooks.partner.example", 8443, True)
    for url, message in [
        ("http://hooks.partner.example/", "the URL must use https"),
        ("ftp://hooks.partner.example/", "the URL must be https://host/path"),
        ("https:///path", "the URL must be https://host/path"),
        ("https://user:pw@hooks.partner.example/", "no credentials or #fragment in the URL"),
        ("https://hooks.partner.example/#x", "no credentials or #fragment in the URL"),
        ("https://hooks.partner.example:99999/", "the URL must be https://host/path"),
        ("https://169.254.169.254/latest", "the URL points at a link-local address"),
        ("https://[::1]/", "the URL points at a loopback address"),
        ("https://x/" + "a" * 2000, "1..2000 characters"),
    ]:
        refused = _refused(
            lambda u=url: check_target_url(u, require_https=True, allow_loopback=False)
        )
        assert (refused.code, refused.path, refused.message) == (
            ErrorCode.INVALID,
            ("url",),
            message,
        )


def test_http_is_allowed_outside_production() -> None:
    target = check_target_url("http://127.0.0.1:8080/h", require_https=False, allow_loopback=True)
    assert (target.https, target.port) == (False, 8080)


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(b"whsec_k", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert signature("whsec_k", 1700000000, BODY) == f"v1={expected}"


def test_a_receiver_accepts_a_fresh_matching_signature_only() -> None:
    stamp = int(NOW.timestamp())
    good = signature("whsec_k", stamp, BODY)
    assert signature_is_valid("whsec_k", str(stamp), good, BODY, NOW)
    assert signature_is_valid("whsec_k", str(stamp), f"v1=00, {good}", BODY, NOW)  # rotation
    assert not signature_is_valid("whsec_other", str(stamp), good, BODY, NOW)
    assert not signature_is_valid("whsec_k", str(stamp), good, BODY + b" ", NOW)
    stale = NOW + timedelta(minutes=6)
    assert not signature_is_valid("whsec_k", str(stamp), good, BODY, stale)
    assert not signature_is_valid("whsec_k", "1e9", good, BODY, NOW)


def test_a_secret_is_derived_from_the_key_and_changes_with_the_salt() -> None:
    first = subscription_secret("server-key", 7, "salt-a")
    assert first.startswith("whsec_") and len(first) == 6 + 43
    assert subscription_secret("server-key", 7, "salt-a") == first
    assert subscription_secret("server-key", 7, "salt-b") != first
    assert subscription_secret("server-key", 8, "salt-a") != first
    with pytest.raises(ValueError, match="PARTNER_SECRET_KEY"):
        subscription_secret("", 7, "salt-a")


def test_an_aggregate_names_its_subscription_and_thing() -> None:
    aggregate = partner_aggregate(12, Entity.ORDER, "g-1")
    assert aggregate == "partner:12:order:g-1"
    assert subscription_of(aggregate) == 12
    assert subscription_of("order:g-1") is None
    assert subscription_of("partner:x:order:g-1") is None


def test_a_subscription_is_paused_after_failing_for_the_whole_period() -> None:
    day = timedelta(hours=24)
    assert not should_pause(NOW - timedelta(hours=23), NOW, day)
    assert should_pause(NOW - day, NOW, day)


def test_a_failing_receiver_rests_one_step_but_never_past_the_cap_or_before_retry_after() -> None:
    cap = timedelta(minutes=5)
    assert rest_after(None, timedelta(seconds=8), cap) == timedelta(seconds=8)
    assert rest_after(None, timedelta(hours=1), cap) == cap
    assert rest_after(None, None, cap) == cap  # the retry budget is spent
    assert rest_after(30.0, timedelta(seconds=8), cap) == timedelta(seconds=30)
