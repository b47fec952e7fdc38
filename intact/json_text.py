"""JSON written for people to read: non-ASCII characters kept, and always encodable as UTF-8.

`json.loads` turns the escape "\\ud800" (a lone surrogate, which browsers can send) into a
character that UTF-8 cannot encode, so writing it back with `ensure_ascii=False` and serving the
page or file fails. Here such a character is written back as the escape it came from (RFC 8259
section 8.2 allows the escape; it names no character), and every other character as itself.
"""

import json
import re

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def escape_lone_surrogates(text: str) -> str:
    """`text` with each unpaired surrogate written as its JSON escape, e.g. "\\ud800"."""
    return _LONE_SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def readable_json(value, **options) -> str:
    """json.dumps with non-ASCII kept readable; any lone surrogate escaped. Options as dumps'."""
    return escape_lone_surrogates(json.dumps(value, ensure_ascii=False, **options))
