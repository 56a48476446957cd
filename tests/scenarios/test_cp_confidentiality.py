"""Child-protection detail reaches only those entitled (R81): after a concern is raised and answered with marker text
in every free-text field of the DSL's forms, every GET route of the app (pages and API, exports included), every
in-app notification and every e-mail is read as every person; the markers appear only for the pupil's DSL and the
colleague the DSL granted access. A route whose parameters the walk does not know fails the test, so nothing ships
unwalked."""
import io
import re
import zipfile
from datetime import datetime, timezone

import pypdf
import pytest
from sqlalchemy import select

from apflow.services import instances, users
from apflow.services import safeguarding as concerns
from apflow.store.models import Document, HumanTask, Instance, Notification, Organisation, OutboxEmail, User
from apflow.web import create_app
from tests.scenarios.conftest import Lifecycle, answers, seed_approved_provider
from tests.support import PASSWORD

MARK = "ZQX"  # every marker starts with this; nothing else in the product does
SCHOOL, OTHER_SCHOOL, LA, OTHER_PROVIDER = "The Nest School", "Hilltop School", "Northshire County Council", "Greenfield Farm"
PEOPLE = [  # username, role, organisation
    ("coord", "coordinator", SCHOOL), ("head", "headteacher", SCHOOL), ("dsl", "dsl", SCHOOL), ("senco", "senco", SCHOOL),
    ("boss", "manager", SCHOOL), ("granted", "senco", SCHOOL), ("tutor", "provider", "Bridges Learning"),
    ("farmer", "provider", OTHER_PROVIDER), ("la1", "la_officer", LA), ("parent1", "parent", None), ("parent2", "parent", None),
    ("pupil1", "pupil", None), ("otherdsl", "dsl", OTHER_SCHOOL), ("otherdeputy", "deputy_dsl", OTHER_SCHOOL),
]
ENTITLED = {"dsl", "granted"}


def _marked(schema: dict, base: dict) -> dict:
    """The usual answers, with every free-text field carrying a marker naming it."""
    result = dict(base)
    for key, prop in schema.get("properties", {}).items():
        if prop.get("type") == "string" and "enum" not in prop and "format" not in prop:
            result[key] = f"{MARK}-{key}-" + "x" * max(0, prop.get("minLength", 0))
    return result


@pytest.fixture
def answered(core, terms, lifecycle_deployed, frozen_clock):
    for name, kind in [(SCHOOL, "school"), (OTHER_SCHOOL, "school"), (LA, "la"), (OTHER_PROVIDER, "provider")]:
        users.ensure_organisation(core, name, kind)
    seed_approved_provider(core)
    people = {name: users.create_user(core, name, PASSWORD, [role], email=f"{name}@example.test", organisations=[org] if org else [])
              for name, role, org in PEOPLE}
    by_role = {role: people[name] for name, role, _ in PEOPLE if name in ("coord", "head", "dsl", "senco", "boss", "tutor", "la1",
                                                                            "parent1", "pupil1")}
    life = Lifecycle(core, by_role, frozen_clock)
    frozen_clock.freeze(datetime(2026, 1, 12, 10, 0, tzinfo=timezone.utc))
    iid = life.active_placement()
    life.to_running(iid)
    pid = life.placement_id(iid)
    raised = concerns.raise_concern(core, people["tutor"], pid, "Worried about the pupil's welfare today.",
                                    detail=f"{MARK}-detail: bruises on his arm", child_protection=True)
    assert raised["error"] is None
    worked = 0
    while True:  # every task of the DSL's lanes, on whichever instance holds it, answered with markers
        ready = [t for t in instances.list_ready_tasks(core, people["boss"]) if t["role"] in ("dsl", "deputy_dsl")]
        if not ready:
            break
        task = ready[0]
        form = instances.get_task(core, people["dsl"], task["id"])["form"]
        schema_name = _form_file(core, task["id"])
        instances.complete_task(core, people["dsl"], task["id"], _marked(form["schema"], answers(schema_name)))
        worked += 1
        assert worked < 10
    assert worked >= 1
    pupil_id = _pupil_id(core, pid)
    concerns.grant_cp_access(core, people["dsl"], pupil_id, "granted", "Chairs the strategy meeting.")
    return core, people, life, iid, pid


def _form_file(core, task_id) -> str:
    with core.db.session(readonly=True) as s:
        return s.get(HumanTask, task_id).form_schema.replace(".schema.json", "")


def _pupil_id(core, pid):
    from apflow.placements.models import Placement

    with core.db.session(readonly=True) as s:
        return s.get(Placement, pid).pupil_id


MONDAY_DAY = "2026-01-12"


def _values(core, pid, pupil_ref):
    """Every value a route parameter can take in this world."""
    from apflow.placements.models import (
        ComplianceDocument,
        Concern,
        CpAccessGrant,
        GovernorsReport,
        LessonMaterial,
        Plan,
        PolicyReview,
        Provider,
    )

    with core.db.session(readonly=True) as s:
        return {
            "instance_id": [str(i) for i in s.scalars(select(Instance.id))],
            "task_id": list(s.scalars(select(HumanTask.id))),
            "document_id": [str(i) for i in s.scalars(select(Document.id))],
            "ref": [pupil_ref], "pupil_ref": [pupil_ref],
            "placement_id": [str(pid)], "concern_id": [str(i) for i in s.scalars(select(Concern.id))],
            "grant_id": [str(i) for i in s.scalars(select(CpAccessGrant.id))],
            "process_id": ["placement", "safeguarding_concern"], "version": ["1"], "name": ["concern_response.schema.json"],
            "filename": ["pico.min.css"], "escalation_id": [], "filter_id": [], "token": ["not-a-real-invitation"],
            "provider_id": [str(i) for i in s.scalars(select(Provider.id))],
            "material_id": [str(i) for i in s.scalars(select(LessonMaterial.id))], "plan_id": [str(i) for i in s.scalars(select(Plan.id))],
            "day": [MONDAY_DAY], "starts": ["09:00"],
            "key": ["attendance", "progress", "engagement", "destinations", "qualifications", "orders", "providers"], "fmt": ["csv", "xlsx"],
            "compliance_id": [str(i) for i in s.scalars(select(ComplianceDocument.id))],
            "report_id": [str(i) for i in s.scalars(select(GovernorsReport.id))],
            "review_id": [str(i) for i in s.scalars(select(PolicyReview.id))],
            "organisation_id": [str(i) for i in s.scalars(select(Organisation.id))],  # its members: staff, no pupil data
        }


def _paths(app, values) -> list[str]:
    paths, unknown = [], []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static" or rule.rule.startswith("/vendor"):
            continue
        names = list(rule.arguments)
        if any(n not in values for n in names):
            unknown.append(rule.rule)
            continue
        combos = [{}]
        for n in names:
            combos = [{**c, n: v} for c in combos for v in values[n]]
        for combo in combos:
            path = rule.rule
            for n, v in combo.items():
                path = re.sub(rf"<(?:\w+:)?{n}>", v, path)
            paths.append(path)
    assert not unknown, f"routes the confidentiality walk does not know how to fill: {unknown}"
    return paths


def _readable(response) -> str:
    """What a reader can read in a response: text as it is; the files inside a ZIP (an XLSX is one) and the text of a
    PDF, so an export, a subject access export or an evidence pack is searched like a page."""
    data = response.get_data()
    if data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "\n".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())
    if data[:5] == b"%PDF-":
        return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)
    return data.decode("utf-8", "replace")


def test_R81_child_protection_markers_reach_only_the_pupils_dsl_and_the_colleague_granted(answered):
    core, people, life, iid, pid = answered
    app = create_app(core=core, run_scheduler=False)
    paths = _paths(app, _values(core, pid, "P-0001"))
    seen_by = {}
    for name in people:
        client = app.test_client()
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
        assert client.post("/login", data={"username": name, "password": PASSWORD, "csrf_token": token}).status_code == 302
        leaks = []
        for path in paths:
            body = _readable(client.get(path))
            if MARK in body:
                leaks.append(path)
        seen_by[name] = leaks
    for name, leaks in seen_by.items():
        if name not in ENTITLED:
            assert leaks == [], f"{name} reads child-protection detail at {leaks}"
    for name in ENTITLED:
        assert seen_by[name], f"{name} is entitled but no page shows them the child-protection file"


def test_R81_no_notification_or_email_carries_child_protection_detail_or_goes_to_another_school(answered):
    core, people, *_ = answered
    with core.db.session(readonly=True) as s:
        messages = [(s.get(User, n.user_id).username, n.message) for n in s.scalars(select(Notification))]
        mails = [(m.to_address, m.subject + "\n" + m.body) for m in s.scalars(select(OutboxEmail))]
    assert not [m for m in messages if MARK in m[1]] and not [m for m in mails if MARK in m[1]]
    assert not [m for m in mails if "Jordan" in m[1] and ("concern" in m[1].lower())], "a concern e-mail names the pupil"
    outsiders = {"otherdsl", "otherdeputy", "farmer", "parent2"}
    assert not [m for m in messages if m[0] in outsiders]
    assert not [m for m in mails if m[0].split("@")[0] in outsiders]
    assert any(who == "dsl" for who, _ in messages)  # the pupil's own DSL was told


def test_R81_restricted_answers_are_not_in_any_instance_state(answered):
    core, *_ = answered
    with core.db.session(readonly=True) as s:
        found = {instance.process_id: _where(instance.state) for instance in s.scalars(select(Instance))}
    assert not any(found.values()), found


def _where(value, path="") -> list[str]:
    """The paths in a stored workflow state where a marker sits."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _where(v, f"{path}/{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _where(v, f"{path}[{i}]")]
    return [path] if MARK in str(value) else []
