from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Capability",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
            ],
            options={
                "permissions": [
                    ("send_identify", "Send Identify calls"),
                    ("send_events", "Send Track, Page, Screen, Group and Alias calls"),
                    ("make_api_call", "Make raw API calls"),
                    ("bulk_import", "Run bulk imports"),
                    ("lookup_users", "Look users up"),
                    ("view_all_audit", "Read every audit entry (not only one's own)"),
                    ("export_audit", "Export and verify the audit log"),
                    ("manage_credentials", "Manage workspaces and sources"),
                    ("manage_users", "Manage users and their roles"),
                ],
                "managed": False,
                "default_permissions": (),
            },
        ),
    ]
