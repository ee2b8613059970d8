"""Imported once by multiprocessing's forkserver before it forks the parts of a full check
(processes.context): Django's own modules, which need no settings, so that each part's
``django.setup()`` finds them imported instead of importing them again (about half its time).
Nothing here may stop the forkserver: a module that fails is left for the part to import."""

from __future__ import annotations

import contextlib
import importlib

MODULES = (
    "django.db.models",
    "django.db.backends.sqlite3.base",
    "django.contrib.admin",
    "django.forms",
    "django.template",
    "django.urls",
    "django.views.generic",
)

for _name in MODULES:
    with contextlib.suppress(Exception):
        importlib.import_module(_name)
