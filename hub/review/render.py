"""The weekly review as a self-contained HTML page, as CSV and as PDF.

- **HTML**: one page, inline CSS, charts as inline SVG (:mod:`hub.review.charts`); nothing fetched,
  no JavaScript. Lead ids can link to the admin UI (``lead_link="/admin/leads/{id}"``). Written by
  the Jinja2 templates in ``hub/review/templates`` (shipped with the package): ``review_page.html``
  (the standalone page, with ``review.css``) wraps ``review_fragment.html`` (the review itself,
  what the web app shows inside its own layout), whose tables are the macros of ``_table.html``.
- **CSV**: one section per measure: a ``section,<name>`` row, a header row, the data rows, a blank
  row. Every field is a figure, a code or a lead id.
- **PDF**: fpdf2 (pure Python, no browser to run in the scheduler's process), with the same SVG
  charts drawn through fpdf2's SVG support; its core fonts are Latin-1, so the few typographic
  characters the page uses are written in ASCII there.

No renderer shows PHI: lists carry lead ids, never names, phones, emails or the patients' words.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fpdf import FPDF
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from hub.coordinator.words import ClinicTime, humanise, label, rule_label
from hub.review import charts
from hub.review.csv_export import CsvWriter
from hub.review.measures.counts import NONE_LABEL
from hub.review.measures.funnel import FunnelCounts
from hub.review.measures.timing import RateRow
from hub.review.weekly import WeeklyReview, fmt_share

__all__ = ["fragment_of", "render_csv", "render_fragment", "render_html", "render_pdf"]

_PDF_TEXT = str.maketrans(
    {"–": "-", "—": "-", "≤": "<=", "≥": ">=", "→": "->", "…": "...", "‘": "'", "’": "'", "“": '"', "”": '"'}
)


def _pct(value: float | None) -> str:
    return fmt_share(value)


def _funnel_cells(c: FunnelCounts) -> list[Any]:
    scheduled = c.steps[2].from_inquiries
    return [
        c.inquiries,
        c.scheduling_ready,
        _pct(c.ready_share),
        c.reached,
        c.scheduled,
        c.prepared,
        c.kept,
        c.declined,
        c.not_a_fit,
        c.unreachable,
        c.no_show,
        _pct(scheduled),
    ]


FUNNEL_HEADER = [
    "inquiries",
    "scheduling_ready",
    "ready_share",
    "reached",
    "scheduled",
    "prepared",
    "kept",
    "declined",
    "not_a_fit",
    "unreachable",
    "no_show",
    "scheduled_rate",
]


def sections(review: WeeklyReview) -> list[tuple[str, list[str], list[list[Any]]]]:
    """Every measure as a named table: ``(name, header, rows)``. CSV writes them all; HTML and PDF
    show most of them."""
    m = review.measures
    out: list[tuple[str, list[str], list[list[Any]]]] = [
        ("headline", ["figure", "value"], [[f.name, f.value] for f in review.headline]),
        ("answers", ["key", "question", "answer"], [[a.key, a.question, a.answer] for a in review.answers]),
    ]
    for funnel in m.funnels:
        rows = [[r.key, *_funnel_cells(r.counts)] for r in funnel.rows]
        rows.append(["all", *_funnel_cells(funnel.total)])
        out.append((f"funnel_by_{funnel.dimension}", [funnel.dimension, *FUNNEL_HEADER], rows))
    speed_header = [
        "channel",
        "leads",
        "target_minutes",
        "attempted",
        "median_attempt_minutes",
        "p90_attempt_minutes",
        "contacted",
        "median_contact_minutes",
        "p90_contact_minutes",
        "due",
        "within_target",
        "within_target_share",
        "after_hours",
        "after_hours_share",
    ]

    def speed_row(r: Any) -> list[Any]:
        return [
            r.channel,
            r.leads,
            r.target_minutes if r.target_minutes is not None else "",
            r.attempted,
            _num(r.median_attempt_minutes),
            _num(r.p90_attempt_minutes),
            r.contacted,
            _num(r.median_contact_minutes),
            _num(r.p90_contact_minutes),
            r.due,
            r.within_target,
            _pct(r.within_target_share),
            r.after_hours,
            _pct(r.after_hours_share),
        ]

    out.append(("speed_to_lead", speed_header, [*(speed_row(r) for r in m.speed.rows), speed_row(m.speed.total)]))
    out.append(
        (
            "speed_distribution",
            ["time_to_first_attempt", "leads", "share"],
            [[c.name, c.n, _pct(c.share)] for c in m.speed.total.distribution],
        )
    )
    s = m.stalled
    out.append(("stalled_by_reason", ["reason", "leads", "share"], [[c.name, c.n, _pct(c.share)] for c in s.by_reason]))
    out.append(
        (
            "stalled_groups",
            ["next_action", "owner_queue", "reason", "leads", "max_overdue_hours", "lead_ids"],
            [[g.kind, g.queue, g.reason.value, g.n, g.max_overdue_hours, " ".join(g.lead_ids)] for g in s.groups],
        )
    )
    out.append(
        (
            "stalled_leads",
            ["lead_id", "channel", "next_action", "owner_queue", "reason", "overdue_hours"],
            [[x.lead_id, x.channel, x.kind, x.queue, x.reason.value, x.overdue_hours] for x in s.leads],
        )
    )
    question_rows = []
    for row in (*m.questions.by_channel, m.questions.overall):
        for kind, counts in (("intent", row.intents), ("need", row.needs), ("keyword", row.keywords)):
            question_rows += [[row.channel, row.leads, kind, c.name, c.n, _pct(c.share)] for c in counts]
    out.append(("repeated_questions", ["channel", "leads", "kind", "name", "n", "share"], question_rows))
    out.append(
        (
            "confusion",
            ["template", "steps", "sends", "replies", "reply_rate", "leads", "lead_ids"],
            [
                [r.template, " ".join(r.steps), r.sends, r.questions, _pct(r.rate), r.leads, " ".join(r.lead_ids)]
                for r in m.confusion.rows
            ],
        )
    )
    out.append(
        (
            "services",
            ["service", "inquiries", "scheduling_ready", "demand", "scheduled", "openings", "load", "verdict"],
            [
                [
                    d.service,
                    d.inquiries,
                    d.scheduling_ready,
                    d.demand,
                    d.scheduled,
                    "" if d.openings is None else d.openings,
                    _num(d.load, 2),
                    d.verdict.value,
                ]
                for d in m.services
            ],
        )
    )
    t = m.timing
    for name, rates in (
        ("timing_by_attempt", t.by_attempt),
        ("timing_by_hour", t.by_hour),
        ("timing_by_part_of_day", t.by_part_of_day),
        ("timing_by_step", t.by_step),
    ):
        out.append((name, ["key", "attempts", "reached", "rate"], [_rate(r) for r in rates]))
    out.append(
        (
            "language",
            ["language", "inquiries", "reached", "scheduled", "kept", "reached_rate", "scheduled_rate", "kept_rate"],
            [
                [
                    r.language,
                    r.counts.inquiries,
                    r.counts.reached,
                    r.counts.scheduled,
                    r.counts.kept,
                    _pct(r.reached_rate),
                    _pct(r.scheduled_rate),
                    _pct(r.kept_rate),
                ]
                for r in m.language.rows
            ],
        )
    )
    out.append(
        (
            "trend",
            ["week", "inquiries", "scheduling_ready", "scheduled", "kept"],
            [[p.week, p.inquiries, p.scheduling_ready, p.scheduled, p.kept] for p in m.trend],
        )
    )
    return out


def _num(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _rate(r: RateRow) -> list[Any]:
    return [r.key, r.attempts, r.reached, _pct(r.rate)]


# --- CSV ----------------------------------------------------------------------------------------


def render_csv(review: WeeklyReview) -> str:
    """Every measure of ``review`` as CSV, one section per measure."""
    buffer = io.StringIO()
    writer = CsvWriter(buffer, lineterminator="\n")
    writer.writerow(["section", "meta"])
    writer.writerow(["clinic", "week", "from", "to", "generated_at", "timezone", "filters"])
    writer.writerow(
        [
            review.clinic_name,
            review.week,
            review.period.start.isoformat(),
            review.period.end.isoformat(),
            review.generated_at.isoformat(),
            review.measures.timezone,
            " ".join(f"{k}={v}" for k, v in review.measures.filters.active.items()),
        ]
    )
    writer.writerow([])
    for name, header, rows in sections(review):
        writer.writerow(["section", name])
        writer.writerow(header)
        writer.writerows(rows)
        writer.writerow([])
    return buffer.getvalue()


def render_data(review: WeeklyReview) -> dict[str, Any]:
    """Every measure of ``review`` as JSON-ready data (``nurturehub report weekly --json``): the
    same tables as the CSV, each row keyed by its column names, values as the CSV writes them."""
    return {
        "clinic": review.clinic_name,
        "week": review.week,
        "from": review.period.start.isoformat(),
        "to": review.period.end.isoformat(),
        "generated_at": review.generated_at.isoformat(),
        "timezone": review.measures.timezone,
        "filters": dict(review.measures.filters.active),
        "sections": {
            name: [dict(zip(header, row, strict=True)) for row in rows] for name, header, rows in sections(review)
        },
    }


# --- HTML ---------------------------------------------------------------------------------------

#: The page and fragment templates (``hub/review/templates``, shipped with the package). Values are
#: escaped by the templates; the SVG charts go in as :class:`~markupsafe.Markup`.
_TEMPLATES = Environment(
    loader=PackageLoader("hub.review", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

#: Columns whose values are codes, and the kind of code (what :func:`hub.coordinator.words.label` calls it).
_CODE_COLUMNS = {
    "channel": "channel",
    "next_action": "next_action",
    "reason": "stalled_reason",
    "language": "language",
    "verdict": None,
    "service": None,
    "location": None,
    "campaign": None,
    "template": None,
    "steps": None,
    "owner_queue": "",
}


def _shown(column: str, value: Any, *, kind_of_row: str | None = None) -> str:
    """A table cell as a person reads it: codes in words (CSV keeps the codes)."""
    if isinstance(value, int | float) or value == "" or value is None:
        return str(value if value is not None else "")
    text = str(value)
    if text in ("all", NONE_LABEL):
        return "All" if text == "all" else "None given"
    if column == "name" and kind_of_row:
        return rule_label(text) if kind_of_row == "keyword" else label(kind_of_row, text)
    if column == "kind":
        return humanise(text)
    if column == "key":
        return humanise(text)
    if column not in _CODE_COLUMNS or _CODE_COLUMNS[column] == "":
        return text
    kind = _CODE_COLUMNS[column]
    if column == "steps":
        return ", ".join(humanise(s) for s in text.split())
    return label(kind, text) if kind else humanise(text)


@dataclass(frozen=True, slots=True)
class _Cell:
    """A table cell as the template shows it: its text, its class (``n`` for a number, ``ids`` for
    lead ids) and, in an ids column, the lead ids (the template links them)."""

    text: str
    css: str = ""
    ids: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class _Table:
    """A table for the ``table`` macro (``templates/_table.html``): header and cells in words."""

    header: tuple[str, ...]
    rows: tuple[tuple[_Cell, ...], ...]


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]], *, ids_column: int | None = None) -> _Table:
    """``rows`` under ``header`` as the page shows them; column ``ids_column`` holds lead ids."""
    kind_column = header.index("kind") if "kind" in header else None
    shown_rows = []
    for row in rows:
        cells = []
        row_kind = {"intent": "intent", "need": "need", "keyword": "keyword"}.get(
            str(row[kind_column]) if kind_column is not None else ""
        )
        for i, value in enumerate(row):
            if i == ids_column:
                cells.append(_Cell(text="", css="ids", ids=tuple(value)))
                continue
            css = "n" if isinstance(value, int | float) else ""
            shown = _shown(header[i], value, kind_of_row=row_kind) if i < len(header) else str(value)
            cells.append(_Cell(text=shown, css=css))
        shown_rows.append(tuple(cells))
    return _Table(header=tuple(humanise(h) for h in header), rows=tuple(shown_rows))


def _local(review: WeeklyReview) -> tuple[str, str, str]:
    """The first and last local day of the week, and when the review was made, in clinic time words."""
    clinic = ClinicTime(review.measures.timezone, review.generated_at)
    last = review.period.end - timedelta(microseconds=1)
    generated = review.generated_at
    return clinic.date(review.period.start), clinic.date(last), f"{clinic.date(generated)}, {clinic.time(generated)}"


def render_html(review: WeeklyReview, *, lead_link: str | None = None) -> str:
    """``review`` as one self-contained HTML page (its body is :func:`render_fragment`, in
    ``<main>``, styled by an embedded stylesheet): ``templates/review_page.html``.

    Args:
        review: the weekly review.
        lead_link: a URL pattern with ``{id}`` to link lead ids, or None for plain ids.
    """
    return _TEMPLATES.get_template("review_page.html").render(_context(review, lead_link))


def fragment_of(page: str) -> str | None:
    """The review itself from a page :func:`render_html` made (what the admin UI shows inside its
    own layout, with its own stylesheet), or None when ``page`` is not one."""
    start, end = page.find("<main>"), page.rfind("</main>")
    if start < 0 or end < start:
        return None
    return page[start + len("<main>") : end]


def render_fragment(review: WeeklyReview, *, lead_link: str | None = None) -> str:
    """``review`` as HTML without a page around it: header, figures, the answers with their
    charts and tables, and a footer. Classes only (no inline styles), codes in words, clinic time:
    ``templates/review_fragment.html``.

    Args:
        review: the weekly review.
        lead_link: a URL pattern with ``{id}`` to link lead ids (e.g. ``/admin/leads/{id}``), or
            None for plain ids.
    """
    return _TEMPLATES.get_template("review_fragment.html").render(_context(review, lead_link))


#: The sections of :func:`sections` the page shows as they are (its other tables are made below).
_PAGE_SECTIONS = frozenset(
    {
        "funnel_by_channel",
        "funnel_by_campaign",
        "funnel_by_location",
        "funnel_by_service",
        "services",
        "timing_by_part_of_day",
        "timing_by_step",
        "speed_to_lead",
        "language",
        "trend",
    }
)


def _context(review: WeeklyReview, lead_link: str | None) -> dict[str, Any]:
    """What the page and fragment templates show: words and figures, tables (:class:`_Table`) and
    the charts."""
    m = review.measures
    first, end, generated = _local(review)
    tables = {name: _table(header, rows) for name, header, rows in sections(review) if name in _PAGE_SECTIONS}
    tables["stalled_groups"] = _table(
        ["next_action", "owner_queue", "reason", "leads", "max overdue h", "lead ids (most overdue)"],
        [[g.kind, g.queue, g.reason.value, g.n, g.max_overdue_hours, g.lead_ids] for g in m.stalled.groups],
        ids_column=5,
    )
    tables["confusion"] = _table(
        ["template", "steps", "sends", "replies", "reply rate", "leads", "lead ids"],
        [
            [
                humanise(r.template),
                ", ".join(humanise(s) for s in r.steps),
                r.sends,
                r.questions,
                _pct(r.rate),
                r.leads,
                r.lead_ids,
            ]
            for r in m.confusion.rows
        ],
        ids_column=6,
    )
    tables["questions"] = _table(
        ["channel", "leads", "intents", "needs", "triage keywords"],
        [
            [
                row.channel,
                row.leads,
                ", ".join(f"{label('intent', c.name)} {_pct(c.share)}" for c in row.intents),
                ", ".join(f"{label('need', c.name)} {_pct(c.share)}" for c in row.needs) or "–",
                ", ".join(f"{rule_label(c.name)} {_pct(c.share)}" for c in row.keywords) or "–",
            ]
            for row in m.questions.by_channel
        ],
    )
    # Built by the hub itself (every value escaped in hub.review.charts): inserted as they are.
    svg = {
        "funnel": charts.funnel_chart(m.funnel("channel").total, title="Funnel, all channels"),
        "stalled": charts.stalled_chart(m.stalled),
        "timing": charts.timing_chart(m.timing),
        "attempts": charts.rate_chart(m.timing.by_attempt, title="Reach rate by attempt number", height=200),
        "speed": charts.speed_chart(m.speed.total),
        "trend": charts.trend_chart(m.trend),
    }
    return {
        "title": f"Weekly review {review.week} — {review.clinic_name}",
        "first": first,
        "end": end,
        "generated": generated,
        "timezone": m.timezone,
        "filters": ", ".join(f"{humanise(k)}: {label(k, v)}" for k, v in m.filters.active.items()),
        "headline": review.headline,
        "answers": {a.key: a for a in review.answers},
        "tables": tables,
        "charts": {name: Markup(chart) for name, chart in svg.items()},  # noqa: S704
        "language_sentence": _language_sentence(review),
        "lead_link": lead_link,
    }


def _language_sentence(review: WeeklyReview) -> str:
    lang = review.measures.language
    base, compared = lang.row(lang.base), lang.row(lang.compared)
    if base is None or compared is None:
        return f"Not enough inquiries in both {lang.base} and {lang.compared} to compare."
    gap = lang.scheduled_gap_points or 0.0
    return (
        f"{compared.counts.inquiries} {lang.compared} inquiries were scheduled {_pct(compared.scheduled_rate)} "
        f"of the time against {_pct(base.scheduled_rate)} for {base.counts.inquiries} {lang.base} inquiries "
        f"({gap:+.1f} points); kept {_pct(compared.kept_rate)} against {_pct(base.kept_rate)}."
    )


# --- PDF ----------------------------------------------------------------------------------------


class _Pdf(FPDF):
    def __init__(self, footer_text: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.footer_text = footer_text
        self.set_auto_page_break(auto=True, margin=14)
        self.set_margins(14, 14, 14)

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font("Helvetica", size=8)
        self.set_text_color(107, 119, 133)
        self.cell(0, 5, _latin(f"{self.footer_text} - page {self.page_no()}"), align="C")
        self.set_text_color(31, 41, 51)


_SVG_TITLE = re.compile(r"<title>.*?</title>", re.S)


def _latin(text: str) -> str:
    return text.translate(_PDF_TEXT).encode("latin-1", "replace").decode("latin-1")


def _pdf_table(pdf: _Pdf, header: Sequence[str], rows: Sequence[Sequence[Any]], widths: Sequence[float]) -> None:
    pdf.set_font("Helvetica", style="B", size=8)
    pdf.set_fill_color(240, 243, 245)
    for h, w in zip(header, widths, strict=True):
        pdf.cell(w, 5, _latin(h.replace("_", " "))[:40], border="B", fill=True)
    pdf.ln(5)
    pdf.set_font("Helvetica", size=8)
    for row in rows:
        if pdf.will_page_break(5):
            pdf.add_page()
        for value, w in zip(row, widths, strict=True):
            text = _latin(str(value))
            while text and pdf.get_string_width(text) > w - 1:
                text = text[:-1]
            pdf.cell(w, 5, text, border="B", align="R" if isinstance(value, int | float) else "L")
        pdf.ln(5)
    pdf.ln(2)


def _pdf_chart(pdf: _Pdf, svg: str) -> None:
    # fpdf2 draws SVG shapes and text as vectors; its core fonts need Latin-1 text.
    svg = _SVG_TITLE.sub("", svg)  # tooltips: fpdf2 would log each one as unsupported
    svg = svg.replace("≤", "&lt;=").replace("≥", "&gt;=").replace("→", "-&gt;")
    data = io.BytesIO(_latin(svg).encode("utf-8"))
    width = pdf.epw
    if pdf.will_page_break(60):
        pdf.add_page()
    pdf.image(data, w=width)
    pdf.ln(2)


def render_pdf(review: WeeklyReview) -> bytes:
    """``review`` as a PDF document: headline figures, the six answers, charts and key tables."""
    m = review.measures
    first, end, generated = _local(review)
    pdf = _Pdf(f"{review.clinic_name} - weekly review {review.week}")
    pdf.set_title(_latin(f"Weekly review {review.week}"))
    pdf.set_creator("nurturehub")
    pdf.add_page()
    pdf.set_font("Helvetica", style="B", size=16)
    pdf.cell(0, 9, _latin(f"Weekly review {review.week} - {review.clinic_name}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=9)
    pdf.set_text_color(107, 119, 133)
    filters = ", ".join(f"{k} = {v}" for k, v in m.filters.active.items())
    pdf.cell(
        0,
        5,
        _latin(f"Inquiries received {first} to {end} ({m.timezone}) {filters} - generated {generated}"),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.set_text_color(31, 41, 51)
    pdf.ln(2)
    columns = 3
    width = pdf.epw / columns
    for i, figure in enumerate(review.headline):
        pdf.set_font("Helvetica", style="B", size=12)
        x, y = pdf.get_x(), pdf.get_y()
        pdf.cell(width, 6, _latin(figure.value))
        pdf.set_xy(x, y + 6)
        pdf.set_font("Helvetica", size=8)
        pdf.cell(width, 4, _latin(figure.name))
        if i % columns == columns - 1:
            pdf.set_xy(pdf.l_margin, y + 12)
        else:
            pdf.set_xy(x + width, y)
    pdf.ln(4)
    for a in review.answers:
        pdf.set_font("Helvetica", style="B", size=11)
        pdf.multi_cell(0, 6, _latin(a.question), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=10)
        pdf.multi_cell(0, 5, _latin(a.answer), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
    pdf.add_page()
    _pdf_chart(pdf, charts.funnel_chart(m.funnel("channel").total, title="Funnel, all channels"))
    _pdf_chart(pdf, charts.speed_chart(m.speed.total))
    _pdf_chart(pdf, charts.stalled_chart(m.stalled))
    _pdf_chart(pdf, charts.trend_chart(m.trend))
    _pdf_chart(pdf, charts.timing_chart(m.timing))
    tables = {name: (header, rows) for name, header, rows in sections(review)}
    pdf.add_page()
    for name, title, keep, widths in (
        ("funnel_by_channel", "Funnel by channel", [0, 1, 2, 3, 4, 5, 6, 8, 9, 10], [34, 16, 20, *[14] * 6, 18]),
        ("speed_to_lead", "Speed to lead (minutes)", [0, 1, 2, 4, 5, 7, 8, 11, 13], [34, 14, 18, *[20] * 4, 18, 18]),
        ("stalled_groups", "Stalled leads", [0, 1, 2, 3, 4], [44, 40, 48, 16, 34]),
        ("confusion", "Replies after templates", [0, 1, 2, 3, 4, 5], [34, 60, 20, 20, 24, 24]),
        ("services", "Services: demand against openings", [0, 1, 3, 4, 5, 7], [40, 20, 20, 20, 24, 58]),
        ("language", "Language", [0, 1, 3, 4, 6, 7], [30, 30, 30, 30, 31, 31]),
    ):
        header, rows = tables[name]
        pdf.set_font("Helvetica", style="B", size=11)
        pdf.cell(0, 7, _latin(title), new_x="LMARGIN", new_y="NEXT")
        shown = [
            [row[i] if isinstance(row[i], int | float) else _shown(header[i], row[i]) for i in keep]
            for row in rows[:40]
        ]
        _pdf_table(pdf, [humanise(header[i]) for i in keep], shown, widths)
    return bytes(pdf.output())
