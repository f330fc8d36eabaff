"""What an erased person's data becomes in the payloads we keep: contacts anonymised, text
naming them blank, everything else as it was."""

from __future__ import annotations

from app.domain.erasure import ERASED, PersonalData, anonymised_message, anonymised_payload

ANN = PersonalData.of(["ann@mail.ru", "+79161234567", "8 916 123-45-67", "Ann", "Smirnova", None])


def test_an_order_keeps_its_facts_and_loses_the_persons_contacts() -> None:
    order = {
        "guid": "o-1",
        "total_kopecks": 499000,
        "customer": {
            "guid": "c-1",
            "email": "ann@mail.ru",
            "phone": "+79161234567",
            "first_name": "Ann",
            "last_name": "Smirnova",
        },
        "lines": [{"sku": "DRESS-M", "name": "Dress", "quantity": 1}],
        "delivery": {"kind": "courier", "address": "Tverskaya 1", "pickup_warehouse_guid": None},
    }

    assert anonymised_payload(order, ANN) == {
        "guid": "o-1",
        "total_kopecks": 499000,
        "customer": {
            "guid": "c-1",
            "email": None,
            "phone": None,
            "first_name": "",
            "last_name": "",
        },
        "lines": [{"sku": "DRESS-M", "name": "Dress", "quantity": 1}],
        "delivery": {"kind": "courier", "address": "", "pickup_warehouse_guid": None},
    }


def test_any_other_text_holding_the_persons_contact_goes_blank() -> None:
    partner = {"note": "call ANN@mail.ru after 6", "reason": "Ann", "product": "Annecy coat"}

    assert anonymised_payload(partner, ANN) == {"note": "", "reason": "", "product": "Annecy coat"}


def test_a_name_blanks_only_a_text_that_is_exactly_it_a_contact_any_text_holding_it() -> None:
    assert ANN.names_them(" ann ") is True
    assert ANN.names_them("Smirnova Ann") is False  # not one of the values as they came
    assert ANN.names_them("Smirnova boots") is False
    assert ANN.names_them("phone 8 916 123-45-67") is True
    assert ANN.names_them("write to ann@mail.ru") is True


def test_a_message_loses_its_recipient_and_every_parameter_but_keeps_its_template() -> None:
    message = {
        "guid": "m-1",
        "channel": "sms",
        "to": "+79161234567",
        "template": "order_cancelled",
        "params": {"number": "V-1", "reason": "Ann asked"},
    }

    assert anonymised_message(message, ANN) == {
        "guid": "m-1",
        "channel": "sms",
        "to": "",
        "template": "order_cancelled",
        "params": {"number": ERASED, "reason": ERASED},
    }
