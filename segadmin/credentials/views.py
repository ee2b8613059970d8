"""Workspaces and Sources pages, for Admins (accounts.manage_credentials).

Views orchestrate: forms validate, the models encrypt, credentials.services saves each change
with its audit event in one transaction, and every request to Segment goes through the sending
layer. No transaction is held open across an HTTP call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.db import IntegrityError
from django.db.models import Count, Model, ProtectedError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from segadmin import sending
from segadmin.accounts.actors import Actor
from segadmin.accounts.reauth import recent_authentication_required
from segadmin.credentials import crypto, production, services
from segadmin.credentials.forms import ImportSourcesForm, SourceForm, WorkspaceForm
from segadmin.credentials.models import Source, Workspace
from segadmin.lib.htmx import HtmxHttpRequest
from segadmin.lib.ids import whole_number
from segadmin.segment import client

MANAGE = "accounts.manage_credentials"

NO_WRITE_KEYS = (
    "Segment listed the sources without their write keys: the token has no Source Admin "
    "permission, so write keys are hidden. Give the token the Source Admin role (or use a "
    "Workspace Owner token) to import sources, or add them by hand with their write keys."
)


def _unreadable(obj: Workspace | Source) -> str | None:
    """Why a stored secret of ``obj`` cannot be read, or None when all of them can."""
    for field in obj.SECRET_FIELDS:
        token = getattr(obj, field)
        if not token:
            continue
        try:
            crypto.decrypt(token, what=obj.describe_secret(field))
        except (crypto.SecretUnreadable, crypto.EncryptionNotConfigured) as exc:
            return str(exc)
    return None


def _save_with_audit(
    request: HttpRequest, form: WorkspaceForm | SourceForm, *, details: dict[str, Any]
) -> Model | None:
    """Save the form's object and its audit entry together; None (with a form error) if not."""
    creating = form.instance.pk is None
    obj = form.save(commit=False)
    actor = Actor.from_request(request)
    try:
        form.apply_secrets(obj)
        if creating:
            services.create(actor=actor, obj=obj, details=details)
        else:
            services.edit(actor=actor, obj=obj, details=details)
    except crypto.EncryptionNotConfigured as exc:
        form.add_error(None, str(exc))
        return None
    except IntegrityError:
        form.add_error("segment_source_id", "A source with this Segment source ID already exists.")
        return None
    saved: Model = obj
    return saved


def _edit(
    request: HttpRequest, form: WorkspaceForm | SourceForm, kind: str, done: str
) -> HttpResponse:
    """The edit page of a workspace or a source (``kind``): the changes saved with their audit
    entry, or "Nothing changed.", then back to ``done``; the form again when refused."""
    obj = form.instance
    if form.is_valid():
        changed = form.changed_labels()
        if not changed:
            messages.info(request, "Nothing changed.")
            return redirect(done)
        if _save_with_audit(request, form, details={"changed": changed}) is not None:
            messages.success(request, f"{kind.capitalize()} “{obj}” saved.")
            return redirect(done)
    return render(
        request,
        f"credentials/{kind}_form.html",
        {
            "form": form,
            "title": f"Edit {kind} “{obj}”",
            "object": obj,
            "unreadable": _unreadable(obj),
        },
    )


# --- Workspaces -----------------------------------------------------------------------------


@permission_required(MANAGE, raise_exception=True)
def workspace_list(request: HttpRequest) -> HttpResponse:
    workspaces = list(Workspace.objects.annotate(source_count=Count("sources")))
    rows = [{"workspace": ws, "unreadable": _unreadable(ws)} for ws in workspaces]
    return render(request, "credentials/workspace_list.html", {"rows": rows})


@permission_required(MANAGE, raise_exception=True)
@require_http_methods(["GET", "POST"])
@recent_authentication_required()
def workspace_add(request: HttpRequest) -> HttpResponse:
    form = WorkspaceForm(request.POST or None, submit_label="Add workspace")
    if form.is_valid():
        details = {
            "region": form.cleaned_data["region"],
            "profile_api": bool(form.cleaned_data.get("profiles_token")),
        }
        workspace = _save_with_audit(request, form, details=details)
        if workspace is not None:
            messages.success(request, f"Workspace “{workspace}” added.")
            return redirect("credentials:workspace_detail", pk=workspace.pk)
    return render(
        request, "credentials/workspace_form.html", {"form": form, "title": "Add a workspace"}
    )


@permission_required(MANAGE, raise_exception=True)
def workspace_detail(request: HttpRequest, pk: int) -> HttpResponse:
    workspace = get_object_or_404(Workspace.objects.annotate(source_count=Count("sources")), pk=pk)
    return render(
        request,
        "credentials/workspace_detail.html",
        {"workspace": workspace, "unreadable": _unreadable(workspace)},
    )


@permission_required(MANAGE, raise_exception=True)
@require_http_methods(["GET", "POST"])
@recent_authentication_required()
def workspace_edit(request: HttpRequest, pk: int) -> HttpResponse:
    workspace = get_object_or_404(Workspace, pk=pk)
    form = WorkspaceForm(request.POST or None, instance=workspace, submit_label="Save changes")
    return _edit(request, form, "workspace", reverse("credentials:workspace_detail", args=[pk]))


@permission_required(MANAGE, raise_exception=True)
@require_http_methods(["GET", "POST"])
def workspace_delete(request: HttpRequest, pk: int) -> HttpResponse:
    workspace = get_object_or_404(Workspace, pk=pk)
    source_count = workspace.sources.count()
    if request.method == "POST":
        return _delete_with_audit(
            request,
            workspace,
            details={"region": workspace.region, "sources_detached": source_count},
            success_url="credentials:workspace_list",
        )
    consequence = (
        f"Its {source_count} source{'s' if source_count != 1 else ''} will stay, without a "
        "workspace."
        if source_count
        else "It has no sources."
    )
    return render(
        request,
        "credentials/confirm_delete.html",
        {"object": workspace, "kind": "workspace", "consequence": consequence},
    )


@dataclass(frozen=True)
class ConnectionResult:
    ok: bool
    message: str
    detail: str = ""


def _explain(error: client.ApiError, workspace: Workspace) -> str:
    """Segment's error in plain words, with what to try next where we know it."""
    if error.kind == "unauthorized":
        # A token of an EU workspace is unknown to the US host and the other way round.
        return (
            f"{error.message} A token only works in its own region: this workspace is set to "
            f"{workspace.get_region_display()}."
        )
    return error.message


@permission_required(MANAGE, raise_exception=True)
@require_POST
def workspace_test(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    # Counted as on the workspace's page, which this answer redraws without htmx.
    workspace = get_object_or_404(Workspace.objects.annotate(source_count=Count("sources")), pk=pk)
    result = _test_connection(request, workspace)
    template = "credentials/workspace_detail.html"
    context = {"workspace": workspace, "result": result, "unreadable": _unreadable(workspace)}
    if request.htmx:
        # The result, plus the "Segment workspace" line swapped out of band.
        return render(request, f"{template}#connection-result", {**context, "oob": True})
    return render(request, template, context)


def _test_connection(request: HttpRequest, workspace: Workspace) -> ConnectionResult:
    actor = Actor.from_request(request)
    try:
        found = sending.get_workspace(actor=actor, workspace=workspace)
    except (crypto.SecretUnreadable, crypto.EncryptionNotConfigured) as exc:
        return ConnectionResult(ok=False, message=str(exc))
    if isinstance(found, client.ApiError):
        return ConnectionResult(ok=False, message=_explain(found, workspace))
    detail = ""
    if workspace.segment_workspace_id and workspace.segment_workspace_id != found.id:
        detail = (
            "Before, this workspace was linked to Segment workspace "
            f"{workspace.segment_workspace_id}; it now points at the one above."
        )
    changed = []
    if workspace.segment_workspace_id != found.id:
        changed.append("Segment workspace ID")
    if workspace.slug != found.slug:
        changed.append("Slug")
    if changed:
        # Remember which Segment workspace the token opens, for imports and the pages.
        workspace.segment_workspace_id = found.id
        workspace.slug = found.slug
        services.edit(
            actor=actor,
            obj=workspace,
            details={"changed": changed, "by": "Test connection"},
            update_fields=["segment_workspace_id", "slug", "updated_at"],
        )
    return ConnectionResult(
        ok=True, message=f"This token opens workspace “{found.name}” ({found.slug}).", detail=detail
    )


@dataclass(frozen=True)
class ImportRow:
    """One source as Segment lists it, and what importing it would do."""

    id: str
    name: str
    slug: str
    enabled: bool
    write_key_mask: str
    existing: Source | None
    # Proposed as Production (pre-ticked): its name, slug or labels, or the workspace's name,
    # say production; why, in words.
    production: bool = False
    production_why: str = ""

    @property
    def importable(self) -> bool:
        return self.existing is None and bool(self.write_key_mask)


def _list_for_import(
    request: HttpRequest, workspace: Workspace
) -> tuple[list[ImportRow], list[Any], str | None]:
    """Every source of the workspace from Segment, or the error that stopped the listing."""
    try:
        listed = sending.list_sources(actor=Actor.from_request(request), workspace=workspace)
    except (crypto.SecretUnreadable, crypto.EncryptionNotConfigured) as exc:
        return [], [], str(exc)
    if isinstance(listed, client.ApiError):
        return [], [], _explain(listed, workspace)
    present = {
        s.segment_source_id: s
        for s in Source.objects.filter(segment_source_id__in=[s.id for s in listed])
    }
    rows = [
        ImportRow(
            id=s.id,
            name=s.name or s.slug or s.id,
            slug=s.slug,
            enabled=s.enabled,
            write_key_mask=crypto.mask(crypto.hint_of(s.write_keys[0])) if s.write_keys else "",
            existing=present.get(s.id),
            **_production_proposal(workspace, s),
        )
        for s in listed
    ]
    return rows, listed, None


def _production_proposal(workspace: Workspace, found: Any) -> dict[str, Any]:
    """Whether a listed source is proposed as Production, and why (its name or slug, its
    labels, or the workspace's name say so)."""
    labels = found.labels if isinstance(found.labels, dict) else {}
    if production.says_production(found.name or "", found.slug or ""):
        why = "its name says production"
    elif production.says_production(labels=labels):
        why = "its labels say production"
    elif production.says_production(workspace.name, workspace.slug):
        why = "the workspace's name says production"
    else:
        return {}
    return {"production": True, "production_why": why}


@permission_required(MANAGE, raise_exception=True)
@require_http_methods(["GET", "POST"])
def workspace_import(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    workspace = get_object_or_404(Workspace, pk=pk)
    template = "credentials/workspace_import.html"
    context: dict[str, Any] = {"workspace": workspace, "listed": False}
    if request.method == "GET":
        return render(request, template, context)

    rows, listed, error = _list_for_import(request, workspace)
    context.update(
        listed=True,
        rows=rows,
        error=error,
        write_keys_hidden=bool(listed) and client.sources_hide_write_keys(listed),
        no_write_keys_message=NO_WRITE_KEYS,
    )
    if request.POST.get("action") == "import" and error is None:
        form = ImportSourcesForm(request.POST, choices=[(row.id, row.name) for row in rows])
        if form.is_valid():
            chosen = {row.id for row in rows} & set(form.cleaned_data["source_ids"])
            marked = set(form.cleaned_data["production_ids"])
            _import(request, workspace, [s for s in listed if s.id in chosen], rows, marked)
            return redirect("credentials:source_list")
        context["form_errors"] = form.errors.get("source_ids", [])
    if request.htmx:
        return render(request, f"{template}#source-list", context)
    return render(request, template, context)


def _import(
    request: HttpRequest,
    workspace: Workspace,
    chosen: list[Any],
    rows: list[ImportRow],
    production_ids: set[str],
) -> None:
    """Create a Source for each chosen Segment source, one short transaction each (marked
    Production when its Production box was ticked)."""
    actor = Actor.from_request(request)
    by_id = {row.id: row for row in rows}
    imported: list[str] = []
    skipped: list[str] = []
    for found in chosen:
        row = by_id[found.id]
        if not row.importable:
            reason = "already present" if row.existing else "no write key visible"
            skipped.append(f"{row.name} ({reason})")
            continue
        try:
            services.import_source(
                actor=actor,
                workspace=workspace,
                segment_source_id=found.id,
                name=row.name,
                slug=found.slug or "",
                enabled=bool(found.enabled),
                write_key=found.write_keys[0],
                production=found.id in production_ids,
            )
        except IntegrityError:
            # Someone imported it between the listing and now.
            skipped.append(f"{row.name} (already present)")
            continue
        imported.append(row.name)
    if imported:
        messages.success(
            request,
            f"Imported {len(imported)} source{'s' if len(imported) != 1 else ''} from "
            f"“{workspace}”: {', '.join(imported)}.",
        )
    if skipped:
        messages.warning(request, f"Not imported: {', '.join(skipped)}.")


# --- Sources --------------------------------------------------------------------------------


@permission_required(MANAGE, raise_exception=True)
def source_list(request: HttpRequest) -> HttpResponse:
    sources = list(Source.objects.select_related("workspace"))
    rows = [{"source": s, "unreadable": _unreadable(s)} for s in sources]
    return render(request, "credentials/source_list.html", {"rows": rows})


@permission_required(MANAGE, raise_exception=True)
@require_http_methods(["GET", "POST"])
@recent_authentication_required()
def source_add(request: HttpRequest) -> HttpResponse:
    initial = {}
    if workspace_id := request.GET.get("workspace", "").strip():
        pk = whole_number(workspace_id)
        workspace = Workspace.objects.filter(pk=pk).first() if pk is not None else None
        if workspace:
            initial = {"workspace": workspace, "region": workspace.region}
    form = SourceForm(request.POST or None, initial=initial, submit_label="Add source")
    if form.is_valid():
        workspace = form.cleaned_data.get("workspace")
        details = {
            "region": form.cleaned_data["region"],
            "workspace": workspace.name if workspace else None,
            "enabled": form.cleaned_data["enabled"],
            "production": form.cleaned_data["production"],
        }
        source = _save_with_audit(request, form, details=details)
        if source is not None:
            messages.success(request, f"Source “{source}” added.")
            return redirect("credentials:source_list")
    return render(request, "credentials/source_form.html", {"form": form, "title": "Add a source"})


@permission_required(MANAGE, raise_exception=True)
@require_http_methods(["GET", "POST"])
@recent_authentication_required()
def source_edit(request: HttpRequest, pk: int) -> HttpResponse:
    source = get_object_or_404(Source, pk=pk)
    form = SourceForm(request.POST or None, instance=source, submit_label="Save changes")
    return _edit(request, form, "source", reverse("credentials:source_list"))


@permission_required(MANAGE, raise_exception=True)
@require_http_methods(["GET", "POST"])
def source_delete(request: HttpRequest, pk: int) -> HttpResponse:
    source = get_object_or_404(Source.objects.select_related("workspace"), pk=pk)
    if request.method == "POST":
        return _delete_with_audit(
            request,
            source,
            details={
                "region": source.region,
                "workspace": source.workspace.name if source.workspace else None,
                "segment_source_id": source.segment_source_id or None,
            },
            success_url="credentials:source_list",
        )
    return render(
        request,
        "credentials/confirm_delete.html",
        {
            "object": source,
            "kind": "source",
            "consequence": "Its audit entries stay, naming it. Nobody can send with it any more.",
        },
    )


def _delete_with_audit(
    request: HttpRequest, obj: Workspace | Source, *, details: dict[str, Any], success_url: str
) -> HttpResponse:
    kind = "Workspace" if isinstance(obj, Workspace) else "Source"
    name = obj.name
    try:
        services.delete(actor=Actor.from_request(request), obj=obj, details=details)
    except ProtectedError:
        advice = " Disable it instead." if kind == "Source" else ""
        messages.error(
            request, f"{kind} “{name}” cannot be deleted: other records still depend on it.{advice}"
        )
        return redirect(success_url)
    messages.success(request, f"{kind} “{name}” deleted.")
    return redirect(success_url)
