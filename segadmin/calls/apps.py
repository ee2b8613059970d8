from django.apps import AppConfig


class CallsConfig(AppConfig):
    name = "segadmin.calls"
    label = "calls"

    def ready(self) -> None:
        from segadmin.approvals.registry import register
        from segadmin.calls.approved import HANDLER

        register(HANDLER)
