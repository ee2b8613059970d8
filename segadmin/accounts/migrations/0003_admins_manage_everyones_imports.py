"""A capability for changing someone else's bulk import, given to Admins.

Reading every import stays Support's right (``view_all_audit``); starting, cancelling,
resuming or remapping one is its uploader's, or an Admin's through ``manage_imports``.
"""

from django.db import migrations

CODENAME = "manage_imports"
NAME = "Change anyone's bulk import (start, cancel, resume, remap)"


def grant_to_admins(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")

    capability_type, _ = ContentType.objects.get_or_create(app_label="accounts", model="capability")
    permission, _ = Permission.objects.get_or_create(
        content_type=capability_type, codename=CODENAME, defaults={"name": NAME}
    )
    admins, _ = Group.objects.get_or_create(name="Admin")
    admins.permissions.add(permission)


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Permission.objects.filter(content_type__app_label="accounts", codename=CODENAME).delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_create_roles")]

    operations = [
        migrations.AlterModelOptions(
            name="capability",
            options={
                "default_permissions": (),
                "managed": False,
                "permissions": [
                    ("send_identify", "Send Identify calls"),
                    ("send_events", "Send Track, Page, Screen, Group and Alias calls"),
                    ("make_api_call", "Make raw API calls"),
                    ("bulk_import", "Run bulk imports"),
                    ("manage_imports", NAME),
                    ("lookup_users", "Look users up"),
                    ("view_all_audit", "Read every audit entry (not only one's own)"),
                    ("export_audit", "Export and verify the audit log"),
                    ("manage_credentials", "Manage workspaces and sources"),
                    ("manage_users", "Manage users and their roles"),
                ],
            },
        ),
        migrations.RunPython(grant_to_admins, revoke),
    ]
