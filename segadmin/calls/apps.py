from django.apps import AppConfig


class CallsConfig(AppConfig):
    name = "segadmin.calls"
    label = "calls"
