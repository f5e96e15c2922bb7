"""The partnership report's chart: a PNG with the funnel from students reached to placed, and
each employer's median reply time.

Drawn with Pillow's built-in font, so no font file is needed, and with nothing that varies
between runs: the same figures always give the same bytes. The built-in font has ASCII only:
a chart in another language is drawn with DejaVu Sans (Latin, Cyrillic and Arabic; Debian's
fonts-dejavu-core) where it is installed.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

from bot.i18n import DEFAULT, _, current
from handlers.reports.figures import fmt_duration

WIDTH, HEIGHT = 900, 520
MARGIN = 24
PANEL_TOP = 96
SPLIT = 450
ROW = 26
INK = (33, 37, 41)
MUTED = (120, 126, 133)
RULE = (222, 226, 230)
FUNNEL = ((29, 79, 145), (52, 110, 186), (86, 144, 214), (132, 178, 232))
REPLY = (230, 126, 34)

UNICODE_FONT = "DejaVuSans.ttf"

_fonts: dict[tuple[bool, int], ImageFont.FreeTypeFont | ImageFont.ImageFont] = {}


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    unicode = current() != DEFAULT
    if (unicode, size) not in _fonts:
        font: ImageFont.FreeTypeFont | ImageFont.ImageFont | None = None
        if unicode:
            try:
                font = ImageFont.truetype(UNICODE_FONT, size)
            except OSError:
                font = None  # not installed: the built-in font, with boxes for what it lacks
        _fonts[unicode, size] = font or ImageFont.load_default(size=size)
    return _fonts[unicode, size]


@dataclass(frozen=True)
class ChartData:
    title: str
    subtitle: str
    # (label, count) from the widest step to the narrowest.
    funnel: Sequence[tuple[str, int]]
    # (employer, median reply time in hours, or None without replies), in display order.
    reply_times: Sequence[tuple[str, float | None]]
    # Employers of the report left out of ``reply_times``.
    more: int = 0


def render(data: ChartData) -> bytes:
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    draw.text(
        (MARGIN, 18), _fit(draw, data.title, 22, WIDTH - 2 * MARGIN), fill=INK, font=_font(22)
    )
    draw.text(
        (MARGIN, 50), _fit(draw, data.subtitle, 14, WIDTH - 2 * MARGIN), fill=MUTED, font=_font(14)
    )
    draw.line((MARGIN, 80, WIDTH - MARGIN, 80), fill=RULE, width=1)
    draw.line((SPLIT, PANEL_TOP, SPLIT, HEIGHT - MARGIN), fill=RULE, width=1)
    _funnel(draw, data.funnel, MARGIN, SPLIT - MARGIN)
    _reply_times(draw, data.reply_times, data.more, SPLIT + MARGIN, WIDTH - MARGIN)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _funnel(
    draw: ImageDraw.ImageDraw, steps: Sequence[tuple[str, int]], left: int, right: int
) -> None:
    draw.text((left, PANEL_TOP), _("From reached to placed"), fill=INK, font=_font(16))
    widest = max((n for _, n in steps), default=0)
    span = right - left
    bar_height, label_height, gap = 52, 22, 20
    y = PANEL_TOP + 36
    previous: int | None = None
    for (label, count), colour in zip(steps, FUNNEL, strict=False):
        text = _("{step}: {count}", step=label, count=count)
        # A step can outgrow the one before (interest this period in a card seen last period,
        # or one student interested in two cards): a share over 100% would only confuse.
        if previous and count <= previous:
            text += " " + _(
                "({percent}% of the step before)", percent=round(100 * count / previous)
            )
        draw.text((left, y), _fit(draw, text, 14, span), fill=INK, font=_font(14))
        y += label_height
        # A funnel narrows from the middle; a step with anyone in it stays visible.
        width = round(span * count / widest) if widest else 0
        if count:
            width = max(width, 4)
        middle = left + span // 2
        if width:
            draw.rectangle(
                (middle - width // 2, y, middle - width // 2 + width, y + bar_height), fill=colour
            )
        else:
            draw.line((left, y + bar_height // 2, right, y + bar_height // 2), fill=RULE)
        y += bar_height + gap
        previous = count


def _reply_times(
    draw: ImageDraw.ImageDraw,
    rows: Sequence[tuple[str, float | None]],
    left_out: int,
    left: int,
    right: int,
) -> None:
    draw.text((left, PANEL_TOP), _("Median reply time per employer"), fill=INK, font=_font(16))
    top = PANEL_TOP + 36
    if not rows:
        draw.text((left, top), _("No employers with figures yet."), fill=MUTED, font=_font(14))
        return
    room = (HEIGHT - MARGIN - top) // ROW
    # The last row says how many are left out, if any are.
    shown = list(rows[: room - 1]) if left_out or len(rows) > room else list(rows)
    names_width = 150
    value_width = 80
    bar_left = left + names_width + 8
    bar_span = right - value_width - bar_left
    longest = max((h for _, h in shown if h is not None), default=0.0)
    for n, (name, hours) in enumerate(shown):
        y = top + n * ROW
        draw.text((left, y + 3), _fit(draw, name, 14, names_width), fill=INK, font=_font(14))
        if hours is None:
            draw.text((bar_left, y + 3), _("no replies yet"), fill=MUTED, font=_font(14))
            continue
        width = max(round(bar_span * hours / longest), 2) if longest else 2
        draw.rectangle((bar_left, y + 4, bar_left + width, y + ROW - 6), fill=REPLY)
        draw.text((bar_left + width + 6, y + 3), fmt_duration(hours), fill=INK, font=_font(14))
    more = len(rows) - len(shown) + left_out
    if more:
        y = top + len(shown) * ROW
        draw.text(
            (left, y + 3),
            _("…and {count} more in the report", count=more),
            fill=MUTED,
            font=_font(14),
        )


def _fit(draw: ImageDraw.ImageDraw, text: str, size: int, width: int) -> str:
    """``text``, shortened with an ellipsis until it fits ``width`` pixels."""
    font = _font(size)
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text.rstrip() + "…"
