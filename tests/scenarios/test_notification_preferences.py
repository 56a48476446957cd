"""Notification preferences (issue 15, point 7): per kind, straight away (in apflow and by e-mail), a daily digest
e-mail at a set time, or in apflow only; safety alerts cannot be turned down, and no e-mail, immediate or digest,
carries child-protection detail or a child's name (R81)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from apflow.clock import UK
from apflow.errors import Invalid
from apflow.roles import ROLES
from apflow.services import preferences, safeguarding, users
from apflow.store import outbox
from apflow.store.models import DigestItem, Notification, OutboxEmail, User
from tests.scenarios.conftest import Lifecycle, seed_approved_provider
from tests.support import PASSWORD, browser, make_user, post


def uk(*args) -> datetime:
    return datetime(*args, tzinfo=UK).astimezone(timezone.utc)


def mails_to(core, address) -> list[OutboxEmail]:
    with core.db.session(readonly=True) as s:
        return list(s.scalars(select(OutboxEmail).where(OutboxEmail.to_address == address).order_by(OutboxEmail.id)))


def tell(core, username, kind, message, email=None):
    with core.db.session() as s:
        person = s.scalar(select(User).where(User.username == username))
        outbox.notify(s, [person], kind, message, instance_id=None, link="/inbox", email=email)


@pytest.fixture
def coord(core, frozen_clock):
    frozen_clock.freeze(uk(2026, 1, 12, 9, 0))
    return users.create_user(core, "coord", PASSWORD, ["coordinator"], display_name="Coord", email="coord@example.test")


def test_a_daily_digest_sends_one_email_a_day_at_the_set_time_listing_what_came_in(core, coord, frozen_clock):
    preferences.set_preferences(core, coord, {"reminder": "digest"})
    tell(core, "coord", "reminder", "Reminder: 'Plan' for Jordan T. is due", email="Due soon: 'Plan' (placement #1). Open the task:")
    frozen_clock.freeze(uk(2026, 1, 12, 11, 0))
    tell(core, "coord", "reminder", "Reminder: 'Consent' for Mia K. is due", email="Due soon: 'Consent' (placement #2). Open the task:")
    assert mails_to(core, "coord@example.test") == []  # nothing by e-mail yet
    with core.db.session(readonly=True) as s:
        assert len(list(s.scalars(select(Notification).where(Notification.user_id == coord.id)))) == 2  # in apflow at once
    frozen_clock.freeze(uk(2026, 1, 12, 16, 59))
    assert preferences.send_digests(core) == 0
    frozen_clock.freeze(uk(2026, 1, 12, 17, 0))
    assert preferences.send_digests(core) == 1
    assert preferences.send_digests(core) == 0  # every minute after: nothing more
    [digest] = mails_to(core, "coord@example.test")
    assert digest.subject == "Your daily apflow summary: 2 notifications"
    assert "Due soon: 'Plan' (placement #1)" in digest.body and "Due soon: 'Consent'" in digest.body
    assert "Jordan" not in digest.body and "Mia" not in digest.body  # the e-mail words, never the in-app text
    assert "\n/inbox\n" in digest.body  # a link on its own line becomes the site's address when sent
    frozen_clock.freeze(uk(2026, 1, 12, 17, 30))
    tell(core, "coord", "reminder", "Later", email="Later one")
    assert preferences.send_digests(core) == 0  # waits for tomorrow's digest: one e-mail a day
    frozen_clock.freeze(uk(2026, 1, 13, 8, 0))
    assert preferences.send_digests(core) == 0
    frozen_clock.freeze(uk(2026, 1, 13, 21, 0))  # the scheduler was down at 17:00: it catches up
    assert preferences.send_digests(core) == 1
    assert "Later one" in mails_to(core, "coord@example.test")[-1].body


def test_in_app_only_sends_no_email_and_immediate_is_the_default(core, coord):
    tell(core, "coord", "family_feedback", "Feedback from a parent", email="A parent has sent feedback.")
    assert len(mails_to(core, "coord@example.test")) == 1
    preferences.set_preferences(core, coord, {"family_feedback": "in_app"})
    tell(core, "coord", "family_feedback", "Feedback again", email="A parent has sent feedback again.")
    assert len(mails_to(core, "coord@example.test")) == 1
    with core.db.session(readonly=True) as s:
        assert [n.message for n in s.scalars(select(Notification).where(Notification.user_id == coord.id).order_by(Notification.id))] == [
            "Feedback from a parent", "Feedback again"]
        assert list(s.scalars(select(DigestItem))) == []


def test_safety_alerts_cannot_be_turned_down_to_a_digest(core, coord):
    with pytest.raises(Invalid) as refused:
        preferences.set_preferences(core, coord, {"unexplained_absence": "digest", "reminder": "digest"})
    assert "cannot wait for a digest" in refused.value.details["fields"]["unexplained_absence"][0]
    assert next(r for r in preferences.preferences(core, coord) if r["kind"] == "reminder")["mode"] == "immediate"  # nothing half-saved
    with core.db.session() as s:  # even a preference written some other way is ignored for a safety alert
        from apflow.store.models import NotificationPreference

        s.add(NotificationPreference(user_id=coord.id, kind="unexplained_absence", mode="digest", updated_at=datetime.now(timezone.utc)))
    tell(core, "coord", "unexplained_absence", "Unexplained absence: Jordan T.", email="A pupil's unexplained absence needs following up now.")
    [mail] = mails_to(core, "coord@example.test")
    assert "unexplained absence" in mail.body and "Jordan" not in mail.body
    rows = {r["kind"]: r for r in preferences.preferences(core, coord)}
    assert rows["unexplained_absence"]["safety"] and list(rows["unexplained_absence"]["options"]) == ["immediate"]
    assert rows["task_alert"]["safety"] and rows["escalation"]["safety"]


def test_every_signed_in_person_has_a_settings_page_and_bad_choices_are_named(core, coord):
    for role in ROLES:
        make_user(core, f"u_{role}", role)
    from apflow.web import create_app

    app = create_app(core=core, run_scheduler=False)
    for role in ROLES:
        page = browser(app, f"u_{role}").get("/preferences")
        assert page.status_code == 200 and "Safety alerts always come straight away" in page.get_data(as_text=True)
    parent = browser(app, "u_parent").get("/preferences").get_data(as_text=True)
    assert "Lesson reminders the evening before" in parent and "Termly progress update" in parent.replace("termly", "Termly")
    client = browser(app, "coord")
    bad = post(client, "/preferences", {"mode-reminder": "weekly"})
    assert bad.status_code == 422 and "Choose one of" in bad.get_data(as_text=True)
    assert post(client, "/preferences", {"mode-reminder": "digest"}).status_code == 302
    assert {r["kind"]: r["mode"] for r in client.get("/api/v1/preferences").json["preferences"]}["reminder"] == "digest"
    put = client.put("/api/v1/preferences", json={"preferences": {"task_alert": "in_app"}}, headers={"X-CSRF-Token": client.csrf})
    assert put.status_code == 422 and "task_alert" in put.json["error"]["details"]["fields"]


def test_R81_no_email_immediate_or_digest_carries_child_protection_detail_or_a_name(core, terms, lifecycle_deployed, frozen_clock):
    cast = {role: users.create_user(core, name, PASSWORD, [role], display_name=name.capitalize(), email=f"{name}@example.test")
            for role, name in [("coordinator", "coord"), ("headteacher", "head"), ("dsl", "dsl"), ("senco", "senco"), ("provider", "tutor"),
                               ("la_officer", "la1"), ("parent", "parent1"), ("pupil", "pupil1"), ("manager", "boss")]}
    for person in cast.values():  # everyone who may choose a digest for everything they can
        allowed = {r["kind"]: "digest" for r in preferences.preferences(core, person) if "digest" in r["options"]}
        preferences.set_preferences(core, person, allowed)
    seed_approved_provider(core)
    life = Lifecycle(core, cast, frozen_clock)
    iid = life.active_placement()
    life.to_running(iid)
    pid = life.placement_id(iid)
    safeguarding.raise_concern(core, cast["provider"], pid, "Bruise on his arm after the weekend.", detail="He said his uncle hit him.",
                               child_protection=True)
    frozen_clock.freeze(uk(2026, 1, 20, 16, 0))  # a week on: reminders and escalations fire...
    life.fire()
    from apflow.services import deadlines

    deadlines.fire_due_alerts(core)
    frozen_clock.freeze(uk(2026, 1, 20, 17, 0))  # ...and the digests go
    assert preferences.send_digests(core) >= 1
    with core.db.session(readonly=True) as s:
        mails = list(s.scalars(select(OutboxEmail)))
        items = list(s.scalars(select(DigestItem)))
    assert mails and any(m.subject.startswith("Your daily apflow summary") for m in mails)
    for text in [m.subject + m.body for m in mails] + [i.text for i in items]:
        assert "Bruise" not in text and "uncle" not in text and "Jordan" not in text, text
    dsl_mail = [m for m in mails if m.to_address == "dsl@example.test"]
    assert any("safeguarding concern needs a response now" in m.body for m in dsl_mail)  # the safety alert went at once
