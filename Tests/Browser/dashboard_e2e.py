#!/usr/bin/python3
"""The dashboard end to end in a real browser (headless Debian chromium through WebDriver), against the built
`worker` binary: a job goes dead because of something outside it (its output directory is missing); an operator
opens the overview, filters dead jobs, opens the job and retries it:

1. on a worker without `--admin-token-file` (read only): the retry is refused (403, the page says why), the API
   refuses too, and the job stays dead;
2. on a worker with a token file: the retry is refused before logging in, and by the API without or with a wrong
   token (401); after logging in at /login with the token, the directory is created, the retry is taken, and the
   page shows the job queued, then completed (reloaded until it does).

Run by Tests/WorkerRunTests/DashboardBrowserTests.swift (`swift test`), or by hand:
    /usr/bin/python3 Tests/Browser/dashboard_e2e.py --worker .build/debug/worker \
        --plugin .build/debug/libExamplePlugins.so --dir "$(mktemp -d)"
Prints one `PASS: ...` line per step and `job ID` for the caller's own checks; exits 0 when every step passed,
1 with a `FAIL: ...` line (and a screenshot in --dir) otherwise, 2 when the browser stack is missing.
"""

import argparse
import json
import os
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dashboard_kit as kit  # noqa: E402


def step(message):
    print("PASS: " + message, flush=True)


def job_state(driver):
    return kit.one(driver, "#job-state").text.strip()


def open_dead_job_through_the_pages(driver, worker, job_id):
    """The overview, then /jobs filtered to dead jobs with the form, then the job's own page from its row."""
    driver.get(worker.base + "/")
    kit.one(driver, '#queues tr[data-queue="default"]', "the default queue's row in the overview's #queues")
    kit.one(driver, "svg", "an activity chart (inline svg) on the overview")
    step(f"overview lists queue default and draws its charts ({worker.base}/)")

    driver.get(worker.base + "/jobs")
    form = kit.one(driver, "form#filter")
    from selenium.webdriver.support.ui import Select

    Select(form.find_element("css selector", 'select[name="state"]')).select_by_value("dead")
    kit.one(driver, "#apply").click()
    row_css = f'#jobs tr[data-job-id="{job_id}"]'
    row = kit.wait_until(
        f"job {job_id} listed after filtering state=dead",
        lambda: "state=dead" in driver.current_url and (kit.find(driver, row_css) or [None])[0])
    others = [r.find_element("css selector", "td.state").text.strip() for r in kit.find(driver, "#jobs tr[data-job-id]")]
    if any(state != "dead" for state in others):
        raise kit.Failure(f"the dead filter lists jobs in other states: {others}")
    if row.find_element("css selector", "td.state").text.strip() != "dead":
        raise kit.Failure(f"job {job_id}'s row does not say dead: {row.text}")
    step(f"/jobs filtered to state=dead lists job {job_id} and only dead jobs ({len(others)})")

    links = row.find_elements("css selector", f'a[href$="/jobs/{job_id}"]')
    if not links:
        raise kit.Failure(f"job {job_id}'s row has no link to /jobs/{job_id}: {row.get_attribute('outerHTML')[:300]}")
    links[0].click()
    kit.wait_until(f"job {job_id}'s page showing dead", lambda: driver.current_url.endswith(f"/jobs/{job_id}") and job_state(driver) == "dead")
    step(f"job {job_id}'s page shows it dead")


def submit_retry(driver):
    """Submits the job page's retry form; returns the text of the page it leads to."""
    return submit(driver, "form#retry")


def submit(driver, form_css):
    """Clicks the button of the form `form_css` (or submits it) and waits for the page it leads to. The overview
    refreshes itself every 5 s: when that replaced the page between finding the form and the click (the click then
    fails, having done nothing), the form is found again on the new page and clicked."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    for attempt in range(3):
        old = kit.one(driver, "html")
        form = kit.one(driver, form_css)
        try:
            buttons = form.find_elements("css selector", 'button, input[type="submit"]')
            if buttons:
                buttons[0].click()
            else:
                form.submit()
            break
        except (StaleElementReferenceException, WebDriverException) as error:
            replaced = isinstance(error, StaleElementReferenceException) or "does not belong to the document" in str(error)
            if not replaced or attempt == 2:
                raise
    try:  # a confirmation the page may ask for
        driver.switch_to.alert.accept()
    except Exception:
        pass
    kit.wait_until(f"the page after submitting {form_css}", lambda: not _is_same(old))
    return driver.page_source


def error_text(driver):
    """The text of the page's #error, None when it has none (read again when a refresh replaced the page)."""
    texts = kit.wait_until("the page's #error read", lambda: [element.text for element in kit.find(driver, "#error")] or [None])
    return texts[0]


def queue_status(driver, worker, queue):
    """The overview's status cell of `queue` (`active` or `paused`), the overview loaded afresh."""
    driver.get(worker.base + "/")
    return kit.one(driver, f'#queues tr[data-queue="{queue}"]').find_elements("css selector", "td")[1].text.strip()


def _is_same(element):
    from selenium.common.exceptions import StaleElementReferenceException

    try:
        element.tag_name
        return True
    except StaleElementReferenceException:
        return False


def expect_refused(driver, worker, job_id, what):
    submit_retry(driver)
    error = kit.one(driver, "#error", f"the #error of the refused retry ({what})")
    step(f"{what}: the page refuses the retry: {error.text.strip()[:120]!r}")
    status, body = worker.api(f"/api/jobs/{job_id}")
    if status != 200 or body.get("state") != "dead":
        raise kit.Failure(f"after a refused retry, /api/jobs/{job_id} answers {status} {body}")


def read_only(driver, cli, binary, plugin, directory, job_id):
    worker = kit.RunningWorker(binary, ["run", "--db", cli.db, "--plugin", plugin], os.path.join(directory, "read-only.log"))
    try:
        kit.wait_until(f"job {job_id} dead (worker job {job_id})", lambda: cli.job(job_id)["state"] == "dead")
        open_dead_job_through_the_pages(driver, worker, job_id)
        expect_refused(driver, worker, job_id, "without --admin-token-file (read only)")
        status, _ = worker.api(f"/api/jobs/{job_id}/retry", method="POST")
        if status != 403:
            raise kit.Failure(f"read only: POST /api/jobs/{job_id}/retry answered {status}, not 403")
        status, _ = worker.api(f"/api/jobs/{job_id}/retry", method="POST", token="anything")
        if status != 403:
            raise kit.Failure(f"read only: POST /api/jobs/{job_id}/retry with a bearer token answered {status}, not 403")
        step("read only: the API refuses the retry with 403, with or without a bearer token")
    finally:
        status = worker.stop()
        if status != 0:
            raise kit.Failure(f"the read-only worker exited {status}: {worker.log_tail()}")


def with_token(driver, cli, binary, plugin, directory, job_id, output_dir, output):
    token_file = os.path.join(directory, "admin-token")
    token = os.urandom(24).hex()
    descriptor = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(token + "\n")
    worker = kit.RunningWorker(
        binary, ["run", "--db", cli.db, "--plugin", plugin, "--admin-token-file", token_file],
        os.path.join(directory, "token.log"))
    try:
        open_dead_job_through_the_pages(driver, worker, job_id)
        expect_refused(driver, worker, job_id, "with a token file, not logged in")
        for label, bearer in (("without a token", None), ("with a wrong token", token[::-1])):
            status, _ = worker.api(f"/api/jobs/{job_id}/retry", method="POST", token=bearer)
            if status != 401:
                raise kit.Failure(f"POST /api/jobs/{job_id}/retry {label} answered {status}, not 401")
        step("with a token file: the API refuses the retry with 401 without a token and with a wrong one")

        driver.get(worker.base + "/login")
        kit.one(driver, 'form#login input[name="token"]').send_keys(token[::-1])
        kit.one(driver, "#login-submit").click()
        kit.one(driver, "#error", "the #error of a login with a wrong token")
        if kit.find(driver, "#logout"):
            raise kit.Failure("a wrong token logged in (#logout shows)")
        step("a login with a wrong token is refused")
        driver.get(worker.base + "/login")
        kit.one(driver, 'form#login input[name="token"]').send_keys(token)
        kit.one(driver, "#login-submit").click()
        kit.one(driver, "#logout", "#logout after logging in with the token")
        step("logged in with the token at /login")

        # The queue is paused from the overview first, so that the retried job is seen waiting, then resumed.
        driver.get(worker.base + "/")
        submit(driver, '#queues tr[data-queue="default"] form')
        kit.wait_until("the default queue shown paused", lambda: queue_status(driver, worker, "default") == "paused")
        step("logged in, the overview's button pauses the default queue")
        os.makedirs(output_dir)  # what made the job fail is fixed: its retry can now succeed
        driver.get(f"{worker.base}/jobs/{job_id}")
        kit.wait_until(f"job {job_id}'s page showing dead", lambda: job_state(driver) == "dead")
        submit_retry(driver)
        refused = error_text(driver)
        if refused is not None:
            raise kit.Failure(f"the logged-in retry was refused: {refused}")
        seen = []

        def shows(state):
            driver.get(f"{worker.base}/jobs/{job_id}")
            now = job_state(driver)
            if not seen or seen[-1] != now:
                seen.append(now)
            return now == state

        kit.wait_until(f"job {job_id}'s page showing queued (its queue is paused)", lambda: shows("queued"))
        driver.get(worker.base + "/")
        submit(driver, '#queues tr[data-queue="default"] form')
        kit.wait_until("the default queue shown active", lambda: queue_status(driver, worker, "default") == "active")
        kit.wait_until(f"job {job_id}'s page showing completed", lambda: shows("completed"))
        step(f"logged in, the retry is taken; after the queue's resume the page shows the job {' -> '.join(seen)}")
        with open(output, encoding="utf-8") as file:
            text = file.read()
        if text != "retried:1\n":
            raise kit.Failure(f"the retried job wrote {text!r}, not 'retried:1'")
        step("the retried job did its work once")
    finally:
        status = worker.stop()
        if status != 0:
            raise kit.Failure(f"the worker with a token exited {status}: {worker.log_tail()}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", required=True, help="the built worker binary")
    parser.add_argument("--plugin", required=True, help="the built libExamplePlugins.so")
    parser.add_argument("--dir", required=True, help="an empty directory for the journal, logs and the profile")
    args = parser.parse_args()
    missing = kit.missing_tools()
    if missing:
        print(f"FAIL: missing {', '.join(missing)}: run scripts/install-deps", flush=True)
        return 2
    cli = kit.WorkerCLI(args.worker, os.path.join(args.dir, "worker.sqlite3"))
    output_dir = os.path.join(args.dir, "out")
    output = os.path.join(output_dir, "result.txt")
    # Dies at once, permanently: its directory does not exist (the `append` handler's PermanentFailure).
    job_id = cli.enqueue("append", json.dumps({"path": output, "text": "retried"}))
    for n in range(3):
        cli.enqueue("noop", json.dumps({"n": n}))
    cli.enqueue("noop", "{}", "--queue", "mail")
    print(f"job {job_id}", flush=True)
    driver = kit.browser(os.path.join(args.dir, "profile"))
    try:
        read_only(driver, cli, args.worker, args.plugin, args.dir, job_id)
        with_token(driver, cli, args.worker, args.plugin, args.dir, job_id, output_dir, output)
    except Exception as error:  # any failure: say what, keep the page for a look
        shot = os.path.join(args.dir, "failure.png")
        try:
            driver.save_screenshot(shot)
            page = driver.page_source[:600].replace("\n", " ")
        except Exception:
            page = "(no page)"
        print(f"FAIL: {error} (at {driver.current_url}; screenshot {shot}; page: {page})", flush=True)
        traceback.print_exc()
        return 1
    finally:
        driver.quit()
    print("dashboard e2e: all steps passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
