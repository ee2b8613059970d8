"""The layers of DESIGN.md hold: only segadmin/sending/ uses the client's functions that speak
HTTP (ruff's banned-api, TID251), and the import-linter contracts in pyproject.toml are kept."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

SENDS_DIRECTLY = """\
from segadmin.segment import client


def sneak(request):
    return client.send(request)
"""

IMPORTS_SEND = """\
from segadmin.segment.client import send


def sneak(request):
    return send(request)
"""

LISTS_SOURCES_DIRECTLY = """\
from segadmin.segment import client


def sneak(workspace):
    return client.list_sources(token="t", region="us", transport=print)
"""

READS_PLANS_DIRECTLY = """\
from segadmin.segment.client import tracking_plans


def sneak(token):
    return tracking_plans.list_rules(token=token, region="us", plan_id="tp_1", transport=print)
"""

IMPORTS_A_PLANS_READ = """\
from segadmin.segment.client.tracking_plans import get_source_settings


def sneak(token):
    return get_source_settings(token=token, region="us", source_id="src_1", transport=print)
"""

CREATES_A_REGULATION_DIRECTLY = """\
from segadmin.segment.client import regulations


def sneak(request):
    return regulations.create_regulation(request, transport=print)
"""

IMPORTS_A_REGULATION_READ = """\
from segadmin.segment.client.regulations import list_suppressions


def sneak(token):
    return list_suppressions(token=token, region="us", transport=print)
"""

CLIENT_SENDS = [
    SENDS_DIRECTLY,
    IMPORTS_SEND,
    LISTS_SOURCES_DIRECTLY,
    CREATES_A_REGULATION_DIRECTLY,
    IMPORTS_A_REGULATION_READ,
]
PLANS_READS = [READS_PLANS_DIRECTLY, IMPORTS_A_PLANS_READ]


def ruff_banned_api(text: str, as_file: str) -> subprocess.CompletedProcess[str]:
    """Lint ``text`` as if it were the module ``as_file`` of this project (per-file rules apply)."""
    return subprocess.run(
        [
            str(BIN / "ruff"),
            "check",
            "--no-cache",
            "--select",
            "TID251",
            "--output-format",
            "concise",
            "--stdin-filename",
            as_file,
            "-",
        ],
        input=text,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


@pytest.mark.parametrize("text", CLIENT_SENDS + PLANS_READS)
@pytest.mark.parametrize(
    "as_file",
    [
        "segadmin/calls/sneaky.py",
        "segadmin/bulk/worker.py",
        "segadmin/audit/log.py",
        "segadmin/credentials/plans.py",
        "segadmin/plans/views.py",
    ],
)
def test_a_module_outside_sending_that_uses_the_client_to_send_fails_the_lint(
    text: str, as_file: str
) -> None:
    result = ruff_banned_api(text, as_file)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "TID251" in result.stdout
    assert "segadmin.sending" in result.stdout  # the message says where to go instead


@pytest.mark.parametrize("text", CLIENT_SENDS + PLANS_READS)
def test_the_same_module_inside_sending_passes_the_lint(text: str) -> None:
    result = ruff_banned_api(text, "segadmin/sending/sneaky.py")
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_module_outside_the_client_that_imports_requests_fails_the_lint() -> None:
    result = ruff_banned_api(
        "import requests\n\nrequests.get('https://example.com')\n", "segadmin/home/x.py"
    )
    assert result.returncode == 1
    assert "`requests` is banned" in result.stdout


def test_no_module_of_the_project_breaks_the_rule_today() -> None:
    result = subprocess.run(
        [str(BIN / "ruff"), "check", "--no-cache", "--select", "TID251", "segadmin"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_import_contracts_are_kept() -> None:
    result = subprocess.run(
        [str(BIN / "lint-imports"), "--no-cache"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for contract in (
        "A layer imports only the layers below it KEPT",
        "No screen app is imported by anything but the URLconf KEPT",
        "Models, services and commands never import sending/ or a view KEPT",
    ):
        assert contract in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        (
            "credentials/services.py",
            "from segadmin.audit import log",
            "A layer imports only the layers below it BROKEN",
        ),
        (
            "audit/log.py",
            "from segadmin.bulk import worker",
            "No screen app is imported by anything but the URLconf BROKEN",
        ),
        (
            "credentials/plans.py",
            "from segadmin import sending",
            "A layer imports only the layers below it BROKEN",
        ),
        (
            "credentials/plans.py",
            "from segadmin.plans import views",
            "No screen app is imported by anything but the URLconf BROKEN",
        ),
        (
            "bulk/models.py",
            "from segadmin import sending",
            "Models, services and commands never import sending/ or a view BROKEN",
        ),
    ],
)
def test_the_import_contracts_catch_a_module_that_breaks_them(
    tmp_path: Path, module: str, line: str, broken: str
) -> None:
    # A copy of the package with one import added, checked with the project's contracts.
    shutil.copytree(
        ROOT / "segadmin", tmp_path / "segadmin", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "segadmin" / module
    target.write_text(target.read_text() + f"\n{line}  # added by the test\n")
    result = subprocess.run(
        [str(BIN / "lint-imports"), "--no-cache"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert broken in result.stdout


# The client is a package: its functions that speak HTTP are banned by the path of the module
# that defines them too, not only through the package's re-exports.
SENDS_THROUGH_THE_TRANSPORT_MODULE = """\
from segadmin.segment.client import transport


def sneak(request):
    return transport.send(request)
"""

IMPORTS_SEND_FROM_THE_TRANSPORT_MODULE = """\
from segadmin.segment.client.transport import send


def sneak(request):
    return send(request)
"""

LISTS_SOURCES_FROM_THE_PUBLIC_API_MODULE = """\
from segadmin.segment.client.public_api import list_sources


def sneak(workspace):
    return list_sources(token="t", region="us", transport=print)
"""

READS_TRAITS_FROM_THE_PROFILE_API_MODULE = """\
from segadmin.segment.client import profile_api


def sneak(space):
    return profile_api.get_profile_traits(
        space_id=space, token="t", region="us", identifier_type="user_id", identifier="u",
        transport=print,
    )
"""

READS_RULES_FROM_THE_TRACKING_PLANS_MODULE = """\
from segadmin.segment.client.tracking_plans import list_rules


def sneak(token):
    return list_rules(token=token, region="us", plan_id="tp_1", transport=print)
"""

BY_MODULE_PATH = [
    SENDS_THROUGH_THE_TRANSPORT_MODULE,
    IMPORTS_SEND_FROM_THE_TRANSPORT_MODULE,
    LISTS_SOURCES_FROM_THE_PUBLIC_API_MODULE,
    READS_TRAITS_FROM_THE_PROFILE_API_MODULE,
    READS_RULES_FROM_THE_TRACKING_PLANS_MODULE,
]
BY_MODULE_PATH_IDS = ["transport", "import send", "public_api", "profile_api", "tracking_plans"]


@pytest.mark.parametrize("text", BY_MODULE_PATH, ids=BY_MODULE_PATH_IDS)
@pytest.mark.parametrize("as_file", ["segadmin/calls/sneaky.py", "segadmin/lookup/views.py"])
def test_a_module_outside_sending_that_uses_a_client_module_directly_fails_the_lint(
    text: str, as_file: str
) -> None:
    result = ruff_banned_api(text, as_file)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "TID251" in result.stdout
    assert "segadmin.sending" in result.stdout


@pytest.mark.parametrize("text", BY_MODULE_PATH, ids=BY_MODULE_PATH_IDS)
def test_the_client_modules_used_directly_inside_sending_pass_the_lint(text: str) -> None:
    result = ruff_banned_api(text, "segadmin/sending/sneaky.py")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_client_package_itself_may_import_requests() -> None:
    result = ruff_banned_api("import requests\n", "segadmin/segment/client/transport.py")
    assert result.returncode == 0, result.stdout + result.stderr
