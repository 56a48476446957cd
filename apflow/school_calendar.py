"""School-term calendars and the deadline helpers timer expressions use, so that review
deadlines for children in alternative provision land on school days, never in a holiday."""
from __future__ import annotations

import csv
import io
import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Helpers refuse counts beyond about a year of days: that is a typo in a diagram, not a plan.
MAX_COUNT = 400
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_CSV_KINDS = ("term", "half_term", "inset", "bank_holiday")
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Term:
    """One school term and the one-week half-term holiday inside it (all dates inclusive)."""
    name: str
    start: date
    end: date
    half_term_start: date
    half_term_end: date


class CalendarError(ValueError):
    """Calendar data that cannot be used; the message says which term or line to fix."""


class NoCalendar(CalendarError):
    """No term dates are set up yet, so calendar deadlines cannot be worked out."""


def england_and_wales_bank_holidays(years) -> dict[date, str]:
    """England and Wales bank holidays for `years`, from the `holidays` package (works offline)."""
    import holidays  # imported here: it is large and only needed when a calendar is built

    found = holidays.country_holidays("GB", subdiv="ENG", years=sorted(set(years)))
    return {day: str(name) for day, name in sorted(found.items())}


def _parse_date(value, where: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    text = value.strip() if isinstance(value, str) else value
    if not isinstance(text, str) or not _ISO_DATE.fullmatch(text):
        raise CalendarError(f"{where}: {text!r} is not a date in the form YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CalendarError(f"{where}: {text!r} is not a real date") from None


def _dates(first: date, last: date):
    while first <= last:
        yield first
        first += _DAY


def _check_terms(terms: list[Term], label) -> None:
    """Plain-English CalendarError for the first problem in `terms` (sorted by start)."""
    for t in terms:
        if t.end < t.start:
            raise CalendarError(f"{label(t)} ends on {t.end}, before it starts on {t.start}")
        if t.half_term_end < t.half_term_start:
            raise CalendarError(f"{label(t)}: its half-term ends on {t.half_term_end}, "
                                f"before it starts on {t.half_term_start}")
        # Strictly inside: each half of the term needs days of its own to hold a review.
        if not (t.start < t.half_term_start and t.half_term_end < t.end):
            raise CalendarError(f"{label(t)}: its half-term ({t.half_term_start} to {t.half_term_end}) must lie "
                                f"inside the term ({t.start} to {t.end}), with term days before and after it")
    for before, after in zip(terms, terms[1:]):
        if after.start <= before.end:
            raise CalendarError(f"{label(after)} ({after.start} to {after.end}) overlaps "
                                f"{label(before)} ({before.start} to {before.end})")


def _clock_text(t: time) -> str:
    return t.isoformat("minutes" if not (t.second or t.microsecond) else "auto")  # "09:00", as people write it


def _check_hours(hours, longest: float) -> float:
    if isinstance(hours, bool) or not isinstance(hours, (int, float)) or not 0 < hours <= longest:
        raise ValueError(f"hours must be a number above 0 and at most {longest:g} (the length of a school day), "
                         f"not {repr(hours)[:40]}")
    return float(hours)


class SchoolCalendar:
    """One organisation's school year(s): terms, half-terms, INSET days and bank holidays.

    Time words diagram authors use, and what they mean here:
      school day    a weekday inside a term, not in its half-term holiday, not a bank holiday, not an INSET day
      daily         every school day
      half-termly   at least once in each half-term window; each term (autumn, spring, summer) is split by
                    a one-week half-term holiday, giving 6 windows a year
      termly        at least once in each term
      every 6 weeks 42 calendar days on, moved off holidays and weekends to the next school day
      immediately   the same school day: within `immediate_hours` (default 1 hour) if that fits before
                    day_end, otherwise that long after the next school day starts
    Deadlines are aware UTC datetimes; "end of a school day" is day_end local time (DST-aware).
    """

    def __init__(self, terms, inset_days=(), bank_holidays=None, timezone="Europe/London",
                 day_start=time(9, 0), day_end=time(15, 30), immediate_hours=1.0):
        terms = list(terms)
        if not terms:
            raise CalendarError("a school calendar needs at least one term")
        for t in terms:
            if not isinstance(t, Term):
                raise CalendarError(f"{t!r} is not a Term")
        terms.sort(key=lambda t: (t.start, t.end))
        _check_terms(terms, lambda t: f'term "{t.name}"')
        try:
            self.zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise CalendarError(f"unknown time zone {timezone!r}") from None
        if not (isinstance(day_start, time) and isinstance(day_end, time) and day_start < day_end):
            raise CalendarError("the school day must end (day_end) after it starts (day_start)")
        self.terms, self.timezone, self.day_start, self.day_end = tuple(terms), timezone, day_start, day_end
        self._day_hours = (datetime.combine(date.min, day_end) - datetime.combine(date.min, day_start)) / timedelta(hours=1)
        try:
            self.immediate_hours = _check_hours(immediate_hours, self._day_hours)
        except ValueError as err:
            raise CalendarError(f"immediate_hours: {err}") from None
        self.inset_days = frozenset(_parse_date(d, "INSET day") for d in inset_days)
        if bank_holidays is None:
            bank_holidays = england_and_wales_bank_holidays(range(terms[0].start.year, terms[-1].end.year + 1))
        self.bank_holidays = {_parse_date(d, "bank holiday"): str(n) for d, n in sorted(bank_holidays.items())}

        # Every school day in order: ~190 a year, so a sorted list and bisect answer every question cheaply.
        self._days = [d for t in terms for d in _dates(t.start, t.end)
                      if d.weekday() < 5 and not t.half_term_start <= d <= t.half_term_end
                      and d not in self.bank_holidays and d not in self.inset_days]
        self._day_set = set(self._days)
        self._half_windows, self._term_windows = [], []
        for t in terms:
            for first, last in ((t.start, t.half_term_start - _DAY), (t.half_term_end + _DAY, t.end)):
                days = self._between(first, last)
                if not days:
                    raise CalendarError(f'term "{t.name}" has no school days between {first} and {last}')
                self._half_windows.append((days[0], days[-1]))
            days = self._between(t.start, t.end)
            self._term_windows.append((days[0], days[-1]))

    def __repr__(self):
        return f"<SchoolCalendar {len(self.terms)} terms, {self.terms[0].start} to {self.terms[-1].end}>"

    def __eq__(self, other):
        return isinstance(other, SchoolCalendar) and self.to_dict() == other.to_dict()

    __hash__ = None

    # --- school days -------------------------------------------------------------------------------

    def _between(self, first: date, last: date) -> list[date]:
        return self._days[bisect_left(self._days, first):bisect_right(self._days, last)]

    def _day_at(self, index: int, after: date) -> date:
        if index >= len(self._days):
            raise CalendarError(f"the school calendar has no school days after {after}; "
                                "add the next school year's term dates")
        return self._days[index]

    def is_school_day(self, d: date) -> bool:
        return d in self._day_set

    def next_school_day(self, d: date, include_today: bool = True) -> date:
        """`d` itself if it is a school day and include_today, else the first school day after it."""
        return self._day_at((bisect_left if include_today else bisect_right)(self._days, d), d)

    def add_school_days(self, d: date, n: int) -> date:
        """The n-th school day after `d` (d itself not counted); n=0 gives next_school_day(d)."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"the number of school days must be a whole number of 0 or more, not {repr(n)[:40]}")
        if n == 0:
            return self.next_school_day(d)
        return self._day_at(bisect_right(self._days, d) + n - 1, d)

    def school_days_between(self, first: date, last: date) -> int:
        """How many school days fall after `first` up to and including `last` (0 if last is not after first):
        how late something due on `first` is on `last`, in the units schools count in."""
        return len(self._between(first + timedelta(days=1), last)) if last > first else 0

    def half_term_windows(self) -> list[tuple[date, date]]:
        """(first school day, last school day) of each half-term window: 6 a year, in order."""
        return list(self._half_windows)

    def term_windows(self) -> list[tuple[date, date]]:
        """(first school day, last school day) of each term, in order."""
        return list(self._term_windows)

    # --- deadlines ---------------------------------------------------------------------------------

    def _local(self, now: datetime) -> datetime:
        if not isinstance(now, datetime) or now.tzinfo is None:
            raise ValueError("now must be a timezone-aware datetime")
        return now.astimezone(self.zone)

    def _at(self, d: date, t: time) -> datetime:
        return datetime.combine(d, t, tzinfo=self.zone).astimezone(UTC)

    def _end_of_window(self, windows, now: datetime, what: str) -> datetime:
        self._local(now)
        for _first, last in windows:
            end = self._at(last, self.day_end)
            if end > now:  # the window holding now, or the next one if now is in a holiday or past its end
                return end
        raise CalendarError(f"the school calendar has no {what} ending after {now.isoformat()}; "
                            "add the next school year's term dates")

    def end_of_half_term(self, now: datetime) -> datetime:
        """End of the last school day of the half-term window containing now (or the next window)."""
        return self._end_of_window(self._half_windows, now, "half-term")

    def end_of_term(self, now: datetime) -> datetime:
        """End of the last school day of the term containing now (or the next term)."""
        return self._end_of_window(self._term_windows, now, "term")

    def school_days(self, n: int, now: datetime) -> datetime:
        """End of the n-th school day after now's local date; n=0: end of the current or next school day."""
        today = self._local(now).date()
        if n != 0:
            return self._at(self.add_school_days(today, n), self.day_end)
        d = self.next_school_day(today)
        if self._at(d, self.day_end) <= now:  # today's school day is already over
            d = self.next_school_day(d, include_today=False)
        return self._at(d, self.day_end)

    def days(self, n: int, now: datetime) -> datetime:
        """now + n calendar days, moved off holidays and weekends to the next school day, same local time."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"the number of days must be a whole number of 0 or more, not {repr(n)[:40]}")
        local = self._local(now)
        d = self.next_school_day(local.date() + timedelta(days=n))
        # Local wall-clock time is kept, so a 10:00 review stays at 10:00 across a clock change.
        return datetime.combine(d, local.time(), tzinfo=self.zone).astimezone(UTC)

    def weeks(self, n: int, now: datetime) -> datetime:
        """now + n*7 days, moved off holidays to the next school day (e.g. "every 6 weeks" is weeks(6))."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"the number of weeks must be a whole number of 0 or more, not {repr(n)[:40]}")
        return self.days(7 * n, now)

    def same_school_day(self, now: datetime, hours=None) -> datetime:
        """"Immediately": now + hours if that fits inside the current school day, else next day_start + hours."""
        hours = self.immediate_hours if hours is None else _check_hours(hours, self._day_hours)
        span, today = timedelta(hours=hours), self._local(now).date()
        if self.is_school_day(today) and self._at(today, self.day_start) <= now \
                and now + span <= self._at(today, self.day_end):
            return now.astimezone(UTC) + span
        d = self.next_school_day(today)
        if self._at(d, self.day_start) < now:  # today's day has begun, so the clock starts tomorrow
            d = self.next_school_day(d, include_today=False)
        return self._at(d, self.day_start) + span

    # --- storage and import ------------------------------------------------------------------------

    def to_dict(self) -> dict:
        """JSON-able form for the database; bank holidays are stored in full so edits survive."""
        return {
            "terms": [{"name": t.name, "start": t.start.isoformat(), "end": t.end.isoformat(),
                       "half_term_start": t.half_term_start.isoformat(), "half_term_end": t.half_term_end.isoformat()}
                      for t in self.terms],
            "inset_days": sorted(d.isoformat() for d in self.inset_days),
            "bank_holidays": {d.isoformat(): name for d, name in self.bank_holidays.items()},
            "timezone": self.timezone,
            "day_start": _clock_text(self.day_start),
            "day_end": _clock_text(self.day_end),
            "immediate_hours": self.immediate_hours,
        }

    @classmethod
    def from_dict(cls, d: dict) -> SchoolCalendar:
        """Rebuild a calendar from to_dict(); a missing bank_holidays key means the offline list."""
        if not isinstance(d, dict) or not isinstance(d.get("terms"), list):
            raise CalendarError("calendar data must be an object with a list of terms")
        terms = []
        for i, t in enumerate(d["terms"], start=1):
            if not isinstance(t, dict) or "name" not in t:
                raise CalendarError(f"term {i} in the calendar data has no name")
            keys = ("start", "end", "half_term_start", "half_term_end")
            terms.append(Term(str(t["name"]), *(_parse_date(t.get(k), f'term "{t["name"]}" {k}') for k in keys)))
        extra = {}
        for key in ("day_start", "day_end"):
            if key in d:
                try:
                    extra[key] = time.fromisoformat(d[key])
                except (TypeError, ValueError):
                    raise CalendarError(f"{key}: {d[key]!r} is not a time in the form HH:MM") from None
        for key in ("timezone", "immediate_hours"):
            if key in d:
                extra[key] = d[key]
        banks = d.get("bank_holidays")
        if banks is not None and not isinstance(banks, dict):
            raise CalendarError("bank_holidays must map YYYY-MM-DD dates to names")
        return cls(terms, inset_days=d.get("inset_days", ()), bank_holidays=banks, **extra)

    @classmethod
    def from_csv(cls, text: str, **kwargs) -> SchoolCalendar:
        """Import a term-dates file: header `kind,name,start,end`, then one row per term, half_term,
        inset day (end optional, for a run of days) or bank_holiday (edits the offline list; name "-"
        removes that date). Dates are YYYY-MM-DD; blank lines and lines starting with # are skipped."""
        reader = csv.reader(io.StringIO(text))
        terms, halves, insets, edits, header = [], [], set(), [], False
        try:
            for row in reader:
                line, cells = reader.line_num, [c.strip() for c in row]
                if not any(cells) or cells[0].startswith("#"):
                    continue
                if not header:
                    if [c.lower() for c in cells] != ["kind", "name", "start", "end"]:
                        raise CalendarError(f"line {line}: the first line must be the header kind,name,start,end")
                    header = True
                    continue
                if len(cells) > 4:
                    raise CalendarError(f"line {line}: expected 4 columns (kind,name,start,end), found {len(cells)}")
                kind, name, start, end = cells + [""] * (4 - len(cells))
                kind, where = kind.lower(), f"line {line}"
                if kind not in _CSV_KINDS:
                    raise CalendarError(f"{where}: unknown kind {kind!r}; use term, half_term, inset or bank_holiday")
                first = _parse_date(start, where)
                last = _parse_date(end, where) if end or kind in ("term", "half_term") else first
                if last < first:
                    raise CalendarError(f"{where}: ends on {last}, before it starts on {first}")
                if kind == "term":
                    if not name:
                        raise CalendarError(f"{where}: a term needs a name, e.g. Autumn 2025")
                    terms.append([name, first, last, line, None])
                elif kind == "half_term":
                    halves.append((first, last, line))
                elif kind == "inset":
                    insets.update(_dates(first, last))
                else:
                    edits.append((name, first, last, line))
        except csv.Error as err:
            raise CalendarError(f"line {reader.line_num}: {err}") from None
        if not terms:
            raise CalendarError("the term-dates file has no term rows")
        for first, last, line in halves:  # each half-term belongs to the term it falls in
            owner = next((t for t in terms if t[1] <= first and last <= t[2]), None)
            if owner is None:
                raise CalendarError(f"line {line}: half-term {first} to {last} is not inside any term")
            if owner[4] is not None:
                raise CalendarError(f'line {line}: term "{owner[0]}" already has a half-term (line {owner[4][2]})')
            owner[4] = (first, last, line)
        lines, built = {}, []
        for name, first, last, line, half in terms:
            if half is None:
                raise CalendarError(f'line {line}: term "{name}" has no half_term row inside it')
            built.append(Term(name, first, last, half[0], half[1]))
            lines[built[-1]] = line
        built.sort(key=lambda t: (t.start, t.end))
        _check_terms(built, lambda t: f'line {lines[t]}: term "{t.name}"')
        banks = kwargs.pop("bank_holidays", None)
        if banks is None:
            banks = england_and_wales_bank_holidays(range(built[0].start.year, built[-1].end.year + 1))
        banks = dict(banks)
        for name, first, last, line in edits:
            for d in _dates(first, last):
                if name != "-":
                    banks[d] = name or "Bank holiday"
                elif banks.pop(d, None) is None:
                    raise CalendarError(f"line {line}: {d} is not a bank holiday in the list, so it cannot be removed")
        insets.update(kwargs.pop("inset_days", ()))
        return cls(built, inset_days=insets, bank_holidays=banks, **kwargs)


def england_2025_26() -> SchoolCalendar:
    """A typical English 2025/26 calendar, England and Wales bank holidays from the offline list:
      Autumn 2025  Wed 3 Sep - Fri 19 Dec 2025, half-term Mon 27 - Fri 31 Oct
      Spring 2026  Mon 5 Jan - Fri 27 Mar 2026, half-term Mon 16 - Fri 20 Feb
      Summer 2026  Mon 13 Apr - Wed 22 Jul 2026, half-term Mon 25 - Fri 29 May
      INSET days   Mon 1 and Tue 2 Sep 2025 (before term, harmless), Mon 5 Jan 2026 (so spring
                   school days start Tue 6 Jan), Mon 20 Jul 2026
    Easter 2026 (Good Friday 3 Apr, Easter Monday 6 Apr) falls in the Easter holiday; the early May
    bank holiday (Mon 4 May) is a closure; the spring bank holiday (25 May) is in half-term."""
    d = date
    return SchoolCalendar(
        [Term("Autumn 2025", d(2025, 9, 3), d(2025, 12, 19), d(2025, 10, 27), d(2025, 10, 31)),
         Term("Spring 2026", d(2026, 1, 5), d(2026, 3, 27), d(2026, 2, 16), d(2026, 2, 20)),
         Term("Summer 2026", d(2026, 4, 13), d(2026, 7, 22), d(2026, 5, 25), d(2026, 5, 29))],
        inset_days=[d(2025, 9, 1), d(2025, 9, 2), d(2026, 1, 5), d(2026, 7, 20)])


def helpers(calendar_for_now, concern_response_minutes: int = 60) -> dict:
    """Functions for the script sandbox, used in timer expressions and dueIn properties:
    end_of_half_term(), end_of_term(), school_days(n), weeks(n), days(n), same_school_day(hours=None) on the school
    calendar; hours(n), minutes(n) and concern_response_time() on the wall clock, nights, weekends and holidays
    included ("immediately" does not wait for Monday).

    `calendar_for_now` is a zero-argument callable returning (SchoolCalendar, now) at call time.
    Each helper returns an ISO 8601 UTC datetime string such as '2026-02-13T15:30:00+00:00'
    and raises ValueError with a plain message for a bad argument.
    """
    def count(n, what):
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_COUNT:
            raise ValueError(f"{what}(n) needs a whole number from 0 to {MAX_COUNT}, not {repr(n)[:40]}")
        return n

    def iso(moment: datetime) -> str:
        return moment.astimezone(UTC).isoformat(timespec="seconds")

    def end_of_half_term():
        cal, now = calendar_for_now()
        return iso(cal.end_of_half_term(now))

    def end_of_term():
        cal, now = calendar_for_now()
        return iso(cal.end_of_term(now))

    def school_days(n):
        count(n, "school_days")
        cal, now = calendar_for_now()
        return iso(cal.school_days(n, now))

    def weeks(n):
        count(n, "weeks")
        cal, now = calendar_for_now()
        return iso(cal.weeks(n, now))

    def days(n):
        count(n, "days")
        cal, now = calendar_for_now()
        return iso(cal.days(n, now))

    def same_school_day(hours=None):
        cal, now = calendar_for_now()
        return iso(cal.same_school_day(now, hours))

    def wall_clock(n, what, unit):
        count(n, what)
        _, now = calendar_for_now()
        return iso(now + timedelta(**{unit: n}))

    def hours(n):
        return wall_clock(n, "hours", "hours")

    def minutes(n):
        return wall_clock(n, "minutes", "minutes")

    def concern_response_time():
        """When a DSL must have responded to a safeguarding concern: the configured minutes, any hour of any day."""
        _, now = calendar_for_now()
        return iso(now + timedelta(minutes=concern_response_minutes))

    return {f.__name__: f for f in (end_of_half_term, end_of_term, school_days, weeks, days, same_school_day, hours, minutes,
                                    concern_response_time)}
