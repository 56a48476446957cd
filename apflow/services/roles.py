"""Roles as data (issue 17): the roles an organisation adds to the built-in ones, and who holds them.

A custom role has a title ("Deputy Head"), a key made from it ("deputy_head") and the built-in roles whose permissions
it carries (["headteacher"]). Whoever holds it works tasks in lanes named after it, and has everything the carried
roles give: User.role_names includes them, loaded with the person (no query per permission check).

Diagrams name roles through a roles.Catalogue (built-in roles and every organisation's custom roles); catalogue()
loads it in one query on a small table. Resolving a lane tries the built-in roles first, so a step of a diagram using
only built-in lanes (nearly all) queries nothing more (lane_role).

Managers manage their own organisations' custom roles and who holds them ("roles.manage"); built-in roles cannot be
renamed or removed, and no custom role may take a built-in role's key, title or alias.
"""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError, ProgrammingError

from apflow.clock import clock
from apflow.engine.diagrams import task_properties
from apflow.engine.runtime import ESCALATE_TO_PROPERTY
from apflow.errors import Invalid, NotFound
from apflow.roles import BUILTIN, ROLES, Catalogue, known_title, remember, role_key, role_title
from apflow.store.models import CustomRole, Organisation, ProcessVersion, User, UserOrganisation, UserRole

from . import organisations, permissions
from .core import Core

MAX_TITLE = 80
CARRIABLE = [key for key in ROLES if key not in permissions.EXTERNAL_ROLES]  # a custom role never makes someone a parent


def catalogue(session) -> Catalogue:
    """Built-in roles and every organisation's custom roles, for validating diagrams and resolving their lanes."""
    rows = session.execute(select(CustomRole.key, CustomRole.title).order_by(CustomRole.id)).all()
    return remember(Catalogue(tuple((key, title) for key, title in rows)))


def load_catalogue(core: Core) -> Catalogue:
    """The catalogue, or only the built-in roles where the database has no tables yet (`apflow validate` on a new install)."""
    try:
        with core.db.session(readonly=True) as session:
            return catalogue(session)
    except (OperationalError, ProgrammingError):
        return BUILTIN


def title_of(core: Core, key: str) -> str:
    """A role's title for a page: built-in, or a custom role's (loading the catalogue again when another process added
    one this process has not seen)."""
    if not known_title(key):
        load_catalogue(core)
    return role_title(key)


def lane_role(session, lane: str | None) -> str | None:
    """The role key a lane (or an escalateTo entry) names: a built-in role without a query, else a custom role."""
    return BUILTIN.resolve(lane) or (catalogue(session).resolve(lane) if lane and lane.strip() else None)


# -- what managers see -----------------------------------------------------------------------------------------------

# `user` is the manager acting (permission "roles.manage": their own organisations), or None for the installation's
# administrator at the command line (`apflow roles ...`), who manages every organisation's roles.

def _require(user: User | None) -> None:
    if user is not None:
        permissions.require(user, "roles.manage")


def _organisations(session, user: User | None) -> dict[int, str]:
    """The organisations whose roles this manager manages: their own (every one, at the command line)."""
    query = select(Organisation.id, Organisation.name).order_by(Organisation.name)
    if user is not None:
        if not user.organisation_ids:
            return {}
        query = query.where(Organisation.id.in_(sorted(user.organisation_ids)))
    return dict(session.execute(query).all())


def _organisation(session, user: User | None, organisation_id: int | None, write: bool = False) -> int:
    if user is None and organisation_id is None:  # the command line: the installation's own organisation by default
        if write:
            return organisations.default_organisation_id(session)
        found = session.scalar(select(Organisation.id).where(Organisation.is_default.is_(True)).order_by(Organisation.id).limit(1))
        if found is not None:
            return found
    own = _organisations(session, user)
    if not own:
        raise Invalid("You belong to no organisation, so there are no roles of yours to manage. Ask an administrator to add you to one."
                      if user is not None else "There is no organisation yet: add one first (roles belong to an organisation).")
    if organisation_id is None:
        if len(own) > 1:
            how = "choose which one" if user is not None else "choose one with --organisation"
            raise Invalid(f"{'You manage' if user is not None else 'There are'} several organisations ({', '.join(own.values())}): {how}.",
                          {"fields": {"organisation_id": ["Choose the organisation."]}})
        return next(iter(own))
    if organisation_id not in own:
        raise NotFound("There is no such organisation among yours.")
    return organisation_id


def _role_dict(role: CustomRole, holders: list[User]) -> dict:
    return {"id": role.id, "key": role.key, "title": role.title, "builtin": False, "organisation_id": role.organisation_id,
            "carries": [{"key": c, "title": ROLES[c]} for c in role.carries],
            "holders": [{"id": p.id, "username": p.username, "display_name": p.display_name} for p in holders],
            "created_at": role.created_at.isoformat(), "created_by": role.created_by}


def _members(session, organisation_id: int) -> list[User]:
    """The staff of an organisation (not parents or pupils), by name."""
    external = select(UserRole.user_id).where(UserRole.role.in_(permissions.EXTERNAL_ROLES))
    return list(session.scalars(select(User).join(UserOrganisation, UserOrganisation.user_id == User.id)
                                .where(UserOrganisation.organisation_id == organisation_id, User.id.not_in(external))
                                .order_by(User.display_name, User.username)))


def organisation_named(core: Core, name: str | None) -> int | None:
    """The id of the organisation with this name (the CLI's --organisation), None when no name is given."""
    if not name:
        return None
    with core.db.session(readonly=True) as session:
        found = session.scalar(select(Organisation.id).where(Organisation.name == name.strip()))
        if found is None:
            names = ", ".join(session.scalars(select(Organisation.name).order_by(Organisation.name))) or "none yet"
            raise Invalid(f"There is no organisation called '{name}'. Organisations: {names}.")
        return found


def list_roles(core: Core, user: User | None, organisation_id: int | None = None) -> dict:
    """The built-in roles and the chosen organisation's custom roles, each with who in that organisation holds it."""
    _require(user)
    with core.db.session(readonly=True) as session:
        own = _organisations(session, user)
        first = next(iter(own)) if own and user is not None else None  # a manager sees their first organisation's roles first
        chosen = _organisation(session, user, organisation_id if organisation_id is not None else first)
        staff = _members(session, chosen)
        custom = list(session.scalars(select(CustomRole).where(CustomRole.organisation_id == chosen).order_by(CustomRole.title)))
        catalogue(session)

        def holding(key):
            return [p for p in staff if key in p.held_role_names]
        builtin = [{"key": key, "title": title, "builtin": True,
                    "holders": [{"id": p.id, "username": p.username, "display_name": p.display_name} for p in holding(key)]}
                   for key, title in ROLES.items() if key not in permissions.EXTERNAL_ROLES]
        return {"organisation": {"id": chosen, "name": own[chosen]},
                "organisations": [{"id": i, "name": n} for i, n in own.items()],
                "builtin": builtin, "custom": [_role_dict(r, holding(r.key)) for r in custom],
                "carriable": [{"key": k, "title": ROLES[k]} for k in CARRIABLE],
                "staff": [{"id": p.id, "username": p.username, "display_name": p.display_name} for p in staff]}


# -- defining roles --------------------------------------------------------------------------------------------------

def _check_title(session, organisation_id: int, title: str, role_id: int | None = None) -> tuple[str, str]:
    title = " ".join((title or "").split())
    key = role_key(title)
    if any(ord(c) < 32 or c == "\x7f" for c in title):
        raise Invalid("A role's title is plain text on one line, e.g. 'Attendance Officer'.", {"fields": {"title": ["Use plain text."]}})
    if not title or len(title) > MAX_TITLE:
        raise Invalid(f"Give the role a title of 1 to {MAX_TITLE} characters, e.g. 'Attendance Officer'.", {"fields": {"title": ["Give a title."]}})
    if not key or len(key) > 40:
        raise Invalid("Give the role a title with letters or digits, shorter than 40 characters, e.g. 'Attendance Officer'.",
                      {"fields": {"title": ["Use letters and digits."]}})
    builtin = BUILTIN.resolve(title) or BUILTIN.resolve(key)
    if builtin:
        raise Invalid(f"'{title}' is the built-in role {ROLES[builtin]}: give it to people on the People page, or choose another title.",
                      {"fields": {"title": ["A built-in role has this name."]}})
    clash = session.scalar(select(CustomRole).where(CustomRole.organisation_id == organisation_id, CustomRole.id != (role_id or 0),
                                                    (CustomRole.key == key) | (func.lower(CustomRole.title) == title.lower())))
    if clash is not None:
        raise Invalid(f"Your organisation already has the role '{clash.title}'; choose another title.", {"fields": {"title": ["Already a role."]}})
    return title, key


def _check_carries(carries) -> list[str]:
    wanted, unknown = [], []
    for name in carries or []:
        key = BUILTIN.resolve(str(name))
        if key in CARRIABLE:
            wanted.append(key)
        else:
            unknown.append(str(name))
    if unknown:
        raise Invalid(f"A role can carry only the permissions of built-in staff roles; {', '.join(repr(u) for u in unknown)} "
                      f"is not one. Choose from: {', '.join(ROLES[k] for k in CARRIABLE)}.", {"fields": {"carries": ["Choose built-in roles."]}})
    return sorted(set(wanted), key=CARRIABLE.index)


def create(core: Core, user: User | None, title: str, carries: list[str], organisation_id: int | None = None) -> dict:
    """A new custom role of the manager's organisation, carrying the permissions of the built-in roles named (keys or
    titles; none: holders only work tasks in lanes named after it)."""
    _require(user)
    with core.db.session() as session:
        org = _organisation(session, user, organisation_id, write=True)
        title, key = _check_title(session, org, title)
        role = CustomRole(organisation_id=org, key=key, title=title, carries=_check_carries(carries), created_at=clock.now(),
                          created_by=user.username if user is not None else "cli")
        session.add(role)
        session.flush()
        remember(catalogue(session))
        return _role_dict(role, [])


def _own_role(session, user: User | None, role_id: int) -> CustomRole:
    role = session.get(CustomRole, role_id)
    if role is None or (user is not None and not permissions.can(user, "roles.manage", role.organisation_id, session)):
        raise NotFound("There is no custom role with that id in your organisation.")
    return role


def find(core: Core, user: User | None, name: str, organisation_id: int | None = None) -> int:
    """The id of the custom role of the manager's organisation named by key or title (the CLI names roles)."""
    _require(user)
    with core.db.session(readonly=True) as session:
        org = _organisation(session, user, organisation_id)
        for role in session.scalars(select(CustomRole).where(CustomRole.organisation_id == org)):
            if Catalogue(((role.key, role.title),)).resolve(name) == role.key:
                return role.id
        if BUILTIN.resolve(name):
            raise Invalid(f"'{name}' is a built-in role: it cannot be renamed or removed.")
        raise NotFound(f"{'Your organisation' if user is not None else 'The organisation'} has no custom role '{name}'. "
                       "`apflow roles list` shows them.")


def _holders(session, role: CustomRole) -> list[User]:
    return list(session.scalars(select(User).join(UserRole, UserRole.user_id == User.id)
                                .where(UserRole.custom_role_id == role.id).order_by(User.display_name)))


def _diagrams_naming(core: Core, session, key: str, exact_title: str | None = None) -> list[str]:
    """Names of deployed processes whose lanes or escalateTo name the role with this key (or, given exact_title,
    name it by that title in words that would not still find it by its key)."""
    found = []
    known = catalogue(session)
    for version in session.scalars(select(ProcessVersion).order_by(ProcessVersion.process_id, ProcessVersion.version)):
        if version.name in found:
            continue
        names = set()
        for task_spec in core.bundle(version).task_specs():
            if getattr(task_spec, "lane", None):
                names.add(task_spec.lane)
            names.update(str(task_properties(task_spec).get(ESCALATE_TO_PROPERTY) or "").split(","))
        for name in names:
            if known.resolve(name) != key:
                continue
            if exact_title is None or role_key(name) != key:
                found.append(version.name)
                break
    return found


def rename(core: Core, user: User | None, role_id: int, title: str) -> dict:
    """A new title for a custom role; its key stays, so lanes naming it by its first title still find it."""
    _require(user)
    with core.db.session() as session:
        role = _own_role(session, user, role_id)
        new_title, _ = _check_title(session, role.organisation_id, title, role.id)
        using = _diagrams_naming(core, session, role.key, exact_title=role.title) if new_title != role.title else []
        if using:
            raise Invalid(f"The role '{role.title}' cannot be renamed: the deployed process(es) {', '.join(using)} name it "
                          f"'{role.title}' in a lane. Rename those lanes to '{role.key}' first, or keep the title.")
        role.title = new_title
        session.flush()
        remember(catalogue(session))
        return _role_dict(role, _holders(session, role))


def delete(core: Core, user: User | None, role_id: int) -> dict:
    """Remove a custom role nobody holds and no deployed diagram names."""
    _require(user)
    with core.db.session() as session:
        role = _own_role(session, user, role_id)
        holders = _holders(session, role)
        if holders:
            raise Invalid(f"The role '{role.title}' cannot be removed while people hold it: "
                          f"{', '.join(p.display_name or p.username for p in holders)}. Take it from them first.")
        using = _diagrams_naming(core, session, role.key)
        if using:
            raise Invalid(f"The role '{role.title}' cannot be removed: the deployed process(es) {', '.join(using)} "
                          "name it in a lane or escalateTo. Deploy them with another lane name first.")
        gone = _role_dict(role, [])
        session.delete(role)
        session.flush()
        remember(catalogue(session))
        return gone


# -- who holds a role ------------------------------------------------------------------------------------------------

def _person(session, user: User | None, username_or_id) -> User:
    name = "" if isinstance(username_or_id, int) else str(username_or_id).strip()
    if "\x00" in name or len(name) > 80:
        raise NotFound("There is no member of staff with that username among the people you manage.")
    person = session.get(User, username_or_id) if isinstance(username_or_id, int) else session.scalar(select(User).where(User.username == name))
    if person is None or (user is not None and not permissions.can(user, "people.manage", person, session)):
        raise NotFound(f"There is no member of staff '{username_or_id}' among the people you manage.")
    return person


def give(core: Core, user: User | None, role_id: int, person_ref) -> dict:
    """Give a custom role of the manager's organisation to one of its staff (a username or user id)."""
    _require(user)
    with core.db.session() as session:
        role = _own_role(session, user, role_id)
        person = _person(session, user, person_ref)
        if person.held_role_names & permissions.EXTERNAL_ROLES:
            raise Invalid(f"{person.display_name} is a parent or pupil: only staff hold an organisation's roles.")
        if role.organisation_id not in person.organisation_ids:
            raise Invalid(f"{person.display_name} does not work for the organisation of '{role.title}'; add them to it first.")
        held = next((r for r in person.roles if r.role == role.key), None)
        if held is not None and held.custom_role_id != role.id:
            raise Invalid(f"{person.display_name} already holds another role with the key '{role.key}'.")
        if held is None:
            person.roles.append(UserRole(role=role.key, custom=role))
        session.flush()
        return _role_dict(role, _holders(session, role))


def take(core: Core, user: User | None, role_id: int, person_ref) -> dict:
    """Take a custom role from someone; the tasks they claimed in its lanes stay theirs until they hand them back."""
    _require(user)
    with core.db.session() as session:
        role = _own_role(session, user, role_id)
        person = _person(session, user, person_ref)
        held = next((r for r in person.roles if r.custom_role_id == role.id), None)
        if held is None:
            raise Invalid(f"{person.display_name} does not hold the role '{role.title}'.")
        person.roles.remove(held)
        session.flush()
        return _role_dict(role, _holders(session, role))


def resolve_for_user(session, names: list[str], organisation_ids: set[int]) -> tuple[list[tuple[str, CustomRole | None]], list[str]]:
    """Role names given for a new account (keys or titles: 'AP Coordinator', 'coordinator', a custom role of one of
    the person's organisations, or of any organisation when none is given) as (key, the custom role or None), and the
    names that match no role."""
    found, unknown = [], []
    query = select(CustomRole)
    if organisation_ids:
        query = query.where(CustomRole.organisation_id.in_(organisation_ids))
    custom = list(session.scalars(query.order_by(CustomRole.id)))
    for name in names:
        builtin = BUILTIN.resolve(name)
        if builtin:
            found.append((builtin, None))
            continue
        match = [r for r in custom if Catalogue(((r.key, r.title),)).resolve(name) == r.key]
        if match:
            found.append((match[0].key, match[0]))
        else:
            unknown.append(name)
    return found, unknown


def grant(core: Core, role_name: str, username: str, organisation_id: int | None = None) -> str:
    """The command line gives a role, built-in or custom (by key or title), to a user; returns the role's title."""
    builtin = BUILTIN.resolve(role_name)
    if builtin is None:
        return give(core, None, _custom_for(core, role_name, username, organisation_id), username)["title"]
    with core.db.session() as session:
        person = _person(session, None, username)
        if builtin not in person.held_role_names:
            person.roles.append(UserRole(role=builtin, custom=None))
        return ROLES[builtin]


def revoke(core: Core, role_name: str, username: str, organisation_id: int | None = None) -> str:
    """The command line takes a role, built-in or custom, from a user; returns the role's title."""
    builtin = BUILTIN.resolve(role_name)
    if builtin is None:
        return take(core, None, _custom_for(core, role_name, username, organisation_id), username)["title"]
    with core.db.session() as session:
        person = _person(session, None, username)
        held = next((r for r in person.roles if r.role == builtin), None)
        if held is None:
            raise Invalid(f"{person.username} does not hold the role {ROLES[builtin]}.")
        person.roles.remove(held)
        return ROLES[builtin]


def _custom_for(core: Core, role_name: str, username: str, organisation_id: int | None) -> int:
    """The custom role a name means for this user: of the given organisation, else of the one they work for."""
    if organisation_id is None:
        with core.db.session(readonly=True) as session:
            person = _person(session, None, username)
            matches = [r.organisation_id for r in session.scalars(select(CustomRole).where(CustomRole.organisation_id.in_(person.organisation_ids)))
                       if Catalogue(((r.key, r.title),)).resolve(role_name) == r.key]
            if len(matches) == 1:
                organisation_id = matches[0]
            elif not matches:
                raise NotFound(f"No organisation of {person.username} has a role '{role_name}'. `apflow roles list` shows the roles.")
    return find(core, None, role_name, organisation_id)
