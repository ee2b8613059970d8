from django.apps import AppConfig


class CredentialsConfig(AppConfig):
    name = "segadmin.credentials"
    label = "credentials"
