from django.apps import AppConfig


class BulkConfig(AppConfig):
    name = "segadmin.bulk"
    label = "bulk"
    verbose_name = "Bulk import"
