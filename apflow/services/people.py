"""Staff accounts managed by a manager through the product: add and invite, change roles, disable and enable.

Who may do what is decided in permissions ("people.manage"): managers, for the staff of their own organisations
(every person belongs to at least one: issue 17). Parents and pupils are not staff: they
come from the pupil page (apflow.services.families), never from here. Someone a manager may not manage is "not
found", so whether an account exists elsewhere does not leak.
"""
from __future__ import annotations

import secrets

from sqlalchemy import select

from apflow.clock import clock
from apflow.errors import Invalid, NotFound
from apflow.roles import ROLES, role_title
from apflow.store import outbox
from apflow.store.models import ApiToken, HumanTask, Organisation, User, UserOrganisation, UserRole

from . import permissions, users
from .core import Core
from .families import EMAIL

INVITE_DAYS = 7
STAFF_ROLES = [slug for slug in ROLES if slug not in permissions.EXTERNAL_ROLES]


def _staff_dict(person: User, organisations: dict[int, str]) -> dict:
    lapsed = person.invite_hash is not None and person.invite_expires_at <= clock.now()
    return {"id": person.id, "username": person.username, "display_name": person.display_name, "email": person.email,
            "roles": [{"slug": r, "title": role_title(r)} for r in sorted(person.held_role_names)],
            "organisations": [{"id": o, "name": organisations.get(o, "?")} for o in sorted(person.organisation_ids)],
            "active": person.active, "invited": person.invite_hash is not None, "invitation_lapsed": lapsed,
            "invitation_expires_at": person.invite_expires_at.isoformat() if person.invite_expires_at else None}


def _organisations(session, user: User) -> dict[int, str]:
    """The organisations this manager adds staff to: their own (none for someone in no organisation)."""
    query = select(Organisation.id, Organisation.name).order_by(Organisation.name).where(Organisation.id.in_(user.organisation_ids))
    return dict(session.execute(query).all())


def _staff_member(session, user: User, user_id: int) -> User:
    person = session.get(User, user_id)
    if person is None or not permissions.can(user, "people.manage", person, session):
        raise NotFound("There is no member of staff with that id among the people you manage.")
    return person


def _check_roles(roles, errors: dict) -> list[str]:
    roles = sorted({str(r) for r in roles or []})
    if not roles:
        errors["roles"] = ["Choose at least one role."]
    elif set(roles) & permissions.EXTERNAL_ROLES:
        errors["roles"] = ["Parents and pupils are added on the pupil's page, not here."]
    elif [r for r in roles if r not in ROLES]:
        unknown = ", ".join(r for r in roles if r not in ROLES)
        errors["roles"] = [f"There is no role called {unknown}. Choose from the roles listed."]
    return roles


def list_staff(core: Core, user: User) -> dict:
    """The staff of the manager's organisations, with the organisations and roles a new member may be given."""
    permissions.require(user, "people.manage")
    with core.db.session(readonly=True) as session:
        query = select(User).order_by(User.display_name, User.username).where(User.id.in_(
            select(UserOrganisation.user_id).where(UserOrganisation.organisation_id.in_(user.organisation_ids))))
        external = select(UserRole.user_id).where(UserRole.role.in_(permissions.EXTERNAL_ROLES))
        staff = [p for p in session.scalars(query.where(User.id.not_in(external))) if permissions.can(user, "people.manage", p, session)]
        names = dict(session.execute(select(Organisation.id, Organisation.name)).all())
        own = _organisations(session, user)
        return {"staff": [_staff_dict(p, names) for p in staff],
                "organisations": [{"id": i, "name": n} for i, n in own.items()],
                "roles": [{"slug": r, "title": role_title(r)} for r in STAFF_ROLES]}


def add_staff(core: Core, user: User, username: str, display_name: str, email: str, roles: list[str],
              organisation_id: int | None) -> dict:
    """A new member of staff with an unusable password, e-mailed a link to choose their own."""
    permissions.require(user, "people.manage")
    username, display_name, email = (username or "").strip(), (display_name or "").strip(), (email or "").strip().lower()
    errors = {}
    if not username or len(username) > 80 or any(c.isspace() for c in username):
        errors["username"] = ["Choose a username of 1 to 80 characters with no spaces."]
    if not 1 <= len(display_name) <= 200:
        errors["display_name"] = ["Give their name as colleagues will see it."]
    if not EMAIL.match(email) or len(email) > 320:
        errors["email"] = ["Give an e-mail address like name@example.org: the invitation is sent there."]
    roles = _check_roles(roles, errors)
    with core.db.session() as session:
        own = _organisations(session, user)
        if organisation_id is None and len(own) == 1:  # a manager of one organisation adds staff to it
            organisation_id = next(iter(own))
        if organisation_id is None:
            errors["organisation_id"] = ["Choose the organisation they work for."]
        elif organisation_id is not None and organisation_id not in own:
            errors["organisation_id"] = ["Choose one of your own organisations."]
        if "username" not in errors and session.scalar(select(User.id).where(User.username == username)) is not None:
            errors["username"] = [f"The username {username} is taken; choose another."]
        if "email" not in errors and session.scalar(select(User.id).where(User.email == email)) is not None:
            errors["email"] = ["Another account uses this e-mail address; each person needs their own."]
        if errors:
            raise Invalid("Some details need correcting; nobody was added.", {"fields": errors})
        person = users.add_user(session, username, secrets.token_urlsafe(24) + "aA1!", roles, display_name=display_name, email=email,
                                organisations=[own[organisation_id]])
        _send_invitation(session, person, user, own.get(organisation_id))
        session.flush()
        return _staff_dict(person, own)


def _send_invitation(session, person: User, by: User, organisation: str | None) -> None:
    token, person.invite_hash, person.invite_expires_at = users.invitation(INVITE_DAYS)
    where = f" at {organisation}" if organisation else ""
    roles = ", ".join(role_title(r) for r in sorted(person.held_role_names))
    # the link goes on a line of its own: the outbox makes such lines full addresses when it sends
    outbox.queue_email(session, person.email, "Your account for alternative provision placements",
                 f"Hello {person.display_name},\n\n{by.display_name or by.username} has set up an account for you{where}, "
                 f"to work on alternative provision placements as {roles}.\n\nYour username is {person.username}. "
                 f"Choose your password here (the link works once, for {INVITE_DAYS} days):\n\n"
                 f"/welcome/staff/{token}\n\nIf you were not expecting this e-mail, you can ignore it.\n")


def resend_invitation(core: Core, user: User, user_id: int) -> dict:
    """A new link to choose a password (the old one stops working), e.g. when the first lapsed or was lost."""
    permissions.require(user, "people.manage")
    with core.db.session() as session:
        person = _staff_member(session, user, user_id)
        if not person.active:
            raise Invalid(f"{person.display_name}'s account is disabled: enable it before sending an invitation.")
        if not person.email:
            raise Invalid(f"{person.display_name} has no e-mail address to send an invitation to.")
        names = dict(session.execute(select(Organisation.id, Organisation.name)).all())
        shared = sorted(person.organisation_ids & user.organisation_ids) or sorted(person.organisation_ids)
        _send_invitation(session, person, user, names.get(shared[0]) if shared else None)
        return _staff_dict(person, names)


def set_roles(core: Core, user: User, user_id: int, roles: list[str]) -> dict:
    """Replace a member of staff's roles. A manager cannot take their own manager role away."""
    permissions.require(user, "people.manage")
    errors = {}
    roles = _check_roles(roles, errors)
    with core.db.session() as session:
        person = _staff_member(session, user, user_id)
        if not errors and person.id == user.id and permissions.MANAGER not in roles:
            errors["roles"] = ["You cannot remove your own manager role; ask another manager to do it."]
        if errors:
            raise Invalid(errors["roles"][0], {"fields": errors})
        wanted = set(roles)
        for held in [r for r in person.roles if r.role not in wanted and r.custom_role_id is None]:  # custom roles: the Roles page
            person.roles.remove(held)
        for role in sorted(wanted - person.held_role_names):
            person.roles.append(UserRole(role=role))
        session.flush()
        return _staff_dict(person, dict(session.execute(select(Organisation.id, Organisation.name)).all()))


def disable(core: Core, user: User, user_id: int) -> dict:
    """Stop someone signing in: their browser sessions and API tokens stop working at once, an unused invitation
    is withdrawn, and tasks they held and had not finished go back to their role for a colleague to pick up."""
    permissions.require(user, "people.manage")
    with core.db.session() as session:
        person = _staff_member(session, user, user_id)
        if person.id == user.id:
            raise Invalid("You cannot disable your own account; ask another manager to do it.")
        person.active = False
        person.invite_hash = person.invite_expires_at = None
        person.session_epoch = (person.session_epoch or 0) + 1  # their sessions stay ended if they are enabled again
        for token in session.scalars(select(ApiToken).where(ApiToken.user_id == person.id, ApiToken.revoked.is_(False))):
            token.revoked = True
        held = list(session.scalars(select(HumanTask).where(HumanTask.assignee_id == person.id, HumanTask.state == "ready")))
        for task in held:
            task.assignee_id = None
        session.flush()
        return {**_staff_dict(person, dict(session.execute(select(Organisation.id, Organisation.name)).all())), "tasks_released": len(held)}


def enable(core: Core, user: User, user_id: int) -> dict:
    """Let a disabled member of staff sign in again (with their old password; API tokens stay revoked)."""
    permissions.require(user, "people.manage")
    with core.db.session() as session:
        person = _staff_member(session, user, user_id)
        person.active, person.failed_logins, person.locked_until = True, 0, None
        session.flush()
        return _staff_dict(person, dict(session.execute(select(Organisation.id, Organisation.name)).all()))


def accept_invitation(core: Core, token: str, password: str, confirm: str) -> str:
    """Set the invited member of staff's password from the link in their e-mail; the link works once. Returns the username."""
    with core.db.session() as session:
        person = session.scalar(select(User).where(User.invite_hash == users.token_hash(token)))
        if person is None or not person.active or person.invite_expires_at <= clock.now():
            raise NotFound("This link has been used or has lapsed. Ask your manager to send a new invitation.")
        users.first_password(session, person, password, confirm)
        person.invite_hash = person.invite_expires_at = None
        return person.username


def invitation_valid(core: Core, token: str) -> bool:
    with core.db.session(readonly=True) as session:
        person = session.scalar(select(User).where(User.invite_hash == users.token_hash(token)))
        return person is not None and person.active and person.invite_expires_at > clock.now()
