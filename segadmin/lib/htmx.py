"""The request type of views that read ``request.htmx`` (set by django-htmx's middleware).

Annotating such a view's ``request`` with it lets the type checker see the attribute, as
django-htmx's documentation recommends.
"""

from __future__ import annotations

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails
