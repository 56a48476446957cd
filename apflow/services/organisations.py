"""Organisations (issue 17): one installation serves an LA, its schools and its providers.

Every person belongs to at least one organisation and sees only the placements of the organisations they belong to.
The installation has its own organisation (Organisation.is_default: a single-school install's school): people added
without an organisation join it, and the processes it owns are shared with every organisation of the installation.
Managers of the installation's own organisation add organisations; a manager adds and removes people only in the
organisations they belong to; a person's last organisation cannot be taken away.
"""
from __future__ import annotations

from sqlalchemy import func, select

from apflow.config import organisation_name
from apflow.errors import Forbidden, Invalid, NotFound
from apflow.store.models import Organisation, User, UserOrganisation

from . import permissions
from .core import Core

KINDS = {"school": "School", "la": "Local authority", "provider": "Provider"}


def default_organisation(session) -> Organisation:
    """The installation's own organisation; made (a school named by APFLOW_ORGANISATION_NAME) if there is none yet."""
    found = session.scalar(select(Organisation).where(Organisation.is_default.is_(True)).order_by(Organisation.id).limit(1))
    if found is not None:
        return found
    name = organisation_name()
    found = session.scalar(select(Organisation).where(Organisation.name == name))
    if found is None:
        found = Organisation(name=name, kind="school")
        session.add(found)
    found.is_default = True
    session.flush()
    return found


def default_organisation_id(session) -> int:
    return default_organisation(session).id


def home_organisation_id(session, user: User | None) -> int:
    """The organisation something this person starts or deploys for the first time belongs to: the installation's own
    when they belong to it (or nobody in particular acts: the CLI, the demo, a daily check), else their first one."""
    orgs = sorted(user.organisation_ids) if user is not None else []
    if len(orgs) == 1:  # their one organisation, whether it is the installation's own or not
        return orgs[0]
    default = default_organisation_id(session)
    return default if not orgs or default in orgs else orgs[0]


def _row(org: Organisation, members: int | None = None) -> dict:
    row = {"id": org.id, "name": org.name, "kind": org.kind, "kind_title": KINDS.get(org.kind, org.kind),
           "is_default": bool(org.is_default)}
    if members is not None:
        row["members"] = members
    return row


def list_organisations(core: Core, user: User) -> dict:
    """The installation's organisations, for a manager: which are theirs, and whether they may add one."""
    permissions.require(user, "organisations.view")
    with core.db.session(readonly=True) as session:
        counts = dict(session.execute(select(UserOrganisation.organisation_id, func.count())
                                      .group_by(UserOrganisation.organisation_id)).all())
        rows = []
        for org in session.scalars(select(Organisation).order_by(Organisation.name)):
            row = _row(org, counts.get(org.id, 0))
            row["mine"] = org.id in user.organisation_ids
            row["manage_members"] = permissions.can(user, "organisations.members", org, session)
            rows.append(row)
        return {"organisations": rows, "kinds": [{"slug": k, "title": t} for k, t in KINDS.items()],
                "can_add": permissions.can(user, "organisations.add", session=session)}


def _checked(name, kind) -> tuple[str, str]:
    name, kind = " ".join(str(name or "").split()), str(kind or "").strip()
    errors = {}
    if not 1 <= len(name) <= 200:
        errors["name"] = ["Give the organisation's name (1 to 200 characters), as people know it."]
    if kind not in KINDS:
        errors["kind"] = [f"Choose what kind of organisation it is: {', '.join(KINDS)} ({', '.join(KINDS.values()).lower()})."]
    if errors:
        raise Invalid("Some details need correcting; no organisation was added.", {"fields": errors})
    return name, kind


def _add(session, name: str, kind: str) -> Organisation:
    if session.scalar(select(Organisation.id).where(func.lower(Organisation.name) == name.lower())) is not None:
        raise Invalid(f"There is already an organisation called {name}; choose another name.",
                      {"fields": {"name": ["Already used by another organisation."]}})
    org = Organisation(name=name, kind=kind, is_default=False)
    session.add(org)
    session.flush()
    return org


def add_organisation(core: Core, user: User, name, kind) -> dict:
    """A new school, LA or provider, added by a manager of the installation's own organisation."""
    with core.db.session() as session:
        permissions.require(user, "organisations.add", session=session)
        name, kind = _checked(name, kind)
        return _row(_add(session, name, kind), 0)


def add_organisation_as_operator(core: Core, name, kind) -> dict:
    """The CLI's `apflow organisations add`: whoever runs commands on the server is the installation's operator."""
    name, kind = _checked(name, kind)
    with core.db.session() as session:
        default_organisation(session)  # the installation's own exists before any other
        return _row(_add(session, name, kind), 0)


def all_organisations(core: Core) -> list[dict]:
    """Every organisation, for the operator (`apflow organisations list`)."""
    with core.db.session() as session:
        default_organisation(session)
        counts = dict(session.execute(select(UserOrganisation.organisation_id, func.count())
                                      .group_by(UserOrganisation.organisation_id)).all())
        return [_row(org, counts.get(org.id, 0)) for org in session.scalars(select(Organisation).order_by(Organisation.name))]


def name_default(core: Core, name: str, kind: str) -> None:
    """Give the installation's own organisation this name and kind, unless another organisation has the name already
    (the demo calls its school this way, so people it adds with no organisation are that school's)."""
    with core.db.session() as session:
        org = default_organisation(session)
        if org.name != name and session.scalar(select(Organisation.id).where(Organisation.name == name)) is None:
            org.name, org.kind = name, kind


# -- members ----------------------------------------------------------------------------------------------------------

def _managed(session, user: User, organisation_id: int) -> Organisation:
    org = session.get(Organisation, organisation_id)
    if org is None or not permissions.can(user, "organisations.members", org, session):
        raise NotFound("There is no organisation with that id among those you manage.")
    return org


def _person(session, user: User, user_id) -> User:
    if not isinstance(user_id, int) or isinstance(user_id, bool):
        raise Invalid("Say who: send `user_id`, the id of a member of staff you manage (a whole number, from GET "
                      "/api/v1/people).", {"fields": {"user_id": ["A whole number."]}})
    person = session.get(User, user_id)
    if person is None or not permissions.can(user, "people.manage", person, session):
        raise NotFound("There is no member of staff with that id among the people you manage.")
    return person


def members(core: Core, user: User, organisation_id: int) -> dict:
    """The people of one of the manager's organisations."""
    with core.db.session(readonly=True) as session:
        org = _managed(session, user, organisation_id)
        people = session.scalars(select(User).join(UserOrganisation, UserOrganisation.user_id == User.id)
                                 .where(UserOrganisation.organisation_id == org.id).order_by(User.display_name, User.username))
        people = list(people)
        inside = {p.id for p in people}
        colleagues = session.scalars(select(User).where(User.id.in_(select(UserOrganisation.user_id).where(
            UserOrganisation.organisation_id.in_(user.organisation_ids)))).order_by(User.display_name, User.username))
        addable = [p for p in colleagues if p.id not in inside and permissions.can(user, "people.manage", p, session)]
        return {**_row(org),
                "members": [{"id": p.id, "username": p.username, "display_name": p.display_name, "roles": sorted(p.role_names),
                             "organisations": len(p.organisation_ids)} for p in people],
                "may_add": [{"id": p.id, "username": p.username, "display_name": p.display_name} for p in addable]}


def add_member(core: Core, user: User, organisation_id: int, user_id: int) -> dict:
    """Put a member of staff the manager manages into another of the manager's organisations."""
    with core.db.session() as session:
        org = _managed(session, user, organisation_id)
        person = _person(session, user, user_id)
        if org.id not in person.organisation_ids:
            person.memberships.append(UserOrganisation(organisation_id=org.id))
            session.flush()
        return {"organisation": _row(org), "user_id": person.id, "organisations": sorted(person.organisation_ids)}


def remove_member(core: Core, user: User, organisation_id: int, user_id: int) -> dict:
    """Take someone out of one of the manager's organisations; never their last one (everyone belongs somewhere)."""
    with core.db.session() as session:
        org = _managed(session, user, organisation_id)
        person = _person(session, user, user_id)
        if org.id not in person.organisation_ids:
            raise Invalid(f"{person.display_name or person.username} is not a member of {org.name}.")
        if len(person.organisation_ids) == 1:
            raise Invalid(f"{person.display_name or person.username} belongs to no other organisation, and everyone must "
                          f"belong to one. Add them to their new organisation first, or disable their account instead.")
        if person.id == user.id:
            raise Forbidden("You cannot take yourself out of an organisation; ask another of its managers.")
        for membership in [m for m in person.memberships if m.organisation_id == org.id]:
            person.memberships.remove(membership)
        session.flush()
        return {"organisation": _row(org), "user_id": person.id, "organisations": sorted(person.organisation_ids)}
