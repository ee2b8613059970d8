"""The processes a full check of the audit chain is split across (chain._walk_parts): how they
are started and how each sets Django up.

They are never started by ``fork()``: forking a process that has threads (a web server's, the
test runner's, a database driver's, the process pool's own) copies any lock another thread
holds at that moment into a child where nobody will ever release it, and Python warns of it
("This process is multi-threaded, use of fork() may lead to deadlocks in the child"). They
are started by multiprocessing's "forkserver" (a fresh interpreter, started once, that forks
the parts from its single thread; Linux and most Unixes) or else "spawn" (a fresh interpreter
each), chosen here rather than left to the platform's default.

Nothing is inherited from the parent's memory then, so each part sets Django up itself from
what the parent hands it (``ProcessSetup``): the settings module, the database settings the
parent's connections use (a test database's name included) and the audit keys (what
``override_settings`` put there included). This module imports nothing of Django's models,
so a fresh interpreter can import it before Django is set up.
"""

from __future__ import annotations

import multiprocessing
import os
from dataclasses import dataclass
from multiprocessing.context import BaseContext
from typing import Any

# In order of preference; never "fork".
START_METHODS = ("forkserver", "spawn")


def context() -> BaseContext:
    """The multiprocessing context the parts are started with: "forkserver" where the
    platform has it, else "spawn" (which every platform has)."""
    available = multiprocessing.get_all_start_methods()
    for method in START_METHODS:
        if method in available:
            context = multiprocessing.get_context(method)
            if method == "forkserver":
                # Taken when this process starts its forkserver (the first time only).
                context.set_forkserver_preload(["__main__", "segadmin.audit.preload"])
            return context
    return multiprocessing.get_context("spawn")


@dataclass(frozen=True)
class ProcessSetup:
    """What a part needs to set Django up as its parent is: handed over, not inherited."""

    settings_module: str
    databases: dict[str, dict[str, Any]]  # alias -> the settings its connection uses
    audit_keys: tuple[str, ...]


def settings_module() -> str | None:
    """The settings module this process runs with (None: settings made by
    ``settings.configure()``, which a part could not make again)."""
    from django.conf import ENVIRONMENT_VARIABLE, settings

    # The environment's, as Django read it: under override_settings the settings object
    # itself no longer names its module.
    return os.environ.get(ENVIRONMENT_VARIABLE) or getattr(settings, "SETTINGS_MODULE", None)


def current() -> ProcessSetup:
    """This process's setup, for its parts."""
    from django.db import connections

    from segadmin.audit.keys import configured_keys

    module = settings_module()
    if module is None:
        raise RuntimeError("Django's settings were not read from a settings module.")
    return ProcessSetup(
        settings_module=module,
        # Each connection's own settings: under the test runner, the test database's name.
        databases={alias: dict(connections[alias].settings_dict) for alias in connections},
        audit_keys=configured_keys(),
    )


def set_up(setup: ProcessSetup) -> None:
    """Set Django up in a part's process (the pool's initializer), before any connection."""
    os.environ["DJANGO_SETTINGS_MODULE"] = setup.settings_module
    import django
    from django.conf import settings

    # Read the settings module (from the environment the process started with), then put
    # the parent's databases and keys in before anything opens a connection or makes a key.
    settings.DATABASES = setup.databases
    settings.SEGADMIN_AUDIT_KEYS = list(setup.audit_keys)
    django.setup()
