from django.apps import AppConfig


class LookupConfig(AppConfig):
    name = "segadmin.lookup"
    label = "lookup"
