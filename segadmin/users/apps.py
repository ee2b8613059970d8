from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "segadmin.users"
    label = "users"
    verbose_name = "Users"
