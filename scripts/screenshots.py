"""Screenshots of segadmin's main pages for the README: docs/screenshots/*.png.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--chromium /usr/bin/chromium]

Builds the demo installation of tests/demo_data.py (three people, the demo workspace, its five
sources and tracking plan, a few days of calls, a bulk import, a privacy request) in a
throw-away SQLite database, against the project's local fake of Segment on a loopback port,
serves it with `manage.py runserver`, and photographs the pages in Chromium through Playwright
as each role sees them. Nothing leaves the machine; nothing of the developer's own database or
.env is read or touched. Needs the test tools (requirements-dev.txt: Playwright, pytest-django's
helpers are not used) and Chromium.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PASSWORD = "correct horse battery staple"  # noqa: S105 - the demo people's, in a throw-away database
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def environment(database: Path, fake_url: str) -> dict[str, str]:
    from cryptography.fernet import Fernet

    return {
        **os.environ,
        "SEGADMIN_ENV_FILE": "none",
        "DEBUG": "true",  # runserver serves the static files (npm's included)
        "SECRET_KEY": "screenshots-only-" + os.urandom(16).hex(),
        "SEGADMIN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "SEGADMIN_AUDIT_KEY": "screenshots-only-" + os.urandom(16).hex(),
        "DATABASE_URL": f"sqlite:///{database}",
        "STATICFILES_BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage",
        "SEGMENT_TRACKING_API_URL": fake_url,
        "SEGMENT_PUBLIC_API_URL": fake_url,
        "SEGMENT_PROFILES_API_URL": fake_url,
        "DJANGO_SETTINGS_MODULE": "segadmin.settings",
    }


def build_demo(env: dict[str, str]) -> None:
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from tests import demo_data

    call_command("migrate", verbosity=0)
    demo_data.build()
    connections.close_all()


def wait_for(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 - our own loopback server
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def log_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/")


def shoot(browser, base: str, out: Path) -> list[Path]:
    written: list[Path] = []

    def save(page, name: str, *, full: bool = False) -> None:
        page.wait_for_load_state("networkidle")
        path = out / f"{name}.png"
        page.screenshot(path=str(path), full_page=full)
        written.append(path)

    def session(username: str, viewport: dict[str, int] = DESKTOP):
        context = browser.new_context(viewport=viewport, timezone_id="Europe/Paris")
        page = context.new_page()
        log_in(page, base, username)
        return context, page

    # An Admin: home, audit log, an entry, tracking plan, users.
    context, page = session("ada")
    save(page, "home")
    page.goto(f"{base}/audit/")
    save(page, "audit-log")
    page.get_by_test_id("audit-table").locator("tbody tr a").first.click()
    save(page, "audit-entry")
    page.goto(f"{base}/tracking-plans/")
    page.get_by_role("link", name="Shop plan").first.click()
    save(page, "tracking-plan")
    page.goto(f"{base}/users/")
    save(page, "users")
    context.close()

    # A Marketer: Identify (a preview), a refused send, a bulk import.
    context, page = session("maria")
    page.goto(f"{base}/calls/identify/")
    page.get_by_label("Source").select_option(label="Backend (US)")
    page.get_by_label("User ID").fill("user-1001")
    page.locator("input[name=traits__key]").first.fill("favourite_colour")
    page.locator("input[name=traits__value]").first.fill("teal")
    page.get_by_role("button", name="Preview").click()
    page.get_by_text("Nothing sent yet").wait_for(state="detached")
    save(page, "identify")
    page.goto(f"{base}/calls/identify/")
    page.get_by_label("Source").select_option(label="Backend (US)")
    page.get_by_role("button", name="Send").click()
    page.get_by_test_id("form-errors").wait_for()
    save(page, "refused-send")
    page.goto(f"{base}/bulk/")
    page.locator("a[href*='/bulk/']").filter(has_text="customers.csv").first.click()
    save(page, "bulk-import", full=True)
    context.close()

    # Support: a user's lookup.
    context, page = session("sam")
    page.goto(f"{base}/lookup/?identifier_type=user_id&identifier=user-1001")
    save(page, "user-lookup")
    context.close()

    # A phone: the Identify form at 390 px.
    context, page = session("maria", PHONE)
    page.goto(f"{base}/calls/identify/")
    save(page, "phone-identify")
    context.close()
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument(
        "--chromium", default=os.environ.get("SEGADMIN_CHROMIUM", "/usr/bin/chromium")
    )
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from playwright.sync_api import sync_playwright

    from segadmin.segment.fake import FakeSegmentServer, seed_demo

    fake = FakeSegmentServer("127.0.0.1", 0).start()
    seed_demo(fake.state)
    with tempfile.TemporaryDirectory(prefix="segadmin-shots-") as tmp:
        env = environment(Path(tmp) / "demo.sqlite3", fake.url)
        build_demo(env)
        port = free_port()
        server = subprocess.Popen(  # noqa: S603 - our own manage.py
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for(f"{base}/healthz")
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=args.chromium, args=["--no-sandbox", "--disable-gpu"]
                )
                written = shoot(browser, base, out)
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=10)
            fake.stop()
    for path in written:
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
