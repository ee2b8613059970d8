"""The rule a message matches is kept on the plan per (type, name) when no version is asked
for: a message asking for a version, or one after it, still gets its own rule."""

from segadmin.segment import plans


def _plan() -> plans.Plan:
    schema = {"type": "object"}
    return plans.Plan.from_api(
        {"name": "P"},
        [
            {"type": "TRACK", "key": "Order Completed", "version": 1, "jsonSchema": schema},
            {"type": "TRACK", "key": "Order Completed", "version": 2, "jsonSchema": schema},
            {"type": "PAGE", "key": None, "version": 1, "jsonSchema": schema},
        ],
    )


def _track(version: object = None) -> dict:
    message: dict = {"type": "track", "event": "Order Completed", "userId": "u"}
    if version is not None:
        message["context"] = {"protocols": {"event_version": version}}
    return message


def test_a_version_asked_for_is_not_taken_from_the_kept_match() -> None:
    plan = _plan()
    for _ in range(2):
        assert plans.find_rule(plan, "track", _track()).version == 1
        assert plans.find_rule(plan, "track", _track(2)).version == 2
        # A version the plan lacks: the oldest, with its warning every time.
        assert plans.find_rule(plan, "track", _track(7)).version == 1
        codes = [f.code for f in plans.check(plan, "track", _track(7))]
        assert codes == [plans.PLAN_UNKNOWN_VERSION]
    assert plans.check(plan, "track", _track()) == []


def test_unplanned_events_and_pages_are_matched_alike_each_time() -> None:
    plan = _plan()
    page_rule = plan.versions(plans.RuleType.PAGE, None)[0]
    for _ in range(2):
        unplanned = {"type": "track", "event": "Nope", "userId": "u"}
        assert [f.code for f in plans.check(plan, "track", unplanned)] == [
            plans.PLAN_UNPLANNED_EVENT
        ]
        for name in ("Home", "", None):
            page = {"type": "page", "name": name, "userId": "u"}
            assert plans.find_rule(plan, "page", page) is page_rule


def test_the_kept_matches_are_bounded() -> None:
    plan = _plan()
    for i in range(plans.MATCHES_KEPT + 50):
        plans.check(plan, "track", {"type": "track", "event": f"e{i}", "userId": "u"})
    assert len(plan._matches) == plans.MATCHES_KEPT
    assert plans.find_rule(plan, "track", _track()).version == 1
