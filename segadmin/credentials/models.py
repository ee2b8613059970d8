"""Workspaces and Sources: where segadmin sends, and the encrypted secrets it sends with.

Secrets are stored only as Fernet tokens (see crypto.py) plus a hint of their last four
characters for the mask. Reading one back raises SecretUnreadable naming the object, never
returns a blank.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connections, models
from django.utils import timezone

from segadmin.credentials import crypto
from segadmin.segment import plans as plan_engine
from segadmin.segment.rules import PlanCheck

REGIONS = [("us", "US"), ("eu", "EU")]


class Workspace(models.Model):
    name = models.CharField("Name", max_length=200)
    region = models.CharField("Region", max_length=2, choices=REGIONS, default="us")
    segment_workspace_id = models.CharField("Segment workspace ID", max_length=100, blank=True)
    slug = models.CharField("Slug", max_length=200, blank=True)
    token_encrypted = models.TextField()
    token_hint = models.CharField(max_length=4, blank=True)
    profiles_space_id = models.CharField("Profile API space ID", max_length=100, blank=True)
    profiles_token_encrypted = models.TextField(blank=True)
    profiles_token_hint = models.CharField(max_length=4, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Columns holding Fernet tokens, for rotate_keys and the "no plaintext" tests.
    SECRET_FIELDS = ("token_encrypted", "profiles_token_encrypted")

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name

    def describe_secret(self, field: str) -> str:
        """Words naming one secret of this workspace, for errors (never the secret)."""
        secret = "Profile API token" if field == "profiles_token_encrypted" else "Public API token"
        return f'the {secret} of workspace "{self.name}" (id {self.pk})'

    def public_api_token(self) -> str:
        return crypto.decrypt(self.token_encrypted, what=self.describe_secret("token_encrypted"))

    def profiles_token(self) -> str | None:
        if not self.profiles_token_encrypted:
            return None
        return crypto.decrypt(
            self.profiles_token_encrypted, what=self.describe_secret("profiles_token_encrypted")
        )

    @property
    def has_profiles_api(self) -> bool:
        return bool(self.profiles_space_id and self.profiles_token_encrypted)

    def set_public_api_token(self, value: str) -> None:
        self.token_encrypted = crypto.encrypt(value)
        self.token_hint = crypto.hint_of(value)

    def set_profiles_token(self, value: str) -> None:
        """Store a Profile API token; an empty value removes it."""
        self.profiles_token_encrypted = crypto.encrypt(value) if value else ""
        self.profiles_token_hint = crypto.hint_of(value) if value else ""

    @property
    def token_mask(self) -> str:
        return crypto.mask(self.token_hint)

    @property
    def profiles_token_mask(self) -> str:
        return crypto.mask(self.profiles_token_hint) if self.profiles_token_encrypted else ""


# A plan not fetched for this long is shown as stale (issue 13).
PLAN_STALE_AFTER = timedelta(hours=24)


class TrackingPlan(models.Model):
    """A Segment Protocols tracking plan as last imported, with its rules."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="tracking_plans"
    )
    plan_id = models.CharField("Segment tracking plan ID", max_length=255)  # "tp_…"
    name = models.CharField("Name", max_length=255, blank=True)
    slug = models.CharField("Slug", max_length=255, blank=True)
    description = models.TextField("Description", blank=True)
    plan_type = models.CharField("Type", max_length=32, blank=True)  # LIVE, …
    segment_updated_at = models.DateTimeField(null=True, blank=True)
    imported_at = models.DateTimeField(null=True, blank=True)  # last successful fetch
    last_error = models.TextField(blank=True)  # why the last fetch failed ("" = ok)
    last_error_at = models.DateTimeField(null=True, blank=True)
    revision = models.PositiveIntegerField(default=1)  # +1 each import that changed its rules

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "plan_id"],
                name="credentials_trackingplan_unique_plan_id",
                violation_error_message="This workspace already has this tracking plan.",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.plan_id

    def as_plan(self) -> plan_engine.Plan:
        """The validation engine's Plan built from the stored rules."""
        return plan_engine.Plan(
            name=self.name or self.plan_id,
            rules=[rule.as_rule() for rule in self.rules.all()],
            id=self.plan_id,
        )

    @property
    def is_stale(self) -> bool:
        if self.imported_at is None:
            return True
        return timezone.now() - self.imported_at > PLAN_STALE_AFTER


class TrackingPlanImport(models.Model):
    """One import of a workspace's tracking plans, run by a worker (the rules are read at most
    200 requests a minute, so an import can take minutes): its progress while it runs, then
    what it changed (``report``: the ``tracking_plans.imported`` audit event's details)."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Waiting for a worker"
        RUNNING = "running", "Importing"
        DONE = "done", "Finished"
        FAILED = "failed", "Stopped by an error"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="plan_imports")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Who asked, as the audit log names them (username, role, ip, user_agent): the worker
    # records every request under this actor.
    actor = models.JSONField(default=dict)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    step = models.CharField(max_length=500, blank=True)  # what it is doing now, in words
    requests = models.PositiveIntegerField(default=0)  # requests to Segment so far
    report = models.JSONField(null=True, blank=True)  # {"error", "plans": [...]} when done
    error = models.TextField(blank=True)  # why it stopped (FAILED)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["workspace", "status"], name="credentials_planimport_ws")]

    def __str__(self) -> str:
        return f"Import of {self.workspace} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE


class TrackingPlanRule(models.Model):
    """One rule (one version of one event, or a trait/common schema) of a tracking plan."""

    plan = models.ForeignKey(TrackingPlan, on_delete=models.CASCADE, related_name="rules")
    rule_type = models.CharField(max_length=16)  # TRACK IDENTIFY GROUP PAGE SCREEN COMMON
    # The event name; None (not "") for keyless rules, as Segment sends it: the shared model.
    key = models.CharField(max_length=1000, null=True, blank=True)  # noqa: DJ001
    version = models.PositiveIntegerField(default=1)
    json_schema = models.JSONField(null=True, blank=True)
    deprecated_at = models.DateTimeField(null=True, blank=True)  # None = not deprecated

    class Meta:
        ordering = ["rule_type", "key", "version"]

    def __str__(self) -> str:
        return f"{self.rule_type} {self.key or ''} v{self.version}".replace("  ", " ")

    def as_rule(self) -> plan_engine.Rule:
        return plan_engine.Rule(
            type=plan_engine.RuleType(self.rule_type),
            key=self.key,
            version=self.version,
            json_schema=self.json_schema,
            deprecated_at=self.deprecated_at.isoformat() if self.deprecated_at else None,
        )


PLAN_ENFORCEMENT = [("block", "Block"), ("warn", "Warn")]
UNPLANNED_EVENTS = [("block", "Block"), ("warn", "Warn"), ("allow", "Allow")]


# The range of a 64-bit primary key (BigAutoField): a forged number outside it finds nothing.
_PK_MIN, _PK_MAX = -(2**63), 2**63 - 1
_PRODUCTION_IF_ENABLED = (
    'SELECT "production" FROM "credentials_source" WHERE "id" = %s AND "enabled" = %s'
)


# Per database: the enabled source's SELECT (every column, in the model's field order) and
# the ORM's converters for its columns (position -> (converters, column)).
_ENABLED_QUERIES: dict[str, tuple[str, list[tuple[int, Any]]]] = {}


def _enabled_source_query(connection: Any) -> tuple[str, list[tuple[int, Any]]]:
    found = _ENABLED_QUERIES.get(connection.alias)
    if found is None:
        compiler = Source.objects.all().query.get_compiler(connection=connection)
        compiler.setup_query()
        columns = [column for column, _sql, _alias in compiler.select]
        fields = [column.target for column in columns]
        if fields != list(Source._meta.concrete_fields):  # from_db takes them in this order
            raise RuntimeError("Source's columns are not selected in its fields' order")
        quote = connection.ops.quote_name
        # From the model's own table and column names: no input in it.
        sql = (
            f"SELECT {', '.join(quote(f.column) for f in fields)} "  # noqa: S608
            f'FROM {quote(Source._meta.db_table)} WHERE "id" = %s AND "enabled" = %s'
        )
        converters = list(compiler.get_converters(columns).items())
        found = _ENABLED_QUERIES[connection.alias] = (sql, converters)
    return found


class Source(models.Model):
    name = models.CharField("Name", max_length=200)
    region = models.CharField("Region", max_length=2, choices=REGIONS, default="us")
    workspace = models.ForeignKey(
        Workspace,
        verbose_name="Workspace",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="sources",
    )
    segment_source_id = models.CharField("Segment source ID", max_length=100, blank=True)
    slug = models.CharField("Slug", max_length=200, blank=True)
    enabled = models.BooleanField("Enabled", default=True)
    # A production source: marked on every screen that sends to it, and every send to it asks
    # for a confirmation naming it (credentials.production).
    production = models.BooleanField("Production", default=False)
    write_key_encrypted = models.TextField()
    write_key_hint = models.CharField(max_length=4, blank=True)
    tracking_plan = models.ForeignKey(
        TrackingPlan,
        verbose_name="Tracking plan",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="sources",
    )
    # The "settings" object of GET /sources/{id}/settings (Protocols), as last imported.
    protocols_settings = models.JSONField(null=True, blank=True)
    plan_enforcement = models.CharField(
        "Tracking plan enforcement", max_length=8, choices=PLAN_ENFORCEMENT, default="block"
    )
    unplanned_events = models.CharField(
        "Unplanned events", max_length=8, choices=UNPLANNED_EVENTS, default="block"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    SECRET_FIELDS = ("write_key_encrypted",)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            # Import matches on Segment's id, so one Segment source is one row here.
            models.UniqueConstraint(
                fields=["segment_source_id"],
                condition=~models.Q(segment_source_id=""),
                name="credentials_source_unique_segment_id",
                violation_error_message="A source with this Segment source ID already exists.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def describe_secret(self, field: str = "write_key_encrypted") -> str:
        return f'the write key of source "{self.name}" (id {self.pk})'

    # A send reads its source twice (the form's choice, then "still enabled?" just before
    # sending): each by one plain SELECT, a tenth of the ORM's time for the same row.
    @classmethod
    def enabled_by_pk(cls, pk: int) -> Source | None:
        """The enabled source ``pk`` (its tracking plan read when first asked for), or None.

        A number no primary key can hold (a forged ``source=99999999999999999999``) is no
        source: the ORM answers such lookups with no rows, SQLite's driver would raise."""
        if not _PK_MIN <= pk <= _PK_MAX:
            return None
        connection = connections[cls.objects.db]
        sql, converters = _enabled_source_query(connection)
        with connection.cursor() as cursor:
            cursor.execute(sql, [pk, True])
            row = cursor.fetchone()
        if row is None:
            return None
        # The ORM's own conversions of each column (booleans, dates, JSON), then its own way
        # of making an instance from a row: the same object a queryset would give, without
        # the raw queryset's per-call column mapping (a fifth of a millisecond a send).
        values = list(row)
        for position, (functions, column) in converters:
            for convert in functions:
                values[position] = convert(values[position], column, connection)
        return cls.from_db(connection.alias, None, values)  # type: ignore[arg-type]

    @classmethod
    def production_if_enabled(cls, pk: int) -> bool | None:
        """Whether source ``pk`` is marked Production, as the database has it now; None when
        it is gone or disabled."""
        with connections[cls.objects.db].cursor() as cursor:
            cursor.execute(_PRODUCTION_IF_ENABLED, [pk, True])
            found = cursor.fetchone()
        return None if found is None else bool(found[0])

    def write_key(self) -> str:
        return crypto.decrypt(self.write_key_encrypted, what=self.describe_secret())

    def set_write_key(self, value: str) -> None:
        self.write_key_encrypted = crypto.encrypt(value)
        self.write_key_hint = crypto.hint_of(value)

    @property
    def write_key_mask(self) -> str:
        return crypto.mask(self.write_key_hint)

    def plan_check(self) -> PlanCheck | None:
        """The source's tracking plan and enforcement, as the rules module takes them; None
        when the source has no plan. Reads the plan row each time (a new import bumps its
        revision) but builds the plan's rules only once per (plan, revision) per process."""
        if self.tracking_plan_id is None:
            return None
        plan = TrackingPlan.objects.filter(pk=self.tracking_plan_id).first()
        if plan is None:
            return None
        return PlanCheck(
            plan=compiled_plan(plan),
            enforcement=self.plan_enforcement,
            unplanned_events=self.unplanned_events,
            settings=self.protocols_settings if isinstance(self.protocols_settings, dict) else {},
            revision=plan.revision,
        )


# Built plans by (plan pk, revision, its rules' ids): a plan keeps its compiled validators, so a
# worker sending chunk after chunk of an import compiles each schema once. The rules' ids (one
# small query) guard against rules replaced without a new revision. A handful of plans in use.
_PLANS: dict[tuple[Any, ...], plan_engine.Plan] = {}
_PLANS_KEPT = 32


def compiled_plan(plan: TrackingPlan) -> plan_engine.Plan:
    slot = (plan.pk, plan.revision, *plan.rules.order_by("pk").values_list("pk", flat=True))
    built = _PLANS.get(slot)
    if built is None:
        built = plan.as_plan()
        if len(_PLANS) >= _PLANS_KEPT:
            _PLANS.pop(next(iter(_PLANS)))
        _PLANS[slot] = built
    return built
