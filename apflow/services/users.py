"""People: accounts, roles, passwords (Argon2id), API tokens, and ending sessions and tokens.

Repeated failed sign-ins are limited by the web layer (apflow/web/throttle.py) before a password is checked; here
every refused sign-in looks the same, whether or not the username exists.

The functions taking `core` are the use cases (each its own transaction); those taking a session are the
building blocks other services use inside theirs."""
from __future__ import annotations

import hashlib
import secrets
import threading
from collections import OrderedDict
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, joinedload

from apflow.clock import clock
from apflow.errors import Invalid, Unauthorized
from apflow.store.models import ApiToken, CustomRole, Organisation, User, UserOrganisation, UserRole

from . import roles as custom_roles
from .core import Core
from .organisations import default_organisation_id

MIN_PASSWORD_LENGTH = 10
_hasher = PasswordHasher()
_dummy_hashes: dict[int, str] = {}


def _dummy_hash() -> str:
    """A hash made with the hasher in use, checked when the username is unknown or disabled: the same Argon2 work as a
    real account's check, so neither the answer nor its timing says which usernames exist."""
    key = id(_hasher)
    if key not in _dummy_hashes:
        _dummy_hashes[key] = _hasher.hash(secrets.token_urlsafe(16))
    return _dummy_hashes[key]


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(f"The password must be at least {MIN_PASSWORD_LENGTH} characters long.",
                      {"password": [f"Use at least {MIN_PASSWORD_LENGTH} characters."]})


def add_user(session, username: str, password: str, roles: list[str], display_name: str = "",
                email: str | None = None, organisations: list[str] | None = None) -> User:
    username = username.strip()
    if not username or len(username) > 80 or any(c.isspace() for c in username):
        raise Invalid("A username is 1 to 80 characters with no spaces.", {"username": ["Choose a username without spaces."]})
    check_new_password(password)
    if session.scalar(select(User).where(User.username == username)):
        raise Invalid(f"A user named '{username}' already exists.", {"username": ["Already taken."]})
    user = User(username=username, display_name=display_name or username, email=email,
                password_hash=hash_password(password), created_at=clock.now(), active=True, failed_logins=0)
    memberships = []
    for name in organisations or []:
        org = session.scalar(select(Organisation).where(Organisation.name == name))
        if org is None:
            raise Invalid(f"There is no organisation named '{name}'. Check the spelling against `apflow organisations list`, "
                          "or add it first with `apflow organisations add`.")
        memberships.append(UserOrganisation(organisation_id=org.id))
    if not memberships:  # everyone belongs to an organisation: the installation's own unless another is named (issue 17)
        memberships.append(UserOrganisation(organisation_id=default_organisation_id(session)))
    # roles by key or title ('AP Coordinator'), built-in or a custom role of their organisations (issue 17)
    held, unknown = custom_roles.resolve_for_user(session, list(roles), {m.organisation_id for m in memberships})
    if unknown:
        known = custom_roles.catalogue(session).titles()
        raise Invalid(f"Unknown role(s): {', '.join(unknown)}. Roles are: {', '.join(known)}.", {"roles": unknown})
    user.roles = [UserRole(role=key, custom=custom) for key, custom in sorted(dict(held).items())]
    user.memberships = memberships
    session.add(user)
    session.flush()
    return user


def authenticate(session, username: str, password: str) -> User:
    """The user with these credentials. An unknown username, a disabled account and a wrong password take the same
    path: one Argon2 check and the same answer. (Repeated failures are limited before this, by client address and
    username alike, whether or not the account exists: apflow/web/throttle.py.)"""
    user = session.scalar(select(User).where(User.username == (username or "").strip()))
    known = user is not None and user.active
    if not _verify(user.password_hash if known else _dummy_hash(), password or "") or not known:
        raise Unauthorized("Wrong username or password.")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def invitation(days: int) -> tuple[str, str, datetime]:
    """A link token to choose a password: the token for the e-mail, its hash to keep, and when it lapses."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token), clock.now() + timedelta(days=days)


def first_password(session, user: User, password: str, confirm: str) -> None:
    """The password an invited person chooses from the link in their e-mail, typed twice."""
    if password != confirm:
        raise Invalid("The two passwords differ.", {"fields": {"confirm": ["Type the same password twice."]}})
    check_new_password(password)
    new_password(session, user, password)


def new_password(session, user: User, password: str) -> None:
    """Give the account a new password: every browser session and API token it had stops working."""
    user.password_hash, user.failed_logins, user.locked_until = hash_password(password), 0, None
    _credentials_changed(session, user)


def _credentials_changed(session, user: User) -> None:
    user.session_epoch = (user.session_epoch or 0) + 1
    user.credentials_changed_at = clock.now()
    revoke_tokens(session, user.id)


def revoke_tokens(session, user_id: int) -> int:
    """Revoke every API token of the person; how many were still live."""
    return session.execute(update(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked.is_(False), ApiToken.expires_at > clock.now())
                           .values(revoked=True).execution_options(synchronize_session=False)).rowcount


def change_password(core: Core, user_id: int, current: str, new: str, confirm: str) -> int:
    """Change one's own password. Other browser sessions and every API token end; returns the new session epoch, for
    the browser that changed it to stay signed in."""
    with core.db.session() as session:
        user = session.get(User, user_id)
        if user is None or not _verify(user.password_hash, current or ""):
            raise Invalid("Your current password is not right.", {"current": ["Your current password is not right: enter the one you signed in with."]})
        if new != confirm:
            raise Invalid("The new passwords do not match.", {"confirm": ["Type the same new password twice."]})
        if new == current:
            raise Invalid("Choose a password different from the current one.", {"new": ["Choose a different password."]})
        check_new_password(new)
        new_password(session, user, new)
        return user.session_epoch


def set_password(core: Core, username: str, new: str) -> None:
    """An administrator sets a new password; the person's sessions and API tokens end."""
    with core.db.session() as session:
        user = user_by_name(session, username)
        if user is None:
            raise Invalid(f"There is no user '{username}'.")
        check_new_password(new)
        new_password(session, user, new)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session, user: User, hours: float) -> str:
    token = secrets.token_urlsafe(32)
    now = clock.now()
    session.add(ApiToken(user_id=user.id, token_hash=token_hash(token), created_at=now,
                         expires_at=now + timedelta(hours=hours), revoked=False))
    return token


def user_for_token(core: Core, token: str) -> User | None:
    """The active user an API token belongs to, or None if it is unknown, revoked, expired or older than the
    person's last password change (a read: it never waits for a writer)."""
    with core.db.reading() as connection:
        rows = connection.execute(_TOKEN_ROWS, {"token_hash": token_hash(token)}).all()
        if not rows:
            return None
        revoked, expires_at, created_at = rows[0][:3]
        user = _PEOPLE.person(connection, [row[3:] for row in rows])
        if revoked or expires_at <= clock.now() or not user.active or (
                user.credentials_changed_at is not None and created_at < user.credentials_changed_at):
            return None
        return user


class _People:
    """Who is asking, read on every request, without rebuilding the same person each time.

    The person, their roles (with the custom roles' rows) and their organisations are read as plain rows in one
    statement, every request: nothing here is believed without reading it. Building the ORM's copy of the person from
    such rows costs several times the read, so this process keeps the copy it built last for each person, with the
    exact values it holds, and hands it out again only while the rows read now hold exactly those values; any change
    to the person, a role, a custom role or a membership (by any process) makes a new copy. The copies are detached
    and only read (no relationship leads from another row to a person, so no step puts one into its session)."""

    SIZE = 2048  # people whose copy is kept, the most recently seen

    def __init__(self):
        tables = [model.__table__ for model in (User, UserRole, CustomRole, UserOrganisation)]
        self.columns = [column for table in tables for column in table.c]
        bounds, start = [], 0
        for table in tables:
            bounds.append((start, start + len(table.c)))
            start += len(table.c)
        self.bounds = bounds
        self.attributes = [[model.__mapper__.get_property_by_column(column).key for column in model.__table__.c]
                           for model in (User, UserRole, CustomRole, UserOrganisation)]
        self.kept: OrderedDict[int, tuple[tuple, User]] = OrderedDict()
        self.lock = threading.Lock()

    def joined(self, first):
        """first, joined to the person's roles, custom roles and organisations (one row per role and organisation)."""
        user, held, custom, member = (model.__table__ for model in (User, UserRole, CustomRole, UserOrganisation))
        return (first.outerjoin(held, held.c.user_id == user.c.id).outerjoin(custom, custom.c.id == held.c.custom_role_id)
                .outerjoin(member, member.c.user_id == user.c.id))

    def person(self, connection, rows: list) -> User:
        """The person the rows (of self.columns) describe: the kept copy if it holds exactly these values, else one
        read now on the same connection (and kept)."""
        (u0, u1), (r0, r1), (c0, c1), (m0, m1) = self.bounds
        values = (tuple(rows[0][u0:u1]),
                  frozenset((tuple(row[r0:r1]), _frozen(tuple(row[c0:c1]))) for row in rows if row[r0] is not None),
                  frozenset(tuple(row[m0:m1]) for row in rows if row[m0] is not None))
        user_id = values[0][0]
        with self.lock:
            kept = self.kept.get(user_id)
            if kept is not None and kept[0] == values:
                self.kept.move_to_end(user_id)
                return kept[1]
        with Session(bind=connection) as session:
            user = session.execute(_ACTIVE_USER, {"user_id": user_id}).unique().scalar_one()
        with self.lock:  # kept under what it holds, which may be newer than the rows read a moment before
            self.kept[user_id] = (self.values_of(user), user)
            self.kept.move_to_end(user_id)
            while len(self.kept) > self.SIZE:
                self.kept.popitem(last=False)
        return user

    def values_of(self, user: User) -> tuple:
        """What a copy holds, in the form person() reads rows into."""
        a_user, a_held, a_custom, a_member = self.attributes

        def of(obj, names):
            return tuple(getattr(obj, name) for name in names)

        return (of(user, a_user),
                frozenset((of(held, a_held), _frozen(of(held.custom, a_custom) if held.custom is not None else (None,) * len(a_custom)))
                          for held in user.roles),
                frozenset(of(member, a_member) for member in user.memberships))


def _frozen(value):
    """value with its lists and objects (a custom role's JSON) made comparable and hashable."""
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(item) for item in value)
    if isinstance(value, dict):
        return tuple(sorted((key, _frozen(item)) for key, item in value.items()))
    return value


_PEOPLE = _People()

# Every API request looks its token up: one statement, built once (token, then the person's rows).
_TOKEN_ROWS = (select(ApiToken.revoked, ApiToken.expires_at, ApiToken.created_at, *_PEOPLE.columns)
               .select_from(_PEOPLE.joined(ApiToken.__table__.join(User.__table__, User.__table__.c.id == ApiToken.user_id)))
               .where(ApiToken.token_hash == bindparam("token_hash")))
_PERSON_ROWS = select(*_PEOPLE.columns).select_from(_PEOPLE.joined(User.__table__)).where(User.__table__.c.id == bindparam("user_id"))
# The person with their roles (and the custom roles' rows) and organisations in one statement, for a new copy.
_ACTIVE_USER = select(User).where(User.id == bindparam("user_id")).options(
    joinedload(User.roles).joinedload(UserRole.custom), joinedload(User.memberships))


def revoke_token(core: Core, token: str) -> bool:
    """Revoke one API token (signing a script out); False if it was unknown or no longer live."""
    with core.db.session() as session:
        return bool(session.execute(update(ApiToken).where(ApiToken.token_hash == token_hash(token), ApiToken.revoked.is_(False))
                                    .values(revoked=True).execution_options(synchronize_session=False)).rowcount)


def active_user(core: Core, user_id: int) -> User | None:
    """The signed-in person of a browser session, or None if the account is gone or deactivated."""
    with core.db.reading() as connection:
        rows = connection.execute(_PERSON_ROWS, {"user_id": user_id}).all()
        if not rows:
            return None
        user = _PEOPLE.person(connection, rows)
        return user if user.active else None


def sign_out(core: Core, user_id: int, everywhere: bool = False) -> int:
    """End every browser session of the person (their session epoch moves on); everywhere: revoke their API tokens
    too. Returns how many tokens were revoked."""
    with core.db.session() as session:
        user = session.get(User, user_id)
        if user is None:
            return 0
        user.session_epoch = (user.session_epoch or 0) + 1
        return revoke_tokens(session, user.id) if everywhere else 0


def sign_in(core: Core, username: str, password: str) -> User:
    """The user with these credentials."""
    return _signed_in(core, username, password, lambda session, user: user)


def sign_in_for_token(core: Core, username: str, password: str) -> str:
    """A new API token for these credentials, valid for the configured number of hours."""
    return _signed_in(core, username, password, lambda session, user: issue_token(session, user, core.settings.token_hours))


def _signed_in(core: Core, username: str, password: str, then):
    """then(session, user) in the sign-in's transaction (a refused sign-in changes nothing)."""
    with core.db.session() as session:
        user = authenticate(session, username, password)
        return then(session, user)


def create_user(core: Core, username: str, password: str, roles: list[str], display_name: str = "",
                email: str | None = None, organisations: list[str] | None = None) -> User:
    """A new account (people admin, the CLI and the demo)."""
    with core.db.session() as session:
        return add_user(session, username, password, roles, display_name, email, organisations)


def ensure_organisation(core: Core, name: str, kind: str) -> bool:
    """Add an organisation unless one of that name exists; True if it was added."""
    with core.db.session() as session:
        if session.scalar(select(Organisation).where(Organisation.name == name)) is not None:
            return False
        session.add(Organisation(name=name, kind=kind))
        return True


def find_user(core: Core, username: str) -> User | None:
    with core.db.session(readonly=True) as session:
        return user_by_name(session, username)


def usernames(session, ids) -> dict[int, str]:
    """Usernames of the given user ids (None and unknown ids left out), in one query."""
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.username).where(User.id.in_(ids))).all())


def display_names(session, ids) -> dict[int, str]:
    """What people are called on pages: their display name, or their username where none is recorded."""
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return {i: shown or name for i, shown, name in session.execute(select(User.id, User.display_name, User.username).where(User.id.in_(ids)))}


def user_by_name(session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))
