"""A pupil's family: parents and carers recorded by the school, invited to an account, linked to the family's tasks,
and answers the school records from paper when a parent has no account (R7, R40).

Who may do what is decided in permissions ("family.view", "family.edit", "task.record_for_family"). A parent only
ever reaches their own child's tasks: linking gives them the pupil's waiting family tasks, removing takes back
any they hold and have not completed.
"""
from __future__ import annotations

import re
import secrets

from sqlalchemy import select

from apflow.clock import clock
from apflow.errors import Invalid, NotFound
from apflow.placements.models import RELATIONSHIPS, Pupil, PupilContact
from apflow.store import outbox
from apflow.store.models import HumanTask, Organisation, User

from . import family_portal, permissions, users
from .core import Core
from .instances import Actor, _step

INVITE_DAYS = 14
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _pupil(session, user, ref: str, action: str) -> Pupil:
    pupil = session.scalar(select(Pupil).where(Pupil.ref == ref))
    if pupil is None or not permissions.can(user, action, pupil.id, session):
        raise NotFound(f"There is no pupil {ref} whose family you can {'see' if action == 'family.view' else 'change'}.")
    return pupil


def _contact_dict(c: PupilContact, username: str | None) -> dict:
    return {"id": c.id, "name": c.name, "relationship": c.relationship, "relationship_label": RELATIONSHIPS.get(c.relationship, c.relationship),
            "email": c.email, "phone": c.phone, "parental_responsibility": c.parental_responsibility, "username": username,
            "invited": c.invite_hash is not None, "added_at": c.added_at.isoformat(), "added_by": c.added_by}


def list_contacts(core: Core, user: User, pupil_ref: str) -> dict:
    with core.db.session(readonly=True) as session:
        pupil = _pupil(session, user, pupil_ref, "family.view")
        rows = list(session.scalars(select(PupilContact).where(PupilContact.pupil_id == pupil.id, PupilContact.removed_at.is_(None))
                                    .order_by(PupilContact.id)))
        names = users.usernames(session, [c.user_id for c in rows])
        reminded = family_portal.gets_reminders(session, [c.user_id for c in rows if c.user_id])  # R7: who gets lesson reminders
        return {"pupil": {"ref": pupil.ref, "name": pupil.name},
                "contacts": [{**_contact_dict(c, names.get(c.user_id)), "lesson_reminders": c.user_id in reminded} for c in rows],
                "can_edit": permissions.can(user, "family.edit", pupil.id, session)}


def add_contact(core: Core, user: User, pupil_ref: str, name: str, relationship: str, email: str = "", phone: str = "",
                parental_responsibility: bool = True, invite: bool = False) -> dict:
    """Record a parent or carer; with invite, give them an account and e-mail a link to set its password.
    Their child's waiting family tasks go to them once they have an account."""
    name, email, phone = name.strip(), email.strip().lower(), phone.strip()
    errors = {}
    if not 2 <= len(name) <= 200:
        errors["name"] = ["Give their name."]
    if relationship not in RELATIONSHIPS:
        errors["relationship"] = ["Choose how they are related to the pupil."]
    if email and not EMAIL.match(email):
        errors["email"] = ["Give an e-mail address like name@example.org."]
    if invite and not email:
        errors["email"] = ["An invitation needs an e-mail address."]
    if not email and not phone:
        errors.setdefault("phone", ["Give a phone number or an e-mail address, so the school can reach them."])
    if len(phone) > 60:
        errors["phone"] = ["A phone number is at most 60 characters."]
    with core.db.session() as session:
        pupil = _pupil(session, user, pupil_ref, "family.edit")  # first: a stranger learns nothing from the checks below
        if errors:
            raise Invalid("Some details need correcting; nobody was added.", {"fields": errors})
        contact = PupilContact(pupil_id=pupil.id, name=name, relationship=relationship, email=email, phone=phone,
                               parental_responsibility=bool(parental_responsibility), added_at=clock.now(), added_by=user.username)
        session.add(contact)
        if invite:
            contact.user_id = _family_account(session, contact, pupil).id
            _send_invitation(session, contact, pupil)
        session.flush()
        handed = _hand_waiting_tasks(session, contact, pupil) if contact.user_id else 0
        result = _contact_dict(contact, users.usernames(session, [contact.user_id]).get(contact.user_id))
        return {**result, "tasks_handed": handed}


def _family_account(session, contact: PupilContact, pupil: Pupil) -> User:
    """The parent's account: an existing parent account with this e-mail, or a new one with an unusable password."""
    existing = session.scalar(select(User).where(User.email == contact.email))
    if existing is not None:
        if permissions.staff_roles(existing) or "parent" not in existing.role_names:
            raise Invalid("That e-mail address belongs to a staff account; a parent needs their own address.",
                          {"fields": {"email": ["Use the parent's own e-mail address."]}})
        return existing
    stem = re.sub(r"[^a-z0-9]+", ".", contact.email.split("@")[0]).strip(".")[:60] or "parent"
    username, n = stem, 1
    while session.scalar(select(User.id).where(User.username == username)) is not None:
        n += 1
        username = f"{stem}{n}"
    school = session.get(Organisation, pupil.organisation_id) if pupil.organisation_id is not None else None  # issue 17: the
    return users.add_user(session, username, secrets.token_urlsafe(24) + "aA1!", ["parent"], display_name=contact.name,  # pupil's school
                          email=contact.email, organisations=[school.name] if school else None)


def _send_invitation(session, contact: PupilContact, pupil: Pupil) -> None:
    token, contact.invite_hash, contact.invite_expires_at = users.invitation(INVITE_DAYS)
    # no pupil's name in an e-mail: it leaves the product (R81); the parent sees the name once signed in
    outbox.queue_email(session, contact.email, "Your account for your child's school placement",
                 f"Hello {contact.name},\n\nYour child's school has set up an account for you, so you can follow "
                 "your child's placement and give your consent online.\n\nChoose your password here (the link "
                 f"works once, for {INVITE_DAYS} days):\n\n/welcome/{token}\n")


def _hand_waiting_tasks(session, contact: PupilContact, pupil: Pupil) -> int:
    """The pupil's family tasks that wait for nobody in particular go to the newly linked parent."""
    waiting = list(session.scalars(select(HumanTask).where(HumanTask.pupil_ref == pupil.ref, HumanTask.state == "ready",
                                                           HumanTask.role == "parent", HumanTask.assignee_id.is_(None))))
    for task in waiting:
        task.assignee_id = contact.user_id
    return len(waiting)


def remove_contact(core: Core, user: User, pupil_ref: str, contact_id: int) -> None:
    """Take a parent or carer off the pupil; tasks of this pupil they hold go back to the family role, unanswered."""
    with core.db.session() as session:
        pupil = _pupil(session, user, pupil_ref, "family.edit")
        contact = session.get(PupilContact, contact_id)
        if contact is None or contact.pupil_id != pupil.id or contact.removed_at is not None:
            raise NotFound("There is no such contact for this pupil.")
        contact.removed_at, contact.invite_hash = clock.now(), None
        if contact.user_id is not None:
            for task in session.scalars(select(HumanTask).where(HumanTask.pupil_ref == pupil.ref, HumanTask.state == "ready",
                                                                HumanTask.assignee_id == contact.user_id)):
                task.assignee_id = None


def accept_invitation(core: Core, token: str, password: str, confirm: str) -> str:
    """Set the invited parent's password from the link in their e-mail; the link works once. Returns the username."""
    with core.db.session() as session:
        contact = session.scalar(select(PupilContact).where(PupilContact.invite_hash == users.token_hash(token)))
        if contact is None or contact.user_id is None or contact.invite_expires_at <= clock.now():
            raise NotFound("This link has been used or has lapsed. Ask the school to send a new invitation.")
        account = session.get(User, contact.user_id)
        users.first_password(session, account, password, confirm)
        contact.invite_hash = contact.invite_expires_at = None
        return account.username


def invitation_valid(core: Core, token: str) -> bool:
    with core.db.session(readonly=True) as session:
        contact = session.scalar(select(PupilContact).where(PupilContact.invite_hash == users.token_hash(token)))
        return contact is not None and contact.invite_expires_at > clock.now()


def record_for_family(core: Core, user: User, task_id: str, data: dict, how: str) -> dict:
    """The school records a parent's (or pupil's) answer given on paper or in a meeting, when they have no account or
    asked for help (R40): the task completes as the family answered it, and the file says who recorded it and how."""
    with core.db.session(readonly=True) as session:
        task = session.get(HumanTask, str(task_id))
        if task is None or not permissions.can(user, "task.view", task, session) or not permissions.can(user, "task.record_for_family", task, session):
            raise NotFound(f"There is no family task {task_id} whose answer you can record.")
    how = (how or "").strip()
    if not 5 <= len(how) <= 500:
        raise Invalid("Say how the family gave this answer (e.g. 'signed paper form handed in on 3 March').",
                      {"fields": {"recorded_how": ["Say how the family gave this answer."]}})
    return _step(core, Actor.of(user), {"kind": "complete", "task_id": str(task_id), "data": data, "user_id": user.id,
                                        "on_behalf_of_family": how}, viewer=user)
