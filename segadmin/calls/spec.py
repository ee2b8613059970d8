"""Segment's reserved traits and properties: the names, types and meanings its spec gives them.

The editors show these first, with their types and descriptions, and refuse a custom row that
reuses one of their names. Descriptions follow Segment's spec pages (Identify, Group, Track,
Page, Screen); types are the spec's, plus ``null``, which unsets a trait.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from segadmin.segment import rules

# The value types an editor row can have, read by segment.values (bulk cells use it too).
from segadmin.segment.values import BOOLEAN, DATETIME, LIST, NULL, NUMBER, OBJECT, TEXT

VALUE_TYPES: tuple[str, ...] = (TEXT, NUMBER, BOOLEAN, NULL, DATETIME, LIST, OBJECT)
TYPE_LABELS: dict[str, str] = {
    TEXT: "text",
    NUMBER: "number",
    BOOLEAN: "true/false",
    NULL: "null",
    DATETIME: "date-time",
    LIST: "list (JSON)",
    OBJECT: "object (JSON)",
}


@dataclass(frozen=True)
class Reserved:
    """One reserved name. ``path`` is dotted for the parts of an object ("address.city")."""

    path: str
    types: tuple[str, ...]  # the types the spec allows; the first is the default
    description: str
    label: str = ""  # shown instead of the path when set (Track's "Revenue", "Currency"...)
    input: str = "text"  # how the value is typed: text, email, url, tel, number, currency, date

    @property
    def top(self) -> str:
        return self.path.split(".", 1)[0]

    @property
    def display(self) -> str:
        return self.label or self.path


def _r(path: str, types: str | tuple[str, ...], description: str, **extra: str) -> Reserved:
    return Reserved(path, (types,) if isinstance(types, str) else types, description, **extra)


_ADDRESS = (
    _r("address.street", TEXT, "Street address."),
    _r("address.city", TEXT, "City."),
    _r("address.state", TEXT, "State, province or region."),
    _r("address.postalCode", TEXT, "Postal or ZIP code."),
    _r("address.country", TEXT, "Country."),
)

IDENTIFY_TRAITS: tuple[Reserved, ...] = (
    _r("email", TEXT, "Email address of the user.", input="email"),
    _r("firstName", TEXT, "First name of the user."),
    _r("lastName", TEXT, "Last name of the user."),
    _r(
        "name",
        TEXT,
        "Full name of the user. When only first and last name are given, Segment fills it in.",
    ),
    _r("phone", TEXT, "Phone number of the user.", input="tel"),
    _r("username", TEXT, "The user's username; unique to each user, like a GitHub handle."),
    _r("id", TEXT, "Unique ID of the user in your database."),
    _r("age", NUMBER, "Age of the user.", input="number"),
    _r(
        "birthday",
        DATETIME,
        "The user's birthday (ISO-8601 date, e.g. 1990-05-04).",
        input="date",
    ),
    _r("gender", TEXT, "Gender of the user."),
    _r("title", TEXT, 'Title of the user, usually their position, e.g. "VP of Engineering".'),
    _r("description", TEXT, "Description of the user."),
    _r("avatar", TEXT, "URL of an avatar image for the user.", input="url"),
    _r("website", TEXT, "Website of the user.", input="url"),
    _r(
        "createdAt",
        DATETIME,
        "When the user's account was first created (ISO-8601, with a timezone for a time).",
    ),
    *_ADDRESS,
    _r("company.name", TEXT, "Name of the company the user represents."),
    _r("company.id", (TEXT, NUMBER), "ID of the company (text or number)."),
    _r("company.industry", TEXT, "Industry of the company."),
    _r("company.employee_count", NUMBER, "Number of employees.", input="number"),
    _r("company.plan", TEXT, "The company's plan."),
)

GROUP_TRAITS: tuple[Reserved, ...] = (
    _r("name", TEXT, "Name of the group."),
    _r("email", TEXT, "Email address of the group.", input="email"),
    _r("id", TEXT, "Unique ID of the group in your database."),
    _r("industry", TEXT, "Industry the group is part of."),
    _r("employees", TEXT, "Number of employees, typically of a company (text in the spec)."),
    _r("plan", TEXT, "Plan the group is on."),
    _r("phone", TEXT, "Phone number of the group.", input="tel"),
    _r("website", TEXT, "Website of the group.", input="url"),
    _r("avatar", TEXT, "URL of an avatar image for the group.", input="url"),
    _r("description", TEXT, "Description of the group."),
    _r(
        "createdAt",
        DATETIME,
        "When the group's account was first created (ISO-8601, with a timezone for a time).",
    ),
    *_ADDRESS,
)

TRACK_PROPERTIES: tuple[Reserved, ...] = (
    _r(
        "revenue",
        NUMBER,
        "Revenue the event brought, as a decimal: a $19.99 shirt is 19.99.",
        label="Revenue",
        input="number",
    ),
    _r(
        "currency",
        TEXT,
        "Currency of the revenue, as an ISO 4217 code. USD when Revenue is given without one.",
        label="Currency",
        input="currency",
    ),
    _r(
        "value",
        NUMBER,
        "An abstract value for the event, when revenue does not apply.",
        label="Value",
        input="number",
    ),
)

PAGE_PROPERTIES: tuple[Reserved, ...] = (
    _r("url", TEXT, "Full URL of the page.", input="url"),
    _r("path", TEXT, "Path part of the page's URL, e.g. /pricing."),
    _r("title", TEXT, "Title of the page."),
    _r("referrer", TEXT, "Full URL of the previous page.", input="url"),
    _r("search", TEXT, "Query string part of the page's URL, e.g. ?plan=pro."),
    _r("name", TEXT, "Name of the page (reserved by Segment for future use)."),
    _r("keywords", LIST, 'Keywords describing the page\'s content: a JSON list, e.g. ["a", "b"].'),
)

SCREEN_PROPERTIES: tuple[Reserved, ...] = (
    _r("name", TEXT, "Name of the screen (reserved by Segment for future use)."),
)


@cache
def currencies() -> tuple[tuple[str, str], ...]:
    """ISO 4217 currencies as (code, name), from pycountry's maintained list, sorted by code."""
    import pycountry  # imported on first use: the data files are read lazily

    return tuple(sorted((c.alpha_3, c.name) for c in pycountry.currencies))


def is_currency(code: str) -> bool:
    return rules.is_currency(code)
