"""The roles people hold (DOMAIN.md's role table); BPMN lanes are named after them."""
from __future__ import annotations

import re
from dataclasses import dataclass

ROLES: dict[str, str] = {
    "coordinator": "AP Coordinator",
    "headteacher": "Headteacher",
    "dsl": "DSL",
    "deputy_dsl": "Deputy DSL",
    "senco": "SENCo",
    "provider": "Provider staff",
    "la_officer": "LA officer",
    "parent": "Parent",
    "pupil": "Pupil",
    "manager": "Manager",
}

_ALIASES = {
    "designated safeguarding lead": "dsl",
    "deputy designated safeguarding lead": "deputy_dsl",
    "senco / head of year": "senco",
    "head of year": "senco",
    "provider": "provider",
    "tutor": "provider",
    "learning mentor": "provider",
    "parent / carer": "parent",
    "parent/carer": "parent",
    "carer": "parent",
}


def _plain(name: str) -> str:
    return " ".join(str(name).strip().lower().split())


def role_key(title: str) -> str:
    """The key a custom role gets from its title: 'Attendance Officer' -> 'attendance_officer'."""
    return re.sub(r"[^a-z0-9]+", "_", _plain(title)).strip("_")


@dataclass(frozen=True)
class Catalogue:
    """The roles a diagram's lanes, escalateTo and candidate groups may name: the built-in roles (with their aliases)
    and the roles organisations defined (issue 17). Pure data: the engine resolves names through it without knowing
    where the custom roles came from (services/roles.py loads them from the database).

    resolve(name) -> key or None: by key or title, case- and space-insensitive ('attendance officer',
    'Attendance Officer', 'attendance_officer'), built-in roles and their aliases first."""
    custom: tuple[tuple[str, str], ...] = ()  # (key, title) of each custom role, as organisations defined them

    def resolve(self, name: str | None) -> str | None:
        if not name or not str(name).strip():
            return None
        plain = _plain(name)
        if plain in ROLES:
            return plain
        for slug, title in ROLES.items():
            if title.lower() == plain:
                return slug
        if plain in _ALIASES:
            return _ALIASES[plain]
        slug = role_key(plain)
        for key, title in self.custom:
            if key == plain or key == slug or _plain(title) == plain:
                return key
        return None

    def title(self, key: str) -> str:
        if key in ROLES:
            return ROLES[key]
        return next((title for k, title in self.custom if k == key), key)

    def keys(self) -> list[str]:
        return list(ROLES) + sorted({key for key, _ in self.custom} - set(ROLES))

    def titles(self) -> list[str]:
        """Every role's title, built-in first, for messages and the editor's lane list."""
        return [self.title(key) for key in self.keys()]

    def listed(self) -> str:
        """The roles, quoted, for a message: 'AP Coordinator', 'Headteacher', ..."""
        return ", ".join(f"'{title}'" for title in self.titles())


BUILTIN = Catalogue()
_known = {"catalogue": BUILTIN}  # the last catalogue services loaded: titles of custom roles for pages


def remember(catalogue: Catalogue) -> Catalogue:
    """Keep the titles of the custom roles for role_title() (pages show 'Attendance Officer', not its key)."""
    _known["catalogue"] = catalogue
    return catalogue


def known_title(key: str) -> bool:
    """Whether role_title knows this key's own title (built-in, or a custom role of the last catalogue loaded)."""
    return key in ROLES or _known["catalogue"].title(key) != key


def role_for_lane(lane: str | None) -> str | None:
    """The built-in role a lane name stands for, or None when the lane names no built-in role."""
    return BUILTIN.resolve(lane)


def role_title(slug: str) -> str:
    if slug in ROLES:
        return ROLES[slug]
    title = _known["catalogue"].title(slug)
    return title if title != slug else slug.replace("_", " ").capitalize()


SAFEGUARDING_ROLES = frozenset({"dsl", "deputy_dsl"})  # hold a child's child-protection file for their organisation (R81)
# Roles that also work the tasks of another role's lanes: a deputy DSL answers for the DSL when they are away.
COVERS: dict[str, frozenset[str]] = {"deputy_dsl": frozenset({"dsl"})}


def with_cover(roles: set[str]) -> set[str]:
    """The roles whose tasks people holding `roles` may work."""
    return set(roles).union(*(COVERS.get(role, frozenset()) for role in roles))
