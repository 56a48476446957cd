"""Trends across placements (R112, and value for money for R114): known records give known figures, term by term on
the demo term dates (Autumn 2025, Spring 2026, Summer 2026), filters narrow them, and nobody sees the trends of pupils
their organisation did not place.

The world (tests/scenarios/trends_world.py): three pupils of The Nest School and one of Hilltop School, with registers,
lesson reports, assessments, provider reports, exits, destinations and purchase orders whose figures are worked out by hand.
"""
from __future__ import annotations

import pytest

from apflow.errors import Invalid, NotFound
from apflow.services import trends
from tests.scenarios.trends_world import BRIDGES, FARM, build
from tests.support import browser


@pytest.fixture
def world(core, terms, triage):
    return build(core)


def _rows(result, table, *keys):
    return {row["term"]: tuple(row[k] for k in keys) for row in result["tables"][table]["rows"]}


def test_R112_attendance_by_term_counts_the_schools_codes_else_the_providers_report(core, world):
    people, _ = world
    result = trends.figures(core, people["coord"])
    assert [t["name"] for t in result["terms"]] == ["Autumn 2025", "Spring 2026", "Summer 2026"]
    assert result["placements"] == 3
    assert _rows(result, "attendance", "sessions", "attended", "percent") == {
        "Autumn 2025": (4, 3, 75.0), "Spring 2026": (4, 2, 50.0), "Summer 2026": (None, None, None)}


def test_R112_progress_engagement_and_wellbeing_by_term(core, world):
    people, _ = world
    result = trends.figures(core, people["head"])
    assert _rows(result, "progress", "assessments", "on_track", "partly_on_track", "on_track_percent",
                 "targets", "targets_met", "targets_partly", "targets_met_percent") == {
        "Autumn 2025": (1, 1, 0, 100.0, 4, 2, 1, 50.0), "Spring 2026": (2, 0, 1, 0.0, 1, 1, 0, 100.0),
        "Summer 2026": (None,) * 8}
    assert _rows(result, "engagement", "reports", "participation", "behaviour", "relationships", "progress", "engagement",
                 "wellbeing") == {"Autumn 2025": (2, 4.0, 4.0, 3.0, 4.0, 3.75, 3.0), "Spring 2026": (1, 2.0, 2.0, 2.0, 2.0, 2.0, 1.0),
                                  "Summer 2026": (None,) * 7}


def test_R112_exits_destinations_and_reintegration_in_the_term_the_placement_ended(core, world):
    people, _ = world
    result = trends.figures(core, people["senco"])
    assert _rows(result, "destinations", "planned_exits", "emergency_removals", "destinations", "same_school", "neet", "reintegrated",
                 "reintegration_percent") == {"Autumn 2025": (0, 1, 1, 0, 1, 0, 0.0), "Spring 2026": (1, 0, 1, 1, 0, 1, 100.0),
                                              "Summer 2026": (None,) * 7}
    assert _rows(result, "destinations", "checked_3", "sustained_3", "sustained_3_percent", "checked_6", "sustained_6_percent") == {
        "Autumn 2025": (1, 0, 0.0, 0, None), "Spring 2026": (1, 1, 100.0, 0, None), "Summer 2026": (None,) * 5}


def test_R15_R112_examination_entries_by_term_entered_and_qualifications_by_term_of_result(core, world):
    people, _ = world
    result = trends.figures(core, people["coord"])
    assert _rows(result, "qualifications", "entries", "results", "gained", "gained_percent") == {
        "Autumn 2025": (2, 0, 0, None), "Spring 2026": (1, 2, 1, 50.0), "Summer 2026": (None,) * 4}


def test_R112_R114_value_for_money_from_purchase_orders_by_term_and_provider(core, world):
    people, _ = world
    result = trends.figures(core, people["boss"])
    assert _rows(result, "orders", "orders", "placements", "hours_per_week", "hours_per_placement") == {
        "Autumn 2025": (2, 2, 40.0, 20.0), "Spring 2026": (2, 2, 16.0, 8.0), "Summer 2026": (None,) * 4}
    providers = {r["provider"]: r for r in result["tables"]["providers"]["rows"]}
    assert list(providers) == [BRIDGES, FARM]
    assert {k: providers[BRIDGES][k] for k in ("placements", "orders", "hours_per_week", "hours_per_placement", "sessions", "attended",
                                               "percent")} == {"placements": 2, "orders": 3, "hours_per_week": 50.0,
                                                               "hours_per_placement": 25.0, "sessions": 6, "attended": 3, "percent": 50.0}
    assert {k: providers[FARM][k] for k in ("placements", "orders", "hours_per_week", "hours_per_placement", "sessions", "percent")} == {
        "placements": 1, "orders": 1, "hours_per_week": 6.0, "hours_per_placement": 6.0, "sessions": 2, "percent": 100.0}
    # cost from what the orders commit (£120 for each hour a week in this world): per placement and per session attended
    assert _rows(result, "orders", "value", "cost_per_placement") == {
        "Autumn 2025": (4800.0, 2400.0), "Spring 2026": (1920.0, 960.0), "Summer 2026": (None, None)}
    assert {k: providers[BRIDGES][k] for k in ("value", "cost_per_placement", "cost_per_session")} == {
        "value": 6000.0, "cost_per_placement": 3000.0, "cost_per_session": 2000.0}
    assert {k: providers[FARM][k] for k in ("value", "cost_per_placement", "cost_per_session")} == {
        "value": 720.0, "cost_per_placement": 720.0, "cost_per_session": 360.0}


def test_R112_filters_narrow_every_figure(core, world):
    people, ids = world
    coord = people["coord"]
    farm = trends.figures(core, coord, trends.Filters(provider_id=ids["farm"]))
    assert farm["placements"] == 1
    assert _rows(farm, "attendance", "percent") == {"Autumn 2025": (None,), "Spring 2026": (100.0,), "Summer 2026": (None,)}
    assert [r["provider"] for r in farm["tables"]["providers"]["rows"]] == [FARM]
    send = trends.figures(core, coord, trends.parse_filters({"reason": "send"}))
    assert send["placements"] == 1
    assert _rows(send, "attendance", "sessions", "percent")["Spring 2026"] == (2, 0.0)
    assert _rows(send, "destinations", "same_school", "neet")["Autumn 2025"] == (None, None)
    year8 = trends.figures(core, coord, trends.parse_filters({"year_group": "8"}))
    assert year8["placements"] == 1 and _rows(year8, "engagement", "wellbeing")["Spring 2026"] == (1.0,)
    assert _rows(year8, "engagement", "wellbeing")["Autumn 2025"] == (None,)
    year11 = trends.figures(core, coord, trends.parse_filters({"year_group": "11"}))
    assert year11["placements"] == 1 and _rows(year11, "destinations", "emergency_removals")["Autumn 2025"] == (1,)
    full_time = trends.figures(core, coord, trends.parse_filters({"placement_type": "full_time_ap"}))
    assert _rows(full_time, "orders", "hours_per_week") == {"Autumn 2025": (25.0,), "Spring 2026": (None,), "Summer 2026": (None,)}
    assert [g["label"] for g in trends.figures(core, coord)["options"]["year_groups"]] == ["Year 8", "Year 10", "Year 11"]


def test_R112_bad_filters_are_refused_field_by_field(core, world):
    with pytest.raises(Invalid) as err:
        trends.parse_filters({"provider": "x", "reason": "bored", "year_group": "99", "placement_type": "holiday"})
    assert set(err.value.details["fields"]) == {"provider", "reason", "year_group", "placement_type"}


def test_R112_providers_and_families_have_no_trends_and_other_schools_see_only_their_own(core, world):
    people, _ = world
    for who in ("tutor", "parent1"):
        with pytest.raises(NotFound):
            trends.figures(core, people[who])
    other = trends.figures(core, people["othercoord"])
    assert other["placements"] == 1
    assert _rows(other, "attendance", "sessions", "percent")["Autumn 2025"] == (3, 0.0)
    assert _rows(other, "engagement", "wellbeing")["Autumn 2025"] == (5.0,)
    assert [r["provider"] for r in other["tables"]["providers"]["rows"]] == [BRIDGES]
    assert [p["label"] for p in other["options"]["providers"]] == [BRIDGES]


def test_R112_an_la_officer_sees_the_placements_their_la_commissioned(core, world):
    people, _ = world
    la = trends.figures(core, people["la1"])
    assert la["placements"] == 1  # Jordan: the LA commissioned it; Sam and Casey the school did
    assert _rows(la, "attendance", "sessions", "attended", "percent")["Autumn 2025"] == (4, 3, 75.0)
    assert _rows(la, "orders", "hours_per_week")["Spring 2026"] == (10.0,)


def test_R112_each_table_downloads_as_csv(core, world):
    people, _ = world
    text = trends.table_csv(trends.figures(core, people["coord"])["tables"]["attendance"])
    assert text.splitlines() == ["Term,Sessions counted,Sessions attended,Attendance (%)", "Autumn 2025,4,3,75.0",
                                 "Spring 2026,4,2,50.0", "Summer 2026,,,"]


# -- the page, the CSV downloads and the API ------------------------------------------------------------------------

@pytest.fixture
def app(core, world):
    from apflow.web import create_app

    return create_app(core=core, run_scheduler=False)


def test_R112_the_page_shows_each_chart_beside_its_table_and_the_csv_keeps_the_filters(app, world):
    _, ids = world
    coord = browser(app, "coord")
    page = coord.get("/trends")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for key in ("attendance", "progress", "engagement", "destinations", "qualifications", "orders", "providers"):
        assert f'<canvas id="chart-{key}"' in html and f'data-chart="chart-{key}"' in html and f"/trends/{key}.csv" in html
    assert 'data-label="Attendance (%)" data-value="75.0"' in html
    assert "/vendor/chartjs/chart.umd.min.js" in html and "<script>" not in html
    narrowed = coord.get(f"/trends?provider={ids['farm']}")
    assert f"/trends/attendance.csv?provider={ids['farm']}" in narrowed.get_data(as_text=True)
    download = coord.get(f"/trends/attendance.csv?provider={ids['farm']}")
    assert download.headers["Content-Disposition"] == "attachment; filename=trends-attendance.csv"
    assert download.get_data(as_text=True).splitlines() == ["Term,Sessions counted,Sessions attended,Attendance (%)",
                                                            "Autumn 2025,,,", "Spring 2026,2,2,100.0", "Summer 2026,,,"]
    providers = coord.get("/trends/providers.csv").get_data(as_text=True).splitlines()
    assert providers[1:] == [f"{BRIDGES},2,3,50.0,25.0,6,3,50.0,6000.0,3000.0,2000.0", f"{FARM},1,1,6.0,6.0,2,2,100.0,720.0,720.0,360.0"]


def test_R112_bad_filters_on_the_page_say_what_to_fix_and_the_api_refuses_them(app, world):
    coord = browser(app, "coord")
    page = coord.get("/trends?year_group=ninety&reason=bored")
    assert page.status_code == 422
    html = page.get_data(as_text=True)
    assert "Give the year group as a number, e.g. 10." in html and 'id="f-reason-error"' in html
    assert 'data-label="Attendance (%)" data-value="75.0"' in html  # every figure, unfiltered
    api = coord.get("/api/v1/trends?provider=x")
    assert api.status_code == 422 and "provider" in api.get_json()["error"]["details"]["fields"]


def test_R112_the_api_gives_the_same_figures_and_nothing_to_providers_families_or_of_other_schools(app, world):
    coord = browser(app, "coord").get("/api/v1/trends?reason=send").get_json()
    assert coord["placements"] == 1 and coord["filters"]["reason"] == "send"
    assert [r["percent"] for r in coord["tables"]["attendance"]["rows"]] == [75.0, 0.0, None]
    for who in ("tutor", "parent1"):
        client = browser(app, who)
        for path in ("/trends", "/trends/attendance.csv", "/api/v1/trends"):
            response = client.get(path)
            assert response.status_code == 404, (who, path)
            assert "Jordan" not in response.get_data(as_text=True) and BRIDGES not in response.get_data(as_text=True)
    other = browser(app, "othercoord").get("/trends/providers.csv").get_data(as_text=True).splitlines()
    assert other[1:] == [f"{BRIDGES},1,1,30.0,30.0,3,0,0.0,3600.0,3600.0,"]  # Hilltop's own pupil only (no session attended: no cost per session)
