from __future__ import annotations

from django.db import models


class Capability(models.Model):
    """Not a table: the home of the app-wide permissions that the roles are made of.

    Screens check these (``accounts.send_identify`` ...) rather than model permissions, so a
    role means "what this person may do", whatever models later features add.
    """

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("send_identify", "Send Identify calls"),
            ("send_events", "Send Track, Page, Screen, Group and Alias calls"),
            ("make_api_call", "Make raw API calls"),
            ("bulk_import", "Run bulk imports"),
            ("manage_imports", "Change anyone's bulk import (start, cancel, resume, remap)"),
            ("lookup_users", "Look users up"),
            ("view_tracking_plans", "Read the imported tracking plans"),
            ("view_all_audit", "Read every audit entry (not only one's own)"),
            ("export_audit", "Export and verify the audit log"),
            ("manage_credentials", "Manage workspaces and sources"),
            ("manage_users", "Manage users and their roles"),
            ("file_privacy_requests", "File privacy requests and read them"),
            ("approve", "Approve or reject what another person asked for"),
        ]

    def __str__(self) -> str:
        return "capability"


class PasswordToChange(models.Model):
    """A person whose password was set by someone else (a one-time password from the Users
    screen): until they choose their own, every page sends them to do so. The row goes when
    they have."""

    user = models.OneToOneField(
        "auth.User", on_delete=models.CASCADE, primary_key=True, related_name="password_to_change"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"password to change for user {self.user_id}"


class SourceLimit(models.Model):
    """A person limited to chosen workspaces and/or sources (DESIGN.md: "An Admin can limit a
    person to chosen workspaces or sources; every entrance honours the limit").

    No row: the person may use every source and workspace their role allows. A row: they may
    use the sources chosen here and every source of the workspaces chosen here, and only the
    workspaces chosen here (a privacy request, the Public API). A row whose choices were all
    deleted since leaves them nothing: deleting a source never widens anyone's access. The
    Users screen removes the row when an Admin chooses nothing ("all").

    segadmin/accounts/limits.py is the one place that reads it.
    """

    user = models.OneToOneField(
        "auth.User", on_delete=models.CASCADE, primary_key=True, related_name="source_limit"
    )
    workspaces = models.ManyToManyField("credentials.Workspace", blank=True, related_name="+")
    sources = models.ManyToManyField("credentials.Source", blank=True, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"source limits of user {self.user_id}"


class UserSession(models.Model):
    """Which person a session (django_session row) is logged in as, written at log-in
    (``accounts.sessions``) so a person's sessions are found by one indexed query when an Admin
    deactivates them, resets their password or removes their second factor. The row goes with
    its session (log-out, expiry's ``clearsessions``, a new session key at log-in or after a
    password change) and with its person."""

    session = models.OneToOneField(
        "sessions.Session", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    user = models.ForeignKey("auth.User", on_delete=models.CASCADE, related_name="+")

    def __str__(self) -> str:
        return f"a session of user {self.user_id}"
