"""Which marked units a return takes back: named codes first, then the first still out in
shipment order; a code back already, not of the order, or of a variant not coming back is
refused at its input path."""

from __future__ import annotations

import pytest

from app.domain.errors import DomainError, ErrorCode
from app.domain.marking import ShippedCode, codes_coming_back
from app.domain.outbox import EventKind, kept_after_delivery

DRESS, BOOTS = 1, 2
SHIPPED = [
    ShippedCode("D1", DRESS),
    ShippedCode("D2", DRESS),
    ShippedCode("D3", DRESS),
    ShippedCode("B1", BOOTS),
]


def test_without_names_the_first_codes_still_out_come_back() -> None:
    assert codes_coming_back(SHIPPED, {DRESS: 2}, []) == {DRESS: ["D1", "D2"]}


def test_a_code_back_already_is_never_taken_again() -> None:
    shipped = [ShippedCode("D1", DRESS, returned=True), *SHIPPED[1:]]

    assert codes_coming_back(shipped, {DRESS: 1, BOOTS: 1}, []) == {DRESS: ["D2"], BOOTS: ["B1"]}


def test_named_codes_come_first_and_the_rest_is_filled_in_shipment_order() -> None:
    assert codes_coming_back(SHIPPED, {DRESS: 2}, [" D3 "]) == {DRESS: ["D3", "D1"]}


def test_units_without_codes_left_make_up_the_rest() -> None:
    shipped = [ShippedCode("D1", DRESS)]

    assert codes_coming_back(shipped, {DRESS: 3, BOOTS: 1}, []) == {DRESS: ["D1"]}


@pytest.mark.parametrize(
    ("named", "code", "index"),
    [
        (["X9"], ErrorCode.INVALID, 0),  # not a unit of this order
        (["D1", "D1"], ErrorCode.CONFLICT, 1),  # named twice
        (["B1"], ErrorCode.INVALID, 0),  # its variant is not coming back
        (["D1", "D2", "D3"], ErrorCode.INVALID, 2),  # more codes than units
    ],
)
def test_a_code_that_cannot_come_back_is_refused_at_its_index(
    named: list[str], code: ErrorCode, index: int
) -> None:
    with pytest.raises(DomainError) as refused:
        codes_coming_back(SHIPPED, {DRESS: 2}, named)

    assert (refused.value.code, refused.value.path) == (code, ("returnMarkingCodes", index))


def test_a_code_back_already_named_again_is_a_conflict() -> None:
    shipped = [ShippedCode("D1", DRESS, returned=True), *SHIPPED[1:]]

    with pytest.raises(DomainError) as refused:
        codes_coming_back(shipped, {DRESS: 1}, ["D1"])

    assert refused.value.code is ErrorCode.CONFLICT


def test_a_delivered_receipt_of_an_erased_buyer_keeps_no_contact() -> None:
    payload = {"order_guid": "o", "email": "a@b.ru", "phone": "+79161234567", "erased": True}

    kept = kept_after_delivery(EventKind.CLOSING_RECEIPT, payload)
    untouched = kept_after_delivery(EventKind.SHIPMENT_CAPTURE, {**payload, "erased": False})

    assert kept == {"order_guid": "o", "email": None, "phone": None, "erased": True}
    assert untouched is None
