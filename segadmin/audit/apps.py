from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "segadmin.audit"
    label = "audit"
