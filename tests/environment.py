"""Loaded by pytest before Django reads its settings (``-p tests.environment``).

The suite runs against the real settings module with a known, hermetic environment: a
developer's ``.env`` is not read, and keys are fixed test values. ``DATABASE_URL`` is taken
from the outer environment so CI can run the same suite on PostgreSQL.
"""

import os

os.environ["SEGADMIN_ENV_FILE"] = "none"
os.environ.setdefault("DEBUG", "false")
# Admins' second factor is required in the tests that say so (tests/accounts/test_mfa.py).
os.environ.setdefault("SEGADMIN_REQUIRE_MFA", "false")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789abcdef")
# A fixed Fernet key for tests only (never used outside the test suite).
os.environ.setdefault("SEGADMIN_ENCRYPTION_KEYS", "dGVzdC1rZXktdGVzdC1rZXktdGVzdC1rZXktMDAwMDA=")
# A fixed audit chain key for tests only; tests of rotation and wrong keys override it.
os.environ.setdefault("SEGADMIN_AUDIT_KEY", "test-audit-key-not-for-production-0123456789")
# Checkpoints go to the log only, unless a test names an anchor.
os.environ.pop("SEGADMIN_AUDIT_ANCHOR", None)
# Plain static storage: tests must not need `collectstatic`.
os.environ["STATICFILES_BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
