"""The console in Debian's Chromium (Playwright, headless) against one live lab with the
agent: log in, every service healthy, break api-crash from the Chaos page and watch its
incident open and close on the Incidents page without a reload, approve restore-db for a
db-data-loss from the incident's page, engage and release the kill switch, a viewer sees no
operator form, a forged post is refused. A screenshot of each page goes to the test's temp
dir (docs/console/ holds one of each, for the README).

One lab for the module (a lab start costs a core for half a minute); the tests run in order.
"""

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from breakfix.background import BackgroundLab, lab_environment, make_state_dir, remove_state_dir
from gameday.lab_handle import GamedayLab, connect
from gameday.side_actions import snapshot
from gameday.store import GamedayStore, save_run
from lab.envfile import read_env
from lab.secrets import read_secret
from lab.services import CHAOS_KEY, CONSOLE_OPERATOR_TOKEN, CONSOLE_VIEWER_TOKEN
from tests.support.eval_lab import write_operator_env
from tests.support.gameday_factories import make_case, make_report
from tests.support.system_binaries import require_binary
from tests.support.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.slow
INCIDENT_S = 150_000  # ms: an incident from the injection to its close, on a busy machine
# approvals for restore-db only (the rest of the evaluation's policy: no loop budget)
POLICY = {"AGENT_APPROVAL_REQUIRED": '["restore-db"]', "AGENT_APPROVAL_TIMEOUT_S": "600"}


@dataclass
class ConsoleLab:
    lab: BackgroundLab
    handle: GamedayLab
    url: str
    shots: Path

    def token(self, name: str) -> str:
        return read_secret(self.handle.paths.secret(name))


@pytest.fixture(scope="module")
def console_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleLab]:
    state_dir = make_state_dir("breakfix-console-")
    with WebhookReceiver() as receiver:
        write_operator_env(state_dir, receiver, POLICY)
        env = lab_environment(state_dir, agent=True, console=True)
        lab = BackgroundLab(state_dir, env)
        handle = None
        try:
            lab.start(timeout=240)
            handle = connect(lab.settings(), agent=True)
            wait_for_pipeline(handle)
            url = f"http://127.0.0.1:{lab.port('CONSOLE')}"
            yield ConsoleLab(lab, handle, url, tmp_path_factory.mktemp("screenshots"))
        finally:
            if handle is not None:
                handle.close()
            if lab.proc is not None and lab.proc.poll() is None:
                lab.down()
            remove_state_dir(state_dir)


def wait_for_pipeline(handle: GamedayLab, timeout_s: float = 180.0) -> None:
    """Until the agent's pipeline runs (its knowledge index is built first)."""
    assert handle.agent is not None
    deadline = time.monotonic() + timeout_s
    while handle.agent.get("/healthz").json().get("pipeline") != "running":
        assert time.monotonic() < deadline, "the agent's pipeline did not start"
        time.sleep(1)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = require_binary("chromium", package="chromium")
    with sync_playwright() as p:
        launched = p.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-gpu"]
        )
        yield launched
        launched.close()


def logged_in(browser: Browser, console_lab: ConsoleLab, token_file: str) -> BrowserContext:
    context = browser.new_context(base_url=console_lab.url, viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.goto("/lab")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.fill("input[name=token]", console_lab.token(token_file))
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/lab$"))
    page.close()
    return context


@pytest.fixture(scope="module")
def operator(browser: Browser, console_lab: ConsoleLab) -> Iterator[BrowserContext]:
    context = logged_in(browser, console_lab, CONSOLE_OPERATOR_TOKEN)
    yield context
    context.close()


def shot(page: Page, console_lab: ConsoleLab, name: str) -> None:
    page.screenshot(path=str(console_lab.shots / f"{name}.png"), full_page=True)


def no_secret_in(page: Page, console_lab: ConsoleLab) -> None:
    html = page.content()
    for secret in (
        console_lab.token(CHAOS_KEY),
        read_env(console_lab.handle.paths.env / "console.env")["CONSOLE_OPS_DB_URL"],
    ):
        assert secret not in html


def incident_ids(page: Page) -> set[str]:
    return set(
        page.locator("#incidents tbody tr[data-incident]").evaluate_all(
            "rows => rows.map(r => r.dataset.incident)"
        )
    )


def new_incident(page: Page, before: set[str], timeout_ms: int = 60_000) -> str:
    """The id of the first incident row not in `before`, once the live list shows one."""
    found = page.wait_for_function(
        """before => {
          const row = [...document.querySelectorAll('#incidents tr[data-incident]')]
            .find(r => !before.includes(r.dataset.incident));
          return row ? row.dataset.incident : null;
        }""",
        arg=sorted(before),
        timeout=timeout_ms,
    )
    return str(found.json_value())


def break_from_chaos_page(page: Page, fault: str) -> None:
    page.goto("/chaos")
    page.select_option("#break-fault", fault)
    page.click("#break-button")
    expect(page.locator(".flash.ok")).to_contain_text(f"injected {fault}")


def test_run_says_where_the_console_is_and_how_to_log_in(console_lab: ConsoleLab) -> None:
    said = console_lab.lab.output.read_text()
    secrets = console_lab.handle.paths.secrets
    assert f"web console at {console_lab.url}" in said
    assert f"cat {secrets / CONSOLE_OPERATOR_TOKEN}" in said
    assert f"cat {secrets / CONSOLE_VIEWER_TOKEN}" in said
    assert console_lab.token(CONSOLE_OPERATOR_TOKEN) not in said  # where, not the token


def test_operator_sees_every_service_healthy(
    operator: BrowserContext, console_lab: ConsoleLab
) -> None:
    page = operator.new_page()
    page.goto("/lab")
    expect(page.locator("#all-healthy")).to_be_visible(timeout=60_000)
    services = page.locator("#services tbody tr").evaluate_all(
        "rows => rows.map(r => [r.dataset.service, r.dataset.health])"
    )
    names = {name for name, _ in services}
    assert {"target", "target-db", "ops-db", "chaos", "agent", "observability", "console"} <= names
    assert all(health == "healthy" for _, health in services), services
    expect(page.locator("#kill-state")).to_have_class("released")
    # sparklines come from observability's series once it has a few samples
    expect(page.locator("tr[data-service=target] svg polyline").first).to_be_attached(
        timeout=30_000
    )
    no_secret_in(page, console_lab)
    shot(page, console_lab, "lab")
    page.close()


def test_api_crash_opens_and_closes_an_incident_without_a_reload(
    operator: BrowserContext, console_lab: ConsoleLab
) -> None:
    page = operator.new_page()
    page.goto("/incidents")
    before = incident_ids(page)
    page.evaluate("window.__notReloaded = true")
    chaos = operator.new_page()
    break_from_chaos_page(chaos, "api-crash")
    shot(chaos, console_lab, "chaos")
    chaos.close()
    page.bring_to_front()
    incident = new_incident(page, before)
    row = page.locator(f"tr[data-incident='{incident}']")
    expect(row).to_have_attribute("data-state", "resolved", timeout=INCIDENT_S)
    expect(row).to_have_attribute("data-fault", "api-crash")
    assert page.evaluate("window.__notReloaded") is True  # refreshed in place, never reloaded
    shot(page, console_lab, "incidents")
    page.close()


def test_restore_db_is_approved_from_the_incidents_page(
    operator: BrowserContext, console_lab: ConsoleLab
) -> None:
    snapshot(console_lab.handle)  # restore-db restores the latest verified snapshot
    page = operator.new_page()
    page.goto("/incidents")
    before = incident_ids(page)
    break_from_chaos_page(page, "db-data-loss")
    page.goto("/incidents")
    waiting = page.locator("#incidents tbody tr[data-state=awaiting_approval]").first
    expect(waiting).to_be_attached(timeout=90_000)
    incident = waiting.get_attribute("data-incident")
    assert incident not in before
    page.click(f"a[href='/incidents/{incident}']")
    expect(page.locator("#approval")).to_contain_text("restore-db")
    page.fill("#approve-form input[name=note]", "snapshot checked, go")
    page.click("#approve-form button")
    expect(page.locator(".flash.ok")).to_contain_text(f"approved {incident}")
    expect(page.locator("#incident-state")).to_have_text("resolved", timeout=INCIDENT_S)
    expect(page.locator("#actions tr[data-action=restore-db]")).to_have_attribute(
        "data-status", "succeeded"
    )
    expect(page.locator("body")).to_contain_text("by console")  # the agent's record
    expect(page.locator("#evidence")).to_contain_text("pg:")  # the features it saw
    shot(page, console_lab, "incident")
    page.goto("/chaos")  # the ledger's fault goes back (only missing rows re-inserted)
    for _ in range(5):  # each Revert reloads the page
        buttons = page.locator("#active form button")
        if buttons.count() == 0:
            break
        buttons.first.click()
        expect(page.locator(".flash")).to_contain_text("revert")
    expect(page.locator("#active")).to_contain_text("No active fault")
    page.close()


def test_kill_switch_engaged_and_released(
    operator: BrowserContext, console_lab: ConsoleLab
) -> None:
    page = operator.new_page()
    page.goto("/chaos")
    page.check("#kill-confirm")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#kill-button")
    expect(page.locator(".flash.ok")).to_contain_text("kill switch engaged")
    expect(page.locator("#kill-state")).to_have_class("engaged")
    assert console_lab.handle.chaos.get("/kill").json()["engaged"] is True
    page.select_option("#break-fault", "noop")
    page.click("#break-button")  # refused while engaged, with the chaos server's reason
    expect(page.locator(".flash.error")).to_contain_text("409 kill_switch_engaged")
    shot(page, console_lab, "chaos-killed")
    page.click("#release-form button")
    expect(page.locator(".flash.ok")).to_contain_text("kill switch released")
    expect(page.locator("#kill-state")).to_have_class("released")
    assert console_lab.handle.chaos.get("/kill").json()["engaged"] is False
    page.goto("/audit")
    actions = page.locator("#console-actions tbody tr").evaluate_all(
        "rows => rows.map(r => [r.dataset.action, r.dataset.outcome])"
    )
    for done in (
        ["break", "ok"],
        ["approve", "ok"],
        ["kill", "ok"],
        ["break", "refused"],
        ["release", "ok"],
    ):
        assert done in actions, actions
    expect(page.locator("#console-actions")).to_contain_text("operator")
    shot(page, console_lab, "audit")
    page.close()


def test_game_days_are_shown_and_compared(
    operator: BrowserContext, console_lab: ConsoleLab
) -> None:
    store = GamedayStore(
        read_env(console_lab.handle.paths.env / "console.env")["CONSOLE_OPS_DB_URL"]
    )
    try:
        with store.session() as session:
            save_run(session=session, report=make_report("gd-20260107-120000"))
            later = [
                make_case(),
                make_case("db-lock", status="failed", outage_s=61.0, censored=True),
            ]
            save_run(session=session, report=make_report("gd-20260108-120000", cases=later))
    finally:
        store.dispose()
    page = operator.new_page()
    page.goto("/gamedays")
    page.click("a[href='/gamedays/gd-20260108-120000']")
    expect(page.locator("#cases")).to_contain_text("db-lock")
    # the chart is drawn on request from the stored report: loaded, a real image
    page.wait_for_function(
        "() => { const i = document.querySelector('img.chart');"
        " return i && i.complete && i.naturalWidth > 100; }",
        timeout=30_000,
    )
    shot(page, console_lab, "gameday")
    page.goto("/gamedays/compare?before=gd-20260107-120000&after=gd-20260108-120000")
    expect(page.locator("#arm-deltas")).to_contain_text("agent")
    page.close()


def test_a_viewer_sees_no_operator_form(browser: Browser, console_lab: ConsoleLab) -> None:
    context = logged_in(browser, console_lab, CONSOLE_VIEWER_TOKEN)
    page = context.new_page()
    for path in ("/lab", "/chaos", "/incidents", "/audit", "/gamedays"):
        page.goto(path)
        expect(page.locator("#who")).to_have_text("viewer (viewer)")
        forms = page.locator("form[method=post]").evaluate_all(
            "forms => forms.map(f => f.getAttribute('action'))"
        )
        assert forms == ["/logout"], (path, forms)
    page.goto("/incidents")
    first = page.locator("#incidents tbody tr[data-incident]").first.get_attribute("data-incident")
    page.goto(f"/incidents/{first}")
    assert page.locator("form[method=post]").count() == 1
    context.close()


def test_a_forged_post_without_the_csrf_token_is_refused(
    operator: BrowserContext, console_lab: ConsoleLab
) -> None:
    answer = operator.request.post(
        f"{console_lab.url}/chaos/kill", form={"confirm": "yes", "reason": "forged"}
    )
    assert answer.status == 403
    assert answer.headers["x-console-error"] == "csrf_failed"
    time.sleep(0.5)
    assert console_lab.handle.chaos.get("/kill").json()["engaged"] is False


def test_services_are_restarted_from_the_lab_page_and_the_cli(
    operator: BrowserContext, console_lab: ConsoleLab
) -> None:
    runtime = console_lab.handle.runtime
    before = runtime.status("observability").pid
    page = operator.new_page()
    page.goto("/lab")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("tr[data-service=observability] form[action$='/restart'] button")
    expect(page.locator(".flash.ok")).to_contain_text("restart observability")
    after = runtime.status("observability").pid
    assert after is not None and after != before
    expect(page.locator("tr[data-service=observability]")).to_have_attribute(
        "data-health", "healthy", timeout=60_000
    )
    page.close()
    stopped = console_lab.lab.cli("stop", "upstream-fallback")
    assert "upstream-fallback: stopped" in stopped.stdout
    assert runtime.status("upstream-fallback").health == "stopped"
    started = console_lab.lab.cli("start", "upstream-fallback")
    assert "upstream-fallback:" in started.stdout
    assert runtime.status("upstream-fallback").pid is not None
    unknown = console_lab.lab.cli("restart", "nonesuch", check=False)
    assert unknown.returncode == 1 and "nonesuch" in unknown.stderr
