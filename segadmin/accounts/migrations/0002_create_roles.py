"""Create the groups Marketer, Support and Admin with their permissions.

The table below is a frozen copy: a later change of roles gets its own migration.
"""

from django.db import migrations

CAPABILITIES = {
    "send_identify": "Send Identify calls",
    "send_events": "Send Track, Page, Screen, Group and Alias calls",
    "make_api_call": "Make raw API calls",
    "bulk_import": "Run bulk imports",
    "lookup_users": "Look users up",
    "view_all_audit": "Read every audit entry (not only one's own)",
    "export_audit": "Export and verify the audit log",
    "manage_credentials": "Manage workspaces and sources",
    "manage_users": "Manage users and their roles",
}

ROLES = {
    "Marketer": ["send_identify", "send_events", "bulk_import"],
    "Support": ["send_identify", "bulk_import", "lookup_users", "view_all_audit"],
    "Admin": list(CAPABILITIES),
}

# Admins manage users (and so their roles) in the Django admin.
ADMIN_AUTH_PERMISSIONS = ["view_user", "add_user", "change_user", "delete_user", "view_group"]


def create_roles(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")

    capability_type, _ = ContentType.objects.get_or_create(app_label="accounts", model="capability")
    user_type, _ = ContentType.objects.get_or_create(app_label="auth", model="user")
    group_type, _ = ContentType.objects.get_or_create(app_label="auth", model="group")
    by_codename = {}
    for codename, name in CAPABILITIES.items():
        by_codename[codename], _ = Permission.objects.get_or_create(
            content_type=capability_type, codename=codename, defaults={"name": name}
        )
    auth_permissions = []
    for codename in ADMIN_AUTH_PERMISSIONS:
        model = codename.split("_", 1)[1]
        content_type = user_type if model == "user" else group_type
        permission, _ = Permission.objects.get_or_create(
            content_type=content_type,
            codename=codename,
            defaults={"name": f"Can {codename.split('_')[0]} {model}"},
        )
        auth_permissions.append(permission)

    for role, codenames in ROLES.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(*(by_codename[c] for c in codenames))
        if role == "Admin":
            group.permissions.add(*auth_permissions)


def remove_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.filter(name__in=list(ROLES)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
