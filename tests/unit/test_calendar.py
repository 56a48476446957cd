"""School-term calendar: due times on the English 2025/26 calendar never land in a holiday."""
from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from apflow.school_calendar import CalendarError, SchoolCalendar, Term, england_2025_26, helpers

LONDON = ZoneInfo("Europe/London")


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture(scope="module")
def cal() -> SchoolCalendar:
    return england_2025_26()


CSV_2025_26 = """kind,name,start,end
term,Autumn 2025,2025-09-03,2025-12-19
half_term,Autumn half-term,2025-10-27,2025-10-31
term,Spring 2026,2026-01-05,2026-03-27
half_term,Spring half-term,2026-02-16,2026-02-20
term,Summer 2026,2026-04-13,2026-07-22
half_term,Summer half-term,2026-05-25,2026-05-29
inset,INSET,2025-09-01,2025-09-02
inset,INSET,2026-01-05,
inset,INSET,2026-07-20,
"""


# --- the calendar itself ------------------------------------------------------------------------

def test_offline_bank_holidays_cover_england_2025_26(cal):
    expected = [date(2025, 12, 25), date(2025, 12, 26), date(2026, 1, 1), date(2026, 4, 3),
                date(2026, 4, 6), date(2026, 5, 4), date(2026, 5, 25)]
    assert all(d in cal.bank_holidays for d in expected)
    assert not cal.is_school_day(date(2026, 5, 4))


def test_school_day_rules(cal):
    assert cal.is_school_day(date(2025, 9, 3))        # first day of autumn term
    assert not cal.is_school_day(date(2025, 9, 6))    # Saturday
    assert not cal.is_school_day(date(2025, 10, 29))  # half-term
    assert not cal.is_school_day(date(2026, 4, 1))    # Easter holiday, between terms
    assert not cal.is_school_day(date(2026, 1, 5))    # INSET


def test_six_half_term_windows_and_three_terms(cal):
    d = date
    assert cal.half_term_windows() == [
        (d(2025, 9, 3), d(2025, 10, 24)), (d(2025, 11, 3), d(2025, 12, 19)),
        (d(2026, 1, 6), d(2026, 2, 13)), (d(2026, 2, 23), d(2026, 3, 27)),
        (d(2026, 4, 13), d(2026, 5, 22)), (d(2026, 6, 1), d(2026, 7, 22))]
    assert cal.term_windows() == [(d(2025, 9, 3), d(2025, 12, 19)), (d(2026, 1, 6), d(2026, 3, 27)),
                                  (d(2026, 4, 13), d(2026, 7, 22))]


def test_inset_day_is_skipped(cal):
    assert cal.next_school_day(date(2026, 1, 2)) == date(2026, 1, 6)
    assert cal.school_days(1, utc(2025, 12, 19, 10)) == utc(2026, 1, 6, 15, 30)
    assert cal.add_school_days(date(2026, 7, 17), 1) == date(2026, 7, 21)  # Mon 20 Jul is INSET


def test_next_and_add_school_days(cal):
    assert cal.next_school_day(date(2026, 1, 6)) == date(2026, 1, 6)
    assert cal.next_school_day(date(2026, 1, 6), include_today=False) == date(2026, 1, 7)
    assert cal.add_school_days(date(2025, 10, 24), 1) == date(2025, 11, 3)
    with pytest.raises(ValueError):
        cal.add_school_days(date(2026, 1, 6), -1)


def test_deadline_past_the_end_of_the_calendar_says_to_add_next_year(cal):
    with pytest.raises(CalendarError, match="add the next school year"):
        cal.end_of_half_term(utc(2026, 7, 22, 16))
    with pytest.raises(CalendarError, match="add the next school year"):
        cal.school_days(3, utc(2026, 7, 21, 10))


# --- half-termly and termly -------------------------------------------------------------------

def test_R74_half_termly_review_due_before_end_of_half_term_never_in_holiday(cal):
    due = cal.end_of_half_term(utc(2026, 1, 12, 9))
    assert due == utc(2026, 2, 13, 15, 30)  # Fri before spring half-term, GMT
    assert cal.is_school_day(due.astimezone(LONDON).date())


def test_half_termly_from_inside_the_half_term_holiday_is_the_next_window(cal):
    assert cal.end_of_half_term(utc(2026, 2, 18, 10)) == utc(2026, 3, 27, 15, 30)
    assert cal.end_of_half_term(utc(2025, 10, 29, 10)) == utc(2025, 12, 19, 15, 30)


def test_half_termly_after_the_last_days_end_is_the_next_window(cal):
    assert cal.end_of_half_term(utc(2026, 2, 13, 15)) == utc(2026, 2, 13, 15, 30)
    assert cal.end_of_half_term(utc(2026, 2, 13, 16)) == utc(2026, 3, 27, 15, 30)


def test_half_termly_on_a_weekend_inside_the_window(cal):
    assert cal.end_of_half_term(utc(2026, 1, 17, 12)) == utc(2026, 2, 13, 15, 30)


def test_end_of_half_term_is_school_day_end_for_every_day_of_the_year(cal):
    windows = cal.half_term_windows()
    ends = {last for _first, last in windows}
    day = date(2025, 8, 1)
    while day <= date(2026, 7, 22):
        for hour in (0, 8, 14, 15, 23):
            now = utc(day.year, day.month, day.day, hour, 10)
            if now >= datetime.combine(date(2026, 7, 22), time(15, 30), tzinfo=LONDON):
                continue
            due = cal.end_of_half_term(now)
            local = due.astimezone(LONDON)
            assert due >= now
            assert cal.is_school_day(local.date()) and local.time() == time(15, 30)
            assert local.date() in ends
        day += timedelta(days=1)


def test_termly_review_across_easter(cal):
    assert cal.end_of_term(utc(2026, 3, 26, 10)) == utc(2026, 3, 27, 15, 30)
    # Easter holiday (Good Friday 3 Apr, Easter Monday 6 Apr): the summer term, ending in BST.
    assert cal.end_of_term(utc(2026, 4, 3, 10)) == utc(2026, 7, 22, 14, 30)
    assert cal.end_of_term(utc(2026, 3, 27, 16)) == utc(2026, 7, 22, 14, 30)


# --- school days, weeks, days -----------------------------------------------------------------

def test_school_days_skip_the_early_may_bank_holiday(cal):
    assert cal.school_days(1, utc(2026, 5, 1, 9)) == utc(2026, 5, 5, 14, 30)
    assert cal.school_days(3, utc(2026, 4, 30, 9)) == utc(2026, 5, 6, 14, 30)


def test_school_days_skip_half_term(cal):
    assert cal.school_days(2, utc(2026, 5, 21, 9)) == utc(2026, 6, 1, 14, 30)
    assert cal.school_days(5, utc(2025, 10, 22, 9)) == utc(2025, 11, 5, 15, 30)


def test_school_days_zero_is_today_until_it_ends(cal):
    assert cal.school_days(0, utc(2026, 1, 13, 10)) == utc(2026, 1, 13, 15, 30)
    assert cal.school_days(0, utc(2026, 1, 13, 16)) == utc(2026, 1, 14, 15, 30)
    assert cal.school_days(0, utc(2026, 2, 17, 10)) == utc(2026, 2, 23, 15, 30)


def test_every_6_weeks_landing_in_a_holiday_moves_to_the_next_school_day(cal):
    # Mon 23 Feb + 42 days = Easter Monday 6 Apr (Easter holiday) -> Mon 13 Apr, still 10:00 local (now BST).
    assert cal.weeks(6, utc(2026, 2, 23, 10)) == utc(2026, 4, 13, 9)
    assert cal.weeks(6, utc(2026, 1, 12, 10)) == utc(2026, 2, 23, 10)  # lands on a school day: unchanged


def test_days_moves_off_half_term_and_weekends(cal):
    assert cal.days(4, utc(2025, 10, 23, 9)) == utc(2025, 11, 3, 10)  # 27 Oct half-term; BST -> GMT
    assert cal.days(1, utc(2026, 1, 16, 10)) == utc(2026, 1, 19, 10)  # Saturday -> Monday
    with pytest.raises(ValueError):
        cal.days(-1, utc(2026, 1, 16, 10))


def test_end_of_school_day_is_1530_local_in_gmt_and_bst(cal):
    assert cal.end_of_half_term(utc(2025, 11, 10, 9)) == utc(2025, 12, 19, 15, 30)  # GMT
    assert cal.end_of_half_term(utc(2026, 5, 1, 9)) == utc(2026, 5, 22, 14, 30)     # BST
    assert cal.end_of_half_term(utc(2025, 9, 10, 9)) == utc(2025, 10, 24, 14, 30)   # BST until 26 Oct


# --- immediately ------------------------------------------------------------------------------

def test_immediately_during_school_hours_is_an_hour_later(cal):
    assert cal.same_school_day(utc(2026, 1, 13, 10)) == utc(2026, 1, 13, 11)
    assert cal.same_school_day(utc(2026, 6, 9, 8, 30)) == utc(2026, 6, 9, 9, 30)  # 09:30 BST
    assert cal.same_school_day(utc(2026, 1, 13, 10), hours=2.5) == utc(2026, 1, 13, 12, 30)


def test_immediately_after_hours_or_too_late_is_next_morning(cal):
    assert cal.same_school_day(utc(2026, 1, 13, 16)) == utc(2026, 1, 14, 10)
    assert cal.same_school_day(utc(2026, 1, 13, 15)) == utc(2026, 1, 14, 10)  # 16:00 would pass day_end
    assert cal.same_school_day(utc(2026, 1, 13, 7)) == utc(2026, 1, 13, 10)   # before school starts


def test_immediately_on_friday_evening_is_monday_morning(cal):
    assert cal.same_school_day(utc(2026, 1, 16, 18)) == utc(2026, 1, 19, 10)


def test_immediately_in_a_holiday_is_the_first_school_morning(cal):
    assert cal.same_school_day(utc(2026, 2, 18, 10)) == utc(2026, 2, 23, 10)
    assert cal.same_school_day(utc(2026, 5, 4, 10)) == utc(2026, 5, 5, 9)  # bank holiday, BST


def test_immediately_rejects_hours_longer_than_a_school_day(cal):
    for bad in (0, -1, 7, "1", True, float("nan")):
        with pytest.raises(ValueError):
            cal.same_school_day(utc(2026, 1, 13, 10), hours=bad)


def test_immediate_hours_is_configurable():
    c = SchoolCalendar(england_2025_26().terms, bank_holidays={}, immediate_hours=3)
    assert c.same_school_day(utc(2026, 1, 13, 10)) == utc(2026, 1, 13, 13)


# --- storage, import, validation --------------------------------------------------------------

def test_to_dict_from_dict_round_trip_keeps_edited_bank_holidays(cal):
    data = cal.to_dict()
    del data["bank_holidays"]["2026-05-04"]
    data["bank_holidays"]["2026-06-08"] = "Special bank holiday"
    data["day_end"] = "15:00"
    back = SchoolCalendar.from_dict(json.loads(json.dumps(data)))
    assert back.to_dict() == data
    assert back.is_school_day(date(2026, 5, 4)) and not back.is_school_day(date(2026, 6, 8))
    assert back.end_of_term(utc(2026, 1, 13, 9)) == utc(2026, 3, 27, 15)
    assert SchoolCalendar.from_dict(json.loads(json.dumps(back.to_dict()))) == back


def test_from_dict_rejects_unknown_date_format(cal):
    data = cal.to_dict()
    data["terms"][1]["end"] = "27/03/2026"
    with pytest.raises(CalendarError, match='term "Spring 2026" end'):
        SchoolCalendar.from_dict(data)


def test_csv_import_matches_the_built_in_calendar(cal):
    assert SchoolCalendar.from_csv(CSV_2025_26) == cal


def test_csv_bank_holiday_rows_add_and_remove(cal):
    text = CSV_2025_26 + "bank_holiday,-,2026-05-04,\nbank_holiday,Coronation-style extra,2026-06-08,\n"
    c = SchoolCalendar.from_csv(text)
    assert c.is_school_day(date(2026, 5, 4))
    assert c.bank_holidays[date(2026, 6, 8)] == "Coronation-style extra"
    assert not c.is_school_day(date(2026, 6, 8))
    assert c.school_days(1, utc(2026, 5, 1, 9)) == utc(2026, 5, 4, 14, 30)


def test_csv_bad_line_error_names_the_line():
    bad = CSV_2025_26.replace("2026-02-16,2026-02-20", "2026-02-31,2026-02-20")
    with pytest.raises(CalendarError, match=r"^line 5: '2026-02-31' is not a real date"):
        SchoolCalendar.from_csv(bad)
    with pytest.raises(CalendarError, match="line 3: .*YYYY-MM-DD"):
        SchoolCalendar.from_csv(CSV_2025_26.replace("2025-10-27", "27/10/2025"))
    with pytest.raises(CalendarError, match="line 11: unknown kind 'holiday'"):
        SchoolCalendar.from_csv(CSV_2025_26 + "holiday,Trip,2026-03-02,\n")
    with pytest.raises(CalendarError, match="line 11: 2026-05-05 is not a bank holiday"):
        SchoolCalendar.from_csv(CSV_2025_26 + "bank_holiday,-,2026-05-05,\n")
    with pytest.raises(CalendarError, match="line 1: .*header"):
        SchoolCalendar.from_csv("term,Autumn,2025-09-03,2025-12-19\n")


def test_csv_half_term_outside_every_term_and_term_without_half_term():
    with pytest.raises(CalendarError, match="line 11: half-term 2026-04-01 to 2026-04-02 is not inside any term"):
        SchoolCalendar.from_csv(CSV_2025_26 + "half_term,Easter,2026-04-01,2026-04-02\n")
    no_half = CSV_2025_26.replace("half_term,Spring half-term,2026-02-16,2026-02-20\n", "")
    with pytest.raises(CalendarError, match='line 4: term "Spring 2026" has no half_term row'):
        SchoolCalendar.from_csv(no_half)


def test_csv_overlapping_terms_name_the_line():
    text = CSV_2025_26 + "term,Extra,2026-03-20,2026-04-10\nhalf_term,x,2026-03-30,2026-04-03\n"
    with pytest.raises(CalendarError, match='line 11: term "Extra" .* overlaps line 4: term "Spring 2026"'):
        SchoolCalendar.from_csv(text)


def test_overlapping_terms_rejected():
    d = date
    a = Term("Autumn 2025", d(2025, 9, 3), d(2025, 12, 19), d(2025, 10, 27), d(2025, 10, 31))
    b = Term("Spring 2026", d(2025, 12, 15), d(2026, 3, 27), d(2026, 2, 16), d(2026, 2, 20))
    with pytest.raises(CalendarError, match='term "Spring 2026" .* overlaps term "Autumn 2025"'):
        SchoolCalendar([b, a], bank_holidays={})


def test_bad_term_dates_rejected():
    d = date
    with pytest.raises(CalendarError, match='term "Autumn" ends on 2025-09-01, before it starts'):
        SchoolCalendar([Term("Autumn", d(2025, 9, 3), d(2025, 9, 1), d(2025, 10, 27), d(2025, 10, 31))])
    with pytest.raises(CalendarError, match='term "Autumn": its half-term .* must lie inside the term'):
        SchoolCalendar([Term("Autumn", d(2025, 9, 3), d(2025, 12, 19), d(2025, 12, 22), d(2025, 12, 26))])
    with pytest.raises(CalendarError, match="at least one term"):
        SchoolCalendar([])


# --- sandbox helpers --------------------------------------------------------------------------

def test_helpers_return_iso_strings(cal):
    fns = helpers(lambda: (cal, utc(2026, 1, 12, 9)))
    assert sorted(fns) == ["concern_response_time", "days", "end_of_half_term", "end_of_term", "hours", "minutes",
                           "same_school_day", "school_days", "weeks"]
    assert fns["end_of_half_term"]() == "2026-02-13T15:30:00+00:00"
    assert fns["end_of_term"]() == "2026-03-27T15:30:00+00:00"
    assert fns["school_days"](5) == "2026-01-19T15:30:00+00:00"
    assert fns["weeks"](6) == "2026-02-23T09:00:00+00:00"
    assert fns["days"](5) == "2026-01-19T09:00:00+00:00"  # Saturday 17th -> Monday
    assert fns["same_school_day"]() == "2026-01-12T10:00:00+00:00"
    assert fns["same_school_day"](hours=0.5) == "2026-01-12T09:30:00+00:00"
    assert datetime.fromisoformat(fns["school_days"](1)).tzinfo is not None
    # the wall-clock helpers ignore school hours (R80: "immediately" does not wait for Monday)
    assert fns["hours"](1) == "2026-01-12T10:00:00+00:00"
    assert fns["minutes"](90) == "2026-01-12T10:30:00+00:00"
    assert fns["concern_response_time"]() == "2026-01-12T10:00:00+00:00"


def test_wall_clock_helpers_run_through_weekends_and_holidays(cal):
    friday_evening = utc(2026, 2, 13, 17)  # last day before half-term
    fns = helpers(lambda: (cal, friday_evening), concern_response_minutes=30)
    assert fns["hours"](2) == "2026-02-13T19:00:00+00:00"
    assert fns["concern_response_time"]() == "2026-02-13T17:30:00+00:00"


def test_helpers_read_the_calendar_and_clock_at_call_time(cal):
    now = [utc(2026, 1, 12, 9)]
    fns = helpers(lambda: (cal, now[0]))
    now[0] = utc(2026, 2, 18, 9)
    assert fns["end_of_half_term"]() == "2026-03-27T15:30:00+00:00"


@pytest.mark.parametrize("name", ["school_days", "weeks", "days"])
@pytest.mark.parametrize("bad", [-1, 1.5, "3", True, None, 401])
def test_helpers_reject_bad_counts(cal, name, bad):
    fns = helpers(lambda: (cal, utc(2026, 1, 12, 9)))
    with pytest.raises(ValueError, match="whole number from 0 to 400"):
        fns[name](bad)


def test_helpers_reject_bad_hours(cal):
    fns = helpers(lambda: (cal, utc(2026, 1, 12, 9)))
    with pytest.raises(ValueError, match="hours must be a number"):
        fns["same_school_day"](hours=24)
