#!/usr/bin/python3
"""The dashboard's run page in headless Chromium: see dashboard_bench.sh.

  dashboard_bench.py URL TOKEN_FILE LINES CASES LOADS FLOOD_RATE FLOOD_SECONDS
"""
import json
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from datetime import datetime

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def api(url, token, method="GET", body=None):
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": "Bearer " + token}
    if data:
        headers["Content-Type"] = "application/json"
    with urllib.request.urlopen(urllib.request.Request(url, data=data, method=method, headers=headers), timeout=60) as r:
        raw = r.read()
    return json.loads(raw) if raw else None


def parse_time(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def await_run(base, token, run_id, deadline=600):
    end = time.time() + deadline
    while time.time() < end:
        run = api("%s/api/v1/runs/%d" % (base, run_id), token)
        if run["status"] not in ("queued", "running"):
            return run
        time.sleep(0.2)
    sys.exit("run %d did not end" % run_id)


def browser():
    profile = tempfile.mkdtemp(prefix="slipway-bench-chromium-")
    options = Options()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--user-data-dir=" + profile, "--window-size=1280,900"):
        options.add_argument(arg)
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options), profile


MEASURE = """
const done = arguments[arguments.length - 1];
// "Interactive": the main thread runs a task again after both were drawn.
setTimeout(() => requestAnimationFrame(() => setTimeout(() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const paint = Object.fromEntries(performance.getEntriesByType('paint').map((p) => [p.name, p.startTime]));
  const mark = (n) => { const m = performance.getEntriesByName(n); return m.length ? m[m.length - 1].startTime : null; };
  done({fp: paint['first-paint'], fcp: paint['first-contentful-paint'], dcl: nav.domContentLoadedEventEnd,
        log: mark('slipway-log-drawn'), tests: mark('slipway-tests-drawn'), interactive: performance.now(),
        lines: Number(document.querySelector('.log-lines').dataset.count)});
}, 0)), 0);
"""


def main():
    base, token_file, lines, cases, loads, rate, seconds = sys.argv[1:8]
    lines, cases, loads, rate, seconds = int(lines), int(cases), int(loads), int(rate), int(seconds)
    control = open(token_file).read().strip()
    reader = api(base + "/api/v1/tokens", control, "POST", {"name": "bench", "scope": "read"})["token"]

    big = api(base + "/api/v1/repos/bench/runs", control, "POST", {"branch": "big"})["id"]
    run = await_run(base, control, big)
    print("big run #%d: %s, %s tests" % (big, run["status"], run.get("tests")), file=sys.stderr)

    driver, profile = browser()
    try:
        driver.get(base + "/ui/")
        WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.ID, "token"))
        driver.find_element(By.ID, "token").send_keys(reader)
        driver.find_element(By.CSS_SELECTOR, "#login button").click()
        WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.ID, "session"))

        samples = []
        for i in range(loads + 1):  # the first load warms the cache and is dropped
            driver.get("about:blank")
            driver.get("%s/ui/#/runs/%d/steps/big" % (base, big))
            WebDriverWait(driver, 120, poll_frequency=0.05).until(lambda d: d.execute_script(
                "return !!document.querySelector('.log-lines[data-done]') && "
                "performance.getEntriesByName('slipway-tests-drawn').length > 0"))
            m = driver.execute_async_script(MEASURE)
            if m["lines"] != lines:
                sys.exit("the page drew %s lines, not %d" % (m["lines"], lines))
            if i:
                samples.append(m)
        med = lambda k: statistics.median(s[k] for s in samples)
        print("\n### Run page: %d log lines, %d test cases (%d loads, median, ms from navigation start)\n" % (lines, cases, loads))
        print("| first paint | first contentful paint | DOMContentLoaded | log drawn | tests drawn | interactive |")
        print("| ---: | ---: | ---: | ---: | ---: | ---: |")
        print("| %.0f | %.0f | %.0f | %.0f | %.0f | %.0f |" % (med("fp"), med("fcp"), med("dcl"), med("log"), med("tests"), med("interactive")))

        # The flood: open the step's log first, then let it print.
        flood = api(base + "/api/v1/repos/bench/runs", control, "POST", {"branch": "flood"})["id"]
        driver.get("about:blank")
        driver.get("%s/ui/#/runs/%d/steps/flood" % (base, flood))
        run = await_run(base, control, flood)
        WebDriverWait(driver, 300, poll_frequency=0.05).until(
            lambda d: d.execute_script("return !!document.querySelector('.log-lines[data-done]')"))
        drawn_at = driver.execute_script(
            "const m = performance.getEntriesByName('slipway-log-drawn'); return (performance.timeOrigin + m[m.length - 1].startTime) / 1000")
        count = driver.execute_script("return Number(document.querySelector('.log-lines').dataset.count)")
        step = [s for s in run["steps"] if s["name"] == "flood"][0]
        expected = (rate // 10) * 10 * seconds
        took = parse_time(step["finished_at"]) - parse_time(step["started_at"])
        lag = drawn_at - parse_time(step["finished_at"])
        print("\n### Live log: a step printing %d lines a second for %d s\n" % (rate, seconds))
        print("| lines printed | lines drawn | step ran (s) | printed per second | last line drawn after the step ended (ms) |")
        print("| ---: | ---: | ---: | ---: | ---: |")
        print("| %d | %d | %.1f | %.0f | %.0f |" % (expected, count, took, expected / took, lag * 1000))
        if count != expected:
            sys.exit("the page drew %d lines of %d" % (count, expected))
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
