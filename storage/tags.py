"""The fields students pick as interests and opportunities are tagged with.

One vocabulary for both sides, so that matching is a join and not a guess. Imported listings
carry no tags; ``derive_tags`` finds them from words in the title.
"""

from __future__ import annotations

import re
from collections.abc import Iterable


def N_(label: str) -> str:
    """Marks words of storage's for the catalogues (storage imports nothing of ours, so not
    bot.i18n's); they are translated where they are shown, like ``_(TAGS[tag])``."""
    return label


TAGS: dict[str, str] = {
    "technology": N_("Technology & IT"),
    "engineering": N_("Engineering"),
    "science": N_("Science & research"),
    "health": N_("Health & care"),
    "business": N_("Business & finance"),
    "creative": N_("Creative & media"),
    "trades": N_("Construction & trades"),
    "education": N_("Education"),
    "hospitality": N_("Hospitality & retail"),
    "public": N_("Public service"),
}

_KEYWORDS: dict[str, tuple[str, ...]] = {
    "technology": (
        "software",
        "developer",
        "data",
        "it",
        "cyber",
        "security",
        "cloud",
        "web",
        "machine learning",
        "ml",
        "ai",
        "computer",
        "devops",
        "frontend",
        "backend",
        "full stack",
        "fullstack",
        "network",
        "programming",
        "python",
        "java",
        "technology",
        "tech",
        "quant",
        "sre",
        "infrastructure",
    ),
    "engineering": (
        "engineer",
        "engineering",
        "mechanical",
        "electrical",
        "civil",
        "hardware",
        "firmware",
        "manufacturing",
        "aerospace",
        "robotics",
        "chemical",
        "embedded",
    ),
    "science": ("research", "science", "scientist", "lab", "biology", "chemistry", "physics"),
    "health": ("health", "medical", "clinical", "nurse", "care", "pharma", "hospital", "biotech"),
    "business": (
        "business",
        "finance",
        "financial",
        "accounting",
        "marketing",
        "sales",
        "analyst",
        "consulting",
        "product",
        "operations",
        "strategy",
        "investment",
        "banking",
        "audit",
        "hr",
    ),
    "creative": ("design", "designer", "media", "creative", "ux", "ui", "content", "video", "art"),
    "trades": ("construction", "electrician", "plumbing", "carpentry", "technician", "welding"),
    "education": ("teaching", "education", "tutor", "school"),
    "hospitality": ("hospitality", "retail", "hotel", "restaurant", "customer service"),
    "public": ("government", "public", "policy", "council", "nonprofit", "charity"),
}

_PATTERNS = {
    tag: re.compile(r"\b(?:" + "|".join(re.escape(w) for w in words) + r")\b", re.IGNORECASE)
    for tag, words in _KEYWORDS.items()
}


def derive_tags(*texts: str) -> list[str]:
    """Tags whose keywords occur as whole words in any of ``texts``, in vocabulary order."""
    joined = " ".join(texts)
    return [tag for tag, pattern in _PATTERNS.items() if pattern.search(joined)]


class UnknownTag(ValueError):
    """A word in a list of fields that is no field; ``part`` is that word."""

    def __init__(self, part: str) -> None:
        super().__init__(part)
        self.part = part


def known_tags(parts: Iterable[str]) -> list[str]:
    """The tags that ``parts`` (keys or labels; blanks skipped) mean, in order and once each.

    Raises ``UnknownTag`` for the first part that names no field.
    """
    tags: list[str] = []
    for part in filter(None, (p.strip() for p in parts)):
        tag = normalise_tag(part)
        if tag is None:
            raise UnknownTag(part)
        if tag not in tags:
            tags.append(tag)
    return tags


def normalise_tag(value: str) -> str | None:
    """The tag a user or a CSV file means by ``value`` (key or label), or None."""
    wanted = value.strip().lower()
    for tag, label in TAGS.items():
        if wanted in (tag, label.lower()):
            return tag
    return None
