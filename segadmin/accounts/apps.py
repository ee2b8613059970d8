from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "segadmin.accounts"
    label = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self) -> None:
        # Connects the log-in signal that notes a one-time password to change.
        # Connects the log-in signal that notes whose session is whose (accounts.sessions).
        from segadmin.accounts import (
            first_login,  # noqa: F401
            sessions,  # noqa: F401
        )

        hide_allauth_models_from_the_admin()

        # A log-in through the identity provider is announced for the audit log.
        from allauth.account.signals import user_logged_in

        from segadmin.accounts import sso

        user_logged_in.connect(sso.on_logged_in, dispatch_uid="segadmin-sso-logged-in")


def hide_allauth_models_from_the_admin() -> None:
    """django-allauth registers its models in the Django admin: second factors (their secrets
    and recovery codes), single sign-on tokens and client secrets, e-mail addresses. None of
    them is for reading or editing there (the admin's apps are loaded before this one)."""
    from allauth.account.models import EmailAddress
    from allauth.mfa.models import Authenticator
    from allauth.socialaccount.models import SocialAccount, SocialApp, SocialToken
    from django.contrib import admin

    for model in (EmailAddress, Authenticator, SocialAccount, SocialApp, SocialToken):
        if admin.site.is_registered(model):
            admin.site.unregister(model)
