"""Queue in-app notifications and e-mails in the current transaction, so they exist exactly when what caused
them was committed; apflow.services.notifications sends the e-mails afterwards."""
from __future__ import annotations

from sqlalchemy import select

from apflow.clock import clock

from .models import Notification, OutboxEmail, User, UserRole


def role_members(session, role: str) -> list[User]:
    return list(session.scalars(select(User).join(UserRole).where(UserRole.role == role, User.active.is_(True))))


def notify(session, people: list[User], kind: str, message: str, instance_id: int | None = None,
           subject: str | None = None, link: str | None = None) -> None:
    """In-app notification for each person, and an e-mail in the outbox for those with an address."""
    now = clock.now()
    seen = set()
    for person in people:
        if person.id in seen:
            continue
        seen.add(person.id)
        session.add(Notification(user_id=person.id, instance_id=instance_id, kind=kind, message=message, created_at=now))
        if person.email:
            body = f"{message}\n\n{link}\n" if link else f"{message}\n"
            session.add(OutboxEmail(to_address=person.email, subject=subject or message[:120], body=body,
                                    created_at=now, next_attempt_at=now, attempts=0))
