"""Users (Admins): every person with their role, last log-in and status; add a person with a
role in one step; change a role; deactivate and reactivate; reset a password. Every change goes
through services.py, which records it in the audit log. The Django admin stays for the rest.

Also the pages every person may need: choosing their own password (at once after a one-time
password: segadmin/accounts/first_login.py sends them there) and the set-password link's page.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from allauth.mfa.models import Authenticator
from allauth.socialaccount.models import SocialAccount
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import permission_required
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.models import User
from django.contrib.auth.views import INTERNAL_RESET_SESSION_TOKEN
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from segadmin.accounts import first_login, sessions, sso
from segadmin.accounts.models import PasswordToChange, SourceLimit
from segadmin.accounts.reauth import recent_authentication_required
from segadmin.accounts.roles import ROLES, role_of
from segadmin.audit.log import Actor
from segadmin.users import services
from segadmin.users.forms import ROLE_HELP, AddPersonForm, LimitsForm, ResetForm, RoleForm

MANAGE = "accounts.manage_users"


def _role(user: User) -> str:
    if user.is_superuser:
        return "Admin (superuser)"
    names = {group.name for group in user.groups.all()}
    for role in reversed(ROLES):
        if role in names:
            return role
    return "No role"


def _status(user: User, must_change: set[int]) -> str:
    if not user.is_active:
        return "Deactivated"
    if not user.has_usable_password():
        return "Waiting to set a password"
    if user.pk in must_change:
        return "Must change the one-time password"
    return "Active"


def _handover_context(request: HttpRequest, handover: services.Handover) -> dict[str, Any]:
    return {
        "how": handover.how,
        "password": handover.password,
        "link": request.build_absolute_uri(handover.link_path) if handover.link_path else "",
    }


def _shown_once(response: HttpResponse) -> HttpResponse:
    # A password or link shown once must not be kept by a cache or the back button's copy.
    response["Cache-Control"] = "no-store"
    return response


@dataclass(frozen=True)
class Limits:
    """A person's source limits as the page shows them."""

    workspaces: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()

    @property
    def limited(self) -> bool:
        return bool(self.workspaces or self.sources) or self.emptied

    emptied: bool = False  # limited, but everything chosen was deleted since

    @property
    def text(self) -> str:
        if not self.limited:
            return "Every source"
        if self.emptied:
            return "Nothing (what was chosen was deleted)"
        parts = [f"workspace {name}" for name in self.workspaces]
        parts += [f"source {name}" for name in self.sources]
        return ", ".join(parts)


def _limits_by_person() -> dict[int, Limits]:
    """Every limited person's limits, in three queries whatever the number of people."""
    limited = set(SourceLimit.objects.values_list("user_id", flat=True))
    workspaces: dict[int, list[str]] = {pk: [] for pk in limited}
    sources: dict[int, list[str]] = {pk: [] for pk in limited}
    chosen_workspaces = SourceLimit.workspaces.through.objects.values_list(
        "sourcelimit_id", "workspace__name"
    )
    for pk, name in chosen_workspaces.order_by("workspace__name"):
        workspaces[pk].append(name)
    chosen_sources = SourceLimit.sources.through.objects.values_list(
        "sourcelimit_id", "source__name"
    )
    for pk, name in chosen_sources.order_by("source__name"):
        sources[pk].append(name)
    return {
        pk: Limits(
            workspaces=tuple(workspaces[pk]),
            sources=tuple(sources[pk]),
            emptied=not workspaces[pk] and not sources[pk],
        )
        for pk in limited
    }


SIGN_IN_PASSWORD = "Password"  # noqa: S105 - a way to log in, not a password
SIGN_IN_SSO = "Single sign-on"


def _sign_in_methods() -> tuple[set[int], dict[int, list[str]]]:
    """Who has a single sign-on account (by provider), and who has a second factor (its
    kinds), from django-allauth's SocialAccount and Authenticator."""
    sso: dict[int, list[str]] = {}
    for user_id, provider in SocialAccount.objects.values_list("user_id", "provider"):
        sso.setdefault(user_id, []).append(provider)
    factors: dict[int, list[str]] = {}
    for user_id, kind in Authenticator.objects.values_list("user_id", "type"):
        factors.setdefault(user_id, []).append(kind)
    return set(sso), factors


def _sign_in(user: User, sso: set[int]) -> str:
    methods = []
    if user.has_usable_password():
        methods.append(SIGN_IN_PASSWORD)
    if user.pk in sso:
        methods.append(SIGN_IN_SSO)
    return " and ".join(methods) if methods else "None yet"


# django-allauth's authenticator types, as the page names them.
FACTOR_NAMES = {
    Authenticator.Type.TOTP: "authenticator app",
    Authenticator.Type.WEBAUTHN: "security key",
}


def _second_factor(kinds: list[str]) -> str:
    names = [FACTOR_NAMES[k] for k in FACTOR_NAMES if k in kinds]
    if not names:
        return "None"
    text = "On: " + " and ".join(names)
    if Authenticator.Type.RECOVERY_CODES in kinds:
        text += ", with recovery codes"
    return text


@permission_required(MANAGE, raise_exception=True)
def user_list(request: HttpRequest) -> HttpResponse:
    users = User.objects.order_by("username").prefetch_related(Prefetch("groups"))
    must_change = set(PasswordToChange.objects.values_list("user_id", flat=True))
    limits = _limits_by_person()
    sso, factors = _sign_in_methods()
    rows = [
        {
            "user": user,
            "role": _role(user),
            "status": _status(user, must_change),
            "sign_in": _sign_in(user, sso),
            "second_factor": _second_factor(factors.get(user.pk, [])),
            "limits": limits.get(user.pk, Limits()),
        }
        for user in users
    ]
    return render(request, "users/list.html", {"rows": rows})


@permission_required(MANAGE, raise_exception=True)
@require_http_methods(["GET", "POST"])
def user_add(request: HttpRequest) -> HttpResponse:
    form = AddPersonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user, handover = services.add_person(
                actor=Actor.from_request(request),
                actor_user=request.user,  # type: ignore[arg-type]
                username=data["username"],
                email=data["email"],
                role=data["role"],
                how=data["how"],
            )
        except services.Refused as exc:
            form.add_error(None, str(exc))
        else:
            context = {"person": user, "role": data["role"], "added": True}
            context.update(_handover_context(request, handover))
            return _shown_once(render(request, "users/handover.html", context))
    return render(request, "users/add.html", {"form": form, "role_help": ROLE_HELP})


def _detail(request: HttpRequest, person: User, **extra: Any) -> HttpResponse:
    must_change = set(
        PasswordToChange.objects.filter(user=person).values_list("user_id", flat=True)
    )
    linked = set(SocialAccount.objects.filter(user=person).values_list("user_id", flat=True))
    factors = list(Authenticator.objects.filter(user=person).values_list("type", flat=True))
    context: dict[str, Any] = {
        "person": person,
        "role": _role(person),
        "status": _status(person, must_change),
        "sign_in": _sign_in(person, linked),
        "second_factor": _second_factor(factors),
        "has_second_factor": bool(factors),
        "limits": _limits_by_person().get(person.pk, Limits()),
        "limits_form": extra.pop("limits_form", None) or _limits_form(person),
        "is_self": person.pk == request.user.pk,
        # Signs in only with single sign-on: no password to reset (services refuses one).
        "person_password_by_provider": not person.has_usable_password() and bool(linked),
        "provider": sso.provider_name(),
        "may_change": request.user.is_superuser or not person.is_superuser,
        "role_form": extra.pop("role_form", None)
        or RoleForm(initial={"role": role_of(person) or ""}),
        "reset_form": extra.pop("reset_form", None) or ResetForm(),
        "role_help": ROLE_HELP,
    }
    context.update(extra)
    status = 200 if not extra.get("refused") else 400
    return render(request, "users/detail.html", context, status=status)


@permission_required(MANAGE, raise_exception=True)
def user_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, get_object_or_404(User, pk=pk))


@permission_required(MANAGE, raise_exception=True)
@require_POST
def user_role(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_object_or_404(User, pk=pk)
    form = RoleForm(request.POST)
    if not form.is_valid():
        return _detail(request, person, role_form=form, refused="Choose a role.")
    try:
        changed = services.change_role(
            actor=Actor.from_request(request),
            actor_user=request.user,  # type: ignore[arg-type]
            user=person,
            role=form.cleaned_data["role"],
        )
    except services.Refused as exc:
        return _detail(request, person, role_form=form, refused=str(exc))
    role = form.cleaned_data["role"]
    if changed:
        messages.success(request, f"{person.get_username()} is now {role}.")
    else:
        messages.info(request, f"{person.get_username()} was already {role}: nothing changed.")
    return redirect("users:detail", pk=person.pk)


def _limits_form(person: User) -> LimitsForm:
    limit = SourceLimit.objects.filter(pk=person.pk).first()
    if limit is None:
        return LimitsForm()
    return LimitsForm(
        initial={
            "workspaces": list(limit.workspaces.values_list("pk", flat=True)),
            "sources": list(limit.sources.values_list("pk", flat=True)),
        }
    )


@permission_required(MANAGE, raise_exception=True)
@require_POST
def user_limits(request: HttpRequest, pk: int) -> HttpResponse:
    """Limit a person to chosen workspaces and sources, or (none chosen) lift the limits."""
    person = get_object_or_404(User, pk=pk)
    form = LimitsForm(request.POST)
    if not form.is_valid():
        return _detail(request, person, limits_form=form, refused="Choose again.")
    workspaces, sources = form.cleaned_data["workspaces"], form.cleaned_data["sources"]
    try:
        changed = services.set_limits(
            actor=Actor.from_request(request),
            actor_user=request.user,  # type: ignore[arg-type]
            user=person,
            workspaces=workspaces,
            sources=sources,
        )
    except services.Refused as exc:
        return _detail(request, person, limits_form=form, refused=str(exc))
    name = person.get_username()
    if not changed:
        messages.info(request, f"{name}'s source limits were already so: nothing changed.")
    elif not workspaces and not sources:
        messages.success(request, f"{name} may use every source again.")
    else:
        messages.success(request, f"{name} is limited to the workspaces and sources chosen.")
    return redirect("users:detail", pk=person.pk)


@permission_required(MANAGE, raise_exception=True)
@require_POST
def user_active(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_object_or_404(User, pk=pk)
    active = request.POST.get("active") == "1"
    try:
        changed = services.set_active(
            actor=Actor.from_request(request),
            actor_user=request.user,  # type: ignore[arg-type]
            user=person,
            active=active,
        )
    except services.Refused as exc:
        return _detail(request, person, refused=str(exc))
    name = person.get_username()
    if not changed:
        messages.info(request, f"{name} was already {'active' if active else 'deactivated'}.")
    elif active:
        messages.success(request, f"{name} is active again and may log in.")
    else:
        messages.success(request, f"{name} is deactivated: they cannot log in any more.")
    return redirect("users:detail", pk=person.pk)


@permission_required(MANAGE, raise_exception=True)
@require_POST
def user_reset(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_object_or_404(User, pk=pk)
    form = ResetForm(request.POST)
    if not form.is_valid():
        return _detail(request, person, reset_form=form, refused="Choose how to hand it over.")
    try:
        handover = services.reset_password(
            actor=Actor.from_request(request),
            actor_user=request.user,  # type: ignore[arg-type]
            user=person,
            how=form.cleaned_data["how"],
        )
    except services.Refused as exc:
        return _detail(request, person, reset_form=form, refused=str(exc))
    context: dict[str, Any] = {"person": person, "role": _role(person), "added": False}
    context.update(_handover_context(request, handover))
    return _shown_once(render(request, "users/handover.html", context))


def _back_to_the_person(request: HttpRequest) -> str:
    # After confirming who they are the Admin comes back to the person's page (a GET of the
    # POST-only removal would do nothing) and presses the button again.
    match = request.resolver_match
    if match is None:
        return str(reverse("users:list"))
    return str(reverse("users:detail", kwargs={"pk": match.kwargs["pk"]}))


@permission_required(MANAGE, raise_exception=True)
@require_POST
@recent_authentication_required(back=_back_to_the_person)
def user_second_factor_reset(request: HttpRequest, pk: int) -> HttpResponse:
    """Remove every second factor of a person who lost their phone or keys: only with the box
    that names them ticked, never on oneself, audited with the kinds removed."""
    person = get_object_or_404(User, pk=pk)
    if request.POST.get("confirm") != str(person.pk):
        return _detail(
            request,
            person,
            refused=f"Tick the box that names {person.get_username()} to remove their second "
            "factor: nothing was removed.",
        )
    try:
        kinds = services.remove_second_factor(
            actor=Actor.from_request(request),
            actor_user=request.user,  # type: ignore[arg-type]
            user=person,
        )
    except services.Refused as exc:
        return _detail(request, person, refused=str(exc))
    name = person.get_username()
    if kinds:
        messages.success(
            request,
            f"{name}'s second factor is removed: they log in with their password only and can "
            "set up a new one under Second factor.",
        )
    else:
        messages.info(request, f"{name} had no second factor: nothing changed.")
    return redirect("users:detail", pk=person.pk)


@sensitive_post_parameters()
@never_cache
@require_http_methods(["GET", "POST"])
def own_password(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    if sso.password_managed_by_provider(user):
        # Signs in only with single sign-on: the provider keeps the password; none is set here
        # (a posted one is ignored: it would open a way in around the provider).
        return render(
            request,
            "users/own_password.html",
            {"managed_by": sso.provider_name(), "forced": False},
        )
    form = SetPasswordForm(user, request.POST or None)
    forced = bool(request.session.get(first_login.SESSION_KEY))
    if request.method == "POST" and form.is_valid():
        services.choose_own_password(
            actor=Actor.from_request(request),
            user=user,
            password=form.cleaned_data["new_password1"],
            keep_session=request.session.session_key,
        )
        update_session_auth_hash(request, user)  # a new session key: noted under them again
        sessions.remember(request, user)
        first_login.password_changed(request)
        messages.success(request, "Your password is changed.")
        return redirect("home:index")
    return render(request, "users/own_password.html", {"form": form, "forced": forced})


@method_decorator(sensitive_post_parameters(), name="dispatch")
class SetPasswordView(auth_views.PasswordResetConfirmView):
    """The set-password link an Admin copied: valid until used, or 3 days
    (PASSWORD_RESET_TIMEOUT); the password chosen is audited like any other change."""

    template_name = "users/set_password.html"
    success_url = reverse_lazy("accounts:login")
    reset_url_token = "set-password"  # noqa: S105 - a URL segment, not a secret

    def form_valid(self, form: Any) -> HttpResponse:
        user = form.user
        # The person acting is the one the link is for (they are not logged in).
        actor = replace(
            Actor.from_request(self.request),
            user=user,
            username=user.get_username(),
            role=role_of(user) or "",
        )
        services.choose_own_password(
            actor=actor, user=user, password=form.cleaned_data["new_password1"]
        )
        self.request.session.pop(INTERNAL_RESET_SESSION_TOKEN, None)
        messages.success(self.request, "Your password is set: log in with it.")
        return redirect(self.success_url)
