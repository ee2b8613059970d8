"""Settings for segadmin: one file, every value from the environment (django-environ).

A `.env` file in the project root is read when present (`make run` writes one on the first
run). Values already in the process environment win over the file. Bad values stop start-up
with a message naming the variable and how to make a good one.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import django_stubs_ext
import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

# Django's generic classes take type arguments at run time too (ModelAdmin[AuditEntry]), as the
# type checker (mypy with django-stubs) reads them.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# SEGADMIN_ENV_FILE=none turns the file off (the test suite does, to stay hermetic).
_env_file = os.environ.get("SEGADMIN_ENV_FILE", str(BASE_DIR / ".env"))
if _env_file.lower() != "none" and Path(_env_file).is_file():
    env.read_env(_env_file)

DEBUG = env.bool("DEBUG", default=False)

_HOW_TO_SECRET_KEY = 'make one with: python -c "import secrets; print(secrets.token_urlsafe(50))"'  # noqa: S105
_HOW_TO_FERNET = (
    "make one with: python -c "
    '"from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            f"SECRET_KEY is not set. It is required when DEBUG is off; {_HOW_TO_SECRET_KEY}"
        )
    SECRET_KEY = "insecure-development-key-only-used-with-debug-on"  # noqa: S105
elif len(SECRET_KEY) < 32 and not DEBUG:
    raise ImproperlyConfigured(
        f"SECRET_KEY is too short ({len(SECRET_KEY)} characters, at least 32 are needed); "
        f"{_HOW_TO_SECRET_KEY}"
    )


def _encryption_keys(raw: str) -> list[str]:
    """Check SEGADMIN_ENCRYPTION_KEYS now, so a bad key is a start-up error, not a lost secret."""
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            raise ImproperlyConfigured(
                f"SEGADMIN_ENCRYPTION_KEYS: key number {position} is not a valid Fernet key "
                f"(32 url-safe base64-encoded bytes); {_HOW_TO_FERNET}"
            ) from None
    return keys


SEGADMIN_ENCRYPTION_KEYS = _encryption_keys(env.str("SEGADMIN_ENCRYPTION_KEYS", default=""))
if not SEGADMIN_ENCRYPTION_KEYS and not DEBUG:
    raise ImproperlyConfigured(
        "SEGADMIN_ENCRYPTION_KEYS is not set. It is required when DEBUG is off: it encrypts "
        f"the stored Segment tokens and write keys; {_HOW_TO_FERNET}"
    )

_HOW_TO_AUDIT_KEY = 'make one with: python -c "import secrets; print(secrets.token_urlsafe(32))"'
AUDIT_KEY_MIN_LENGTH = 32


def _audit_keys(raw: str) -> list[str]:
    """Check SEGADMIN_AUDIT_KEY now: a short key would make the audit chain easy to forge."""
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    for position, key in enumerate(keys, start=1):
        if len(key) < AUDIT_KEY_MIN_LENGTH:
            raise ImproperlyConfigured(
                f"SEGADMIN_AUDIT_KEY: key number {position} is not a valid audit key (it has "
                f"{len(key)} characters, at least {AUDIT_KEY_MIN_LENGTH} are needed); "
                f"{_HOW_TO_AUDIT_KEY}"
            )
    return keys


# The audit chain's HMAC keys (segadmin/audit/keys.py): the first signs new entries, every one
# verifies (rotation). Kept outside the database, so database access alone cannot rewrite it.
SEGADMIN_AUDIT_KEYS = _audit_keys(env.str("SEGADMIN_AUDIT_KEY", default=""))
if not SEGADMIN_AUDIT_KEYS and not DEBUG:
    raise ImproperlyConfigured(
        "SEGADMIN_AUDIT_KEY is not set. It is required when DEBUG is off: it keys the audit "
        f"log's hash chain, so that database access alone cannot rewrite it; {_HOW_TO_AUDIT_KEY}"
    )
# A file or directory where signed checkpoints of the chain head are appended (JSON Lines).
SEGADMIN_AUDIT_ANCHOR = env.str("SEGADMIN_AUDIT_ANCHOR", default="")
# How often the periodic job writes a checkpoint (segadmin/periodic.py runs it).
SEGADMIN_AUDIT_CHECKPOINT_MINUTES = env.int("SEGADMIN_AUDIT_CHECKPOINT_MINUTES", default=60)

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Segment API bases. Empty means "by region" (see segadmin/segment/hosts.py).
SEGMENT_TRACKING_API_URL = env.str("SEGMENT_TRACKING_API_URL", default="")
SEGMENT_PUBLIC_API_URL = env.str("SEGMENT_PUBLIC_API_URL", default="")
SEGMENT_PROFILES_API_URL = env.str("SEGMENT_PROFILES_API_URL", default="")
# `make demo` only: the local fake of Segment's address, so every page links to what it received.
SEGADMIN_FAKE_SEGMENT_URL = env.str("SEGADMIN_FAKE_SEGMENT_URL", default="").strip().rstrip("/")
if SEGADMIN_FAKE_SEGMENT_URL and not SEGADMIN_FAKE_SEGMENT_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(
        "SEGADMIN_FAKE_SEGMENT_URL must be the local fake's address, such as "
        "http://127.0.0.1:8765 (make demo sets it), or be left unset."
    )

INSTALLED_APPS = [
    "segadmin.accounts.admin.SegadminAdminConfig",
    "segadmin.accounts",
    # Before django.contrib.auth, so its createsuperuser and changepassword (audited) win.
    "segadmin.audit",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # The list of one's security keys (django-allauth's) says when each was last used.
    "django.contrib.humanize",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_htmx",
    "django_tasks_db",
    "axes",
    # Log-in, single sign-on and the second factor (issue 16): django-allauth.
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "allauth.mfa",
    "segadmin.home",
    "segadmin.segment",
    "segadmin.credentials",
    "segadmin.calls",
    "segadmin.bulk",
    "segadmin.periodic",
    "segadmin.users",
    "segadmin.lookup",
    "segadmin.approvals",
    "segadmin.privacy",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # A single sign-on session's Log out form may follow the redirect to the provider's
    # end-session endpoint (after the CSP middleware, so its policy is the one sent).
    "segadmin.accounts.provider_logout.FormActionMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # django-allauth's log-in stages (password, then the second factor) and re-authentication.
    "allauth.account.middleware.AccountMiddleware",
    # A one-time password set by an Admin is changed before anything else.
    "segadmin.accounts.first_login.PasswordToChangeMiddleware",
    # Then, under SEGADMIN_REQUIRE_MFA, an Admin without a second factor sets one up.
    "segadmin.accounts.second_factor.RequireSecondFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a lockout into the throttling page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "segadmin.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "segadmin.accounts.context_processors.navigation",
                "segadmin.accounts.context_processors.demo",
            ],
        },
    },
]

WSGI_APPLICATION = "segadmin.wsgi.application"

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# Persistent connections: opening one costs PostgreSQL several milliseconds per request.
# Health checks drop a connection the server has closed before a request uses it.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while the task worker writes.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Permissions only, by one plain query; the ModelBackend after it logs people in.
    "segadmin.accounts.backends.PermissionsBackend",
    "django.contrib.auth.backends.ModelBackend",
    # django-allauth's (log-in by username through the same checks; single sign-on).
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home:index"
LOGOUT_REDIRECT_URL = "accounts:login"

# Throttle repeated failed logins: 5 failures for one username from one address lock that
# pair out for 15 minutes.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
# The name its lock-outs are keyed on and its attempts store: an account's username, or "an
# unknown name (<keyed fingerprint>)", never the text typed (it may be a password typed into
# the username box). segadmin.audit.logins records failed log-ins under the same name.
AXES_USERNAME_CALLABLE = "segadmin.audit.logins.axes_username"

# django-allauth: people log in by username (no e-mail needed), nobody signs themselves up
# (segadmin.accounts.adapter closes it; single sign-on creates people on its own terms), and
# log-in throttling stays django-axes' job (allauth's own log-in limits are left out so one
# lock-out rule applies).
ACCOUNT_ADAPTER = "segadmin.accounts.adapter.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "segadmin.accounts.sso.SingleSignOnAdapter"
# Each request to the identity provider (its discovery document, token, userinfo and keys) waits
# at most this many seconds to connect and between bytes (allauth's default, written out), and
# is over within three times it (segadmin.accounts.provider_http): a provider down, silent or
# dripping its answer gives the single sign-on failure page (502), not a hung worker.
SOCIALACCOUNT_REQUESTS_TIMEOUT = 5
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "password1*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_FORMS = {"login": "segadmin.accounts.forms.LoginForm"}
ACCOUNT_RATE_LIMITS = {"login": None, "login_failed": None}
# Adding or changing a token or write key, approving and Make an API call need a log-in or a
# confirmation (password or second factor) this recent (segadmin.accounts.reauth).
ACCOUNT_REAUTHENTICATION_TIMEOUT = env.int("SEGADMIN_REAUTHENTICATION_SECONDS", default=300)
# Confirm with a password or a second factor on allauth's pages; never by a code sent by e-mail
# (segadmin sends none and does not serve that page: allauth would offer it to anyone with a
# verified address, a person from single sign-on included). Single sign-on's own way is
# segadmin.accounts.reauth's "Confirm with <provider>".
ACCOUNT_REAUTHENTICATION_METHODS = ("password", "mfa")

# The second factor (django-allauth's MFA): an authenticator app (TOTP) with recovery codes, and
# security keys (WebAuthn) where the browser offers them. Secrets are encrypted at rest under
# SEGADMIN_ENCRYPTION_KEYS (segadmin.accounts.second_factor).
MFA_ADAPTER = "segadmin.accounts.second_factor.MFAAdapter"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_PASSKEY_LOGIN_ENABLED = False
MFA_TOTP_ISSUER = "segadmin"
# Security keys over plain http work only for a local `make run` (http://127.0.0.1).
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = DEBUG
# Admins must use a second factor (on by default unless DEBUG; `make run` turns it off).
SEGADMIN_REQUIRE_MFA = env.bool("SEGADMIN_REQUIRE_MFA", default=not DEBUG)


def trusted_proxy_settings(count: int) -> dict[str, object]:
    """Where the client's address comes from (django-axes through django-ipware; the audit log
    asks the same helper). ``count`` proxies that each append the address they were reached
    from to X-Forwarded-For stand in front of segadmin: the client is the ``count``-th entry
    from the right, so nothing a client writes into the header (always to the left) counts.
    With none, X-Forwarded-For is ignored and the address is the connection's."""
    if count < 0:
        raise ImproperlyConfigured(
            f"TRUSTED_PROXY_COUNT must be 0 or more (it is {count}): the number of proxies "
            "in front of segadmin that append to X-Forwarded-For, 0 to ignore that header."
        )
    if count == 0:
        return {"AXES_IPWARE_META_PRECEDENCE_ORDER": ("REMOTE_ADDR",)}
    return {
        "AXES_IPWARE_META_PRECEDENCE_ORDER": ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"),
        "AXES_IPWARE_PROXY_ORDER": "left-most",
        # ipware counts the proxies listed in the header; the last one is REMOTE_ADDR.
        "AXES_IPWARE_PROXY_COUNT": count - 1,
        # At least that many, not exactly: a client may have written entries of its own.
        "IPWARE_STRICT": False,
    }


TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
globals().update(trusted_proxy_settings(TRUSTED_PROXY_COUNT))

# --- Single sign-on with OpenID Connect (issue 16) ---------------------------------------------
# django-allauth's openid_connect provider, configured here (never by database rows). It is on
# when both the issuer and the client ID are set. The client secret is a secret: it appears in
# no page, log line, error or audit entry (Django's error reports mask settings named "secret").

OIDC_ROLES = ("Marketer", "Support", "Admin")  # segadmin.accounts.roles.ROLES, lowest first


def oidc_role_map(raw: str) -> dict[str, str]:
    """SEGADMIN_OIDC_ROLE_MAP: "group:Role,group:Role" -> {group: Role}. A group name may hold
    colons (the role is after the last one); a role is Marketer, Support or Admin (any case)."""
    mapping: dict[str, str] = {}
    for position, item in enumerate(raw.split(","), start=1):
        if not item.strip():
            continue
        group, colon, role = item.strip().rpartition(":")
        canonical = {name.lower(): name for name in OIDC_ROLES}.get(role.strip().lower())
        if not colon or not group.strip() or canonical is None:
            raise ImproperlyConfigured(
                f"SEGADMIN_OIDC_ROLE_MAP: entry number {position} ({item.strip()!r}) is not "
                "GROUP:ROLE with ROLE one of Marketer, Support, Admin; for example "
                "SEGADMIN_OIDC_ROLE_MAP=marketing:Marketer,support:Support,admins:Admin"
            )
        mapping[group.strip()] = canonical
    return mapping


def oidc_issuer(raw: str) -> str:
    """The issuer URL, without a trailing slash. https, or http on this machine only."""
    issuer = raw.strip().rstrip("/")
    if not issuer:
        return ""
    parts = urlsplit(issuer)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise ImproperlyConfigured(
            "SEGADMIN_OIDC_ISSUER must be the identity provider's https address (its "
            "issuer, e.g. https://login.example.com/realms/staff); plain http only on "
            f"127.0.0.1 or localhost (it is {parts.scheme or 'no'} scheme)."
        )
    return issuer


SEGADMIN_OIDC_ISSUER = oidc_issuer(env.str("SEGADMIN_OIDC_ISSUER", default=""))
SEGADMIN_OIDC_CLIENT_ID = env.str("SEGADMIN_OIDC_CLIENT_ID", default="").strip()
SEGADMIN_OIDC_CLIENT_SECRET = env.str("SEGADMIN_OIDC_CLIENT_SECRET", default="")
SEGADMIN_OIDC_NAME = env.str("SEGADMIN_OIDC_NAME", default="single sign-on").strip()
SEGADMIN_OIDC_GROUPS_CLAIM = env.str("SEGADMIN_OIDC_GROUPS_CLAIM", default="groups").strip()
SEGADMIN_OIDC_ROLE_MAP = oidc_role_map(env.str("SEGADMIN_OIDC_ROLE_MAP", default=""))
SEGADMIN_OIDC_SCOPES = env.list(
    "SEGADMIN_OIDC_SCOPES", default=["openid", "profile", "email", "groups"]
)
SEGADMIN_SSO_ENABLED = bool(SEGADMIN_OIDC_ISSUER and SEGADMIN_OIDC_CLIENT_ID)
# Log out of a single sign-on session goes on to the provider's end_session_endpoint, when it
# has one (segadmin.accounts.provider_logout); false: it ends the segadmin session only.
SEGADMIN_OIDC_LOGOUT = env.bool("SEGADMIN_OIDC_LOGOUT", default=True)
# The allauth app's provider ID: the callback is /accounts/oidc/sso/login/callback/.
SEGADMIN_OIDC_PROVIDER_ID = "sso"
# false: single sign-on only, but for the superusers named in SEGADMIN_BREAK_GLASS_USERS.
SEGADMIN_PASSWORD_LOGIN = env.bool("SEGADMIN_PASSWORD_LOGIN", default=True)
SEGADMIN_BREAK_GLASS_USERS = env.list("SEGADMIN_BREAK_GLASS_USERS", default=[])
if not SEGADMIN_PASSWORD_LOGIN and not SEGADMIN_SSO_ENABLED:
    raise ImproperlyConfigured(
        "SEGADMIN_PASSWORD_LOGIN=false leaves single sign-on as the only way in, but it is not "
        "configured: set SEGADMIN_OIDC_ISSUER and SEGADMIN_OIDC_CLIENT_ID (and "
        "SEGADMIN_OIDC_CLIENT_SECRET), or leave password log-in on."
    )
if SEGADMIN_SSO_ENABLED and not SEGADMIN_OIDC_ROLE_MAP:
    raise ImproperlyConfigured(
        "SEGADMIN_OIDC_ROLE_MAP is empty: with single sign-on on, nobody would get a role. Map "
        "the identity provider's groups to roles, e.g. "
        "SEGADMIN_OIDC_ROLE_MAP=marketing:Marketer,support:Support,admins:Admin"
    )


def oidc_provider_settings(
    *, issuer: str, client_id: str, secret: str, name: str, scopes: list[str]
) -> dict[str, Any]:
    """SOCIALACCOUNT_PROVIDERS for allauth: one OpenID Connect app from the settings above (none
    when single sign-on is off). The provider class is named either way: allauth reads it once."""
    apps = []
    if issuer and client_id:
        apps.append(
            {
                "provider_id": SEGADMIN_OIDC_PROVIDER_ID,
                "name": name,
                "client_id": client_id,
                "secret": secret,
                "settings": {
                    "server_url": issuer,
                    "scope": scopes,
                    "oauth_pkce_enabled": True,
                    "fetch_userinfo": True,
                },
            }
        )
    return {
        "openid_connect": {
            # allauth's provider, asking for a nonce and checking it (segadmin.accounts.sso).
            "provider_class": "segadmin.accounts.sso.NonceCheckingOIDCProvider",
            "OAUTH_PKCE_ENABLED": True,
            "APPS": apps,
        }
    }


SOCIALACCOUNT_PROVIDERS = oidc_provider_settings(
    issuer=SEGADMIN_OIDC_ISSUER,
    client_id=SEGADMIN_OIDC_CLIENT_ID,
    secret=SEGADMIN_OIDC_CLIENT_SECRET,
    name=SEGADMIN_OIDC_NAME,
    scopes=SEGADMIN_OIDC_SCOPES,
)

SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 60 * 60)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = 0 if DEBUG else env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
# Joining the browsers' preload list is hard to undo: an operator opts in.
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# No 'unsafe-inline' anywhere: scripts and styles come from our own static files.
# Bootstrap's CSS draws some icons from data: URIs, hence img-src data:.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    # Front-end packages come from npm (`npm ci`), never from a CDN or a committed copy.
    ("vendor/bootstrap", BASE_DIR / "node_modules" / "bootstrap" / "dist"),
    # Searchable selects (the call screens' pickers: zones, currencies, events, reserved fields).
    ("vendor/tom-select", BASE_DIR / "node_modules" / "tom-select" / "dist"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": env.str(
            "STATICFILES_BACKEND",
            default="whitenoise.storage.CompressedManifestStaticFilesStorage",
        )
    },
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# Bulk import: the largest file accepted (rows and bytes, as Segment's own CSV uploader), and how
# long a worker's claim on a chunk of rows lasts without news before another worker may take it.
SEGADMIN_BULK_MAX_ROWS = env.int("SEGADMIN_BULK_MAX_ROWS", default=1_000_000)
SEGADMIN_BULK_MAX_BYTES = env.int("SEGADMIN_BULK_MAX_BYTES", default=100 * 1024 * 1024)
# Uploads stop being stored once they pass SEGADMIN_BULK_MAX_BYTES (not after the whole body).
FILE_UPLOAD_HANDLERS = [
    "segadmin.bulk.uploads.SizeLimitUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
SEGADMIN_BULK_LEASE_SECONDS = env.int("SEGADMIN_BULK_LEASE_SECONDS", default=300)
# How many workers may share one import (one task each is queued when it starts).
SEGADMIN_BULK_PARALLEL = env.int("SEGADMIN_BULK_PARALLEL", default=2)
# Files up to this many rows are dry-run inside the request; larger ones by a worker.
SEGADMIN_BULK_INLINE_DRY_RUN_ROWS = env.int("SEGADMIN_BULK_INLINE_DRY_RUN_ROWS", default=20_000)
# How often a worker looks for imports whose worker died and queues them again (bulk_resume).
SEGADMIN_BULK_RESUME_MINUTES = env.int("SEGADMIN_BULK_RESUME_MINUTES", default=5)
# Four-eyes approvals (issue 15): a bulk import above this many rows needs an Admin other than
# its uploader; a Make an API call to the Public API that is not a GET needs a second Admin.
SEGADMIN_APPROVAL_ROWS = env.int("SEGADMIN_APPROVAL_ROWS", default=10_000)
SEGADMIN_APPROVE_PUBLIC_API_CALLS = env.bool("SEGADMIN_APPROVE_PUBLIC_API_CALLS", default=True)
# How often a worker asks Segment about the regulations of privacy requests not yet ended.
SEGADMIN_PRIVACY_SYNC_MINUTES = env.int("SEGADMIN_PRIVACY_SYNC_MINUTES", default=15)
# Days an uploaded import file is kept after its import ends (then the periodic job purges it).
SEGADMIN_BULK_RETENTION_DAYS = env.int("SEGADMIN_BULK_RETENTION_DAYS", default=30)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "{asctime} {levelname} {name}: {message}", "style": "{"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Request bodies and headers never reach the logs; urllib3 would log URLs only.
        "urllib3": {"level": "WARNING"},
    },
}
