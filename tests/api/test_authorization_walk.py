"""Every route, as every role: allowed or refused, as the permission rules say.

New routes must be added to ROUTES, so nothing ships without a decision on who may use it.
"""
import re

import pytest

from apflow.roles import ROLES
from apflow.services import calendars, deadlines, instances, processes, roles
from apflow.web import create_app
from tests.bpmn_builder import flow_diagram
from tests.support import PASSWORD, make_user

EVERYONE = set(ROLES) | {"coordinator"}
STAFF_WITH_TASK = {"coordinator", "manager"}   # the triage task's lane role, and managers who see all
MANAGERS = {"manager"}
STAFF = EVERYONE - {"parent", "pupil"}
ANON = "anonymous"
CUSTOM = "attendance"  # a person whose only role is a custom one carrying the coordinator's permissions (issue 17)
CARRIES = {CUSTOM: "coordinator"}  # ...so they are allowed exactly where a coordinator is
EXPORTERS = {"coordinator", "headteacher", "manager", "provider"}  # registers as files (issue 16): never families
WHEREABOUTS = {"coordinator", "headteacher", "dsl", "deputy_dsl", "senco", "la_officer", "manager"}  # the school's and LA's staff
GOVERNORS = {"coordinator", "headteacher", "manager"}  # the governors' report and the policy review (issue 16: R114)
CENSUS = {"coordinator", "headteacher", "manager"}  # the school census AP return of their own school (issue 16)

# (method, path template, roles allowed; ANON allowed where listed). {task}, {instance}, {doc}, {esc} are filled in.
ROUTES = [
    ("GET", "/login", EVERYONE | {ANON}),
    ("POST", "/login", EVERYONE),  # with each person's own credentials
    ("POST", "/logout", EVERYONE | {ANON}),
    ("GET", "/", EVERYONE),
    ("GET", "/inbox", EVERYONE),
    ("POST", "/inbox/filters", EVERYONE),
    ("POST", "/inbox/filters/{filter}/delete", set()),  # only the owner of the filter, who is nobody here
    ("POST", "/inbox/bulk", MANAGERS),
    ("GET", "/tasks/{task}", STAFF_WITH_TASK),
    ("POST", "/tasks/{task}", {"coordinator"}),
    ("POST", "/tasks/{task}/claim", {"coordinator"}),
    ("GET", "/placements/{instance}", STAFF_WITH_TASK),
    ("GET", "/placements/{instance}/documents/{doc}", STAFF_WITH_TASK),
    ("POST", "/placements/{instance}/retry", set()),  # managers may, but there is no failed step to retry: refused with a message
    ("GET", "/pupils/NEST-0142", STAFF_WITH_TASK),
    ("GET", "/placements", EVERYONE),  # the caseload: each sees only the placements in their scope (none here: no placement rows)
    ("GET", "/account/password", EVERYONE),
    ("POST", "/account/password", EVERYONE),
    ("GET", "/start", EVERYONE),
    ("POST", "/start/referral_triage", {"coordinator"}),  # the start lane's role; others get a message
    # safeguarding (issue 12): this world has no placement or pupil record, so each is refused with a 404 that says
    # nothing of what exists; tests/scenarios/test_safeguarding_pages.py walks them on a real placement
    ("GET", "/placements/{instance}/concern", set()),
    ("POST", "/placements/{instance}/concern", set()),
    ("GET", "/placements/{instance}/concern/raised", EVERYONE),
    ("POST", "/placements/{instance}/emergency-removal", set()),
    ("GET", "/concerns", EVERYONE),
    ("GET", "/placements/{instance}/incidents", set()),
    ("POST", "/placements/{instance}/incidents", set()),
    ("GET", "/placements/{instance}/review-request", set()),
    ("POST", "/placements/{instance}/review-request", set()),
    ("GET", "/api/v1/placements/1/incidents", set()),
    ("POST", "/api/v1/placements/1/incidents", set()),
    ("POST", "/api/v1/placements/1/review-requests", set()),  # each sees the open concerns of the pupils whose file they hold: none here
    ("GET", "/pupils/NEST-0142/child-protection", set()),
    ("GET", "/pupils/NEST-0142/child-protection/export", set()),
    ("POST", "/pupils/NEST-0142/child-protection/grants", set()),
    ("POST", "/pupils/NEST-0142/child-protection/grants/1/revoke", set()),
    ("POST", "/api/v1/placements/1/concerns", set()),
    ("POST", "/api/v1/placements/1/emergency-removal", set()),
    ("GET", "/api/v1/concerns", EVERYONE),
    ("GET", "/api/v1/pupils/NEST-0142/child-protection", set()),
    ("GET", "/api/v1/pupils/NEST-0142/child-protection/export", set()),
    ("POST", "/api/v1/pupils/NEST-0142/child-protection/grants", set()),
    ("DELETE", "/api/v1/child-protection/grants/1", set()),
    # families (issue 13): no pupil record in this world, so each is refused with a 404; tests/scenarios/test_families.py
    # walks them on a real pupil. A made-up invitation link is refused to everyone.
    ("POST", "/pupils/NEST-0142/contacts", set()),
    ("POST", "/pupils/NEST-0142/contacts/1/remove", set()),
    ("GET", "/api/v1/pupils/NEST-0142/contacts", set()),
    ("POST", "/api/v1/pupils/NEST-0142/contacts", set()),
    ("DELETE", "/api/v1/pupils/NEST-0142/contacts/1", set()),
    ("POST", "/api/v1/tasks/{task}/record-for-family", set()),  # the coordinator's own task, not a family's
    # the pupil's page (R11, R13): the profile opens for whoever sees a workflow of the pupil; the professionals need a
    # pupil record, which this world has not, so each is refused with a 404; tests/scenarios/test_pupil_profile.py walks them
    ("GET", "/api/v1/pupils/NEST-0142", STAFF_WITH_TASK),
    ("POST", "/pupils/NEST-0142/professionals", set()),
    ("POST", "/pupils/NEST-0142/professionals/1/remove", set()),
    ("POST", "/pupils/NEST-0142/professionals/1/updates", set()),
    ("GET", "/api/v1/pupils/NEST-0142/professionals", set()),
    ("POST", "/api/v1/pupils/NEST-0142/professionals", set()),
    ("POST", "/api/v1/pupils/NEST-0142/professionals/1/updates", set()),
    ("DELETE", "/api/v1/pupils/NEST-0142/professionals/1", set()),
    ("GET", "/providers", STAFF),  # the provider register: staff, never families
    ("GET", "/providers/1", set()),  # no provider in this world
    ("GET", "/api/v1/providers", STAFF),
    ("GET", "/api/v1/providers/1", set()),
    ("GET", "/welcome/not-a-real-invitation", set()),
    ("POST", "/welcome/not-a-real-invitation", set()),
    ("GET", "/dashboard", MANAGERS | {"headteacher", "coordinator"}),
    ("POST", "/escalations/{esc}/acknowledge", MANAGERS),
    ("GET", "/calendar", EVERYONE),
    ("POST", "/calendar", MANAGERS),
    ("GET", "/notifications", EVERYONE),
    ("POST", "/notifications", EVERYONE),
    ("GET", "/vendor/pico/pico.min.css", EVERYONE | {ANON}),
    ("GET", "/api/v1/openapi.json", EVERYONE | {ANON}),
    ("POST", "/api/v1/tokens", EVERYONE),  # with each person's own credentials
    ("DELETE", "/api/v1/tokens/current", set()),  # a browser session has no token to revoke (test_access.py revokes real ones)
    ("DELETE", "/api/v1/tokens", EVERYONE),  # sign out everywhere: each person signs only themselves out
    ("GET", "/api/v1/me", EVERYONE),
    ("GET", "/api/v1/processes", EVERYONE),
    ("POST", "/api/v1/processes", MANAGERS),
    ("POST", "/api/v1/processes/validate", MANAGERS),
    ("POST", "/api/v1/processes/referral_triage/instances", {"coordinator"}),
    ("GET", "/api/v1/tasks", EVERYONE),
    ("GET", "/api/v1/inbox", EVERYONE),
    ("GET", "/api/v1/tasks/{task}", STAFF_WITH_TASK),
    ("POST", "/api/v1/tasks/{task}/complete", {"coordinator"}),
    ("POST", "/api/v1/tasks/{task}/claim", {"coordinator"}),
    ("POST", "/api/v1/tasks/bulk", MANAGERS),
    ("GET", "/api/v1/placements", EVERYONE),
    ("GET", "/api/v1/instances/{instance}", STAFF_WITH_TASK),
    ("GET", "/api/v1/instances/{instance}/events", STAFF_WITH_TASK),
    ("GET", "/api/v1/instances/{instance}/file", STAFF_WITH_TASK),
    ("POST", "/api/v1/instances/{instance}/retry", MANAGERS),
    ("GET", "/api/v1/calendar", EVERYONE),
    ("PUT", "/api/v1/calendar", MANAGERS),
    ("GET", "/api/v1/escalations", EVERYONE),
    ("POST", "/api/v1/escalations/{esc}/acknowledge", MANAGERS),
    ("GET", "/api/v1/dashboard", MANAGERS | {"headteacher", "coordinator"}),
    ("GET", "/api/v1/notifications", EVERYONE),
    ("POST", "/api/v1/notifications/read", EVERYONE),
    # the process library (issue 6): managers only
    ("GET", "/processes", MANAGERS),
    ("POST", "/processes/upload", MANAGERS),
    ("GET", "/processes/referral_triage", MANAGERS),
    ("GET", "/processes/referral_triage/edit", MANAGERS),
    ("GET", "/processes/referral_triage/draft/download", MANAGERS),
    ("GET", "/processes/referral_triage/versions/1/download", MANAGERS),
    ("GET", "/processes/referral_triage/diff", MANAGERS),
    ("GET", "/processes/referral_triage/migrate", MANAGERS),
    ("POST", "/processes/referral_triage/migrate", MANAGERS),
    ("POST", "/processes/referral_triage/rollback", MANAGERS),
    ("GET", "/forms/triage_referral.schema.json", MANAGERS),
    ("GET", "/vendor/bpmn-js/bpmn-modeler.production.min.js", EVERYONE | {ANON}),
    ("GET", "/api/v1/processes/referral_triage", MANAGERS),
    ("GET", "/api/v1/processes/referral_triage/draft", MANAGERS),
    ("PUT", "/api/v1/processes/referral_triage/draft", MANAGERS),
    ("POST", "/api/v1/processes/referral_triage/draft/validate", MANAGERS),
    ("POST", "/api/v1/processes/referral_triage/deploy", MANAGERS),
    ("GET", "/api/v1/processes/referral_triage/versions/1", MANAGERS),
    ("GET", "/api/v1/processes/referral_triage/diff", MANAGERS),
    ("GET", "/api/v1/processes/referral_triage/migration", MANAGERS),
    ("POST", "/api/v1/processes/referral_triage/migration", MANAGERS),
    ("POST", "/api/v1/processes/referral_triage/rollback", MANAGERS),
    ("POST", "/api/v1/processes/upload", MANAGERS),
    ("GET", "/api/v1/forms", MANAGERS),
    ("GET", "/api/v1/forms/triage_referral.schema.json", MANAGERS),
    ("PUT", "/api/v1/forms/triage_referral.schema.json", MANAGERS),
    ("POST", "/api/v1/forms/preview", MANAGERS),
    # staff accounts: managers only ({staff} is the coordinator; the manager's walk disables then enables them). A
    # manager's add with the walk's made-up details, or roles or an invitation the coordinator cannot have, is a 422
    ("GET", "/people", MANAGERS),
    ("POST", "/people", MANAGERS),
    ("POST", "/people/{staff}/roles", MANAGERS),
    ("POST", "/people/{staff}/disable", MANAGERS),
    ("POST", "/people/{staff}/enable", MANAGERS),
    ("POST", "/people/{staff}/invite", MANAGERS),
    ("GET", "/api/v1/people", MANAGERS),
    ("POST", "/api/v1/people", MANAGERS),
    ("PUT", "/api/v1/people/{staff}/roles", MANAGERS),
    ("POST", "/api/v1/people/{staff}/disable", MANAGERS),
    ("POST", "/api/v1/people/{staff}/enable", MANAGERS),
    ("POST", "/api/v1/people/{staff}/invite", MANAGERS),
    # custom roles (issue 17): managers of the role's organisation; {role} is the walk's "Attendance Officer"
    ("GET", "/roles", MANAGERS),
    ("POST", "/roles", MANAGERS),
    ("POST", "/roles/{role}/rename", MANAGERS),
    ("POST", "/roles/{role}/delete", MANAGERS),  # refused with a message while someone holds it: 422 shows the page
    ("POST", "/roles/{role}/members", MANAGERS),
    ("POST", "/roles/{role}/members/{staff}/remove", MANAGERS),
    ("GET", "/api/v1/roles", MANAGERS),
    ("POST", "/api/v1/roles", MANAGERS),
    ("PATCH", "/api/v1/roles/{role}", MANAGERS),
    ("DELETE", "/api/v1/roles/{role}", MANAGERS),
    ("POST", "/api/v1/roles/{role}/members", MANAGERS),
    ("DELETE", "/api/v1/roles/{role}/members/{staff}", MANAGERS),
    ("GET", "/welcome/staff/not-a-real-invitation", set()),
    ("POST", "/welcome/staff/not-a-real-invitation", set()),
    # families, the LA officer and notification settings (issue 15): no child is linked to anyone in this world, so a
    # child's page and its forms are refused with a 404 to all (tests/scenarios/test_family_portal.py walks them on a
    # real child); a parent's /family says no child is linked yet; each person keeps their own notification settings
    ("GET", "/family", {"parent"}),
    ("GET", "/family/NEST-0142", set()),
    ("POST", "/family/NEST-0142/reminders", set()),
    ("POST", "/family/NEST-0142/feedback", set()),
    ("POST", "/family/NEST-0142/review-request", set()),
    ("GET", "/la", {"la_officer"}),
    ("GET", "/preferences", EVERYONE),
    ("POST", "/preferences", EVERYONE),
    ("GET", "/api/v1/family/children", EVERYONE),  # each sees their own linked children: none here
    ("GET", "/api/v1/family/children/NEST-0142", set()),
    ("PUT", "/api/v1/family/reminders", set()),
    ("POST", "/api/v1/family/children/NEST-0142/feedback", set()),
    ("POST", "/api/v1/family/children/NEST-0142/review-requests", set()),
    ("GET", "/api/v1/la", {"la_officer"}),
    ("GET", "/api/v1/preferences", EVERYONE),
    ("PUT", "/api/v1/preferences", EVERYONE),  # the walk's body is refused (422) after the person is known: their own settings
    # undelivered e-mail (issue 14): managers only; there is no dead message 1 here, so "send again" is refused to all
    ("GET", "/mail/undelivered", MANAGERS),
    ("POST", "/mail/undelivered/1/send-again", set()),
    # registers and whereabouts (issue 15): the provider's Today grid and its missing registers are the provider's
    # (empty here); this world has no placement, so a placement's register and a pupil's whereabouts are refused with a
    # 404 to all (tests/scenarios/test_registers.py and test_whereabouts.py walk them on real placements). The
    # school-wide list is for the school's and LA's staff (empty here), never providers or families.
    ("GET", "/registers", {"provider"}),
    ("POST", "/registers", {"provider"}),
    ("GET", "/api/v1/registers", {"provider"}),
    ("POST", "/api/v1/registers", {"provider"}),
    ("GET", "/api/v1/registers/missing", {"provider"}),
    ("GET", "/placements/{instance}/register", set()),
    ("POST", "/placements/{instance}/register", set()),
    ("GET", "/api/v1/placements/1/register", set()),
    ("POST", "/api/v1/placements/1/register/codes", set()),
    ("GET", "/whereabouts", WHEREABOUTS),
    ("GET", "/api/v1/whereabouts", WHEREABOUTS),
    ("GET", "/pupils/NEST-0142/whereabouts", set()),
    ("GET", "/api/v1/pupils/NEST-0142/whereabouts", set()),
    # lessons (issue 15: R63, R72, R115): the provider's staff have a sessions page (empty here); this world has no
    # placement row, so every placement's lessons, reports, materials and pupil views are refused with a 404 to all;
    # tests/scenarios/test_lesson_reports.py, test_lesson_materials.py and test_pupil_feedback.py walk them on a real one
    ("GET", "/lessons", {"provider"}),
    ("GET", "/lessons/report/1/2026-01-12/09:30", set()),
    ("POST", "/lessons/report/1/2026-01-12/09:30", set()),
    ("GET", "/placements/{instance}/lessons", set()),
    ("POST", "/placements/{instance}/lessons/materials", set()),
    ("POST", "/placements/{instance}/lessons/pupil-views", set()),
    ("POST", "/lessons/materials/1/check", set()),
    ("GET", "/lessons/materials/1/file", set()),
    ("GET", "/api/v1/lessons/today", {"provider"}),
    ("GET", "/api/v1/placements/1/lesson-reports", set()),
    ("POST", "/api/v1/placements/1/lesson-reports", set()),
    ("GET", "/api/v1/placements/1/lesson-materials", set()),
    ("POST", "/api/v1/placements/1/lesson-materials", set()),
    ("POST", "/api/v1/lesson-materials/1/check", set()),
    ("GET", "/api/v1/placements/1/pupil-views", set()),
    ("POST", "/api/v1/placements/1/pupil-views", set()),
    # the provider's own side (issue 15: R12, R14, R24): its staff have a work page and the 'tell the school' page (a
    # notice naming no pupil is refused with a 422 after the person is known); this world has no provider, placement or
    # plan, so the rest are refused with a 404 to all; tests/scenarios/test_provider_side.py walks them on real ones
    ("GET", "/provider", {"provider"}),
    ("GET", "/provider/admission-criteria/1", set()),
    ("POST", "/provider/admission-criteria/1", set()),
    ("GET", "/provider/referrals/1", set()),
    ("POST", "/provider/referrals/1", set()),
    ("GET", "/provider/plans/1/sign-off", set()),
    ("POST", "/provider/plans/1/sign-off", set()),
    ("GET", "/provider/placements/1/effectiveness", set()),
    ("POST", "/provider/placements/1/effectiveness", set()),
    ("GET", "/provider/tell-the-school", {"provider"}),
    ("POST", "/provider/tell-the-school", {"provider"}),
    ("GET", "/api/v1/provider/referrals", EVERYONE),  # each sees the referrals waiting for their own provider: none here
    ("POST", "/api/v1/placements/1/referral-decision", set()),
    ("GET", "/api/v1/providers/1/admission-criteria", set()),
    ("PUT", "/api/v1/providers/1/admission-criteria", set()),
    ("GET", "/api/v1/placements/1/provider-quality", set()),
    ("POST", "/api/v1/plans/1/sign-off", set()),
    ("POST", "/api/v1/placements/1/effectiveness-reports", set()),
    ("POST", "/api/v1/arrangement-notices", {"provider"}),
    # data protection (issue 16: R111): who looked at a pupil and the subject access export need a pupil record, which
    # this world has not, so each is refused with a 404 to all (tests/scenarios/test_read_log.py and
    # test_subject_access.py walk them on real pupils); the retention dry run and deletion log are for managers
    ("GET", "/pupils/NEST-0142/reads", set()),
    ("GET", "/api/v1/pupils/NEST-0142/reads", set()),
    ("GET", "/pupils/NEST-0142/subject-access.zip", set()),
    ("GET", "/api/v1/pupils/NEST-0142/subject-access", set()),
    ("GET", "/retention", MANAGERS),
    ("GET", "/api/v1/retention", MANAGERS),
    # exports (issue 16, part 4): registers as files for the school's coordinators, headteacher and managers and for
    # provider staff (empty here: no placement has started), never families or other staff; the census is the school's:
    # everyone here belongs to the installation's own organisation, a school (issue 17), so its coordinators,
    # headteacher and managers return it. tests/scenarios/test_register_exports.py and test_census_export.py walk them
    # on real placements, schools and providers.
    ("GET", "/exports", EXPORTERS),
    ("GET", "/exports/registers.csv", EXPORTERS),
    ("GET", "/exports/registers.xlsx", EXPORTERS),
    ("GET", "/api/v1/exports/registers", EXPORTERS),
    ("GET", "/exports/census", CENSUS),
    ("POST", "/exports/census", CENSUS),
    ("GET", "/exports/census.csv", CENSUS),
    ("GET", "/api/v1/census", CENSUS),
    ("GET", "/api/v1/census.csv", CENSUS),
    # trends (issue 16: R112): the school's and LA's staff, each over the placements their organisations commissioned
    # (tests/scenarios/test_trends.py proves the figures and who sees whose); providers and families get a 404
    ("GET", "/trends", WHEREABOUTS),
    ("GET", "/trends/attendance.csv", WHEREABOUTS),
    ("GET", "/trends/no-such-table.csv", set()),
    ("GET", "/api/v1/trends", WHEREABOUTS),
    # provider compliance documents (issue 16: R25): this world has no provider, so each is refused with a 404 to all;
    # tests/scenarios/test_compliance_documents.py walks them on real providers (another school, another provider: 404)
    ("GET", "/providers/1/compliance", set()),
    ("POST", "/providers/1/compliance", set()),
    ("POST", "/providers/1/compliance/1/decision", set()),
    ("GET", "/providers/1/compliance/1/file", set()),
    ("GET", "/api/v1/providers/1/compliance", set()),
    ("POST", "/api/v1/providers/1/compliance", set()),
    ("POST", "/api/v1/providers/1/compliance/1/decision", set()),
    # exams, destination checks, the governors' report and the policy review (issue 16: R15, R101, R110, R113, R114): the
    # report pages and lists are for the school's leaders (a post without a narrative is a 422 once the person is known);
    # this world has no placement, report or review, so each of those is refused with a 404 to all;
    # tests/scenarios/test_qualifications.py, test_governors_report.py and test_policy_review.py walk them on real ones
    ("POST", "/placements/{instance}/qualifications", set()),
    ("POST", "/placements/{instance}/qualifications/1", set()),
    ("GET", "/api/v1/placements/1/qualifications", set()),
    ("POST", "/api/v1/placements/1/qualifications", set()),
    ("PUT", "/api/v1/qualifications/1", set()),
    ("GET", "/governors", GOVERNORS),
    ("POST", "/governors", GOVERNORS),
    ("GET", "/governors/reports/1", set()),
    ("GET", "/governors/reports/1/print", set()),
    ("GET", "/governors/reports/1.pdf", set()),
    ("POST", "/governors/reports/1/presented", set()),
    ("GET", "/policy-reviews/1", set()),
    ("GET", "/policy-reviews/1/feedback", set()),
    ("POST", "/policy-reviews/1/feedback", set()),
    ("GET", "/api/v1/governors/figures", GOVERNORS),
    ("GET", "/api/v1/governors/reports", GOVERNORS),
    ("POST", "/api/v1/governors/reports", GOVERNORS),
    ("GET", "/api/v1/governors/reports/1", set()),
    ("POST", "/api/v1/governors/reports/1/presented", set()),
    ("GET", "/api/v1/policy-reviews", GOVERNORS),
    ("GET", "/api/v1/policy-reviews/1", set()),
    ("POST", "/api/v1/policy-reviews/1/feedback", set()),
    # evidence packs (issue 16, part 2): this world has no placement row and no provider, so each pack is refused with a
    # 404 to all; tests/scenarios/test_evidence_packs.py prints them on real ones (another school, another provider and
    # the family: 404)
    ("GET", "/placements/{instance}/evidence-pack.pdf", set()),
    ("GET", "/providers/1/evidence-pack.pdf", set()),
    # organisations (issue 17): managers; everyone here is in the installation's own organisation ({org}), whose managers
    # add organisations (a post without a name or user is a 422 once the person is known; the coordinator's last
    # organisation is never taken away: 422). tests/security/test_two_organisations.py walks them across two schools.
    ("GET", "/organisations", MANAGERS),
    ("POST", "/organisations", MANAGERS),
    ("GET", "/organisations/{org}", MANAGERS),
    ("POST", "/organisations/{org}/members", MANAGERS),
    ("POST", "/organisations/{org}/members/remove", MANAGERS),
    ("GET", "/api/v1/organisations", MANAGERS),
    ("POST", "/api/v1/organisations", MANAGERS),
    ("GET", "/api/v1/organisations/{org}/members", MANAGERS),
    ("POST", "/api/v1/organisations/{org}/members", MANAGERS),
    ("DELETE", "/api/v1/organisations/{org}/members/{staff}", MANAGERS),
]


@pytest.fixture
def world(core, tmp_path, frozen_clock):
    """One user per role, a triage placement with a coordinator task and an upload, an escalation."""
    from datetime import timedelta

    from apflow.config import ROOT
    from apflow.services import documents

    people = {role: make_user(core, f"u_{role}", role) for role in ROLES}
    custom = roles.create(core, None, "Attendance Officer", ["coordinator"])  # the custom-role persona (issue 17)
    people[CUSTOM] = make_user(core, f"u_{CUSTOM}", "Attendance Officer")
    processes.deploy_paths(core, [ROOT / "bpmn" / "referral_triage.bpmn"], by="test")
    due = tmp_path / "due.bpmn"
    due.write_text(flow_diagram(pid="due", due_in="P1D"))
    processes.deploy_paths(core, [due], by="test")
    calendars.import_csv(core, calendars.DEMO_TERMS.read_text(), by="test")
    started = instances.start_instance(core, people["coordinator"], "referral_triage",
                                       {"pupil_name": "Jordan T.", "pupil_ref": "NEST-0142", "reasons": ["attendance"]})
    [task] = instances.list_ready_tasks(core, people["coordinator"], started["id"])
    doc = documents.upload(core, people["coordinator"], started["id"], None, "kid.pdf", "application/pdf", b"%PDF")
    instances.start_instance(core, people["coordinator"], "due", {})
    frozen_clock.advance(timedelta(days=1, minutes=1))
    deadlines.fire_due_alerts(core)
    [esc] = deadlines.list_escalations(core, people["manager"])
    return {"people": people, "task": task["id"], "instance": started["id"], "doc": doc, "esc": esc["id"], "filter": 999,
            "staff": people["coordinator"].id, "role": custom["id"], "org": min(people["coordinator"].organisation_ids)}


def sign_in(client, role):
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    if role != ANON:
        assert client.post("/login", data={"username": f"u_{role}", "password": PASSWORD, "csrf_token": token}).status_code == 302
    return token


def outcome(client, response) -> str:
    if response.status_code in (401, 403, 404, 405):
        return "refused"
    if response.status_code == 302:
        if "/login" in response.headers["Location"] and response.request.path != "/logout":
            return "refused"
        with client.session_transaction() as session:
            flashes = session.get("_flashes", [])
        return "refused" if any(category == "error" for category, _ in flashes) else "allowed"
    assert response.status_code in (200, 201, 409, 422), (response.status_code, response.get_data(as_text=True)[:300])
    return "allowed"


@pytest.mark.parametrize("role", sorted(ROLES) + [CUSTOM, ANON])
def test_every_route_as_every_role(core, world, role):
    app = create_app(core=core, run_scheduler=False)
    wrong = []
    for method, template, allowed in ROUTES:
        client = app.test_client()
        token = sign_in(client, role)
        path = template.format(**{k: world[k] for k in ("task", "instance", "doc", "esc", "filter", "staff", "role", "org")})
        headers = {"X-CSRF-Token": token}
        if path.startswith("/api/v1/"):
            kwargs = {"json": {"data": {}, "files": {"x.bpmn": "<x/>"}, "csv": "kind,name,start,end\n", "task_ids": [], "action": "claim",
                               "username": f"u_{role}", "password": PASSWORD}, "headers": headers}
        else:
            kwargs = {"data": {"csrf_token": token, "name": "walk", "note": "walk", "task": world["task"], "action": "assign", "assignee": "u_coordinator",
                               "username": f"u_{role}", "password": PASSWORD}}
        response = client.open(path, method=method, **kwargs)
        got = outcome(client, response)
        expected = "allowed" if CARRIES.get(role, role) in allowed else "refused"
        if got != expected:
            wrong.append(f"{method} {template} as {role}: {got} ({response.status_code}), expected {expected}")
    assert not wrong, "\n".join(wrong)


def test_the_walk_covers_every_route(core):
    app = create_app(core=core, run_scheduler=False)
    examples = [(m, re.sub(r"\{\w+\}", "1", t)) for m, t, _ in ROUTES]
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        pattern = re.sub(r"<path:\w+>", ".+", re.sub(r"<(?:(?!path)\w+:)?\w+>", "[^/]+", rule.rule))
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if not any(m == method and re.fullmatch(pattern, path) for m, path in examples):
                missing.append(f"{method} {rule.rule}")
    assert not missing, missing
