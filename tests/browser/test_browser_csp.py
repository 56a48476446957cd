"""The Content-Security-Policy in a real browser (Debian's headless Chromium): the pages people use, the diagram
editor and the form editor among them, load and work with nothing blocked, and an injected inline script is."""
from tests.browser.test_browser_modeler import click_element, open_editor
from tests.support import sign_in

# Every policy violation the page meets, recorded by the browser before any page script runs.
RECORD_VIOLATIONS = """window.__violations = [];
document.addEventListener('securitypolicyviolation', e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));"""


def violations(page) -> list[str]:
    return page.evaluate("window.__violations")


def test_pages_and_editors_run_under_the_policy_and_inline_script_is_blocked(chromium, live):
    base, _ = live
    page = chromium.new_page(viewport={"width": 1300, "height": 900})
    page.add_init_script(RECORD_VIOLATIONS)
    sign_in(page, base, "sam")
    for path in ("/inbox", "/placements", "/dashboard", "/calendar", "/processes", "/processes/referral_triage",
                 "/processes/referral_triage/migrate", "/account/password"):
        page.goto(f"{base}{path}")
        assert violations(page) == [], path

    open_editor(page, base)  # bpmn-js draws the diagram; the properties form is the editor's, never sent
    click_element(page, "Task_triage")
    name = page.get_by_label("Name", exact=True)
    name.fill("Triage the referral")
    name.press("Enter")
    assert page.url.endswith("/processes/referral_triage/edit")
    page.locator("g.djs-element[data-element-id='Task_triage']").first.dblclick()  # bpmn-js's own label editor
    page.wait_for_selector(".djs-direct-editing-parent")
    page.keyboard.press("Escape")
    page.locator(".djs-context-pad .entry[data-action='replace']").first.click()  # its popup menu
    page.wait_for_selector(".djs-popup")
    assert violations(page) == []

    page.goto(f"{base}/processes/referral_triage/diff?from=1&to=1")
    page.wait_for_selector("#diff-after[data-loaded='true']")
    assert violations(page) == []

    page.goto(f"{base}/processes")  # a new form, opened by name from the library (this was an inline handler)
    page.get_by_label("New form file name").fill("csp_check.schema.json")
    page.get_by_role("button", name="Create form").click()
    page.wait_for_url("**/forms/csp_check.schema.json?new=1")
    assert violations(page) == []

    page.evaluate("""() => { const s = document.createElement('script'); s.textContent = 'window.__ran = true';
                             document.body.appendChild(s); }""")
    assert page.evaluate("window.__ran === undefined")
    assert any(v.startswith("script-src") for v in violations(page))
    page.close()
