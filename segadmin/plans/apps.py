from django.apps import AppConfig


class PlansConfig(AppConfig):
    name = "segadmin.plans"
    label = "plans"
