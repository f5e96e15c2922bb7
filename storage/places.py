"""Places as students and listings write them, reduced to keys for matching.

A student is near a listing when one of the student's keys begins one of the listing's, in whole
words: its places' towns (or the parts of their names between commas: "New York, NY, USA" is
"new york", "ny" and "usa"), and the outward part of a UK postcode with the post town of its
area. "Leeds" is near "Leeds city centre", but "York" is not near "New York", and "LS1" is not
"LS10".
"""

from __future__ import annotations

import re

# A UK postcode at the end of a part of an address, or its outward part alone: "Leeds LS6 2AB",
# "LS6", "SW1A 1AA". Addresses end with their postcode, so a word in the middle that looks like
# one ("B2B sales") is not taken for one.
_POSTCODE = re.compile(
    r"^(?:(?P<town>.*?)\s+)?(?P<out>(?P<area>[a-z]{1,2})\d[a-z\d]?)(?:\s*(?P<inward>\d[a-z]{2}))?$"
)
_MORE = re.compile(r"^and \d+ more$")  # the importer's "Leeds; York; and 2 more"
# Room enough in ``Opportunity.place_keys`` (500) for the keys of a long list of places.
MAX_KEYS = 480

# The post town of each UK postcode area, so that a student who gives "LS6" is near a listing
# in Leeds (Royal Mail's postcode areas; London's are its districts' shared town).
AREAS = {
    "ab": "aberdeen", "al": "st albans", "b": "birmingham", "ba": "bath", "bb": "blackburn",
    "bd": "bradford", "bh": "bournemouth", "bl": "bolton", "bn": "brighton", "br": "bromley",
    "bs": "bristol", "bt": "belfast", "ca": "carlisle", "cb": "cambridge", "cf": "cardiff",
    "ch": "chester", "cm": "chelmsford", "co": "colchester", "cr": "croydon", "ct": "canterbury",
    "cv": "coventry", "cw": "crewe", "da": "dartford", "dd": "dundee", "de": "derby",
    "dg": "dumfries", "dh": "durham", "dl": "darlington", "dn": "doncaster", "dt": "dorchester",
    "dy": "dudley", "e": "london", "ec": "london", "eh": "edinburgh", "en": "enfield",
    "ex": "exeter", "fk": "falkirk", "fy": "blackpool", "g": "glasgow", "gl": "gloucester",
    "gu": "guildford", "ha": "harrow", "hd": "huddersfield", "hg": "harrogate",
    "hp": "hemel hempstead", "hr": "hereford", "hs": "outer hebrides", "hu": "hull",
    "hx": "halifax", "ig": "ilford", "ip": "ipswich", "iv": "inverness", "ka": "kilmarnock",
    "kt": "kingston upon thames", "kw": "kirkwall", "ky": "kirkcaldy", "l": "liverpool",
    "la": "lancaster", "ld": "llandrindod wells", "le": "leicester", "ll": "llandudno",
    "ln": "lincoln", "ls": "leeds", "lu": "luton", "m": "manchester", "me": "rochester",
    "mk": "milton keynes", "ml": "motherwell", "n": "london", "ne": "newcastle upon tyne",
    "ng": "nottingham", "nn": "northampton", "np": "newport", "nr": "norwich", "nw": "london",
    "ol": "oldham", "ox": "oxford", "pa": "paisley", "pe": "peterborough", "ph": "perth",
    "pl": "plymouth", "po": "portsmouth", "pr": "preston", "rg": "reading", "rh": "redhill",
    "rm": "romford", "s": "sheffield", "sa": "swansea", "se": "london", "sg": "stevenage",
    "sk": "stockport", "sl": "slough", "sm": "sutton", "sn": "swindon", "so": "southampton",
    "sp": "salisbury", "sr": "sunderland", "ss": "southend on sea", "st": "stoke on trent",
    "sw": "london", "sy": "shrewsbury", "ta": "taunton", "td": "galashiels", "tf": "telford",
    "tn": "tonbridge", "tq": "torquay", "tr": "truro", "ts": "middlesbrough", "tw": "twickenham",
    "ub": "southall", "w": "london", "wa": "warrington", "wc": "london", "wd": "watford",
    "wf": "wakefield", "wn": "wigan", "wr": "worcester", "ws": "walsall", "wv": "wolverhampton",
    "yo": "york", "ze": "lerwick",
}  # fmt: skip


def _words(text: str) -> str:
    return " ".join(re.findall(r"[^\W_]+", text.lower()))


def _part_keys(part: str) -> list[str]:
    """The keys of one part of a place, between commas: its town, and a postcode's outward
    part with the town of its area. A street address ("12 Park Row") has none."""
    words = _words(part)
    if not words or _MORE.match(words):
        return []
    keys = []
    postcode = _POSTCODE.match(words)
    # An outward part alone is a postcode only where it names a known area: "A1" is a road.
    if postcode and (postcode["inward"] or postcode["area"] in AREAS):
        keys.append(postcode["out"])
        if postcode["area"] in AREAS:
            keys.append(AREAS[postcode["area"]])
        words = postcode["town"] or ""
    if words and not words[0].isdigit() and words not in keys:
        keys.append(words)
    return keys


def student_keys(text: str) -> list[str]:
    """The keys of the place a student can get to (its first part): "Leeds, UK" -> "leeds";
    "LS6 2AB" -> "ls6", "leeds"; "Remote" -> "remote". None if nothing is left."""
    return _part_keys(text.split(",")[0].split(";")[0])


def listing_keys(location: str) -> str:
    """A listing's location as the keys of its places, each after a bar and before a space
    ("|new york |ny |usa |"), so that ``pattern(key)`` finds the keys a key begins in whole
    words; "" without any."""
    keys: list[str] = []
    for place in location.split(";"):
        for part in place.split(","):
            keys += [k for k in _part_keys(part) if k not in keys]
    joined = ""
    for key in keys:
        if len(joined) + len(key) + 3 > MAX_KEYS:
            break
        joined += f"|{key} "
    return joined + "|" if joined else ""


def pattern(key: str) -> str:
    """The LIKE pattern of the ``listing_keys`` that a student's key begins. Keys are letters,
    digits and spaces: nothing LIKE takes for a wildcard."""
    return f"%|{key} %"


def near(location_keys: str, keys: list[str]) -> bool:
    """Whether a listing's ``listing_keys`` has a key that one of ``student_keys`` begins."""
    return any(f"|{key} " in location_keys for key in keys)
