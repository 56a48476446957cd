"""A parent on a phone (390 px): signs in to their child's page, sees the timetable with places and times and a lesson
report, and receives the lesson reminder e-mail the evening before through real SMTP (R6, R7). Saves the README's
family screenshot."""
import shutil
import socket
from datetime import datetime, timezone

import pytest

from apflow.clock import UK
from apflow.config import ROOT
from tests.browser.conftest import served
from tests.scenarios.conftest import Lifecycle, seed_approved_provider
from tests.support import PASSWORD, SHOTS, sign_in


def uk(*args) -> datetime:
    return datetime(*args, tzinfo=UK).astimezone(timezone.utc)


@pytest.fixture
def mailbox():
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
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def family(tmp_path, sqlite_template, frozen_clock, mailbox):
    from apflow.config import Settings
    from apflow.services import calendars, lessons, processes, users
    from apflow.services.core import Core

    target = tmp_path / "browser.sqlite3"
    shutil.copy(sqlite_template, target)
    core = Core(Settings.from_env({}, database_url=f"sqlite:///{target}", instance_dir=tmp_path, run_scheduler=False, secret_key="browser",
                                  smtp_host="127.0.0.1", smtp_port=mailbox[1], base_url="http://apflow.example"))
    calendars.import_csv(core, calendars.DEMO_TERMS.read_text(), by="test")
    processes.deploy_paths(core, [ROOT / "bpmn"], by="test")
    people = {role: users.create_user(core, name, PASSWORD, [role], display_name=display, email=f"{name}@example.test")
              for role, name, display in [("coordinator", "coord", "Priya Shah"), ("headteacher", "head", "Daniel Okafor"),
                                          ("dsl", "dsl", "Helen Marsh"), ("senco", "senco", "Tom Reilly"), ("provider", "tutor", "Aisha Begum"),
                                          ("la_officer", "la1", "Graham Hughes"), ("parent", "parent1", "Jo Taylor"),
                                          ("pupil", "pupil1", "Jordan T."), ("manager", "boss", "Sam Carter")]}
    seed_approved_provider(core)
    frozen_clock.freeze(uk(2026, 1, 12, 8, 0))
    life = Lifecycle(core, people, frozen_clock)
    iid = life.active_placement()
    life.to_running(iid)
    frozen_clock.freeze(uk(2026, 1, 12, 15, 0))  # after Monday's session, the tutor writes its report
    lessons.write_report(core, people["provider"], life.placement_id(iid), "2026-01-12", "09:30",
                         "Stripped and rebuilt a carburettor; started on the gearbox.",
                         {"participation": 4, "behaviour": 5, "relationships": 4, "progress": 4, "wellbeing": 4})
    with served(core) as base:
        yield base, core, mailbox[0]
    core.db.dispose()


def test_R6_R7_a_parent_on_a_phone_sees_the_timetable_a_lesson_report_and_gets_the_reminder_email(chromium, family, frozen_clock):
    from apflow.services import notifications, watches

    base, core, inbox = family
    phone = chromium.new_page(viewport={"width": 390, "height": 844})
    sign_in(phone, base, "parent1")
    phone.get_by_role("heading", name="Jordan T.").wait_for()  # a parent lands on their child's page
    timetable = phone.locator("table.stack").first
    assert "Monday" in timetable.inner_text() and "09:30 to 14:30" in timetable.inner_text()
    assert "Hill Farm, Northtown NT9 9ZZ" in timetable.inner_text() and "Engineering" in timetable.inner_text()
    phone.get_by_text("Stripped and rebuilt a carburettor; started on the gearbox.").wait_for()
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scrolling
    phone.screenshot(path=str(SHOTS / "family-child-phone.png"), full_page=True)
    assert "Reminders are on" in phone.locator("#reminders ~ p").first.inner_text()

    frozen_clock.freeze(uk(2026, 1, 12, 18, 0))  # the evening before Tuesday's session: the scheduler's minute watch
    assert watches.run_all(core)["lesson reminders"] == 1
    assert notifications.deliver_outbox(core)[0] >= 1
    [(to, mail)] = [(to, body) for to, body in inbox.messages if "Subject: Lessons tomorrow" in body]
    assert to == ["parent1@example.test"]
    assert "Tomorrow (Tuesday 13 January)" in mail and "09:30 to 14:30  Engineering" in mail and "Hill Farm, Northtown NT9 9ZZ" in mail
    assert "http://apflow.example/family" in mail and "Jordan" not in mail

    phone.get_by_role("button", name="Switch reminders off").click()
    phone.get_by_text("Lesson reminders are off").first.wait_for()
    frozen_clock.freeze(uk(2026, 1, 13, 18, 0))
    assert watches.run_all(core)["lesson reminders"] == 0
