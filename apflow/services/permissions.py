"""The one permission check. Every page, API endpoint and CLI action asks here.

Who sees what:
- Roles come from BPMN lanes: staff see and work the tasks of their roles' lanes.
- Parents and pupils see only what is assigned to them (never every task of their role).
- People who belong to organisations see only placements of those organisations: the
  commissioning school or LA, or the provider delivering the placement (provider staff).
  Everyone belongs to at least one organisation (issue 17: a single-school install has its own, the default one);
  someone who somehow belongs to none sees nothing, never everything.
- Managers see everything in their scope but complete only tasks of roles they hold.
"""
from __future__ import annotations

from sqlalchemy import and_, exists, false, or_, select, true
from sqlalchemy.orm import object_session

from apflow.clock import clock
from apflow.errors import Forbidden
from apflow.placements.models import CpAccessGrant, Placement, Pupil, PupilContact
from apflow.roles import SAFEGUARDING_ROLES, Catalogue, role_for_lane, role_title, with_cover
from apflow.store.models import HumanTask, Instance, Organisation, ProcessVersion, User
from apflow.store.outbox import installation_organisation

MANAGER = "manager"
EXTERNAL_ROLES = {"parent", "pupil"}
MANAGER_ACTIONS = {"process.deploy", "instance.retry", "calendar.edit", "task.bulk"}
DASHBOARD_ROLES = {MANAGER, "headteacher", "coordinator"}  # the deadlines dashboard, scoped to their organisations


def is_manager(user: User) -> bool:
    return MANAGER in user.role_names


def staff_roles(user: User) -> set[str]:
    """The staff roles whose tasks this person works, including those their roles cover (a deputy DSL the DSL's)."""
    return with_cover(user.role_names - EXTERNAL_ROLES)


def start_role(version: ProcessVersion) -> str | None:
    return role_for_lane(version.start_lane)


def _holds_lane(user: User, lane: str | None) -> bool:
    """Whether a lane names one of the custom roles this person holds (loaded with them: no query)."""
    return bool(lane) and any(held.custom_role_id is not None and held.custom is not None
                              and Catalogue(((held.custom.key, held.custom.title),)).resolve(lane) for held in user.roles)


def in_scope(user: User, instance: Instance) -> bool:
    orgs = user.organisation_ids
    if not orgs:
        return False  # nobody outside every organisation sees anything (issue 17)
    return instance.organisation_id in orgs or instance.provider_organisation_id in orgs


def can(user: User, action: str, target=None, session=None) -> bool:
    roles = user.role_names
    if action == "process.list":
        return True
    # -- organisations (issue 17) ------------------------------------------------------------------------------------
    if action == "organisations.view":  # the organisations page at all: managers
        return MANAGER in roles
    if action == "organisations.add":  # add a school, LA or provider: managers of the installation's own organisation
        return MANAGER in roles and _in_default_organisation(session, user)
    if action == "organisations.members":  # target: an Organisation; put the staff they manage in or out: its own managers,
        return MANAGER in roles and target is not None and (  # and the installation's (who add its first manager)
            target.id in user.organisation_ids or _in_default_organisation(session, user))
    if action == "process.edit":  # target: the id of the organisation owning the process, None for a new one
        return MANAGER in roles and bool(user.organisation_ids) and (target is None or target in user.organisation_ids)
    if action == "instance.retry":  # target: the Instance, or None for whether the person retries at all
        return MANAGER in roles and (target is None or in_scope(user, target))
    if action in MANAGER_ACTIONS:
        return MANAGER in roles
    if action == "dashboard.view":
        return bool(roles & DASHBOARD_ROLES)
    if action == "instance.start":  # target: the ProcessVersion; its owner's people, or anyone's for a shared process
        if not _may_use_process(user, target):
            return False
        role = start_role(target)
        if role is None and _holds_lane(user, target.start_lane):  # a start lane named after a custom role they hold
            return True
        return (role in roles) if role else (MANAGER in roles or "coordinator" in roles)
    if action == "task.view":
        if target.assignee_id == user.id or target.completed_by == user.id or target.owner_id == user.id:
            return True
        return _task_in_scope(user, target, session) and (MANAGER in roles or target.role in staff_roles(user)
                                                           or (target.role in EXTERNAL_ROLES and bool(staff_roles(user) & FAMILY_STAFF)))
    if action == "task.complete":
        if target.assignee_id is not None:
            return target.assignee_id == user.id
        return target.role in staff_roles(user) and _task_in_scope(user, target, session)
    if action == "task.claim":
        return target.assignee_id is None and target.role in staff_roles(user) and _task_in_scope(user, target, session)
    if action == "task.unclaim":
        return target.assignee_id is not None and (target.assignee_id == user.id or (MANAGER in roles and _task_in_scope(user, target, session)))
    if action == "task.assign":
        return _task_in_scope(user, target, session) and (MANAGER in roles or target.assignee_id == user.id
                                                           or (target.assignee_id is None and target.role in staff_roles(user)))
    if action == "task.take_back":
        return target.owner_id == user.id and target.assignee_id != user.id
    if action == "instance.view":
        if target.started_by == user.id:
            return True
        if not in_scope(user, target):
            return _assigned_in(session, user, target.id)
        if MANAGER in roles:
            return True
        return bool(session.scalar(select(exists().where(
            HumanTask.instance_id == target.id,
            or_(HumanTask.role.in_(staff_roles(user)), HumanTask.assignee_id == user.id, HumanTask.completed_by == user.id),
        ))))
    # -- placement records (apflow/placements) -------------------------------------------------
    if action == "placement.view":  # target: a Placement; staff in scope, or whoever may view its workflow
        instance = session.get(Instance, target.instance_id) if target.instance_id else None
        if instance is not None and can(user, "instance.view", instance, session):
            return True
        return bool(staff_roles(user) & PLACEMENT_STAFF) and (instance is None or in_scope(user, instance))
    if action == "cp.view":  # target: a pupil id; child-protection detail (R81): the pupil's DSLs and whom they grant
        return _safeguards(session, user, target) or _cp_granted(session, user, target)
    if action == "cp.grant":
        return _safeguards(session, user, target)
    # -- a pupil's family (R7, R13): the pupil's own school -----------------------------------------
    if action == "family.view":  # target: a pupil id
        return bool(staff_roles(user) & (PLACEMENT_STAFF - {"la_officer"})) and _pupils_school(session, user, target)
    if action == "family.child":  # target: a pupil id; a parent or carer the school linked to the pupil (issue 15)
        return "parent" in roles and user.active and _linked_family_by_id(session, user, target)
    if action == "family.edit":  # add, link, invite or remove a parent or carer
        return bool(staff_roles(user) & FAMILY_STAFF) and _pupils_school(session, user, target)
    # -- the professionals involved with a pupil (R13): the pupil's own school ---------------------------------
    if action in ("professionals.view", "professionals.edit"):  # target: a pupil id; add, remove, record what they were told
        return bool(staff_roles(user) & PROFESSIONALS_STAFF) and _pupils_school(session, user, target)
    if action == "task.record_for_family":  # target: a ready family task; the school records a paper answer
        instance = session.get(Instance, target.instance_id)
        return (target.state == "ready" and target.role in EXTERNAL_ROLES and bool(staff_roles(user) & FAMILY_STAFF)
                and instance.organisation_id in user.organisation_ids)
    # -- lessons (issue 15: R63, R72, R115); target: a Placement ---------------------------------------
    if action == "lessons.teach":  # the delivering provider's staff write lesson reports and share materials
        return "provider" in staff_roles(user) and _delivers(session, user, target)
    if action == "lessons.check":  # the commissioning school checks shared materials before parents see them (R63)
        return bool(staff_roles(user) & LESSON_CHECKERS) and _commissions(session, user, target)
    if action == "pupil_views.record":  # staff record a pupil's views from a discussion or adapted questionnaire (R115)
        return can(user, "lessons.teach", target, session) or (
            bool(staff_roles(user) & PUPIL_VIEW_STAFF) and _commissions(session, user, target))
    # -- the provider's own side (issue 15: R12, R14, R24); target: a Placement --------------------------
    if action == "provider.act":  # the delivering provider's staff decide on the referral, check plans, report, tell the school
        return "provider" in staff_roles(user) and target.provider_id is not None and _delivers(session, user, target)
    if action == "provider.read":  # what the provider decided and reported: staff of the school or of the provider, not families
        if staff_roles(user) == {"provider"}:  # a provider's staff, only while their provider has the placement
            return can(user, "provider.act", target, session) and can(user, "placement.view", target, session)
        return bool(staff_roles(user)) and can(user, "placement.view", target, session)
    # -- staff accounts: managers, for the staff of their own organisations ---------------------------
    if action == "people.manage":  # target: None (the people page at all), or a User to change
        if MANAGER not in roles or not user.organisation_ids:
            return False
        if target is None:
            return True
        if target.role_names & EXTERNAL_ROLES or not target.organisation_ids & user.organisation_ids:
            return False
        # roles hold in every organisation a person works for, so someone who also works elsewhere is managed by the
        # managers of all their organisations, or by the installation's own (never by one other organisation alone)
        return target.organisation_ids <= user.organisation_ids or _in_default_organisation(session, user)
    if action == "roles.manage":  # target: None (the roles page at all), or the organisation id whose custom roles change
        return MANAGER in roles and (target is None or target in user.organisation_ids)
    # -- registers and where the pupil is (issue 15: R62, R71, R79) ----------------------------------------------------
    if action == "register.mark":  # target: a Placement; the staff of the provider delivering it report attendance
        return "provider" in staff_roles(user) and _delivers(session, user, target)
    if action == "register.view":  # target: a Placement; its provider's staff, and the school's staff
        return can(user, "register.mark", target, session) or can(user, "whereabouts.view", target, session)
    if action == "register.code":  # target: a Placement; the school codes what the provider reports, follows up absences
        return bool(staff_roles(user) & REGISTER_STAFF) and _commissions(session, user, target)
    if action == "whereabouts.view":  # target: a Placement, or None for whether the person has a school-wide list at all
        return bool(staff_roles(user) & PLACEMENT_STAFF) and (target is None or _commissions(session, user, target))
    # -- evidence packs (issue 16): a PDF for an Ofsted or LA visit ------------------------------------------------------
    if action == "evidence.placement":  # target: a Placement; its school's staff, and its provider's while it delivers it,
        instance = session.get(Instance, target.instance_id) if target.instance_id else None  # who may read its file
        return (instance is not None and can(user, "provider.read", target, session)  # never families: it is for inspectors
                and can(user, "instance.view", instance, session))
    if action == "evidence.provider":  # target: None; whoever reads provider records (staff); pupils listed are filtered apart
        return bool(staff_roles(user))
    # -- data protection (issue 16, part 5: R111) -------------------------------------------------------------------------
    if action in ("reads.view", "subject_access.export"):  # target: a pupil id; the pupil's school's managers and DSLs
        return bool(staff_roles(user) & DATA_PROTECTION_STAFF) and _pupils_school(session, user, target)
    if action == "retention.view":  # the retention dry run and deletion log: managers, for their own schools' pupils
        return MANAGER in roles
    # -- provider compliance documents (issue 16: R25); target: a Provider -------------------------------------------
    if action == "compliance.view":  # the commissioning side working with the provider, and the provider's own staff
        return ((bool(staff_roles(user) & PLACEMENT_STAFF) and _works_with_provider(session, user, target))
                or can(user, "compliance.submit", target, session))
    if action == "compliance.keep":  # record, accept or reject documents: the commissioning side's managers and coordinators
        return bool(staff_roles(user) & COMPLIANCE_KEEPERS) and _works_with_provider(session, user, target)
    if action == "compliance.submit":  # upload a renewal for the school to accept: the provider's own staff
        return "provider" in staff_roles(user) and _is_providers_staff(session, user, target)
    # -- outcomes, governors' reports and the annual policy review (issue 16: R15, R101, R110, R113, R114) -----------
    if action == "outcomes.view":  # target: a Placement; its exam entries and destination checks: school staff, its provider
        return ((bool(staff_roles(user) & PLACEMENT_STAFF) and _commissions(session, user, target))
                or ("provider" in staff_roles(user) and _delivers(session, user, target)))
    if action == "outcomes.record":  # target: a Placement; the school's staff or the provider delivering it enter exams
        return ((bool(staff_roles(user) & OUTCOME_STAFF) and _commissions(session, user, target))
                or ("provider" in staff_roles(user) and _delivers(session, user, target)))
    if action == "governors.report":  # target: None; the termly report and the annual review, for the school's leaders
        return bool(staff_roles(user) & GOVERNORS_STAFF)
    if action == "policy_review.feedback":  # target: the review's organisation id; its own staff give feedback
        return bool(staff_roles(user) - {"provider", "la_officer"}) and target in user.organisation_ids
    # -- exports (issue 16, part 4): registers as CSV/XLSX, the school census AP return -------------------------------------
    if action == "register.export":  # target: a Placement; the commissioning school's coordinators, headteacher and
        return can(user, "register.code", target, session) or can(user, "register.mark", target, session)  # managers; its provider
    if action == "census.return":  # target: an Organisation (a school), or None for whether the person returns a census at all
        if not staff_roles(user) & EXPORT_STAFF:
            return False
        return target is None or (target.kind == "school" and target.id in user.organisation_ids)
    # -- trends across placements (issue 16: R112); the figures are then limited to commissioned_by(user) -----------
    if action == "trends.view":
        return bool(staff_roles(user) & PLACEMENT_STAFF)
    raise ValueError(f"unknown action {action}")


OUTCOME_STAFF = {"coordinator", "headteacher", "senco", "manager"}  # record exam entries and results (R15)
GOVERNORS_STAFF = {"coordinator", "headteacher", "manager"}  # the governors' report and the policy review (R114)
PLACEMENT_STAFF = {"coordinator", "headteacher", "dsl", "deputy_dsl", "senco", "la_officer", "manager"}
FAMILY_STAFF = {"coordinator", "headteacher", "manager"}
PROFESSIONALS_STAFF = {"coordinator", "headteacher", "dsl", "deputy_dsl", "senco", "manager"}
REGISTER_STAFF = {"coordinator", "headteacher", "manager"}  # code the provider's marks (R79)
EXPORT_STAFF = REGISTER_STAFF  # export registers of their school's placements and return its census (issue 16)
LESSON_CHECKERS = {"coordinator", "headteacher", "senco", "manager"}
PUPIL_VIEW_STAFF = {"coordinator", "senco", "headteacher", "manager"}
COMPLIANCE_KEEPERS = {"coordinator", "manager"}  # keep a provider's compliance documents (issue 16: R25)
DATA_PROTECTION_STAFF = {"manager", "dsl", "deputy_dsl"}  # who looked at a pupil, subject access (R111, issue 16)


def may_hold(session, person: User, role: str | None, instance: Instance, pupil_ref: str | None = None) -> str | None:
    """Why this person may not hold a task of `role` on `instance`, or None if they may. A family's task (parent,
    pupil) only goes to someone in that role, and a parent's only to a parent or carer the school linked to the
    pupil. Staff must hold the role (or cover it) and work for one of the placement's organisations; a local
    authority's officers work with every school in its area (apflow does not record which), so an LA officer of
    an LA organisation may hold an LA officer's task on any placement."""
    if not person.active:
        return "their account is disabled"
    if role in EXTERNAL_ROLES:
        if role not in person.role_names:
            return f"they are not a {role_title(role).lower()}"
        if role == "parent" and not _linked_family(session, person, pupil_ref):
            return "they are not a parent or carer linked to this pupil"
        return None
    if role is None or role not in staff_roles(person):
        return f"they are not in the {role_title(role or '?')} role"
    if not in_scope(person, instance) and not (role == "la_officer" and _works_for_an_la(session, person)):
        return "they do not work for an organisation on this placement"
    return None


def _linked_family(session, person: User, pupil_ref: str | None) -> bool:
    if not pupil_ref:
        return False
    return bool(session.scalar(select(exists().where(
        PupilContact.user_id == person.id, PupilContact.removed_at.is_(None),
        PupilContact.pupil_id.in_(select(Pupil.id).where(Pupil.ref == str(pupil_ref)))))))


def _linked_family_by_id(session, person: User, pupil_id: int | None) -> bool:
    return pupil_id is not None and bool(session.scalar(select(exists().where(
        PupilContact.user_id == person.id, PupilContact.removed_at.is_(None), PupilContact.pupil_id == pupil_id))))


def _works_for_an_la(session, person: User) -> bool:
    orgs = person.organisation_ids
    return bool(orgs) and bool(session.scalar(select(exists().where(Organisation.id.in_(orgs), Organisation.kind == "la"))))


def _safeguards(session, user: User, pupil_id: int | None) -> bool:
    """A DSL or deputy DSL of the pupil's own organisation (any, in an install without organisations)."""
    if not (user.role_names & SAFEGUARDING_ROLES):
        return False
    return _pupils_school(session, user, pupil_id)


def _pupils_school(session, user: User, pupil_id: int | None) -> bool:
    """Whether this person works for the pupil's own organisation."""
    orgs = user.organisation_ids
    if not orgs:
        return False
    pupil_org = session.scalar(select(Pupil.organisation_id).where(Pupil.id == pupil_id)) if pupil_id is not None else None
    if pupil_org is not None:
        return pupil_org in orgs
    # a pupil recorded before organisations were set: the organisations that commissioned their placements
    commissioners = set(session.scalars(select(Instance.organisation_id).join(Placement, Placement.instance_id == Instance.id)
                                        .where(Placement.pupil_id == pupil_id, Instance.organisation_id.is_not(None))))
    return bool(commissioners & orgs) if commissioners else False


def _cp_granted(session, user: User, pupil_id: int) -> bool:
    return bool(session.scalar(select(exists().where(
        CpAccessGrant.pupil_id == pupil_id, CpAccessGrant.user_id == user.id, CpAccessGrant.revoked_at.is_(None),
        or_(CpAccessGrant.expires_at.is_(None), CpAccessGrant.expires_at > clock.now())))))


def _task_in_scope(user: User, task: HumanTask, session) -> bool:
    if not user.organisation_ids:
        return False
    return in_scope(user, session.get(Instance, task.instance_id))


def _assigned_in(session, user: User, instance_id: int) -> bool:
    return bool(session.scalar(select(exists().where(
        HumanTask.instance_id == instance_id, or_(HumanTask.assignee_id == user.id, HumanTask.completed_by == user.id)))))


def require(user: User, action: str, target=None, session=None) -> None:
    if can(user, action, target, session):
        return
    raise Forbidden(_refusal(user, action, target))


def _refusal(user: User, action: str, target) -> str:
    if action == "task.complete":
        if target.assignee_id is not None:
            return "This task is assigned to someone else; ask them or a manager to reassign it to you."
        return f"Only members of the {role_title(target.role or '?')} role can complete this task."
    if action == "task.claim":
        if target.assignee_id is not None:
            return "Someone has already claimed this task."
        return f"Only members of the {role_title(target.role or '?')} role can claim this task."
    if action == "task.assign":
        return "Only a manager, or the person holding the task, can hand it to someone else."
    if action == "task.take_back":
        return "You can take back only a task you delegated."
    if action == "instance.start":
        role = start_role(target)
        return f"Only the {role_title(role)} role can start this process." if role else "Only managers and AP Coordinators can start this process."
    if action == "instance.retry" and target is not None and MANAGER in user.role_names:
        return "Only a manager of an organisation working on this placement can run its failed step again."
    if action in MANAGER_ACTIONS:
        return "Only managers can do this."
    if action == "task.record_for_family":
        return ("Only the pupil's school (its AP coordinator, headteacher or a manager) can record a family's answer, "
                "and only while the task waits for it.")
    if action == "people.manage":
        return "Only managers can add and change staff accounts."
    if action == "organisations.view":
        return "Only managers can see the organisations page."
    if action == "organisations.add":
        return ("Only managers of this installation's own organisation can add organisations; ask one of them, or the "
                "operator (`apflow organisations add`).")
    if action in {"cp.view", "cp.grant"}:
        return "Only the pupil's DSLs, and people they grant access, can see child protection records."
    return "You do not have access to this."


def scope_clause(user: User):
    """SQL: the instance a task belongs to is in the user's organisations (false when they have none)."""
    orgs = user.organisation_ids
    if not orgs:
        return false()
    return exists().where(Instance.id == HumanTask.instance_id,
                          or_(Instance.organisation_id.in_(orgs), Instance.provider_organisation_id.in_(orgs)))


def visible_ready_task_branches(user: User) -> list:
    """visible_task_filter for ready tasks, cut into conditions that an index can each return in due
    order (their OR is what the user may see). completed_by is left out: no ready task has one."""
    scope = scope_clause(user)
    branches = [HumanTask.assignee_id == user.id, HumanTask.owner_id == user.id]
    if MANAGER in user.role_names:
        branches.append(scope)
    else:
        branches += [and_(HumanTask.role == role, scope) for role in sorted(staff_roles(user))]
    return branches


def visible_task_filter(user: User):
    """SQL condition selecting the human tasks this user may see."""
    staff = staff_roles(user)
    by_role = true() if MANAGER in user.role_names else (HumanTask.role.in_(staff) if staff else false())
    return or_(HumanTask.assignee_id == user.id, HumanTask.completed_by == user.id, HumanTask.owner_id == user.id,
               and_(by_role, scope_clause(user)))


# -- registers and where the pupil is (issue 15: R62, R71, R79) --------------------------------------------------------

def _delivers(session, user: User, placement: Placement) -> bool:
    """Whether this person works for the provider delivering the placement."""
    orgs = user.organisation_ids
    if not orgs:
        return False
    instance = session.get(Instance, placement.instance_id) if placement.instance_id else None
    return instance is not None and instance.provider_organisation_id in orgs


def _commissions(session, user: User, placement: Placement) -> bool:
    """Whether this person works for the school or LA that commissioned the placement, or the pupil's own school."""
    orgs = user.organisation_ids
    if not orgs:
        return False
    instance = session.get(Instance, placement.instance_id) if placement.instance_id else None
    if instance is not None and instance.organisation_id in orgs:
        return True
    return session.scalar(select(Pupil.organisation_id).where(Pupil.id == placement.pupil_id)) in orgs


def commissioned_by(user: User):
    """SQL over Placement joined to its Instance and Pupil: the placements whose school-side staff this person is."""
    orgs = user.organisation_ids
    if not orgs:
        return false()
    return or_(Instance.organisation_id.in_(orgs), Pupil.organisation_id.in_(orgs))


def delivered_by(user: User):
    """SQL over Placement joined to its Instance: the placements this person's provider delivers."""
    orgs = user.organisation_ids
    if not orgs:
        return false()
    return Instance.provider_organisation_id.in_(orgs)


def exportable_by(user: User):
    """SQL over Placement joined to its Instance and Pupil: the placements whose registers this person may export (issue
    16): the school side's for its coordinators, headteacher and managers, the provider's own pupils for its staff."""
    roles = staff_roles(user)
    branches = ([commissioned_by(user)] if roles & EXPORT_STAFF else []) + ([delivered_by(user)] if "provider" in roles else [])
    return or_(*branches) if branches else false()


# -- provider compliance documents (issue 16: R25) ------------------------------------------------------------------

def _works_with_provider(session, user: User, provider) -> bool:
    """Whether this person works for the school or LA that approved the provider (its approval process's organisation)
    or for one that commissions placements with it; an LA's officers work with every provider in its area. Another
    school's staff, or someone in no organisation: no."""
    orgs = user.organisation_ids
    if not orgs:
        return False
    if provider is None:
        return False
    if _works_for_an_la(session, user):
        return True
    approver = session.scalar(select(Instance.organisation_id).where(Instance.id == provider.instance_id)) if provider.instance_id else None
    if approver in orgs:
        return True
    if provider.instance_id is None and _in_default_organisation(session, user):  # approved before apflow recorded
        return True  # who approved it: on the installation's own register (issue 17)
    return bool(session.scalar(select(exists().where(
        Placement.provider_id == provider.id,
        or_(Placement.instance_id.in_(select(Instance.id).where(Instance.organisation_id.in_(orgs))),
            Placement.pupil_id.in_(select(Pupil.id).where(Pupil.organisation_id.in_(orgs))))))))


def _is_providers_staff(session, user: User, provider) -> bool:
    """Whether this person works for this provider (its organisation of the same name)."""
    orgs = user.organisation_ids
    if not orgs:
        return False
    return provider is not None and bool(session.scalar(select(exists().where(
        Organisation.id.in_(orgs), Organisation.kind == "provider", Organisation.name == provider.name))))


# -- organisations (issue 17) -------------------------------------------------------------------------------------

def _in_default_organisation(session, user: User) -> bool:
    """Whether this person belongs to the installation's own organisation (whose managers add organisations)."""
    return session is not None and installation_organisation(session) in user.organisation_ids


def _may_use_process(user: User, version) -> bool:
    """A process its owner's people start; one owned by the installation's own organisation, anyone (it is shared)."""
    owner = getattr(version, "organisation_id", None)
    if owner is None or owner in user.organisation_ids:
        return owner is not None or bool(user.organisation_ids)
    session = object_session(version)
    return session is not None and owner == installation_organisation(session)
