from django.apps import AppConfig


class PeriodicConfig(AppConfig):
    name = "segadmin.periodic"
    label = "periodic"
    verbose_name = "periodic jobs"
