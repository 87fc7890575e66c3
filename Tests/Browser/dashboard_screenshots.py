#!/usr/bin/python3
"""Takes the dashboard's screenshots in docs/images/ (PNG) from a real worker with demo data: several queues (one
paused, one with limits), completed, retried, dead, cancelled and scheduled jobs, jobs running, two schedules.
Run through scripts/dashboard-screenshots, which builds the worker first; or by hand:
    /usr/bin/python3 Tests/Browser/dashboard_screenshots.py --worker .build/debug/worker \
        --plugin .build/debug/libExamplePlugins.so --out docs/images
"""

import argparse
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dashboard_kit as kit  # noqa: E402

# (file name, path, what must be on the page before the shot)
PAGES = [
    ("dashboard-overview.png", "/", "#queues"),
    ("dashboard-jobs.png", "/jobs", "#jobs"),
    ("dashboard-jobs-dead.png", "/jobs?state=dead", "#jobs"),
    ("dashboard-job.png", "/jobs/{job}", "#job-state"),
    ("dashboard-workers.png", "/workers", "#workers"),
    ("dashboard-schedules.png", "/schedules", "#schedules"),
]


def demo_data(cli):
    """Fills the journal; returns the id of the dead job whose page is shown."""
    for n in range(40):
        cli.enqueue("noop", json.dumps({"order": 1000 + n}), "--queue", ("default", "mail", "reports")[n % 3])
    for n in range(6):
        cli.enqueue("fail", json.dumps({"times": 1}), "--queue", "mail")  # fails once, completes on its retry
    for n in range(4):
        cli.enqueue("fail", json.dumps({"times": 9}), "--queue", "reports", "--max-attempts", "2")  # dies
    missing = "/srv/billing/exports/2026-12.csv"  # its directory does not exist: dies at once
    dead = cli.enqueue("append", json.dumps({"path": missing, "text": "invoice 4711"}), "--queue", "default")
    for n in range(3):
        cli.enqueue("sleep", json.dumps({"ms": 600000}), "--queue", "default")  # running while the shots are taken
    for n in range(5):
        cli.enqueue("noop", json.dumps({"invoice": 4800 + n}), "--queue", "billing")  # waits: the queue is paused
    for n in range(3):
        cli.enqueue("noop", json.dumps({"digest": n}), "--queue", "mail", "--delay", str(3600 * (n + 1)))
    cancelled = cli.enqueue("noop", json.dumps({"digest": "weekly"}), "--queue", "mail", "--delay", "86400")
    cli.run("cancel", str(cancelled))
    cli.run("queue", "pause", "billing")
    cli.run("queue", "set", "mail", "--concurrency", "2", "--rate", "50/60")
    cli.run("schedule", "add", "nightly-report", "noop", "--cron", "0 3 * * *", "--queue", "reports",
            "--payload", json.dumps({"report": "daily"}), "--timezone", "Europe/Berlin")
    cli.run("schedule", "add", "heartbeat", "noop", "--cron", "* * * * *", "--queue", "default")
    cli.run("schedule", "run", "nightly-report")  # a manual run: the schedule's page shows its last job
    return dead


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", required=True)
    parser.add_argument("--plugin", required=True)
    parser.add_argument("--out", required=True, help="where the PNGs go (docs/images)")
    args = parser.parse_args()
    missing = kit.missing_tools()
    if missing:
        print(f"missing {', '.join(missing)}: run scripts/install-deps", file=sys.stderr)
        return 2
    os.makedirs(args.out, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix="worker-screenshots-")
    cli = kit.WorkerCLI(os.path.abspath(args.worker), os.path.join(scratch, "worker.sqlite3"))
    dead = demo_data(cli)
    token_file = os.path.join(scratch, "admin-token")
    token = os.urandom(24).hex()
    with os.fdopen(os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
        file.write(token + "\n")
    worker = kit.RunningWorker(
        os.path.abspath(args.worker),
        ["run", "--db", cli.db, "--plugin", os.path.abspath(args.plugin), "--concurrency", "8", "--drain-timeout", "1",
         "--admin-token-file", token_file],
        os.path.join(scratch, "worker.log"))
    # A second worker on the mail queue, stopped once the jobs settle: /workers shows one live, one stopped.
    helper = kit.RunningWorker(
        os.path.abspath(args.worker), ["run", "--db", cli.db, "--plugin", os.path.abspath(args.plugin), "--queue", "mail"],
        os.path.join(scratch, "helper.log"))
    driver = kit.browser(os.path.join(scratch, "profile"))
    try:
        def settled():
            stats = json.loads(cli.run("stats", "--json"))
            return stats.get("dead", 0) >= 5 and stats.get("running", 0) == 3 and stats.get("queued", 0) == 5 \
                and stats.get("retrying", 0) == 0
        kit.wait_until("the demo jobs to settle (5 dead, 3 running, 5 queued in the paused queue)", settled)
        helper.stop()
        driver.get(worker.base + "/login")
        kit.one(driver, 'form#login input[name="token"]').send_keys(token)
        kit.one(driver, "#login-submit").click()
        kit.one(driver, "#logout")
        for name, path, ready in PAGES:
            driver.set_window_size(1280, 800)
            driver.get(worker.base + path.format(job=dead))
            kit.one(driver, ready)
            target = os.path.join(args.out, name)
            kit.full_page_screenshot(driver, target)
            print(f"wrote {target}")
    finally:
        driver.quit()
        helper.stop()
        worker.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
