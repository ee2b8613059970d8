"""``manage.py fake_segment --port N [--host 127.0.0.1] [--seed-demo]``: the local fake."""

from __future__ import annotations

import ipaddress
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from segadmin.segment.fake import FakeSegmentServer, FakeState, seed_demo


class Command(BaseCommand):
    help = "Run a local fake of Segment's Tracking, Public and Profile APIs (never the real one)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8765, help="port (default 8765)")
        parser.add_argument(
            "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
        )
        parser.add_argument(
            "--seed-demo",
            action="store_true",
            help="preload a demo workspace, sources with write keys and a profile",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = options["host"], options["port"]
        if not 0 <= port <= 65535:
            raise CommandError(f"--port must be 0 to 65535, not {port}.")
        try:
            if not ipaddress.ip_address(host).is_loopback:
                self.stderr.write(
                    self.style.WARNING(
                        f"Listening on {host}: the fake has no authentication; anyone who can "
                        "reach it can read what it received."
                    )
                )
        except ValueError:
            pass  # a host name such as localhost
        try:
            server = FakeSegmentServer(host, port, FakeState(freeze_stored=True))
        except OSError as exc:
            raise CommandError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}.") from None
        url = server.url
        self.stdout.write(f"Fake Segment listening on {url} (Ctrl-C stops it)")
        self.stdout.write(f"  what it received: {url}/_fake/")
        self.stdout.write(
            "  point segadmin at it: "
            f"SEGMENT_TRACKING_API_URL={url} SEGMENT_PUBLIC_API_URL={url} "
            f"SEGMENT_PROFILES_API_URL={url}"
        )
        if options["seed_demo"]:
            demo = seed_demo(server.state)
            self.stdout.write("Demo workspace loaded (fake credentials, only valid here):")
            self.stdout.write(f"  Public API token:  {demo['token']}")
            for name, key in demo["write_keys"].items():
                self.stdout.write(f"  write key {name + ':':<13} {key}")
            self.stdout.write(f"  Profile API space: {demo['space_id']}")
            self.stdout.write(f"  Profile API token: {demo['space_token']}")
            self.stdout.write(f"  a profile to look up: user_id {demo['profile_user_id']}")
        self.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            self.stdout.write("Stopped.")
        finally:
            server.httpd.server_close()
