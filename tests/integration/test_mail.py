"""E-mail goes through real SMTP (a local aiosmtpd server); when SMTP is down nothing is lost."""
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from apflow.services import notifications
from apflow.store import outbox
from apflow.store.models import OutboxEmail, User
from tests.support import free_port


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, envelope.content.decode("utf-8", "replace")))
        return "250 OK"


@pytest.fixture
def smtp(core):
    core.settings.smtp_host, core.settings.smtp_port = "127.0.0.1", free_port()
    servers = []

    def start():
        inbox = Inbox()
        controller = Controller(inbox, hostname="127.0.0.1", port=core.settings.smtp_port)
        controller.start()
        servers.append(controller)
        return inbox

    yield start
    for controller in servers:
        controller.stop()


def queue(core, people, count):
    with core.db.session() as s:
        for person in people:
            s.get(User, person.id).email = f"{person.username}@school.example"
        for i in range(count):
            outbox.notify(s, [s.get(User, p.id) for p in people], "reminder", f"Review {i} is due", subject=f"Review {i}")


def unsent(core):
    with core.db.session() as s:
        return s.scalar(select(func.count()).select_from(OutboxEmail).where(OutboxEmail.sent_at.is_(None)))


def test_mail_queued_while_smtp_is_down_is_all_sent_once_it_is_back(core, people, smtp, frozen_clock):
    queue(core, [people["coordinator"], people["manager"]], 3)
    assert notifications.deliver_outbox(core) == (0, 0)  # nothing claimed while the server cannot be reached
    assert unsent(core) == 6
    with core.db.session() as s:
        assert {m.attempts for m in s.scalars(select(OutboxEmail))} == {0}  # an outage costs no message a try
    inbox = smtp()
    assert notifications.deliver_outbox(core) == (6, 0)  # the next pass after it is back sends everything
    assert unsent(core) == 0
    assert sorted(r[0] for r, _ in inbox.messages) == ["boss@school.example"] * 3 + ["coord@school.example"] * 3
    assert any("Subject: Review 2" in body for _, body in inbox.messages)
    frozen_clock.advance(timedelta(hours=1))
    assert notifications.deliver_outbox(core) == (0, 0)
    assert len(inbox.messages) == 6


def test_no_smtp_configured_keeps_mail_in_the_outbox(core, people):
    core.settings.smtp_host = ""
    queue(core, [people["coordinator"]], 1)
    assert notifications.deliver_outbox(core) == (0, 0)
    assert unsent(core) == 1
