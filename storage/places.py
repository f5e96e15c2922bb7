"""Places as students and listings write them, reduced to one key for matching."""

from __future__ import annotations

import re

# A UK postcode, or its outward part alone: "LS6 2AB", "ls6", "SW1A".
_POSTCODE = re.compile(r"^([a-z]{1,2}\d[a-z\d]?)(\s*\d[a-z]{2})?$")


def place_key(text: str) -> str:
    """The key a place is matched by: "Leeds, UK", " leeds " -> "leeds"; "LS6 2AB" -> "ls6";
    "Remote" -> "remote". Empty if nothing is left."""
    first = text.split(",")[0].split(";")[0].lower()
    words = re.findall(r"[^\W_]+", first)
    key = " ".join(words)
    postcode = _POSTCODE.match(key)
    return postcode.group(1) if postcode else key
