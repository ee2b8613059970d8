from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "segadmin.accounts"
    label = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self) -> None:
        # Connects the log-in signal that notes a one-time password to change.
        from segadmin.accounts import first_login  # noqa: F401
