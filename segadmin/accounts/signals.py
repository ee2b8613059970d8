"""What single sign-on announces, for the audit log to record (it sits above accounts, so it
listens rather than being called). Each is sent inside the transaction of the change it
reports, so the change and its entry commit together.

Every signal carries ``request`` and ``provider`` (the identity provider's display name, "" for
a password log-in).
"""

from __future__ import annotations

from django.dispatch import Signal

# user, role, groups: a person logged in through the identity provider.
sso_logged_in = Signal()
# user, role, second_factor (the kind of second factor used, or None): a person logged in with
# their password (provider is ""). Sent once the log-in is complete (after the second factor).
password_logged_in = Signal()
# A log-in refused: method ("single sign-on" or "password"), reason (a short code), username
# (as the provider or the form named them, may be ""), user (when known, else None), details (a
# dict, never a secret). A password log-in sends it for a wrong password, an unknown username, a
# deactivated account and a lock-out (django-axes), never for a re-authentication (see
# password_confirmation_failed).
login_failed = Signal()
# user, role: a person logged in confirmed who they are by signing in at the identity provider
# again ("Confirm with <provider>", before a sensitive action); no token or claim but the role.
sso_reauthenticated = Signal()
# user, reason ("wrong_password", "locked_out" by django-axes, "inactive"): a person logged in
# failed to confirm who they are with their password (django-allauth's confirmation page, before
# a sensitive action); provider is "". Never the password typed.
password_confirmation_failed = Signal()
# user, before, after (role names or None), groups: the provider's groups changed a role.
sso_role_changed = Signal()
# user, role, groups: a person's account was made at their first log-in.
sso_user_created = Signal()
