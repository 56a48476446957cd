"""The roles people hold (DOMAIN.md's role table); BPMN lanes are named after them."""
from __future__ import annotations

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


def role_for_lane(lane: str | None) -> str | None:
    """The role slug a lane name stands for, or None when the lane names no known role."""
    if not lane:
        return None
    key = " ".join(lane.strip().lower().split())
    if key in ROLES:
        return key
    for slug, title in ROLES.items():
        if title.lower() == key:
            return slug
    return _ALIASES.get(key)


def role_title(slug: str) -> str:
    return ROLES.get(slug, slug)


SAFEGUARDING_ROLES = frozenset({"dsl", "deputy_dsl"})  # hold a child's child-protection file for their organisation (R81)
# Roles that also work the tasks of another role's lanes: a deputy DSL answers for the DSL when they are away.
COVERS: dict[str, frozenset[str]] = {"deputy_dsl": frozenset({"dsl"})}


def with_cover(roles: set[str]) -> set[str]:
    """The roles whose tasks people holding `roles` may work."""
    return set(roles).union(*(COVERS.get(role, frozenset()) for role in roles))
