"""`manage.py fake_segment`: a real server in its own process, with the demo workspace."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from segadmin.segment import client
from segadmin.segment.fake.demo import DEMO_SPACE_ID, DEMO_SPACE_TOKEN, DEMO_TOKEN
from segadmin.segment.messages import build_message

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def demo_server():
    process = subprocess.Popen(
        [sys.executable, "manage.py", "fake_segment", "--port", "0", "--seed-demo"],
        cwd=ROOT,
        env={**os.environ, "SEGADMIN_ENV_FILE": "none"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    try:
        for line in process.stdout:
            lines.append(line)
            if "a profile to look up" in line:
                break
        output = "".join(lines)
        url = re.search(r"listening on (http://\S+)", output).group(1)
        yield url, output
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_command_serves_the_demo_workspace_and_prints_its_credentials(demo_server, settings):
    url, output = demo_server
    assert DEMO_TOKEN in output and DEMO_SPACE_TOKEN in output
    write_key = re.search(r"write key Website:\s+(\S+)", output).group(1)
    settings.SEGMENT_TRACKING_API_URL = url
    settings.SEGMENT_PUBLIC_API_URL = url
    settings.SEGMENT_PROFILES_API_URL = url

    sources = client.list_sources(token=DEMO_TOKEN, region="us", transport=client.send)
    assert len(sources) >= 3 and write_key in {k for s in sources for k in s.write_keys}

    identify = build_message("identify", user_id="demo-7", traits={"plan": "team"})
    sent = client.send(client.tracking_request(identify, write_key=write_key, region="us"))
    assert sent.status == 200
    profile = client.get_profile_traits(
        space_id=DEMO_SPACE_ID,
        token=DEMO_SPACE_TOKEN,
        region="us",
        identifier_type="user_id",
        identifier="demo-7",
        transport=client.send,
    )
    assert profile == {"plan": "team"}


def test_the_demo_workspace_has_sources_on_several_pages(fake_segment):
    fake_segment.seed_demo()
    sources = client.list_sources(token=DEMO_TOKEN, region="us", transport=client.send)
    assert len(sources) >= 3
    assert len(fake_segment.requests) >= 2


def test_a_bad_port_is_a_clear_error():
    with pytest.raises(CommandError, match="--port must be 0 to 65535"):
        call_command("fake_segment", port=70000)
