"""Production sources (issue 16): what counts as a confirmation to send to one, the words of the
refusal, and which sources Segment lists that look like production.

One verdict for every entrance: the call screens, Make an API call, Fix traits, Send again and
a bulk import's Start ask ``confirmed`` (to put the refusal next to their confirmation control),
and the send service asks it again before anything leaves, so a forged post or a screen that
forgot to ask is refused all the same.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

# The field every send form posts its confirmation in: the production source's id (a ticked
# checkbox) or its name (typed).
FIELD = "confirm_production"

# "prod" or "production" as a word of its own: "web-prod", "Production site",
# "environment:prod", "prod_eu" — not "Product catalog" or "reproduce".
_PRODUCTION_WORD = re.compile(r"(?<![a-z0-9])prod(uction)?(?![a-z])", re.IGNORECASE)


def confirmed(source: Any, value: Any) -> bool:
    """Whether ``value`` (what the form posted in ``FIELD``) confirms a send to ``source``:
    always for a source that is not Production; for one that is, only its own id or its name
    (a confirmation given for another source does not carry over)."""
    return not getattr(source, "production", False) or names(source, value)


def names(source: Any, value: Any) -> bool:
    """Whether ``value`` is ``source``'s id or name (a ticked box or the name typed)."""
    if isinstance(value, list | tuple):
        return any(names(source, item) for item in value)
    if value is None:
        return False
    text = str(value).strip()
    return bool(text) and (text == str(source.pk) or text == source.name.strip())


def question(source: Any) -> str:
    """The confirmation control's label."""
    return f"Send to Production source “{source.name}”"


def rows_question(source: Any, rows: int) -> str:
    """A bulk import's confirmation label: the source and how many rows go to it."""
    noun = "row" if rows == 1 else "rows"
    return f"Send the {rows:,} {noun} of this import to Production source “{source.name}”"


def refusal(
    source: Any, *, what: str = "Nothing was sent", asked: str = "", then: str = "send again"
) -> str:
    """The sentence shown next to the confirmation control when it was not given."""
    return (
        f"“{source.name}” is a Production source: tick “{asked or question(source)}” to "
        f"confirm, then {then}. {what}."
    )


def says_production(*texts: str, labels: Mapping[str, Any] | Iterable[Any] = ()) -> bool:
    """Whether a name, slug or label (Segment's ``labels`` of a source: key and value, e.g.
    ``environment: prod``) says production."""
    words = [t for t in texts if t]
    if isinstance(labels, Mapping):
        for key, value in labels.items():
            words.extend([str(key), str(value), f"{key}:{value}"])
    else:
        words.extend(str(label) for label in labels)
    return any(_PRODUCTION_WORD.search(word) for word in words)
