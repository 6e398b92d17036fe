#!/usr/bin/python3
"""The dashboard in a real browser: headless Chromium driven by Selenium
(Debian's chromium, chromium-driver, python3-selenium), against the real
slipwayd that dashboard_browser_test.cc started and prepared.

  dashboard_browser.py CASE --url URL [--token T] [--control C] [--run N]
                       [--pid P] [--repo R]

Each CASE is one function below; it exits 0 when what it checks holds and
1 with the reason otherwise. Screenshots of every view go to
$TEST_UNDECLARED_OUTPUTS_DIR (Bazel keeps them as the test's outputs).
Every case also fails on a Content-Security-Policy violation or a
JavaScript error in the browser's console: the page must work under its
own policy. Waits are bounded polls for a state (never a sleep to race).
"""
import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import (NoSuchElementException, SessionNotCreatedException,
                                        StaleElementReferenceException, TimeoutException)
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

WAIT = 60  # seconds a state may take to show (slow, shared machine)


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def shots_dir():
    d = os.environ.get("TEST_UNDECLARED_OUTPUTS_DIR") or os.path.join(tempfile.gettempdir(), "dashboard-shots")
    os.makedirs(d, exist_ok=True)
    return d


class Browser:
    def __init__(self, url, width=1280, height=900):
        self.url = url.rstrip("/")
        # Chromium's own start sometimes fails on a busy host ("chrome not
        # reachable": chromedriver gave up waiting for its DevTools port).
        # That is the browser's start, not the page under test: tried again
        # with a fresh profile, at most three times.
        for attempt in range(3):
            self.profile = tempfile.mkdtemp(prefix="slipway-chromium-")
            try:
                self.driver = webdriver.Chrome(
                    service=Service("/usr/bin/chromedriver"), options=self._options(width, height))
                break
            except SessionNotCreatedException as e:
                shutil.rmtree(self.profile, ignore_errors=True)
                if attempt == 2:
                    raise
                print("chromium did not start (%s); again" % str(e).splitlines()[0], file=sys.stderr)
        self.console = []

    def _options(self, width, height):
        options = Options()
        for arg in (
            "--headless=new",
            "--no-sandbox",  # root in a container: Chromium's own sandbox cannot start
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--user-data-dir=" + self.profile,
            "--window-size=%d,%d" % (width, height),
        ):
            options.add_argument(arg)
        options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        return options

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.quit()

    def quit(self):
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)

    def open(self, route=""):
        self.driver.get(self.url + "/ui/" + route)

    def go(self, route):
        """A hash route of the page already loaded (no document load)."""
        self.driver.execute_script("location.hash = arguments[0]", route)

    def wait(self, what, predicate, timeout=WAIT):
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.1, ignored_exceptions=(
                NoSuchElementException, StaleElementReferenceException)).until(lambda d: predicate())
        except TimeoutException:
            self.shot("timeout")
            raise Failure("timed out waiting for " + what + "; the page says:\n" + self.text()[:3000])

    def find(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def finds(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def has(self, css):
        return len(self.finds(css)) > 0

    def text(self, css="body"):
        try:
            return self.find(css).text
        except NoSuchElementException:
            return ""

    def shot(self, name):
        self.driver.save_screenshot(os.path.join(shots_dir(), name + ".png"))

    def logs(self):
        self.console.extend(self.driver.get_log("browser"))
        return self.console

    def check_console(self, allowed=()):
        """No CSP violation, no uncaught JavaScript error. `allowed`:
        substrings of messages expected (a 401, slipwayd stopped)."""
        bad = []
        for entry in self.logs():
            message = entry.get("message", "")
            if any(a in message for a in allowed):
                continue
            if "Content Security Policy" in message or "Refused to" in message:
                bad.append(message)
            elif entry.get("level") == "SEVERE" and "Failed to load resource" not in message:
                bad.append(message)
        check(not bad, "the browser's console has errors:\n" + "\n".join(bad))

    def login(self, token):
        self.open()
        self.wait("the login form", lambda: self.has("#login #token"))
        self.find("#token").send_keys(token)
        self.find("#login button[type=submit]").click()
        self.wait("the session in the header", lambda: self.has("#session"))


def http(method, url, token=None, body=None, headers=None):
    """One request; (status, parsed JSON or text)."""
    data = None
    h = dict(headers or {})
    if token:
        h["Authorization"] = "Bearer " + token
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


def run_status(args, run_id):
    status, run = http("GET", "%s/api/v1/runs/%d" % (args.url, run_id), args.control)
    check(status == 200, "GET run %d: %s %s" % (run_id, status, run))
    return run


def step_of(run, name):
    for s in run.get("steps", []):
        if s["name"] == name:
            return s
    return {}


# --- Cases ---

def case_login(args):
    """No credential: the login form, not the data; a wrong token is told."""
    with Browser(args.url) as b:
        b.open("#/runs")
        b.wait("the login form", lambda: b.has("#login #token"))
        check(not b.find("#nav").is_displayed(), "the navigation is shown before login")
        check(not b.has("#runs"), "the runs table is shown without a session")
        b.shot("login")
        b.find("#token").send_keys("slw_" + "0" * 64)
        b.find("#login button[type=submit]").click()
        b.wait("the wrong-token message", lambda: "not valid" in b.text("#login-error"))
        check(not b.has("#session"), "a wrong token made a session")
        b.check_console(allowed=("401",))


def case_runs_live(args):
    """A run triggered after the page loaded appears, and ends, without a reload."""
    with Browser(args.url) as b:
        b.login(args.token)
        b.go("#/runs")
        b.wait("the runs table", lambda: b.has("#runs-body") and "Loading" not in b.text("#runs-note"))
        b.driver.execute_script("window.__noReload = 'still here'")
        status, run = http("POST", "%s/api/v1/repos/%s/runs" % (args.url, args.repo), args.control, {"branch": "main"})
        check(status == 201, "trigger: %s %s" % (status, run))
        row = "#run-%d" % run["id"]
        b.wait("the new run's row", lambda: b.has(row))
        b.wait("the row to say the run ended", lambda: b.find(row).get_attribute("data-status") in ("success", "failure"))
        check(b.driver.execute_script("return window.__noReload") == "still here", "the page was reloaded")
        b.shot("runs")
        b.go("#/repos")
        b.wait("the repository's branches", lambda: b.has("#repo-%s table" % args.repo))
        b.wait("the badge", lambda: b.driver.execute_script(
            "const i = document.querySelector('#repos img'); return i && i.complete && i.naturalWidth > 0"))
        b.shot("repos")
        b.check_console()


def case_log_live(args):
    """A step's log shows while the step writes it, with its colours, escaped."""
    with Browser(args.url) as b:
        b.login(args.token)
        b.go("#/runs/%d/steps/tick" % args.run)
        b.wait("the first line", lambda: b.has("#L1"))
        # Seen while the step still runs: the log is followed, not read after.
        run = run_status(args, args.run)
        check(step_of(run, "tick").get("status") == "running",
              "the step was not running when its first line showed: %s" % step_of(run, "tick"))
        check(b.has("#L1 span.ansi-green-fg"), "line 1 has no colour: " + b.find("#L1").get_attribute("innerHTML"))
        check(not b.has(".log-lines[data-done]"), "the log ended before the step did")
        b.wait("a later line", lambda: b.has("#L3"))
        # `<b>&amp;` printed by the step is text, not markup.
        check("<b>&amp;" in b.text("#L1"), "line 1 reads %r" % b.text("#L1"))
        check(not b.has(".log-lines b"), "the step's output became HTML")
        b.shot("run_log_live")
        b.check_console()


def case_failed_test(args):
    """A failed JUnit case is listed with its message; views as screenshots."""
    with Browser(args.url) as b:
        b.login(args.token)
        b.go("#/runs/%d" % args.run)
        b.wait("the failed tests", lambda: b.has("#failed-tests li"))
        text = b.text("#failed-tests")
        check("ci.Calc.divides" in text and "division by zero" in text, "failed tests read: " + text)
        check("1 failed" in b.text("#test-counts"), "counts read: " + b.text("#test-counts"))
        b.wait("the step graph", lambda: b.has("#graph .step"))
        b.shot("run")
        b.go("#/runs/%d/steps/unit/L1" % args.run)
        b.wait("the log line anchor", lambda: b.has("#L1.target"))
        b.shot("run_log")
        b.go("#/tests/%s" % args.repo)
        b.wait("the slowest tests chart", lambda: b.has("#slowest[data-chart=drawn]"))
        b.shot("tests")
        b.find("#slowest details summary").click()
        b.find("#slowest table a").click()
        b.wait("a test's history strip", lambda: b.has("#strip .cell"))
        b.shot("test_history")
        b.go("#/promotions")
        b.wait("the promotions view", lambda: b.has("#promotions") and "Loading" not in b.text("#promotions"))
        b.shot("promotions")
        b.driver.set_window_size(390, 844)
        b.go("#/runs/%d" % args.run)
        b.wait("the run at 390 px", lambda: b.has("#failed-tests li"))
        width = b.driver.execute_script("return document.documentElement.scrollWidth")
        check(width <= 390, "the run page is %d px wide at a 390 px window" % width)
        b.shot("run_390px")
        b.check_console()


def case_cancel(args):
    """An operate token cancels a running run from the page."""
    with Browser(args.url) as b:
        b.login(args.token)
        b.go("#/runs/%d" % args.run)
        b.wait("the Cancel button", lambda: b.has("#cancel"))
        b.shot("run_cancel")
        b.find("#cancel").click()
        b.wait("the run to show cancelled", lambda: "cancelled" in b.text("h1"))
        check(run_status(args, args.run)["status"] == "cancelled", "the run was not cancelled")
        check(not b.has("#cancel"), "Cancel is still offered")
        b.check_console()


def case_read_cannot_cancel(args):
    """A read token sees the running run without Cancel; the API says 403."""
    with Browser(args.url) as b:
        b.login(args.token)
        check("(read)" in b.text("#session"), "the session reads " + b.text("#session"))
        b.go("#/runs/%d" % args.run)
        b.wait("the step graph", lambda: b.has("#graph .step"))
        b.wait("the log", lambda: b.has(".log-panel"))
        check(run_status(args, args.run)["status"] == "running", "the run is not running")
        check(not b.has("#cancel") and not b.has("#rerun") and not b.has("#promote"), "an action button is shown to a reader")
        b.shot("run_read_only")
        # The page's own way, cookie and CSRF header included: refused.
        result = b.driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            (async () => {
              const s = await (await fetch('/api/v1/session')).json();
              const r = await fetch('/api/v1/runs/%d/cancel',
                  {method: 'POST', headers: {'X-Slipway-CSRF': s.csrf}});
              done({status: r.status, body: await r.text()});
            })().catch((e) => done({status: 0, body: String(e)}));
        """ % args.run)
        check(result["status"] == 403, "cancel with the read session: %s" % result)
        check(run_status(args, args.run)["status"] == "running", "the run stopped")
        b.check_console(allowed=("403",))


def case_unreachable(args):
    """slipwayd stopped under a loaded page: the banner says so."""
    with Browser(args.url) as b:
        b.login(args.token)
        b.go("#/runs")
        b.wait("the runs table", lambda: b.has("#runs-body"))
        b.wait("the event stream", lambda: b.driver.execute_script("return document.body.dataset.stream") == "open")
        check(not b.find("#banner").is_displayed(), "the banner shows while slipwayd runs")
        os.kill(args.pid, signal.SIGTERM)  # the test's own slipwayd, by pid
        b.wait("the unreachable banner", lambda: b.find("#banner").is_displayed() and
               "cannot be reached" in b.text("#banner"))
        b.go("#/repos")  # a view's fetch fails too: the banner stays
        b.wait("the repositories' error", lambda: "cannot be reached" in b.text("#repos"))
        check(b.find("#banner").is_displayed(), "the banner went away")
        b.shot("unreachable")
        b.check_console(allowed=("ERR_CONNECTION_REFUSED", "net::", "127.0.0.1"))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


def raw_get(url, headers=None):
    """(status, headers, body bytes) without following redirects."""
    opener = urllib.request.build_opener(_NoRedirect)
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with opener.open(request, timeout=30) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def case_page_headers(args):
    """Pages need no token and carry the strict CSP and its companions;
    assets revalidate by ETag; made-up asset paths reach nothing."""
    import re
    status, headers, _ = raw_get(args.url + "/")
    check(status == 302 and headers.get("Location") == "/ui/", "GET / answered %s %s" % (status, headers.get("Location")))
    status, headers, body = raw_get(args.url + "/ui/")
    check(status == 200, "GET /ui/ answered %s" % status)
    check(headers.get("Content-Type", "").startswith("text/html"), "index type %s" % headers.get("Content-Type"))
    for name, want in (("Content-Security-Policy", CSP), ("X-Content-Type-Options", "nosniff"),
                       ("Referrer-Policy", "no-referrer"), ("X-Frame-Options", "DENY"),
                       ("Cache-Control", "no-cache")):
        check(headers.get(name) == want, "%s: %r, not %r" % (name, headers.get(name), want))
    html = body.decode()
    check(not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "index.html has an inline script")
    check("<style" not in html and " style=" not in html, "index.html has an inline style")
    etag = headers.get("ETag")
    check(etag and etag.startswith('"') and not etag.startswith('W/'), "ETag %r" % etag)
    status, _, body = raw_get(args.url + "/ui/", {"If-None-Match": etag})
    check(status == 304 and not body, "a matching If-None-Match answered %s" % status)
    for asset, kind in (("app.js", "text/javascript"), ("style.css", "text/css"), ("ansi_up.js", "text/javascript"),
                        ("chart.esm.js", "text/javascript"), ("chunks/helpers.segment.js", "text/javascript")):
        status, headers, body = raw_get(args.url + "/ui/assets/" + asset)
        check(status == 200 and headers.get("Content-Type", "").startswith(kind), "%s: %s %s" % (asset, status, headers.get("Content-Type")))
        check(headers.get("Content-Security-Policy") == CSP, "%s has no CSP" % asset)
    status, _, body = raw_get(args.url + "/ui/assets/ansi_up.js")
    check(b"export default" in body, "ansi_up.js is not made an ES module")
    for hostile in ("/ui/assets/..%2f..%2fetc%2fpasswd", "/ui/assets/%2e%2e", "/ui/assets/index.html",
                    "/ui/assets/chunks/..%2fapp.js", "/ui/assets/app.js%00.css", "/ui/assets/APP.JS",
                    "/ui/assets/chunks/%2e%2e%2fstyle.css", "/ui/assets/.%2fapp.js", "/ui/assets/"):
        status, _, body = raw_get(args.url + hostile)
        check(status in (400, 404), "%s answered %s" % (hostile, status))
        check(b"<html" not in body and b"import" not in body, "%s served a file" % hostile)
    status, _, _ = raw_get(args.url + "/api/v1/runs")
    check(status == 401, "the data needs a credential: /api/v1/runs answered %s" % status)


CASES = {name[len("case_"):]: fn for name, fn in globals().items() if name.startswith("case_")}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("case", choices=sorted(CASES))
    p.add_argument("--url", required=True)
    p.add_argument("--token", default="")
    p.add_argument("--control", default="")
    p.add_argument("--run", type=int, default=0)
    p.add_argument("--pid", type=int, default=0)
    p.add_argument("--repo", default="app")
    args = p.parse_args()
    try:
        CASES[args.case](args)
    except Failure as e:
        print("FAILED %s: %s" % (args.case, e), file=sys.stderr)
        return 1
    print("ok " + args.case)
    return 0


if __name__ == "__main__":
    sys.exit(main())
