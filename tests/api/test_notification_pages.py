"""Notifications link to what they are about, and every page shows how many are unread (issue 13)."""
from apflow.services import notifications
from apflow.store import outbox
from tests.support import browser, make_user, post


def test_notifications_are_links_and_the_unread_count_shows_until_read(app, core):
    user = make_user(core, "coord", "coordinator")
    with core.db.session() as s:
        outbox.notify(s, [s.merge(user)], "reminder", "Reminder: 'Check' is due.", link="/tasks/abc")
    client = browser(app, "coord")
    inbox = client.get("/inbox").get_data(as_text=True)
    assert 'aria-label="1 unread"' in inbox
    assert '<a href="/tasks/abc">Reminder: &#39;Check&#39; is due.</a>' in client.get("/notifications").get_data(as_text=True)
    assert client.get("/api/v1/notifications").get_json()["notifications"][0]["link"] == "/tasks/abc"
    post(client, "/notifications")
    assert notifications.unread_count(core, user) == 0
    assert "unread" not in client.get("/inbox").get_data(as_text=True)
