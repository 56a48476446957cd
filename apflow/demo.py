"""Demo organisation, people and work, so a newcomer can sign in and see real tasks in every inbox.

Every demo user's password is DEMO_PASSWORD (documented in the README). Never load this into a
database real pupils' data lives in.
"""
from __future__ import annotations

from sqlalchemy import select

from apflow.engine.problems import InvalidDiagram
from apflow.services import calendars, instances, processes, users
from apflow.store.models import Instance, Organisation, User

DEMO_PASSWORD = "apflow-demo"

ORGANISATIONS = [
    ("The Nest School", "school"),
    ("Northshire County Council", "la"),
    ("Next Steps Education", "provider"),
]

PEOPLE = [
    ("coordinator", "Priya Shah (AP Coordinator)", ["coordinator"], "The Nest School"),
    ("headteacher", "Daniel Okafor (Headteacher)", ["headteacher"], "The Nest School"),
    ("dsl", "Helen Marsh (DSL)", ["dsl"], "The Nest School"),
    ("senco", "Tom Reilly (SENCo)", ["senco"], "The Nest School"),
    ("provider", "Aisha Begum (Next Steps tutor)", ["provider"], "Next Steps Education"),
    ("laofficer", "Graham Hughes (Education Inclusion Officer)", ["la_officer"], "Northshire County Council"),
    ("parent", "Jo Taylor (parent)", ["parent"], None),
    ("manager", "Sam Carter (AP manager)", ["manager", "coordinator"], "The Nest School"),
]

REFERRALS = [
    {"pupil_name": "Jordan T.", "pupil_ref": "NEST-0142", "reasons": ["attendance"]},
    {"pupil_name": "Mia K.", "pupil_ref": "NEST-0178", "reasons": ["medical", "send"]},
    {"pupil_name": "Leo B.", "pupil_ref": "NEST-0203", "reasons": ["needs_not_met"]},
]


def load_demo(core) -> list[str]:
    said = []
    core.db.upgrade()
    with core.db.session() as s:
        has_calendar = calendars.load(s) is not None
    if not has_calendar:
        calendars.import_csv(core, calendars.DEMO_TERMS.read_text(), by="demo")
        said.append("term dates 2025/26 and 2026/27 loaded")
    try:
        for item in processes.deploy_paths(core, [core.settings.bpmn_dir], by="demo", note="demo load"):
            said.append(f"process {item.process_id}: version {item.version}{' (new)' if item.created else ''}")
    except InvalidDiagram as err:
        raise SystemExit("The diagrams in bpmn/ have problems:\n" + "\n".join(str(p) for p in err.problems)) from None
    with core.db.session() as s:
        for name, kind in ORGANISATIONS:
            if s.scalar(select(Organisation).where(Organisation.name == name)) is None:
                s.add(Organisation(name=name, kind=kind))
        s.flush()
        for username, display, roles, org in PEOPLE:
            if users.user_by_name(s, username) is None:
                users.create_user(s, username, DEMO_PASSWORD, roles, display_name=display, organisations=[org] if org else [])
                said.append(f"user {username} ({', '.join(roles)}) password {DEMO_PASSWORD}")
        has_work = s.scalar(select(Instance.id).limit(1)) is not None
        coordinator = users.user_by_name(s, "coordinator")
    if not has_work:
        for data in REFERRALS:
            started = instances.start_instance(core, coordinator, "referral_triage", data)
            said.append(f"referral for {data['pupil_name']}: instance {started['id']}")
    return said
