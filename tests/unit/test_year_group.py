"""The national curriculum year group on the pupil's page (R11): England's academic year starts on 1 September, and
children born 1 September to 31 August share a year group."""
from datetime import date

import pytest

from apflow.services.pupils import year_group, year_group_words

SPRING_2026 = date(2026, 1, 12)  # in the academic year 2025/26


@pytest.mark.parametrize("born, group", [
    (date(2011, 5, 4), 10),   # the scenario pupil: GCSEs in summer 2027
    (date(2010, 9, 1), 10),   # the oldest of Year 10
    (date(2011, 8, 31), 10),  # the youngest of Year 10
    (date(2011, 9, 1), 9),    # a day younger: the year below
    (date(2010, 8, 31), 11),
    (date(2021, 8, 31), 0),   # four on 31 August 2025: Reception
    (date(2021, 9, 1), -1),   # starts Reception in September 2026
])
def test_R11_year_group_in_the_academic_year_2025_26(born, group):
    assert year_group(born, SPRING_2026) == group


def test_R11_the_year_group_moves_up_on_1_september_not_on_the_birthday_or_1_january():
    born = date(2011, 5, 4)
    assert [year_group(born, on) for on in (date(2025, 12, 31), date(2026, 5, 4), date(2026, 8, 31), date(2026, 9, 1))] == [10, 10, 10, 11]


def test_R11_year_groups_in_words():
    assert [year_group_words(n) for n in (None, -1, 0, 1, 13, 14)] == [
        None, "Not yet of school age", "Reception", "Year 1", "Year 13", "Past Year 13"]
    assert year_group(None, SPRING_2026) is None
