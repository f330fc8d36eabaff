"""What text we accept from outside: a bounded length and no characters that are not text.

Both databases must store (or refuse) a string alike: PostgreSQL refuses NUL and lone
surrogates with an error of its own and `varchar(n)` refuses what is longer than n, while
SQLite keeps anything. So every string is checked before it reaches either.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from app.domain.errors import DomainError, ErrorCode

MAX_TEXT_LENGTH = 10_000  # any string argument; stored fields have their column's own maximum

# C0 controls, DEL, C1 controls and lone surrogates (JSON "\ud800" decodes to one): not text.
_NOT_TEXT = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# Free text (a description, a comment, an address) may run over lines and hold tabs.
# CR is allowed with LF: 1C and Windows clients write line ends as CRLF.
_NOT_FREE_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class TextRule:
    """How long a string may be and whether it may hold line breaks and tabs."""

    max_length: int = MAX_TEXT_LENGTH
    multiline: bool = False


def check_text(
    value: str,
    *,
    max_length: int = MAX_TEXT_LENGTH,
    multiline: bool = False,
    path: Sequence[str | int] = (),
) -> None:
    """Refuse (INVALID at `path`) text longer than `max_length` characters or holding a
    control character, a NUL or a lone surrogate; line breaks and tabs only if `multiline`."""
    if len(value) > max_length:
        raise DomainError(ErrorCode.INVALID, f"at most {max_length} characters", tuple(path))
    found = (_NOT_FREE_TEXT if multiline else _NOT_TEXT).search(value)
    if found is not None:
        raise DomainError(ErrorCode.INVALID, _not_text(found.group(), found.start()), tuple(path))


def _not_text(char: str, position: int) -> str:
    # The character is named, never echoed: a lone surrogate cannot even be encoded as UTF-8.
    kind = "a surrogate" if "\ud800" <= char <= "\udfff" else "a control character"
    return f"{kind} (U+{ord(char):04X}) at position {position} is not allowed here"
