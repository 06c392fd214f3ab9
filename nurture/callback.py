"""Requested callback times, read from the patient's words: "after 5pm is best", "tmrw morning",
"Tuesday afternoon", "between 2 and 4", "a la hora del almuerzo", "mañana por la tarde", "el viernes
después de las tres".

A time counts only when the sentence asks for a call or says when the person can take one ("call
me", "I'm free", "is best", "llámenme", "me pueden marcar"): "my appointment is tomorrow afternoon"
or "pain since Tuesday morning" are not requests. The answer is a window in the patient's local
time — parts of the day are morning 08:00–12:00, afternoon 12:00–17:00, evening 17:00–21:00
(calling hours end at 21:00), lunchtime 12:00–13:00 — on the day they named, or today if it is
still ahead, else tomorrow. Hours without am/pm are read as a clinic caller means them: 1–7 in the
afternoon, 8–11 in the morning.

Pure: the moment the words were received and the patient's time zone are arguments.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from nurture.clock import require_aware, zone

__all__ = ["CallbackWindow", "requested_callback"]

#: Calling hours in the patient's local time (the federal rule) bound every window.
DAY_START, DAY_END = time(8, 0), time(21, 0)

PARTS: dict[str, tuple[time, time]] = {
    "morning": (time(8), time(12)),
    "afternoon": (time(12), time(17)),
    "evening": (time(17), time(21)),
    "lunch": (time(12), time(13)),
    "noon": (time(12), time(13)),
}

_WEEKDAYS = {
    "monday": 0, "mon": 0, "lunes": 0, "tuesday": 1, "tues": 1, "tue": 1, "martes": 1,
    "wednesday": 2, "wed": 2, "weds": 2, "miercoles": 2, "thursday": 3, "thurs": 3, "thu": 3, "jueves": 3,
    "friday": 4, "fri": 4, "viernes": 4, "saturday": 5, "sat": 5, "sabado": 5, "sunday": 6, "sun": 6,
    "domingo": 6,
}  # fmt: skip
_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "una": 1, "uno": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5,
    "seis": 6, "siete": 7, "ocho": 8, "nueve": 9, "diez": 10, "once": 11, "doce": 12,
}  # fmt: skip

#: Words that make a time a request to be called (or say when a call can be taken).
_ASKS = re.compile(
    r"\b(call|calls|calling|callback|ring|reach|contact|phone|available|free|best|works|would work|will work|"
    r"work for me|work best|good time|prefer|"
    r"anytime|any time|get off|llam\w*|marc\w*|disponible|libre|mejor|contest\w*|"
    r"comunic\w*|hablar|puedo hablar|salgo)\b"
)

_NOON = ("noon", "midday", "mediodia", "medio dia")
_MINUTE_WORDS = {
    "thirty": 30, "fifteen": 15, "forty five": 45, "y media": 30, "y cuarto": 15, "treinta": 30, "quince": 15,
}  # fmt: skip
#: A part of the day alone ("mornings work best") is a preference unless the sentence asks for a call.
_CALL = re.compile(r"\b(call|calls|calling|callback|ring|reach|contact|phone|llam\w*|marc\w*|contest\w*|comunic\w*)\b")

_HOUR = (
    r"(\d{1,2}|"
    + "|".join(sorted([*_NUMBERS, *_NOON], key=len, reverse=True))
    + r")"
    + r"([:.]\d{2}|\s+(?:"
    + "|".join(_MINUTE_WORDS)
    + r"))?"
)
_MERIDIEM = r"\s*(a\.?\s?m\.?|p\.?\s?m\.?|de la manana|de la tarde|de la noche|in the morning|in the evening)?"
#: "about three years ago" is a duration, not a time of day.
_NOT_DURATION = (
    r"(?!\s*(?:years?|yrs?|months?|weeks?|wks?|days?|hours?|hrs?|minutes?|mins?|times|year|old|anos|meses|semanas|"
    r"dias|horas|minutos|veces|pills|tablets|pastillas))"
)
_T = _HOUR + _MERIDIEM + _NOT_DURATION

_AFTER = r"after|past|from|anytime after|any time after|despues de las?|despues de|a partir de las?|desde las?"
_BUSY = r"work\w*|busy|meeting\w*|class\w*|trabaj\w*|ocupad\w*|salgo"
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("between", re.compile(
        rf"\b(?:between|btwn|from|entre las?|de las?|de)\s+{_T}\s*(?:and|to|-|a las?|y las?|a|y)\s*{_T}"
    )),
    ("range", re.compile(rf"\b{_T}\s*-\s*{_T}")),
    ("after", re.compile(rf"\b(?:{_AFTER})\s+{_T}")),
    ("busy_until", re.compile(rf"\b(?:{_BUSY})\b.*?\b(?:until|til|till|till after|hasta las?|a las?|at)\s+{_T}")),
    ("before", re.compile(rf"\b(?:before|b4|by|until|til|till|antes de las?|antes del?|hasta las?)\s+{_T}")),
    ("at", re.compile(rf"\b(?:at|around|about|a las?|como a las?|tipo)\s+{_T}")),
    ("bare", re.compile(r"\b(\d{1,2})(?:[:.](\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)")),
)  # fmt: skip

_PART_WORDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("lunch", re.compile(r"\b(lunch\w*|almuerzo|hora de (?:la )?comida)\b")),
    ("noon", re.compile(r"\b(noon|mediodia|medio dia)\b")),
    ("evening", re.compile(r"\b(evening|evenings|tonight|night|after work|noche|nochecita)\b")),
    ("afternoon", re.compile(r"\b(afternoon|afternoons|(?:en|por|de|esta|hoy en) la tarde|tardecita)\b")),
    ("morning", re.compile(r"\b(morning|mornings|temprano|(?:en|por|de|esta) la manana|early)\b")),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class CallbackWindow:
    """When the patient asked to be called.

    Attributes:
        start: the earliest moment, aware.
        end: the latest moment, aware.
        said: a short code of what was understood (``after 17:00``, ``tomorrow morning`` …), not
            the patient's words.
    """

    start: datetime
    end: datetime
    said: str

    def __post_init__(self) -> None:
        require_aware(self.start, "CallbackWindow.start")
        require_aware(self.end, "CallbackWindow.end")
        if self.end <= self.start:
            raise ValueError("CallbackWindow.end must be after its start")


_COMBINING = re.compile(r"[\u0300-\u036f]+")


def _plain(text: str) -> str:
    plain = _COMBINING.sub("", unicodedata.normalize("NFKD", text.lower().replace("’", "'")))
    return re.sub(r"\s+", " ", plain)


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[!?;\n])|(?<=\.)\s", _plain(text)) if s.strip()]


def requested_callback(text: str, *, received_at: datetime, timezone: str) -> CallbackWindow | None:
    """The callback window the patient asked for in ``text``, or None. See the module docstring."""
    require_aware(received_at, "received_at")
    tz = zone(timezone)
    local_now = received_at.astimezone(tz)
    for sentence in _sentences(text):
        if not _ASKS.search(sentence):
            continue
        found = _window_in(sentence, local_now)
        if found is None:
            continue
        day, start, end, said = found
        part_only = said.split(" ", 1)[1] in PARTS and not said.startswith(("tomorrow", "in two"))
        if part_only and not _CALL.search(sentence):
            continue  # "mornings work best for him": a preference (the form's contact window), not a request
        begin = datetime.combine(day, start, tz)
        finish = datetime.combine(day, end, tz)
        if finish <= received_at:
            continue
        begin = max(begin, received_at)
        if finish <= begin:
            continue
        return CallbackWindow(start=begin, end=finish, said=said)
    return None


def _window_in(sentence: str, now: datetime) -> tuple[date, time, time, str] | None:
    part = _part_of_day(sentence)
    hours = _hours(sentence, part)
    day_word = _day(sentence, now)
    if hours is None and part is None and day_word is None:
        return None
    if hours is not None:
        start, end, said = hours
    elif part is not None:
        start, end = PARTS[part]
        said = part
    else:
        start, end, said = DAY_START, DAY_END, "any time"
    if day_word is not None:
        day, day_said = day_word
        if day_said not in ("today", "tomorrow", "in two days") and datetime.combine(day, end, now.tzinfo) <= now:
            day += timedelta(days=7)  # "Tuesday morning" said on Tuesday afternoon: next week's
        if hours is None and part is None and day_said == "today":
            return None  # "call me today" says no time
    else:
        day, day_said = now.date(), "today"
        if datetime.combine(day, end, now.tzinfo) <= now:
            day, day_said = day + timedelta(days=1), "tomorrow"
    return day, start, end, f"{day_said} {said}"


_GREETINGS = re.compile(r"\b(good (?:morning|afternoon|evening|night)|buen(?:os|as)? (?:dias|tardes|noches))\b")


def _part_of_day(sentence: str) -> str | None:
    # "mañana por la tarde": tomorrow, in the afternoon; a bare "la mañana" is the morning. A
    # greeting ("good morning", "buenas tardes") says when they wrote, not when to call.
    sentence = _GREETINGS.sub(" ", sentence)
    for name, pattern in _PART_WORDS:
        if pattern.search(sentence):
            return name
    return None


def _hour(value: str, minutes: str | None, meridiem: str | None, part: str | None) -> time | None:
    if value in _NOON:
        return time(12)
    hour = _NUMBERS.get(value) if not value.isdigit() else int(value)
    if hour is None or not 0 <= hour <= 23:
        return None
    minute = 0
    if minutes:
        spoken = minutes.strip(" :.")
        minute = int(spoken) if spoken.isdigit() else _MINUTE_WORDS.get(" ".join(spoken.split()), 0)
    if minute > 59:
        return None
    mer = (meridiem or "").replace(".", "").replace(" ", "")
    if mer in ("pm", "delatarde", "delanoche", "intheevening") and hour < 12:
        hour += 12
    elif mer in ("am", "delamanana", "inthemorning") and hour == 12:
        hour = 0
    elif not mer and hour < 12:
        if part == "morning":
            pass
        elif part in ("afternoon", "evening") or 1 <= hour <= 7:
            hour += 12
    return time(hour, minute)


def _hours(sentence: str, part: str | None) -> tuple[time, time, str] | None:
    for kind, pattern in _PATTERNS:
        m = pattern.search(sentence)
        if m is None:
            continue
        groups = m.groups()
        if kind in ("between", "range"):
            first_mer = groups[2] or groups[5]
            start = _hour(groups[0], groups[1], first_mer, part)
            end = _hour(groups[3], groups[4], groups[5], part)
            if start is None or end is None:
                continue
            if end <= start and end.hour < 12:
                end = time(end.hour + 12, end.minute)
            if end <= start:
                continue
            return start, end, f"{start:%H:%M}-{end:%H:%M}"
        at = _hour(groups[0], groups[1], groups[2], part)
        if at is None:
            continue
        if kind in ("after", "busy_until"):
            return max(at, DAY_START), DAY_END, f"after {at:%H:%M}"
        if kind == "before":
            start = PARTS[part][0] if part in ("morning", "afternoon", "evening") else DAY_START
            return (start, at, f"before {at:%H:%M}") if at > start else None
        end = min(time(at.hour + 1, at.minute) if at.hour < 23 else DAY_END, DAY_END)
        return (at, end, f"at {at:%H:%M}") if end > at else None
    return None


def _day(sentence: str, now: datetime) -> tuple[date, str] | None:
    today = now.date()
    if re.search(r"\b(today|tonight|this (?:morning|afternoon|evening)|hoy|esta (?:tarde|noche|manana))\b", sentence):
        return today, "today"
    # "mañana" is tomorrow unless it is "la mañana" (the morning).
    if re.search(r"\b(tomorrow|tmrw|pasado manana)\b", sentence) or re.search(r"(?<!la )\bmanana\b", sentence):
        if "pasado manana" in sentence:
            return today + timedelta(days=2), "in two days"
        return today + timedelta(days=1), "tomorrow"
    for word, weekday in _WEEKDAYS.items():
        if re.search(rf"\b{word}\b", sentence):
            ahead = (weekday - today.weekday()) % 7
            return today + timedelta(days=ahead), word
    return None
