"""Demo data: a small installation as a person would have it after a few days, built through the
project's own services against the local fake of Segment (seeded with ``seed_demo``), and a
sample object for every parametrised URL route.

Used by the accessibility tests (tests/browser/test_accessibility.py), which open every route
for every role, and by scripts/screenshots.py. A new route with parameters needs an entry in
``samples()`` (or, when it is not a page anyone opens, in ``NOT_PAGES``):
``test_every_route_has_a_sample`` fails until it has one.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from unittest import mock

from allauth.mfa.webauthn.internal.auth import WebAuthn
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.contrib.auth.tokens import default_token_generator
from django.contrib.contenttypes.models import ContentType
from django.test import override_settings
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from segadmin.accounts.actors import Actor
from segadmin.accounts.roles import ADMIN, MARKETER, SUPPORT, role_of
from segadmin.audit.models import AuditEntry
from segadmin.bulk import services as bulk_services
from segadmin.bulk.models import BulkJob
from segadmin.credentials import services as credentials
from segadmin.credentials.models import Source, TrackingPlan, TrackingPlanImport, Workspace
from segadmin.periodic import scheduler
from segadmin.plans.tasks import run_import
from segadmin.privacy.models import PrivacyRequest
from segadmin.privacy.services import file_request
from segadmin.segment.fake.demo import DEMO_SOURCES, DEMO_SPACE_ID, DEMO_SPACE_TOKEN, DEMO_TOKEN
from segadmin.segment.messages import build_message
from segadmin.sending import service as sending
from segadmin.users import services as user_services
from tests.second_factor import security_key_credential

PASSWORD = "correct horse battery staple"
# One person per role, named as the rest of the suite names them.
PEOPLE = {MARKETER: "maria", SUPPORT: "sam", ADMIN: "ada"}

# Routes that are not pages a person opens, with the reason (they are still walked: a route
# missing from both this and samples() fails test_every_route_has_a_sample).
NOT_PAGES: dict[str, str] = {
    "admin:view_on_site": "a redirect to the object's own page",
    "admin:jsi18n": "JavaScript",
    "admin:autocomplete": "JSON for the admin's select boxes",
    # Single sign-on's entrance and way back: redirects to and from the identity provider.
    "openid_connect_login": "a redirect to the identity provider",
    "openid_connect_callback": "the identity provider's way back (a redirect)",
}


@dataclass
class Demo:
    """What build() made: the people by role and the objects the samples point at."""

    people: dict[str, User]
    workspace: Workspace
    source: Source
    plan: TrackingPlan
    entry: AuditEntry
    job: BulkJob
    privacy: PrivacyRequest
    extra: dict[str, Any] = field(default_factory=dict)


def actor(user: User) -> Actor:
    return Actor(
        user=user,
        username=user.get_username(),
        role=role_of(user) or "",
        ip="127.0.0.1",
        user_agent="demo data",
    )


def make_person(username: str, role: str) -> User:
    user = User.objects.create_user(
        username=username, password=PASSWORD, email=f"{username}@example.com"
    )
    user.groups.add(Group.objects.get(name=role))
    return user


def build(*, calls: int = 12) -> Demo:
    """The demo installation. The three SEGMENT_*_URL settings must point at a fake seeded with
    seed_demo; the roles (the accounts data migration) must exist. Not inside a transaction
    (the send service refuses to send inside one)."""
    people = {role: make_person(name, role) for role, name in PEOPLE.items()}
    # Added by an Admin with a set-password link, not here yet.
    newcomer = make_person("nico", SUPPORT)
    newcomer.set_unusable_password()
    newcomer.save(update_fields=["password"])
    admin = actor(people[ADMIN])

    workspace = Workspace(name="Demo workspace", region="us", profiles_space_id=DEMO_SPACE_ID)
    workspace.set_public_api_token(DEMO_TOKEN)
    workspace.set_profiles_token(DEMO_SPACE_TOKEN)
    credentials.create(actor=admin, obj=workspace, details={"name": workspace.name})
    sending.get_workspace(actor=admin, workspace=workspace)  # Test connection
    listed = sending.list_sources(actor=admin, workspace=workspace)
    assert isinstance(listed, list), listed
    for found in listed:
        credentials.import_source(
            actor=admin,
            workspace=workspace,
            segment_source_id=found.id,
            name=found.name,
            slug=found.slug,
            enabled=found.enabled,
            write_key=found.write_keys[0],
        )
    plan_import = TrackingPlanImport.objects.create(
        workspace=workspace,
        requested_by=people[ADMIN],
        actor={"username": admin.username, "role": admin.role, "ip": admin.ip},
    )
    assert run_import(str(plan_import.pk)) == TrackingPlanImport.Status.DONE
    source = Source.objects.get(segment_source_id=DEMO_SOURCES[0][0])
    backend = Source.objects.get(segment_source_id=DEMO_SOURCES[2][0])

    # A few days of calls by the marketer and support, one of them refused by Segment.
    marketer, support = actor(people[MARKETER]), actor(people[SUPPORT])
    now = timezone.now()
    entry = None
    for i in range(calls):
        when = now - timedelta(days=i % 6, hours=i)
        with mock.patch("segadmin.audit.chain.timezone.now", return_value=when):
            if i % 3 == 0:
                message = build_message(
                    "identify",
                    user_id=f"user-{1001 + i}",
                    traits={"email": f"customer{i}@example.com", "plan": "pro", "logins": i},
                )
                sent = sending.send_message(actor=support, source=backend, message=message)
            else:
                message = build_message(
                    "track",
                    user_id=f"user-{1001 + i}",
                    event="Product Viewed",
                    properties={"product_id": f"p-{i}", "name": "Blue mug", "price": 12.5},
                )
                sent = sending.send_message(actor=marketer, source=backend, message=message)
        entry = entry or sent.entry
    stranger = Source(name="Old test source", region="us", enabled=True)
    stranger.set_write_key("notKnownToSegment000000000000001")
    stranger.save()
    with mock.patch("segadmin.audit.chain.timezone.now", return_value=now - timedelta(days=2)):
        sending.send_message(
            actor=marketer,
            source=stranger,
            message=build_message("track", user_id="user-1001", event="Signed Up"),
        )
    assert entry is not None

    job = _bulk_job(people[MARKETER], backend)
    privacy = file_request(
        actor=support,
        workspace=workspace,
        source=None,
        action="SUPPRESS_WITH_DELETE",
        subject_type="USER_ID",
        ids=["user-1004", "user-1007"],
        reason="Ticket #4521: the customer asked to be forgotten",
    )
    # The newcomer is limited to the demo workspace (the Users page shows source limits).
    user_services.set_limits(
        actor=admin,
        actor_user=people[ADMIN],
        user=newcomer,
        workspaces=[workspace],
        sources=[],
    )
    # The Website source is a Production one (issue 16): its badge and its source form are in
    # the walk (the calls above went to Backend, which asks for nothing).
    Source.objects.filter(pk=source.pk).update(production=True)
    source.refresh_from_db()
    _log_ins()
    scheduler.ensure_scheduled()  # the periodic jobs' runner, queued (a task row)
    plan = TrackingPlan.objects.get(workspace=workspace)
    # A security key (a second factor) of the newcomer's: its edit and remove pages open only
    # for its owner, so the walk finds them refused (404) and tests/browser/test_mfa_browser.py
    # checks them with axe. On the people who log in, it would add a step to every log-in.
    key = WebAuthn.add(newcomer, "Demo security key", security_key_credential()).instance
    return Demo(
        people=people,
        workspace=workspace,
        source=source,
        plan=plan,
        entry=entry,
        job=job,
        privacy=privacy,
        extra={"security_key": key},
    )


def _bulk_job(user: User, source: Source) -> BulkJob:
    """An Identify import of 40 rows, 2 of them invalid, dry-run and sent."""
    lines = ["userId,email,plan,logins"]
    for i in range(1, 41):
        user_id = "" if i in (7, 23) else f"user-{2000 + i}"
        lines.append(f"{user_id},buyer{i}@example.com,{'pro' if i % 2 else 'free'},{i}")
    data = ("\n".join(lines) + "\n").encode()
    tasks = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    with override_settings(TASKS=tasks):
        job = bulk_services.create_job(
            stream=io.BytesIO(data),
            name="customers.csv",
            size=len(data),
            call_type="identify",
            source=source,
            user=user,
        )
        bulk_services.request_dry_run(job)
        bulk_services.start(job, actor(user))
    job.refresh_from_db()
    return job


def _log_ins() -> None:
    """django-axes' records: a log-in, and two failed ones for a mistyped name."""
    seen = {"user_agent": "Mozilla/5.0 (demo)", "http_accept": "text/html"}
    where = {"ip_address": "192.0.2.10", "path_info": "/accounts/login/"}
    AccessLog.objects.create(username=PEOPLE[MARKETER], **seen, **where)
    AccessFailureLog.objects.create(username="mraia", **seen, **where)
    AccessAttempt.objects.create(
        username="mraia",
        get_data="",
        post_data="username=mraia",
        failures_since_start=2,
        **seen,
        **where,
    )


# --- Routes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str  # "audit:entry"
    pattern: str  # "audit/<int:pk>/"
    params: tuple[str, ...]


def routes() -> list[Route]:
    """Every named route of the URLconf, found by walking it (the admin's too)."""

    def walk(patterns: Any, prefix: str, namespace: str, outer: tuple[str, ...]) -> Iterator[Route]:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                ns = entry.namespace or ""
                yield from walk(
                    entry.url_patterns,
                    prefix + str(entry.pattern),
                    f"{namespace}{ns}:" if ns else namespace,
                    # An include's own parameters (allauth's keys/<int:pk>/...) count too.
                    outer + tuple(entry.pattern.regex.groupindex),
                )
            elif isinstance(entry, URLPattern) and entry.name:
                params = outer + tuple(entry.pattern.regex.groupindex)
                yield Route(f"{namespace}{entry.name}", prefix + str(entry.pattern), params)

    found: dict[str, Route] = {}
    for route in walk(get_resolver().url_patterns, "", "", ()):
        found.setdefault(route.name, route)
    return list(found.values())


Samples = dict[str, dict[str, Any]]


def samples(demo: Demo) -> Samples:
    """The URL keyword arguments that open each parametrised route on a demo object."""
    user = demo.people[SUPPORT]
    user_ct = ContentType.objects.get_for_model(User)
    return {
        "audit:entry": {"pk": demo.entry.pk},
        "audit:send_again": {"pk": demo.entry.pk},
        "audit:edit_and_send": {"pk": demo.entry.pk},
        "bulk:job": {"job_id": demo.job.pk},
        "bulk:progress": {"job_id": demo.job.pk},
        "bulk:dry_run": {"job_id": demo.job.pk},
        "bulk:cancel": {"job_id": demo.job.pk},
        "bulk:resume": {"job_id": demo.job.pk},
        "bulk:error_report": {"job_id": demo.job.pk},
        "bulk:failed_rows": {"job_id": demo.job.pk},
        "calls:planned_editor": {"call_type": "track"},
        "calls:editor_switch": {"kind": "properties"},
        "calls:editor_row": {"kind": "properties"},
        "credentials:workspace_detail": {"pk": demo.workspace.pk},
        "credentials:workspace_edit": {"pk": demo.workspace.pk},
        "credentials:workspace_delete": {"pk": demo.workspace.pk},
        "credentials:workspace_test": {"pk": demo.workspace.pk},
        "credentials:workspace_import": {"pk": demo.workspace.pk},
        "credentials:source_edit": {"pk": demo.source.pk},
        "credentials:source_delete": {"pk": demo.source.pk},
        "users:detail": {"pk": user.pk},
        "users:role": {"pk": user.pk},
        "users:active": {"pk": user.pk},
        "users:reset": {"pk": user.pk},
        "users:limits": {"pk": user.pk},
        "users:second_factor_reset": {"pk": user.pk},
        "users:set_password": set_password_kwargs(User.objects.get(username="nico")),
        "plans:detail": {"pk": demo.plan.pk},
        "plans:import_detail": {"pk": TrackingPlanImport.objects.get().pk},
        "bulk:sample": {"call_type": "identify"},
        "privacy:detail": {"pk": demo.privacy.pk},
        "privacy:refresh": {"pk": demo.privacy.pk},
        "privacy:retry": {"pk": demo.privacy.pk},
        "privacy:release": {"pk": demo.privacy.pk, "number": 1},
        "approvals:decide": {"pk": demo.privacy.approval.pk},
        "plans:refresh": {"pk": demo.plan.pk},
        "plans:import": {"pk": demo.workspace.pk},
        "mfa_edit_webauthn": {"pk": demo.extra["security_key"].pk},
        "mfa_remove_webauthn": {"pk": demo.extra["security_key"].pk},
        "admin:app_list": {"app_label": "auth"},
        "admin:auth_user_password_change": {"id": str(user.pk)},
        "admin:view_on_site": {"content_type_id": user_ct.pk, "object_id": str(user.pk)},
        **admin_samples(),
    }


def set_password_kwargs(user: User) -> dict[str, str]:
    """The set-password link an Admin hands ``user``."""
    return {
        "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
        "token": default_token_generator.make_token(user),
    }


def admin_samples() -> Samples:
    """The Django admin's change, delete and history pages of each model it shows, on the
    model's first object (a model without one has no sample, and the test says so)."""
    found: Samples = {}
    for model in admin.site._registry:
        obj = model._default_manager.order_by("pk").first()
        if obj is None:
            continue
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        for page in ("change", "delete", "history"):
            found[f"{prefix}_{page}"] = {"object_id": str(obj.pk)}
    return found


# Pages worth seeing in a state the bare URL does not show: (route, kwargs, query).
def states(demo: Demo) -> list[tuple[str, dict[str, Any], str]]:
    return [
        ("lookup:index", {}, "identifier_type=user_id&identifier=user-1001"),
        ("audit:list", {}, "outcome=rejected"),
    ]
