"""Two capabilities for privacy requests and four-eyes approvals (issue 15): Support and Admins
file privacy requests; Admins approve (never their own request, which the service refuses)."""

from django.db import migrations

GRANTS = {
    "file_privacy_requests": ("File privacy requests and read them", ("Support", "Admin")),
    "approve": ("Approve or reject what another person asked for", ("Admin",)),
}


def grant(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")

    capability_type, _ = ContentType.objects.get_or_create(app_label="accounts", model="capability")
    for codename, (name, roles) in GRANTS.items():
        permission, _ = Permission.objects.get_or_create(
            content_type=capability_type, codename=codename, defaults={"name": name}
        )
        for role in roles:
            group, _ = Group.objects.get_or_create(name=role)
            group.permissions.add(permission)


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Permission.objects.filter(content_type__app_label="accounts", codename__in=GRANTS).delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0005_password_to_change")]

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
                    ("view_tracking_plans", "Read the imported tracking plans"),
                    ("view_all_audit", "Read every audit entry (not only one's own)"),
                    ("export_audit", "Export and verify the audit log"),
                    ("manage_credentials", "Manage workspaces and sources"),
                    ("manage_users", "Manage users and their roles"),
                    ("file_privacy_requests", "File privacy requests and read them"),
                    ("approve", "Approve or reject what another person asked for"),
                ],
            },
        ),
        migrations.RunPython(grant, revoke),
    ]
