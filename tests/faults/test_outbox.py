"""The e-mail outbox against a real SMTP server in process (aiosmtpd) that refuses for good (550), refuses for now
(451), stops answering mid-message, or accepts: a permanent refusal goes dead at once, a temporary one backs off (capped
low) and goes dead after a bounded number of tries, a reply that never comes costs no message a try and sends
nothing twice, two senders at once send each message exactly once, and mail flows on the first pass after the
server is back. Managers see dead messages (recipient and subject) and send them again."""
import asyncio
import re
import threading
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from apflow.services import notifications
from apflow.services.core import Core
from apflow.store import outbox
from apflow.store.models import OutboxEmail, User
from apflow.web import create_app
from tests.support import browser, free_port


class Server:
    """An SMTP server whose answers a test decides: refuse = {address: reply}, answer_data = a reply for DATA
    instead of accepting (e.g. "451 ..."), stall = hold the DATA reply of a subject until released."""

    def __init__(self):
        self.accepted: list[tuple[str, str]] = []  # (recipient, subject) of each message accepted
        self.refuse: dict[str, str] = {}
        self.answer_data: str | None = None
        self.stall: str | None = None
        self.slow: tuple | None = None  # (clock, delta): each accepted message moves the app's clock on by delta
        self.meanwhile: tuple | None = None  # (subject, call): call() runs while this message waits for its reply
        self.released = threading.Event()
        self._lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        subject = re.search(r"^Subject: (.*)$", envelope.content.decode("utf-8", "replace"), re.M).group(1).strip()
        if self.stall and self.stall in subject and not self.released.is_set():
            while not self.released.is_set():  # never answers while the client waits; the client gives up
                await asyncio.sleep(0.05)
            return "451 4.3.0 Too late, try again"
        if self.answer_data:
            return self.answer_data
        if self.meanwhile and self.meanwhile[0] == subject:
            _, call = self.meanwhile
            self.meanwhile = None
            await asyncio.get_running_loop().run_in_executor(None, call)  # the server stays free to serve call()
        with self._lock:
            self.accepted.extend((rcpt, subject) for rcpt in envelope.rcpt_tos)
            if self.slow:
                self.slow[0].advance(self.slow[1])
        return "250 OK"


@pytest.fixture
def smtp(core):
    """Point apflow at a free port; smtp() starts the server there (before that, nothing listens)."""
    settings = core.settings
    settings.smtp_host, settings.smtp_port, settings.smtp_timeout = "127.0.0.1", free_port(), 2.0
    started = []

    def start() -> Server:
        server = Server()
        controller = Controller(server, hostname="127.0.0.1", port=settings.smtp_port)
        controller.start()
        started.append((server, controller))
        return server

    yield start
    for server, controller in started:
        server.released.set()
        controller.stop()


def queue(core, count: int, to: str = "coord@school.example", prefix: str = "Review") -> None:
    with core.db.session() as s:
        user = s.scalar(select(User).where(User.username == "coord"))
        user.email = to
        for i in range(count):
            outbox.notify(s, [user], "reminder", f"{prefix} {i} is due", subject=f"{prefix} {i}")


def mails(core) -> list[OutboxEmail]:
    with core.db.session(readonly=True) as s:
        return list(s.scalars(select(OutboxEmail).order_by(OutboxEmail.id)))


def test_a_permanent_refusal_goes_dead_at_once_and_others_still_go(core, people, smtp, frozen_clock):
    server = smtp()
    server.refuse["gone@school.example"] = "550 5.1.1 No such mailbox"
    queue(core, 1, to="gone@school.example", prefix="Lost")
    queue(core, 2, to="coord@school.example")
    assert notifications.deliver_outbox(core) == (2, 1)
    lost = mails(core)[0]
    assert lost.dead_at == frozen_clock.now() and lost.attempts == 1 and lost.sent_at is None
    assert "550" in lost.last_error and "No such mailbox" in lost.last_error
    frozen_clock.advance(timedelta(days=1))
    assert notifications.deliver_outbox(core) == (0, 0)  # never tried again by itself
    assert sorted(server.accepted) == [("coord@school.example", "Review 0"), ("coord@school.example", "Review 1")]


def test_a_temporary_refusal_backs_off_capped_low_then_goes_dead_after_the_bounded_tries(core, people, smtp, frozen_clock):
    core.settings.mail_max_attempts = 5
    server = smtp()
    server.answer_data = "451 4.7.1 Greylisted, try again later"
    queue(core, 1)
    waits = []
    for attempt in range(1, 6):
        assert notifications.deliver_outbox(core) == (0, 1)
        [mail] = mails(core)
        assert mail.attempts == attempt and "451" in mail.last_error
        if attempt < 5:
            assert mail.dead_at is None
            waits.append(mail.next_attempt_at - frozen_clock.now())
            assert notifications.deliver_outbox(core) == (0, 0)  # backing off, not spinning
            frozen_clock.advance(waits[-1])
    assert mail.dead_at is not None
    assert waits == [timedelta(seconds=s) for s in (5, 10, 20, 30)]  # doubling, capped at mail_retry_cap_seconds
    assert notifications.retry_after(core.settings, 12) == timedelta(seconds=30)


def test_a_reply_that_never_comes_costs_no_try_and_nothing_is_sent_twice(core, people, smtp):
    server = smtp()
    server.stall = "Review 1"
    queue(core, 3)
    assert notifications.deliver_outbox(core) == (1, 0)  # Review 0 sent; Review 1's reply timed out; the pass stops there
    stalled = mails(core)[1]
    assert (stalled.sent_at, stalled.attempts, stalled.claimed_until, stalled.dead_at) == (None, 0, None, None)
    assert "connection to the mail server failed" in stalled.last_error
    server.released.set()  # the server answers again (it did not take the stalled message)
    assert notifications.deliver_outbox(core) == (2, 0)  # at once: no backoff for a connection failure
    assert sorted(subject for _, subject in server.accepted) == ["Review 0", "Review 1", "Review 2"]


def test_mail_goes_on_the_first_pass_after_the_server_is_back(core, people, smtp):
    queue(core, 3)
    for _ in range(3):  # the server is down: nothing is claimed, nothing is charged a try
        assert notifications.deliver_outbox(core) == (0, 0)
    assert {(m.attempts, m.claimed_until, m.dead_at) for m in mails(core)} == {(0, None, None)}
    server = smtp()
    assert notifications.deliver_outbox(core) == (3, 0)  # same moment on the app's clock: no backoff to sit out
    assert len(server.accepted) == 3


def test_two_senders_at_once_send_each_message_exactly_once(core, people, smtp):
    """Two processes (two Cores) send the same outbox at the same moment: each message is claimed by one of them."""
    server = smtp()
    queue(core, 100)
    other = Core(core.settings)
    start = threading.Barrier(2)
    errors = []

    def sender(app):  # as a scheduler does: a pass, again and again, until the outbox is empty
        try:
            start.wait()
            while notifications.deliver_outbox(app, limit=7) != (0, 0):
                pass
        except Exception as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=sender, args=(app,)) for app in (core, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    other.db.dispose()
    assert not errors and not any(t.is_alive() for t in threads)
    assert sorted(subject for _, subject in server.accepted) == sorted(f"Review {i}" for i in range(100))  # each once
    assert all(m.sent_at is not None and m.attempts == 1 for m in mails(core))


def test_a_pass_that_outlasts_a_lease_sends_nothing_twice(core, people, smtp, frozen_clock):
    """A slow server: each message takes a minute, and while the third waits for its reply four more minutes pass
    and a second sender does a whole pass. The first pass has lasted longer than a lease by then, but each message
    was claimed only when its turn came, so the second sender finds only messages nobody holds."""
    server = smtp()
    server.slow = (frozen_clock, timedelta(minutes=1))
    queue(core, 20)
    other = Core(core.settings)

    def second_sender():
        slow, server.slow = server.slow, None  # the clock moves for the first sender's wait, not for these sends
        frozen_clock.advance(timedelta(minutes=4))
        while notifications.deliver_outbox(other) != (0, 0):
            pass
        server.slow = slow

    server.meanwhile = ("Review 2", second_sender)
    first = notifications.deliver_outbox(core)
    other.db.dispose()
    assert sorted(subject for _, subject in server.accepted) == sorted(f"Review {i}" for i in range(20))  # each once
    assert first == (3, 0)  # Review 0, 1, 2: the second sender sent the rest while the first waited


def test_a_message_claimed_by_a_sender_that_died_goes_again_only_after_its_lease(core, people, smtp, frozen_clock):
    server = smtp()
    queue(core, 1)
    outbox.claim_one(core.db, OutboxEmail, notifications.send_lease(core.settings))  # a sender claimed it, then died
    assert notifications.deliver_outbox(core) == (0, 0)  # another sender leaves it alone
    frozen_clock.advance(notifications.send_lease(core.settings) + timedelta(seconds=1))
    assert notifications.deliver_outbox(core) == (1, 0)  # the lease ran out: sent (at least once)
    assert len(server.accepted) == 1


def test_managers_see_dead_messages_by_recipient_and_subject_and_send_them_again(core, people, smtp, frozen_clock):
    server = smtp()
    server.refuse["coord@school.example"] = "550 5.1.1 No such mailbox"
    queue(core, 1, prefix="Secret pupil detail")
    with core.db.session() as s:
        s.scalar(select(OutboxEmail)).body = "Body text only the recipient should read\n"
    assert notifications.deliver_outbox(core) == (0, 1)
    [dead] = mails(core)
    app = create_app(core=core, run_scheduler=False)

    assert browser(app, "coord").get("/mail/undelivered").status_code == 403
    manager = browser(app, "boss")
    page = manager.get("/mail/undelivered").get_data(as_text=True)
    assert "coord@school.example" in page and "Secret pupil detail 0" in page
    assert "Body text only" not in page and "550" not in page
    refused = browser(app, "coord")
    assert refused.post(f"/mail/undelivered/{dead.id}/send-again", data={"csrf_token": refused.csrf}).status_code == 302
    assert mails(core)[0].dead_at is not None  # a coordinator's "send again" changed nothing

    del server.refuse["coord@school.example"]  # the address was fixed
    sent_again = manager.post(f"/mail/undelivered/{dead.id}/send-again", data={"csrf_token": manager.csrf})
    assert sent_again.status_code == 302
    again = mails(core)[0]
    assert (again.dead_at, again.attempts, again.last_error) == (None, 0, None)
    assert notifications.deliver_outbox(core) == (1, 0)
    assert server.accepted == [("coord@school.example", "Secret pupil detail 0")]
    assert "Every e-mail has been delivered" in manager.get("/mail/undelivered").get_data(as_text=True)
