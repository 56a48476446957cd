"""Telling a pupil's family from a step of the lifecycle (R77): termly progress updates and review invitations reach
the parents and carers the school linked to the pupil, in the app and by e-mail (as each chose), with a link to
their child's page. The e-mail names no child and carries no detail (it leaves the product)."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

from apflow.store import outbox
from apflow.store.models import User

from .models import Placement, Pupil, PupilContact


def linked_family(session, pupil_id: int) -> list[User]:
    """The active accounts of the pupil's linked parents and carers."""
    return list(session.scalars(select(User).join(PupilContact, PupilContact.user_id == User.id).where(
        PupilContact.pupil_id == pupil_id, PupilContact.removed_at.is_(None), User.active.is_(True)).distinct().order_by(User.id)))


def progress_update(session, placement: Placement, summary: str) -> int:
    pupil = session.get(Pupil, placement.pupil_id)
    people = linked_family(session, pupil.id)
    outbox.notify(session, people, "progress_update", f"Termly progress update for {pupil.name}: {summary[:300]}",
                  subject="A termly progress update from your child's school",
                  email="Your child's school has sent a termly progress update. Read it on your child's page:", link=f"/family/{pupil.ref}")
    return len(people)


def review_invitation(session, placement: Placement, meeting_on: date) -> int:
    pupil = session.get(Pupil, placement.pupil_id)
    people = linked_family(session, pupil.id)
    when = f"{meeting_on:%A} {meeting_on.day} {meeting_on:%B %Y}"
    outbox.notify(session, people, "review_invitation", f"You are invited to the review of {pupil.name}'s placement on {when}.",
                  subject="You are invited to a review of your child's placement",
                  email=f"You are invited to a review meeting about your child's placement on {when}. The details are on your child's page:",
                  link=f"/family/{pupil.ref}")
    return len(people)
