"""Job descriptions arrive as HTML; students read plain text."""

from __future__ import annotations

import html
import re
import unicodedata
from html.parser import HTMLParser

# Elements that start a new line in a browser, so their text must not run together.
_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt",
        "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
        "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tr", "ul",
    }
)  # fmt: skip
_HIDDEN = frozenset({"script", "style", "head", "template"})


class _Text(HTMLParser):
    def __init__(self) -> None:
        # Entities (&amp;, &#39;, &nbsp;) become their characters as the text is read.
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self.hidden += 1
        elif tag == "li":
            self.parts.append("\n• ")
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in _BLOCKS and tag != "li":
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def printable(text: str) -> str:
    """``text`` without control characters (but line breaks and tabs) and lone surrogates,
    which students would see as garbage and PostgreSQL cannot store."""
    return "".join(
        ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs")
    )


def html_to_text(markup: str, *, escaped: bool = False) -> str:
    """The text a browser would show for ``markup``: one line per block, no blank-line runs.

    ``escaped``: the HTML itself arrives entity-escaped (Greenhouse's ``content``), so it is
    unescaped once before it is read.
    """
    if escaped:
        markup = html.unescape(markup)
    parser = _Text()
    parser.feed(markup)
    parser.close()
    lines = [" ".join(line.split()) for line in printable("".join(parser.parts)).splitlines()]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def plain(text: str) -> str:
    """Plain text from a provider: printable, with its paragraphs kept and spaces tidied."""
    lines = [" ".join(line.split()) for line in printable(text).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
