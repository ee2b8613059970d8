"""The demo workspace ``fake_segment --seed-demo`` preloads, for ``make demo``."""

from __future__ import annotations

from typing import Any

from segadmin.segment.fake.plans import seed_demo_plan
from segadmin.segment.fake.state import FakeState

DEMO_TOKEN = "sgp_demo_public_api_token_0000000000000000"  # noqa: S105 - a fake token, known to the fake only
DEMO_SPACE_ID = "spa_demo0000000000000000"
DEMO_SPACE_TOKEN = "demo_profile_api_token_000000000000"  # noqa: S105
DEMO_SOURCES = (
    ("src_demo_website", "website", "Website", "Javascript", "demoWebsiteWriteKey00000000000001"),
    ("src_demo_ios", "ios-app", "iOS app", "iOS", "demoIosAppWriteKey000000000000002"),
    ("src_demo_backend", "backend", "Backend", "HTTP API", "demoBackendWriteKey0000000000003"),
    ("src_demo_crm", "crm-import", "CRM import", "HTTP API", "demoCrmImportWriteKey00000000004"),
    (
        "src_demo_android",
        "android-app",
        "Android app",
        "Android",
        "demoAndroidWriteKey000000000005",
    ),
)


def seed_demo(state: FakeState) -> dict[str, Any]:
    """Register the demo workspace (five sources, two per page: three pages), its write keys,
    a Profile API space with one profile (Identify calls update the space's profiles) and the
    tracking plan "Shop plan" connected to the Website source, with its Protocols settings."""
    workspace = state.add_workspace(
        DEMO_TOKEN, id="ws_demo", slug="demo", name="Demo workspace", max_page_size=2
    )
    for source_id, slug, name, kind, key in DEMO_SOURCES:
        state.add_source(
            id=source_id,
            slug=slug,
            name=name,
            token=DEMO_TOKEN,
            write_keys=[key],
            labels={"environment": "demo"},
            source_type=kind,
        )
    state.add_space(DEMO_SPACE_ID, DEMO_SPACE_TOKEN, collect_identifies=True)
    state.add_profile(
        space_id=DEMO_SPACE_ID,
        token=DEMO_SPACE_TOKEN,
        user_id="user-1001",
        email="ada@example.com",
        traits={
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@example.com",
            "plan": "pro",
            "logins": 42,
        },
    )
    plan_id = seed_demo_plan(state, DEMO_TOKEN, DEMO_SOURCES[0][0])
    return {
        "workspace_id": workspace.id,
        "tracking_plan_id": plan_id,
        "token": DEMO_TOKEN,
        "write_keys": {name: key for _, _, name, _, key in DEMO_SOURCES},
        "space_id": DEMO_SPACE_ID,
        "space_token": DEMO_SPACE_TOKEN,
        "profile_user_id": "user-1001",
    }
