"""Charts as inline SVG, drawn here: no library, no JavaScript, nothing fetched.

Each function returns one ``<svg>`` element (with a ``<title>`` and ``role="img"``) that renders the
same in a browser, in the weekly review's HTML and, through fpdf2's SVG support, in its PDF. Text
is escaped; only shapes, lines and text are used.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from hub.coordinator.words import label
from hub.review.measures.funnel import FunnelCounts
from hub.review.measures.speed import SpeedRow
from hub.review.measures.stalled import Stalled
from hub.review.measures.timing import FollowUpTiming, RateRow
from hub.review.measures.trend import WeekPoint

__all__ = ["bar_chart", "funnel_chart", "rate_chart", "speed_chart", "stalled_chart", "trend_chart"]

FONT = "Helvetica, Arial, sans-serif"
INK = "#1f2933"
MUTED = "#6b7785"
GRID = "#d9dee3"
PALETTE = ("#2a6f97", "#61a5c2", "#f4a261", "#2a9d8f", "#e76f51", "#8d99ae")


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    t = escape(title)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{t}" font-family="{FONT}">'
        f"<title>{t}</title>{''.join(body)}</svg>"
    )


def _text(x: float, y: float, text: str, *, size: int = 14, anchor: str = "start", fill: str = INK) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}">{escape(text)}</text>'
    )


def bar_chart(
    items: Sequence[tuple[str, float, str]],
    *,
    title: str,
    width: int = 640,
    label_width: int = 230,
    bar_height: int = 22,
    color: str = PALETTE[0],
    show_title: bool = True,
) -> str:
    """Horizontal bars: one ``(label, value, value text)`` per bar, scaled to the largest value.

    ``show_title``: draw the title in the chart (a page that titles the chart itself says False;
    the title stays the SVG's accessible name)."""
    top = 28 if show_title else 4
    height = top + max(1, len(items)) * (bar_height + 8) + 8
    body = [_text(0, 16, title, size=16)] if show_title else []
    largest = max((v for _, v, _ in items), default=0.0)
    room = width - label_width - 110
    if not items:
        body.append(_text(label_width, top + 14, "no data", fill=MUTED))
    for i, (name, value, shown) in enumerate(items):
        y = top + i * (bar_height + 8)
        length = 0.0 if largest <= 0 else max(1.0, room * value / largest) if value > 0 else 0.0
        body.append(_text(label_width - 8, y + bar_height * 0.72, name, anchor="end"))
        body.append(
            f'<rect class="bar" x="{label_width}" y="{y}" width="{length:.1f}" height="{bar_height}" '
            f'fill="{color}"><title>{escape(name)}: {escape(shown)}</title></rect>'
        )
        body.append(_text(label_width + length + 6, y + bar_height * 0.72, shown, fill=MUTED))
    return _svg(width, height, title, body)


def funnel_chart(counts: FunnelCounts, *, title: str = "Funnel", show_title: bool = True) -> str:
    """The five funnel steps as bars, each with its count and conversion from the step before."""
    items = []
    for step in counts.steps:
        rate = "" if step.from_previous is None else f" ({step.from_previous * 100:.0f}% of previous)"
        items.append((step.name.capitalize(), float(step.count), f"{step.count}{rate}"))
    return bar_chart(items, title=title, color=PALETTE[0], show_title=show_title)


def speed_chart(row: SpeedRow, *, title: str = "Time to first attempt", show_title: bool = True) -> str:
    """The speed-to-lead distribution: leads per bucket of time to first attempt."""
    items = [(c.name, float(c.n), f"{c.n} ({(c.share or 0) * 100:.0f}%)") for c in row.distribution]
    return bar_chart(items, title=title, color=PALETTE[3], show_title=show_title)


def stalled_chart(stalled: Stalled, *, title: str = "Stalled leads by reason", show_title: bool = True) -> str:
    """Stalled leads per reason (in words)."""
    items = [(label("stalled_reason", c.name), float(c.n), str(c.n)) for c in stalled.by_reason]
    return bar_chart(items, title=title, color=PALETTE[4], show_title=show_title)


def rate_chart(
    rows: Sequence[RateRow], *, title: str, width: int = 640, height: int = 230, show_title: bool = True
) -> str:
    """Vertical bars of reach rate (0–100%) per row, the number of attempts under each bar."""
    left, bottom, top = 44, 44, 28 if show_title else 10
    plot_h = height - top - bottom
    body = [_text(0, 16, title, size=16)] if show_title else []
    for pct in (0, 50, 100):
        y = top + plot_h * (1 - pct / 100)
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width}" y2="{y:.1f}" stroke="{GRID}" stroke-width="1"/>')
        body.append(_text(left - 4, y + 4, f"{pct}%", size=13, anchor="end", fill=MUTED))
    if not rows:
        body.append(_text(left + 8, top + plot_h / 2, "no data", fill=MUTED))
        return _svg(width, height, title, body)
    slot = (width - left) / len(rows)
    bar_w = max(4.0, slot * 0.7)
    for i, row in enumerate(rows):
        rate = row.rate or 0.0
        x = left + i * slot + (slot - bar_w) / 2
        h = plot_h * rate
        body.append(
            f'<rect class="bar" x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
            f'fill="{PALETTE[1]}"><title>{escape(row.key)}: {rate * 100:.0f}% of {row.attempts}</title></rect>'
        )
        cx = x + bar_w / 2
        roomy = slot >= 44  # narrow slots (24 hours) get short labels; the tooltip keeps the detail
        label = row.key if roomy or ":" not in row.key else row.key.split(":")[0]
        body.append(_text(cx, top + plot_h + 16, label, size=13, anchor="middle"))
        if roomy:
            body.append(_text(cx, top + plot_h + 32, f"n={row.attempts}", size=12, anchor="middle", fill=MUTED))
    return _svg(width, height, title, body)


def timing_chart(timing: FollowUpTiming, *, title: str = "Reach rate by local hour", show_title: bool = True) -> str:
    """Reach rate per local hour of the attempt."""
    return rate_chart(timing.by_hour, title=title, show_title=show_title)


def trend_chart(
    points: Sequence[WeekPoint], *, title: str = "Trend by week", width: int = 640, show_title: bool = True
) -> str:
    """Grouped vertical bars per week: inquiries, scheduling-ready, scheduled, kept; with a legend."""
    height, left, bottom, top = 250, 44, 36, 48 if show_title else 30
    plot_h = height - top - bottom
    legend_y = 24 if show_title else 4
    series = (
        ("inquiries", PALETTE[0]),
        ("scheduling_ready", PALETTE[1]),
        ("scheduled", PALETTE[2]),
        ("kept", PALETTE[3]),
    )
    body = [_text(0, 16, title, size=16)] if show_title else []
    for i, (name, color) in enumerate(series):
        x = left + i * 145
        body.append(f'<rect x="{x}" y="{legend_y}" width="12" height="12" fill="{color}"/>')
        body.append(_text(x + 16, legend_y + 11, name.replace("_", "-").capitalize(), size=13))
    largest = max((p.inquiries for p in points), default=0)
    scale = plot_h / largest if largest else 0.0
    body.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width}" y2="{top + plot_h}" stroke="{GRID}" stroke-width="1"/>'
    )
    body.append(_text(left - 4, top + 8, str(largest), size=13, anchor="end", fill=MUTED))
    if not points:
        return _svg(width, height, title, body)
    slot = (width - left) / len(points)
    bar_w = max(2.0, slot * 0.8 / len(series))
    for i, point in enumerate(points):
        x0 = left + i * slot + slot * 0.1
        for j, (name, color) in enumerate(series):
            value = int(getattr(point, name))
            h = value * scale
            body.append(
                f'<rect class="bar" x="{x0 + j * bar_w:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" '
                f'height="{h:.1f}" fill="{color}"><title>{escape(point.week)} {name}: {value}</title></rect>'
            )
        body.append(_text(left + i * slot + slot / 2, top + plot_h + 18, point.week[-3:], size=13, anchor="middle"))
    return _svg(width, height, title, body)
