"""What an erased person's data becomes in the copies we keep of what others were told (outbox
payloads): contact fields take their anonymised value, and any other text naming the person
goes blank, while ids, amounts, lines and statuses stay (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

ERASED = "[erased]"  # a message parameter of an erased recipient
# Keys holding a person's contact or name in any payload we write (orders, customers, closing
# receipts, partners' order documents, segment members, messages), and what each becomes: the
# value the anonymised rows themselves hold (no e-mail, no phone, empty names and addresses).
CONTACT_KEYS: dict[str, str | None] = {
    "email": None,
    "phone": None,
    "phone_raw": None,
    "first_name": "",
    "last_name": "",
    "firstName": "",
    "lastName": "",
    "patronymic": "",
    "recipient": "",
    "address": "",
    "comment": "",
    "contact": "",
    "to": "",
}
_PHONE_DIGITS = 7  # a value with this many digits is a phone: found inside a text too


@dataclass(frozen=True, slots=True)
class PersonalData:
    """The values that identify the person: e-mails, phones (cleaned and as typed), names."""

    values: frozenset[str]

    @classmethod
    def of(cls, values: Iterable[str | None]) -> PersonalData:
        return cls(frozenset(v.strip().lower() for v in values if v and v.strip()))

    def names_them(self, text: str) -> bool:
        """Whether a text is one of the values, or contains one of their e-mails or phones
        (case-insensitive). A name or an address only as the whole text: "Alexander" must not
        blank a line named "Alexander McQueen dress"."""
        low = text.strip().lower()
        if low in self.values:
            return True
        return any(_is_contact(v) and v in low for v in self.values)


def _is_contact(value: str) -> bool:
    return "@" in value or sum(c.isdigit() for c in value) >= _PHONE_DIGITS


def anonymised_payload(payload: dict[str, Any], person: PersonalData) -> dict[str, Any]:
    """The payload with every contact field anonymised and every other text naming the person
    blank; the rest as it was."""
    scrubbed: dict[str, Any] = _scrub(payload, person)
    return scrubbed


def anonymised_message(payload: dict[str, Any], person: PersonalData) -> dict[str, Any]:
    """A message to the person: no recipient, and none of its text (which may carry their
    name, an order's reason or a secret); the template and the parameters' names stay."""
    params = payload.get("params", {})
    return {**_scrub(payload, person), "to": "", "params": dict.fromkeys(params, ERASED)}


def _scrub(value: Any, person: PersonalData) -> Any:
    if isinstance(value, dict):
        return {
            k: (CONTACT_KEYS[k] if k in CONTACT_KEYS and v else _scrub(v, person))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_scrub(v, person) for v in value]
    if isinstance(value, str) and person.names_them(value):
        return ""
    return value
