from django.apps import AppConfig


class HomeConfig(AppConfig):
    name = "segadmin.home"
    label = "home"
