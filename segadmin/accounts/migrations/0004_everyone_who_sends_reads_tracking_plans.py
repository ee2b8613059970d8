"""A capability for reading the imported tracking plans, given to every role that sends.

Importing and refreshing plans stays ``manage_credentials`` (Admins).
"""

from django.db import migrations

CODENAME = "view_tracking_plans"
NAME = "Read the imported tracking plans"
ROLES = ("Marketer", "Support", "Admin")


def grant(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")

    capability_type, _ = ContentType.objects.get_or_create(app_label="accounts", model="capability")
    permission, _ = Permission.objects.get_or_create(
        content_type=capability_type, codename=CODENAME, defaults={"name": NAME}
    )
    for role in ROLES:
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(permission)


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Permission.objects.filter(content_type__app_label="accounts", codename=CODENAME).delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_admins_manage_everyones_imports")]

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
                    (
                        "manage_imports",
                        "Change anyone's bulk import (start, cancel, resume, remap)",
                    ),
                    ("lookup_users", "Look users up"),
                    ("view_tracking_plans", NAME),
                    ("view_all_audit", "Read every audit entry (not only one's own)"),
                    ("export_audit", "Export and verify the audit log"),
                    ("manage_credentials", "Manage workspaces and sources"),
                    ("manage_users", "Manage users and their roles"),
                ],
            },
        ),
        migrations.RunPython(grant, revoke),
    ]
