from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "segadmin.approvals"
    label = "approvals"
    verbose_name = "Approvals"
