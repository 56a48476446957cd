"""HTML to PDF with WeasyPrint, in worker processes so that printing a long pack never holds up other people's pages.

WeasyPrint is pure Python and busy for seconds on a long document; in a web thread it would hold the interpreter
lock for all of that time. Here it runs in at most MAX_AT_ONCE spawned processes; a request that finds them all busy
waits a little, then is told to try again. WeasyPrint fetches nothing: the pack's HTML is self-contained and its
stylesheet is passed in, so text a user typed can never make it load a file or a URL.
"""
from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from apflow.errors import ServiceError

MAX_AT_ONCE = 2
WAIT_FOR_SLOT_SECONDS = 20
RENDER_TIMEOUT_SECONDS = 300
STYLESHEET = Path(__file__).parent / "static" / "evidence.css"

_slots = threading.BoundedSemaphore(MAX_AT_ONCE)
_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None


class PrinterBusy(ServiceError):
    status, code = 503, "printer_busy"

    def __init__(self):
        super().__init__("Other evidence packs are being printed right now. Try again in a minute.")


def _refuse(url, *args, **kwargs):
    raise ValueError(f"evidence packs load nothing from outside ({url[:60]})")


def _render(html: str, css: str) -> tuple[bytes, int]:
    """In the worker: the PDF and its number of pages."""
    from weasyprint import CSS, HTML

    document = HTML(string=html, url_fetcher=_refuse).render(stylesheets=[CSS(string=css, url_fetcher=_refuse)])
    return document.write_pdf(), len(document.pages)


def _executor() -> ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(MAX_AT_ONCE, mp_context=multiprocessing.get_context("spawn"), max_tasks_per_child=50)
        return _pool


def _reset() -> None:
    global _pool
    with _lock:
        if _pool is not None:
            _pool.shutdown(wait=False, cancel_futures=True)
        _pool = None


def css_string(text: str) -> str:
    """A CSS string literal holding any text: every character but ASCII letters, digits and spaces escaped (each
    escape ends with the space that closes it, so a space after it stays)."""
    return '"' + "".join(c if c.isalnum() and c.isascii() or c == " " else f"\\{ord(c):06x} " for c in text) + '"'


def margin_css(title: str, organisation: str, printed: str) -> str:
    """What every page carries in its margins: the marking, the title, the organisation, who printed it, the page."""
    return (f"@page {{ @top-left {{ content: {css_string(title)}; }} @top-right {{ content: {css_string(organisation)}; }}"
            f" @bottom-left {{ content: {css_string(printed)}; }} }}")


def to_pdf(html: str, extra_css: str = "") -> tuple[bytes, int]:
    """The PDF of a self-contained HTML document and its page count; PrinterBusy when every worker stays busy."""
    if not _slots.acquire(timeout=WAIT_FOR_SLOT_SECONDS):
        raise PrinterBusy()
    try:
        css = STYLESHEET.read_text(encoding="utf-8") + "\n" + extra_css
        try:
            return _executor().submit(_render, html, css).result(timeout=RENDER_TIMEOUT_SECONDS)
        except BrokenProcessPool:  # a worker died (out of memory, killed): start afresh once
            _reset()
            return _executor().submit(_render, html, css).result(timeout=RENDER_TIMEOUT_SECONDS)
    finally:
        _slots.release()
