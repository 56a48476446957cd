"""A family's side of the placement (R6, R7, R73, R77): a parent signs in to their child's page with the timetable and
where each session is, attendance, lesson reports, reviews and termly updates; asks for a review; gives feedback; gets a
lesson reminder e-mail the evening before. A parent never reaches another child, and nothing of a concern reaches them."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from apflow.clock import UK
from apflow.errors import Invalid, NotFound
from apflow.placements.models import Communication, LessonReminder, Pupil, PupilContact
from apflow.services import families, family_portal, lessons, notifications, safeguarding, users
from apflow.store.models import Notification, OutboxEmail
from tests.scenarios.conftest import Lifecycle, seed_approved_provider
from tests.support import PASSWORD, browser, post

SCHOOL, LA = "The Nest School", "Northshire CC"
PEOPLE = [("coord", "coordinator", SCHOOL), ("head", "headteacher", SCHOOL), ("dsl", "dsl", SCHOOL), ("senco", "senco", SCHOOL),
          ("boss", "manager", SCHOOL), ("tutor", "provider", "Bridges Learning"), ("la1", "la_officer", LA), ("parent1", "parent", None),
          ("parent2", "parent", None), ("pupil1", "pupil", None)]
ROLES = {"coord": "coordinator", "head": "headteacher", "dsl": "dsl", "senco": "senco", "boss": "manager", "tutor": "provider",
         "la1": "la_officer", "parent1": "parent", "pupil1": "pupil"}


def uk(*args) -> datetime:
    return datetime(*args, tzinfo=UK).astimezone(timezone.utc)


@pytest.fixture
def family(core, terms, lifecycle_deployed, frozen_clock):
    """A running placement of Jordan (P-0001) at Bridges Learning, Monday to Friday 09:30-14:30 at Hill Farm, with
    parent1 linked (named on the referral) and e-mail addresses for everyone; the clock on Monday 12 January 2026."""
    for name, kind in [(SCHOOL, "school"), (LA, "la")]:
        users.ensure_organisation(core, name, kind)
    seed_approved_provider(core)
    people = {name: users.create_user(core, name, PASSWORD, [role], display_name=name.capitalize(), email=f"{name}@example.test",
                                      organisations=[org] if org else []) for name, role, org in PEOPLE}
    frozen_clock.freeze(uk(2026, 1, 12, 8, 0))
    life = Lifecycle(core, {ROLES[n]: people[n] for n in ROLES}, frozen_clock)
    iid = life.active_placement()
    life.to_running(iid)
    return life, people, iid, life.placement_id(iid)


def second_child(life, people):
    """A second child of parent1's, Mia (P-0002), also running."""
    iid = life.active_placement(pupil_name="Mia T.", pupil_ref="P-0002")
    life.to_running(iid)
    return iid


def page_of(client, path="/"):
    response = client.get(path, follow_redirects=True)
    return response.status_code, response.get_data(as_text=True)


def test_R6_R7_a_parent_signs_in_to_their_childs_timetable_with_places_and_times_attendance_and_lesson_reports(core, family, frozen_clock):
    life, people, iid, pid = family
    frozen_clock.freeze(uk(2026, 1, 12, 15, 0))
    lessons.write_report(core, people["tutor"], pid, "2026-01-12", "09:30", "Stripped and rebuilt a carburettor.",
                         {"participation": 4, "behaviour": 4, "relationships": 3, "progress": 3, "wellbeing": 4},
                         school_comment="Talked about home; passed to the DSL.")
    from apflow.web import create_app

    parent = browser(create_app(core=core, run_scheduler=False), "parent1")
    status, page = page_of(parent)  # a parent lands on their child's page
    assert status == 200 and "<h1>Jordan T.</h1>" in page
    assert "Monday" in page and "09:30 to 14:30" in page and "Engineering" in page
    assert "At the provider" in page and "Hill Farm, Northtown NT9 9ZZ" in page
    assert "Stripped and rebuilt a carburettor." in page and "Aisha" not in page
    assert "passed to the DSL" not in page  # the tutor's comment for the school never reaches the family
    data = family_portal.child_page(core, people["parent1"], "P-0001")
    [placement] = data["placements"]
    assert placement["attendance"] and placement["attendance"][0]["day"] == "2026-01-12"  # today's session, from the register
    assert [s["day"] for s in placement["timetable"]] == ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]


def test_R6_a_parent_sees_only_their_own_children_and_switches_between_two(core, family):
    life, people, iid, pid = family
    from apflow.web import create_app

    app = create_app(core=core, run_scheduler=False)
    stranger = browser(app, "parent2")
    mine_refused = stranger.get("/family/P-0001")
    nobody = stranger.get("/family/P-9999")
    assert mine_refused.status_code == nobody.status_code == 404
    assert "Jordan" not in mine_refused.get_data(as_text=True)
    assert mine_refused.get_data(as_text=True).replace("P-0001", "X") == nobody.get_data(as_text=True).replace("P-9999", "X")
    assert stranger.get("/api/v1/family/children/P-0001").status_code == 404
    for who in ("coord", "tutor", "la1"):  # staff read the placement on their own pages, not as a family
        assert browser(app, who).get("/family/P-0001").status_code == 404
    with pytest.raises(NotFound):
        family_portal.give_feedback(core, people["parent2"], "P-0001", pid, "Lovely place.")
    second_child(life, people)
    parent = browser(app, "parent1")
    status, page = page_of(parent, "/family")
    assert "Jordan T." in page and "Mia T." in page  # a choice between the two children
    status, page = page_of(parent, "/family/P-0002")
    assert "<h1>Mia T.</h1>" in page and 'href="/family/P-0001"' in page
    # a parent the school removes from the child loses the page
    [contact] = [c for c in families.list_contacts(core, people["coord"], "P-0001")["contacts"] if c["username"] == "parent1"]
    families.remove_contact(core, people["coord"], "P-0001", contact["id"])
    assert parent.get("/family/P-0001").status_code == 404


def test_R77_the_termly_progress_update_reaches_the_parent_in_the_app_by_email_and_on_their_page(core, family):
    life, people, iid, pid = family
    life.do("Termly assessment against the plan", iid)
    life.do("Review the risk assessments", iid)
    life.do("Send the termly progress update", iid, update_summary="Good progress in English; attendance up to 94%.", visit_offered=True)
    with core.db.session(readonly=True) as s:
        [note] = s.scalars(select(Notification).where(Notification.user_id == people["parent1"].id, Notification.kind == "progress_update"))
        [mail] = s.scalars(select(OutboxEmail).where(OutboxEmail.to_address == "parent1@example.test",
                                                     OutboxEmail.subject.like("%progress update%")))
    assert "Good progress in English" in note.message and note.link == "/family/P-0001"
    assert "Jordan" not in mail.body + mail.subject and "/family/P-0001" in mail.body  # e-mail names no child
    [update] = family_portal.child_page(core, people["parent1"], "P-0001")["placements"][0]["progress_updates"]
    assert update["summary"].startswith("Good progress in English") and update["visit_offered"]


def hold_this_half_terms_review(life, iid, **invitation):
    life.do("Invite everyone to the review", iid, **invitation)
    life.do("Progress report for the review", iid)
    life.do("Hold the placement review", iid)


def test_R77_parents_are_invited_to_the_review_and_see_when_the_next_one_is(core, family):
    life, people, iid, pid = family
    reviews = family_portal.child_page(core, people["parent1"], "P-0001")["placements"][0]["reviews"]
    assert reviews["under_way"] and reviews["held_by"] is None  # the first review starts with the placement
    life.do("Invite everyone to the review", iid, meeting_on="2026-02-10", invited=["parents", "pupil", "provider"])
    with core.db.session(readonly=True) as s:
        [note] = s.scalars(select(Notification).where(Notification.user_id == people["parent1"].id, Notification.kind == "review_invitation"))
        [mail] = s.scalars(select(OutboxEmail).where(OutboxEmail.to_address == "parent1@example.test", OutboxEmail.subject.like("%invited%")))
    assert "Tuesday 10 February 2026" in note.message and "Jordan T." in note.message
    assert "Tuesday 10 February 2026" in mail.body and "Jordan" not in mail.body
    reviews = family_portal.child_page(core, people["parent1"], "P-0001")["placements"][0]["reviews"]
    assert reviews["invitations"] == [{"meeting_on": "2026-02-10", "upcoming": True, "invited_on": "2026-01-12"}]
    life.do("Progress report for the review", iid)
    assert family_portal.child_page(core, people["parent1"], "P-0001")["placements"][0]["reviews"]["held_by"] == "2026-02-13"
    life.do("Hold the placement review", iid)
    reviews = family_portal.child_page(core, people["parent1"], "P-0001")["placements"][0]["reviews"]
    assert not reviews["under_way"] and reviews["next_after"] == "2026-02-13"  # the next one starts when the half-term ends


def test_R73_a_parent_asks_for_a_review_from_their_childs_page(core, family):
    life, people, iid, pid = family
    from apflow.web import create_app

    hold_this_half_terms_review(life, iid)
    app = create_app(core=core, run_scheduler=False)
    parent = browser(app, "parent1")
    assert "Ask for a review" in page_of(parent, "/family/P-0001")[1]
    short = post(parent, "/family/P-0001/review-request", {"placement_id": pid, "reason": "No"})
    assert short.status_code == 422 and "at least 5 characters" in short.get_data(as_text=True)
    assert "Invite everyone to the review" not in life.names(iid)  # nothing was started
    done = post(parent, "/family/P-0001/review-request", {"placement_id": pid, "reason": "He is unhappy on the farm days."})
    assert done.status_code == 302 and "Invite everyone to the review" in life.names(iid)
    assert family_portal.child_page(core, people["parent1"], "P-0001")["placements"][0]["reviews"]["under_way"]
    again = post(parent, "/family/P-0001/review-request", {"placement_id": pid, "reason": "Still unhappy."})
    assert again.status_code == 422 and "already under way" in again.get_data(as_text=True)
    assert post(browser(app, "parent2"), "/family/P-0001/review-request", {"placement_id": pid, "reason": "Let me in."}).status_code == 404


def test_R77_feedback_from_a_parent_reaches_the_coordinator_once(core, family):
    life, people, iid, pid = family
    from apflow.web import create_app

    parent = browser(create_app(core=core, run_scheduler=False), "parent1")
    empty = post(parent, "/family/P-0001/feedback", {"placement_id": pid, "feedback": " "})
    assert empty.status_code == 422 and "Write your feedback" in empty.get_data(as_text=True)
    for _ in range(2):  # a double submit
        assert post(parent, "/family/P-0001/feedback", {"placement_id": pid, "feedback": "The farm days are working well."}).status_code == 302
    with core.db.session(readonly=True) as s:
        assert s.scalar(select(func.count()).select_from(Communication).where(Communication.kind == "family_feedback")) == 1
        [note] = s.scalars(select(Notification).where(Notification.user_id == people["coord"].id, Notification.kind == "family_feedback"))
        [mail] = s.scalars(select(OutboxEmail).where(OutboxEmail.to_address == "coord@example.test", OutboxEmail.subject.like("%feedback%")))
    assert "farm days are working well" in note.message and note.link == f"/placements/{iid}"
    assert "Jordan" not in mail.body and "farm days" not in mail.body
    with pytest.raises(Invalid):
        family_portal.give_feedback(core, people["parent1"], "P-0001", pid, "x" * 4001)


def test_R81_nothing_of_a_concern_reaches_the_family_page_or_their_notifications(core, family):
    life, people, iid, pid = family
    safeguarding.raise_concern(core, people["tutor"], pid, "Bruise on his arm after the weekend.", detail="He said his uncle hit him.",
                               child_protection=True)
    life.do("Respond to the concern and review the placement", iid, concern_action="suspend")
    data = family_portal.child_page(core, people["parent1"], "P-0001")
    text = repr(data)
    assert "Bruise" not in text and "uncle" not in text and "concern" not in text.lower()
    assert data["placements"][0]["status_words"] == "On hold: the school will be in touch" and data["placements"][0]["timetable"] == []
    with core.db.session(readonly=True) as s:
        told = [n.message for n in s.scalars(select(Notification).where(Notification.user_id == people["parent1"].id))]
    assert not any("Bruise" in m or "uncle" in m for m in told)


# -- lesson reminders the evening before (R7) ---------------------------------------------------------------------

def sent_reminders(core) -> list[OutboxEmail]:
    with core.db.session(readonly=True) as s:
        return list(s.scalars(select(OutboxEmail).where(OutboxEmail.subject.like("Lessons %")).order_by(OutboxEmail.id)))


def test_R7_each_linked_parent_gets_one_reminder_the_evening_before_listing_the_next_days_sessions(core, family, frozen_clock):
    life, people, iid, pid = family
    frozen_clock.freeze(uk(2026, 1, 12, 17, 59))
    assert family_portal.send_lesson_reminders(core) == 0  # not yet
    frozen_clock.freeze(uk(2026, 1, 12, 18, 0))
    assert family_portal.send_lesson_reminders(core) == 1
    assert family_portal.send_lesson_reminders(core) == 0  # every minute after: already sent
    [mail] = sent_reminders(core)
    assert mail.to_address == "parent1@example.test" and mail.subject == "Lessons tomorrow: 1 session"
    assert "Tomorrow (Tuesday 13 January)" in mail.body and "09:30 to 14:30  Engineering" in mail.body
    assert "At the provider: Hill Farm, Northtown NT9 9ZZ" in mail.body and "Jordan" not in mail.body
    # Friday evening: Monday's sessions (the next school day)
    frozen_clock.freeze(uk(2026, 1, 16, 19, 30))
    assert family_portal.send_lesson_reminders(core) == 1
    assert "On Monday 19 January" in sent_reminders(core)[-1].body
    frozen_clock.freeze(uk(2026, 1, 17, 18, 0))  # Saturday: no school day, nothing
    assert family_portal.send_lesson_reminders(core) == 0


def test_R7_a_scheduler_down_in_the_evening_catches_up_but_never_after_midnight(core, family, frozen_clock):
    life, people, iid, pid = family
    frozen_clock.freeze(uk(2026, 1, 13, 23, 45))  # down from 17:00 to 23:45 on Tuesday
    assert family_portal.send_lesson_reminders(core) == 1
    frozen_clock.freeze(uk(2026, 1, 15, 0, 30))  # down all Wednesday evening: after midnight Thursday's reminder is not sent late
    assert family_portal.send_lesson_reminders(core) == 0
    frozen_clock.freeze(uk(2026, 1, 15, 18, 0))
    assert family_portal.send_lesson_reminders(core) == 1  # Thursday evening, for Friday
    with core.db.session(readonly=True) as s:
        assert [r.day.isoformat() for r in s.scalars(select(LessonReminder).order_by(LessonReminder.id))] == ["2026-01-14", "2026-01-16"]


def test_R7_two_schedulers_never_send_one_reminder_twice(core, family, frozen_clock):
    life, people, iid, pid = family
    frozen_clock.freeze(uk(2026, 1, 12, 18, 5))
    day = datetime(2026, 1, 13).date()
    found = family_portal._sessions_on(core, day)  # both schedulers read the same parents...
    assert list(found) == [people["parent1"].id]
    assert family_portal.send_lesson_reminders(core) == 1  # ...one sends
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError):  # the other's claim fails on the unique parent-and-day row, with its e-mail
        family_portal._remind(core, people["parent1"].id, day, found[people["parent1"].id], tomorrow=True)
    assert len(sent_reminders(core)) == 1


def test_R7_reminders_switch_off_per_family_and_the_school_sees_who_gets_them(core, family, frozen_clock):
    life, people, iid, pid = family
    from apflow.web import create_app

    app = create_app(core=core, run_scheduler=False)
    parent = browser(app, "parent1")
    assert "Reminders are <strong>on</strong>" in page_of(parent, "/family/P-0001")[1]
    [row] = [c for c in families.list_contacts(core, people["coord"], "P-0001")["contacts"] if c["username"] == "parent1"]
    assert row["lesson_reminders"] is True
    post(parent, "/family/P-0001/reminders", {"on": "0"})
    assert "Reminders are <strong>off</strong>" in page_of(parent, "/family/P-0001")[1]
    [row] = [c for c in families.list_contacts(core, people["coord"], "P-0001")["contacts"] if c["username"] == "parent1"]
    assert row["lesson_reminders"] is False
    assert "Lesson reminders: no" in browser(app, "coord").get("/pupils/P-0001").get_data(as_text=True)
    frozen_clock.freeze(uk(2026, 1, 12, 18, 0))
    assert family_portal.send_lesson_reminders(core) == 0
    post(parent, "/family/P-0001/reminders", {"on": "1"})
    assert family_portal.send_lesson_reminders(core) == 1
    assert post(browser(app, "parent2"), "/family/P-0001/reminders", {"on": "0"}).status_code == 404


def test_R7_no_reminder_for_a_parent_without_email_or_a_placement_not_running(core, family, frozen_clock):
    life, people, iid, pid = family
    with core.db.session() as s:
        s.get(type(people["parent1"]), people["parent1"].id).email = None
    frozen_clock.freeze(uk(2026, 1, 12, 18, 0))
    assert family_portal.send_lesson_reminders(core) == 0
    with core.db.session() as s:
        s.get(type(people["parent1"]), people["parent1"].id).email = "parent1@example.test"
        pupil = s.scalar(select(Pupil).where(Pupil.ref == "P-0001"))
        assert s.scalar(select(func.count()).select_from(PupilContact).where(PupilContact.pupil_id == pupil.id)) >= 1
    safeguarding.raise_concern(core, people["tutor"], pid, "Worried after lunch.", detail="Detail.", child_protection=False)
    life.do("Respond to the concern and review the placement", iid, concern_action="suspend")
    assert family_portal.send_lesson_reminders(core) == 0  # suspended: no sessions to remind of


def test_R7_the_reminder_goes_through_real_smtp(core, family, frozen_clock, smtp_inbox):
    life, people, iid, pid = family
    frozen_clock.freeze(uk(2026, 1, 12, 18, 0))
    assert family_portal.send_lesson_reminders(core) == 1
    assert notifications.deliver_outbox(core)[0] >= 1
    [body] = [b for to, b in smtp_inbox.messages if to == ["parent1@example.test"] and "Subject: Lessons tomorrow" in b]
    assert "09:30 to 14:30" in body and "Hill Farm" in body and f"{core.settings.base_url}/family" in body


@pytest.fixture
def smtp_inbox(core):
    """A local SMTP server (aiosmtpd), as in tests/integration/test_mail.py."""
    import socket

    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append((envelope.rcpt_tos, envelope.content.decode("utf-8", "replace")))
            return "250 OK"

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    core.settings.smtp_host, core.settings.smtp_port = "127.0.0.1", port
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox
    controller.stop()

