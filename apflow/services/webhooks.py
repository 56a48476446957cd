"""Post the webhooks service tasks queued (apflow.services.operations), from the scheduler, never inside a step.

Each webhook is claimed with a lease in a transaction of its own, posted with a timeout and no redirects (a redirect
could lead off the allowlist), then marked sent, or tried again later with a growing wait (5 s, 10 s, 20 s ... up to
webhook_retry_cap_seconds) until webhook_max_attempts tries, when it goes dead. A receiver answering 4xx (other than
408 or 429) refused it for good. The URL is checked against APFLOW_WEBHOOK_ALLOWLIST again before each try.

The body is the JSON object of the fields the diagram named; the headers X-Apflow-Delivery (the same on every try, so a
receiver can ignore a repeat), X-Apflow-Instance and X-Apflow-Element say where it comes from. Python's own urllib is
used: one POST with a timeout needs no extra dependency.
"""
from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from datetime import timedelta

from apflow.clock import clock
from apflow.engine.service_tasks import split_list, url_allowed
from apflow.store import outbox
from apflow.store.models import OutboxWebhook

from .core import Core

log = logging.getLogger(__name__)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # the 3xx answer is then an error: a redirect is not followed off the allowlist


_OPENER = urllib.request.build_opener(_NoRedirect)


def retry_after(settings, attempts: int) -> timedelta:
    return outbox.backoff(settings.webhook_retry_cap_seconds, attempts)


def post(settings, hook: OutboxWebhook) -> tuple[int | None, str | None, bool]:
    """(HTTP status, error, permanent): one try of one webhook."""
    if not url_allowed(hook.url, split_list(settings.webhook_allowlist)):
        return None, "the address is no longer on APFLOW_WEBHOOK_ALLOWLIST", True
    request = urllib.request.Request(hook.url, data=json.dumps(hook.payload or {}).encode("utf-8"), method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "apflow-webhook",
        "X-Apflow-Delivery": str(hook.id), "X-Apflow-Instance": str(hook.instance_id or ""), "X-Apflow-Element": hook.element})
    try:
        with _OPENER.open(request, timeout=settings.webhook_timeout) as response:
            response.read(65536)
            return response.status, None, False
    except urllib.error.HTTPError as err:
        permanent = 400 <= err.code < 500 and err.code not in (408, 429)
        return err.code, f"the receiver answered {err.code} {err.reason}".strip(), permanent
    except (OSError, ValueError) as err:  # refused, timed out, unreachable, or an address it cannot use
        reason = getattr(err, "reason", None) or err
        return None, f"the receiver could not be reached: {reason}"[:500], False


def deliver_webhooks(core: Core, limit: int = 50) -> tuple[int, int]:
    """Post due webhooks, one at a time; returns (sent, failed)."""
    settings = core.settings
    sent = failed = 0
    lease = timedelta(seconds=max(60.0, settings.webhook_timeout * 3))
    for _ in range(limit):
        hook = outbox.claim_one(core.db, OutboxWebhook, lease)
        if hook is None:
            break
        status, error, permanent = post(settings, hook)
        with core.db.session() as session:
            row = session.get(OutboxWebhook, hook.id)
            now = clock.now()
            row.attempts += 1
            row.last_status, row.claimed_until = status, None
            if error is None:
                row.sent_at, row.last_error = now, None
                sent += 1
                continue
            row.last_error = error[:2000]
            failed += 1
            if permanent or row.attempts >= settings.webhook_max_attempts:
                row.dead_at = now
                log.warning("webhook %s to %s given up after %d tries: %s", hook.id, hook.url, row.attempts, error)
            else:
                row.next_attempt_at = now + retry_after(settings, row.attempts)
                log.warning("webhook %s to %s failed (try %d), tried again later: %s", hook.id, hook.url, row.attempts, error)
    return sent, failed
