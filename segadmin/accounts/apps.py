from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "segadmin.accounts"
    label = "accounts"
    verbose_name = "Accounts and roles"
