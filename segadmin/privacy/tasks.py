"""The background send of an approved privacy request (run by ``manage.py db_worker``).

Approving (or Retry) commits the decision, claims the request (``sending``) and queues this
task; the request's page shows "Sending..." until it ends. Each call is still claimed and
committed before it leaves (``flow.send_pending``), so a task delivered twice, or running
beside a Retry, never sends a call twice.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth import get_user_model
from django.tasks import task

from segadmin.audit.log import Actor
from segadmin.privacy import flow
from segadmin.privacy.models import PrivacyRequest

log = logging.getLogger("segadmin.privacy")


def actor_data(actor: Actor) -> dict[str, Any]:
    """The actor as the task's JSON arguments."""
    return {
        "user_id": actor.user.pk if actor.user is not None else None,
        "username": actor.username,
        "role": actor.role,
        "ip": actor.ip,
        "user_agent": actor.user_agent,
    }


def _actor(data: dict[str, Any]) -> Actor:
    user = None
    if data.get("user_id") is not None:
        user = get_user_model().objects.filter(pk=data["user_id"]).first()
    return Actor(
        user=user,
        username=str(data.get("username") or "privacy request"),
        role=str(data.get("role") or ""),
        ip=data.get("ip"),
        user_agent=str(data.get("user_agent") or ""),
    )


def run_send(request_id: int, actor: dict[str, Any]) -> str:
    """Send what is left of a request being sent; its state at the end. A request not in
    ``sending`` (sent already, or missing) is left alone."""
    request = (
        PrivacyRequest.objects.select_related("workspace", "source").filter(pk=request_id).first()
    )
    if request is None:
        return "missing"
    if request.state != PrivacyRequest.State.SENDING:
        return str(request.state)
    try:
        return str(flow.send_pending(request, actor=_actor(actor)).state)
    except Exception:
        log.exception("Privacy request %s: sending stopped by an unexpected error", request_id)
        flow.stopped(request, actor=_actor(actor))
        return PrivacyRequest.State.NOT_SENT


@task()
def send_privacy_request(request_id: int, actor: dict[str, Any]) -> str:
    return run_send(request_id, actor)
