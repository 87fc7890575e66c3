"""What the dashboard's browser scripts share: a real `worker` process with its admin endpoint, its command line,
plain HTTP calls, headless Debian chromium through WebDriver, and waits that poll instead of sleeping.

Used by Tests/Browser/dashboard_e2e.py (the end-to-end test) and Tests/Browser/dashboard_screenshots.py
(docs/images/). Needs /usr/bin/chromium, /usr/bin/chromedriver and Debian's python3-selenium: scripts/install-deps.
"""

import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

# Generous: the machine is shared and the tests run beside others. Every wait polls for the state it needs and
# returns as soon as it holds; these are only how long to keep looking before calling it a failure.
WAIT_SECONDS = 120


class Failure(Exception):
    """A step of the flow did not happen: the message says which, and what was seen instead."""


def missing_tools():
    """What of the browser stack is missing (empty when all is there)."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    try:
        import selenium  # noqa: F401  (only whether it imports)
    except ImportError:
        missing.append("python3-selenium")
    return missing


def wait_until(what, condition, timeout=WAIT_SECONDS, poll=0.1):
    """Calls `condition` until it returns something truthy, and returns that; raises Failure naming `what`."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = condition()
            if value:
                return value
        except Exception as error:  # a page mid-load, a connection refused while the worker starts
            last_error = error
        if time.monotonic() > deadline:
            raise Failure(f"timed out after {timeout} s waiting for {what}" + (f" (last error: {last_error})" if last_error else ""))
        time.sleep(poll)


def http(method, url, headers=None, body=None, timeout=60):
    """One HTTP request; returns (status, text) whatever the status (no exception for 4xx/5xx)."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")


class WorkerCLI:
    """The `worker` binary's commands on one journal."""

    def __init__(self, binary, db):
        self.binary = binary
        self.db = db

    def run(self, *arguments):
        result = subprocess.run([self.binary, *arguments, "--db", self.db], capture_output=True, text=True, timeout=300)
        if result.returncode != 0:
            raise Failure(f"worker {' '.join(arguments)} exited {result.returncode}: {result.stderr.strip()}")
        return result.stdout

    def enqueue(self, handler, payload="{}", *options):
        """Enqueues one job; returns its id."""
        return json.loads(self.run("enqueue", handler, "--payload", payload, "--json", *options))["id"]

    def job(self, job_id):
        return json.loads(self.run("job", str(job_id), "--json"))


class RunningWorker:
    """`worker ARGUMENTS` (run or dashboard) with `--admin 127.0.0.1:0`: the kernel picks a free port, read back
    from the worker's log line, so that parallel runs never race for one."""

    MARKER = re.compile(r"admin endpoint listening on 127\.0\.0\.1:(\d+)")

    def __init__(self, binary, arguments, log_path):
        self.log_path = log_path
        self.arguments = arguments
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                [binary, *arguments, "--admin", "127.0.0.1:0"], stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, env={**os.environ, "SWIFT_BACKTRACE": "enable=no"}, start_new_session=True)
        self.port = int(wait_until("the admin endpoint's port in " + log_path, self._port))
        self.base = f"http://127.0.0.1:{self.port}"

    def _port(self):
        if self.process.poll() is not None:
            raise Failure(f"worker {' '.join(self.arguments)} exited {self.process.returncode}: {self.log_tail()}")
        match = self.MARKER.search(self.log())
        return match.group(1) if match else None

    def log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as file:
            return file.read()

    def log_tail(self, lines=8):
        return " | ".join(self.log().splitlines()[-lines:])

    def api(self, path, method="GET", token=None):
        """A call to the JSON API: (status, decoded body or the text when it is not JSON)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        status, text = http(method, self.base + path, headers=headers, body=b"" if method == "POST" else None)
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    def stop(self):
        """TERM, then the wait for its exit (a drain of what little runs); KILL of its group if it overstays."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=WAIT_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode


def browser(profile_dir, width=1280, height=900):
    """Headless chromium through chromedriver, with a profile of its own in `profile_dir`."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run",
        "--disable-extensions", "--hide-scrollbars", f"--window-size={width},{height}", f"--user-data-dir={profile_dir}",
        "--force-device-scale-factor=1",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT_SECONDS)
    return driver


def find(driver, css):
    """The elements matching `css` (a list, empty when none)."""
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, css)


def one(driver, css, what=None):
    """Waits for an element matching `css` and returns it."""
    return wait_until(what or f"an element {css} on {driver.current_url}", lambda: (find(driver, css) or [None])[0])


def full_page_screenshot(driver, path, width=1280, min_height=700, max_height=3000):
    """A PNG of the whole page (up to `max_height`): the window is grown until its viewport holds the document (the
    window's size includes the browser's own frame, whose height is only known once measured)."""
    script = "return [Math.max(document.body.scrollHeight, document.documentElement.scrollHeight), window.innerHeight]"
    for _ in range(3):
        needed, viewport = driver.execute_script(script)
        size = driver.get_window_size()
        target = max(min_height, min(max_height, size["height"] + int(needed) - int(viewport)))
        if target == size["height"]:
            break
        driver.set_window_size(width, target)
    driver.save_screenshot(path)
