"""Browser pages through the Flask test client: sign-in, home, calendar, dashboard, notifications."""
import re
from datetime import timedelta

import pytest

from apflow.services import calendars, processes
from apflow.web import create_app
from tests.bpmn_builder import flow_diagram
from tests.support import PASSWORD


@pytest.fixture
def client(core):
    return create_app(core=core, run_scheduler=False).test_client()


def csrf(client, path="/login"):
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def sign_in(client, username):
    response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf(client)})
    assert response.status_code == 302
    return client


def test_pages_need_sign_in(client):
    for path in ["/", "/inbox", "/dashboard", "/calendar", "/notifications", "/account/password", "/placements/1", "/pupils/X"]:
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_wrong_password_shows_an_error_and_keeps_the_username(client, people):
    response = client.post("/login", data={"username": "coord", "password": "wrong", "csrf_token": csrf(client)})
    page = response.get_data(as_text=True)
    assert response.status_code == 401 and "Wrong username or password." in page and 'value="coord"' in page


def test_login_refuses_a_missing_csrf_token(client, people):
    assert client.post("/login", data={"username": "coord", "password": PASSWORD}).status_code == 400


def test_login_does_not_redirect_off_site(client, people):
    response = client.post("/login?next=//evil.example/x", data={"username": "coord", "password": PASSWORD, "csrf_token": csrf(client)})
    assert response.headers["Location"] == "/inbox"


def test_home_is_the_inbox(client, core, people, triage):
    from apflow.services import instances

    instances.start_instance(core, people["coordinator"], "referral_triage", {"reasons": ["attendance"]})
    sign_in(client, "coord")
    assert client.get("/").headers["Location"] == "/inbox"
    page = client.get("/inbox").get_data(as_text=True)
    assert "Triage referral" in page and ">Deadlines<" in page  # coordinators see the deadlines dashboard


def test_manager_imports_term_dates_and_sees_errors_with_the_line(client, core, people):
    sign_in(client, "boss")
    token = csrf(client, "/calendar")
    bad = client.post("/calendar", data={"csv": "kind,name,start,end\nterm,Autumn,2026-09-02,2026-13-01\n", "csrf_token": token})
    assert bad.status_code == 422 and "line 2" in bad.get_data(as_text=True)
    good = client.post("/calendar", data={"csv": calendars.DEMO_TERMS.read_text(), "csrf_token": token})
    assert good.status_code == 302
    page = client.get("/calendar").get_data(as_text=True)
    assert "Spring 2027" in page and "Easter Monday" in page


def test_coordinator_sees_the_calendar_but_cannot_change_it(client, core, people):
    sign_in(client, "coord")
    assert "Save term dates" not in client.get("/calendar").get_data(as_text=True)
    response = client.post("/calendar", data={"csv": calendars.DEMO_TERMS.read_text(), "csrf_token": csrf(client, "/calendar")})
    assert response.status_code == 403


def test_dashboard_shows_overdue_work_and_takes_acknowledgements(client, core, people, frozen_clock, tmp_path):
    from apflow.services import deadlines, instances

    path = tmp_path / "due.bpmn"
    path.write_text(flow_diagram(pid="due", due_in="P1D"))
    processes.deploy_paths(core, [path], by="test")
    instances.start_instance(core, people["coordinator"], "due", {"pupil_name": "Mia K."})
    frozen_clock.advance(timedelta(days=1, hours=2))
    deadlines.fire_due_alerts(core)
    sign_in(client, "boss")
    page = client.get("/dashboard").get_data(as_text=True)
    assert "Overdue since today" in page and "Mia K." in page
    [escalation] = deadlines.list_escalations(core, people["manager"])
    response = client.post(f"/escalations/{escalation['id']}/acknowledge", data={"note": "On it", "csrf_token": csrf(client, "/dashboard")})
    assert response.status_code == 302
    assert deadlines.list_escalations(core, people["manager"]) == []
    notes = client.get("/notifications").get_data(as_text=True)
    assert "Overdue: &#39;Check&#39; for Mia K." in notes


def test_dashboard_is_for_managers_headteachers_and_coordinators(client, people):
    sign_in(client, "parent")
    assert client.get("/dashboard").status_code == 403
    assert "Deadlines</a>" not in client.get("/inbox").get_data(as_text=True)


def test_a_coordinator_reads_the_dashboard_without_the_managers_acknowledge_form(client, people):
    sign_in(client, "coord")
    page = client.get("/dashboard").get_data(as_text=True)
    assert "Deadlines and escalations" in page and "What you will do" not in page
