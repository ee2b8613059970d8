"""The one answer to "may this person use this source / this workspace?" (accounts/limits.py)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from segadmin.accounts import limits
from segadmin.credentials.models import Source, Workspace
from tests.factories import limit_to, make_source, make_workspace

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop() -> Workspace:
    return make_workspace("tok-shop-1234", name="Shop")


@pytest.fixture
def blog() -> Workspace:
    return make_workspace("tok-blog-1234", name="Blog")


def test_a_person_without_limits_may_use_everything(marketer: User, shop: Workspace) -> None:
    web = make_source("Web", "wk-web-1234", workspace=shop)
    loose = make_source("Loose", "wk-loose-1234")
    assert not limits.is_limited(marketer)
    assert limits.may_use_source(marketer, web) and limits.may_use_source(marketer, loose)
    assert limits.may_use_workspace(marketer, shop)
    assert set(limits.allowed_sources(marketer, Source.objects.all())) == {web, loose}


def test_a_source_is_allowed_when_chosen_or_its_workspace_is(
    marketer: User, shop: Workspace, blog: Workspace
) -> None:
    web = make_source("Web", "wk-web-1234", workspace=shop)
    app = make_source("App", "wk-app-1234", workspace=shop)
    posts = make_source("Posts", "wk-posts-1234", workspace=blog)
    loose = make_source("Loose", "wk-loose-1234")
    limit_to(marketer, workspaces=[shop], sources=[loose])
    assert limits.is_limited(marketer)
    assert limits.may_use_source(marketer, web) and limits.may_use_source(marketer, app)
    assert limits.may_use_source(marketer, loose)
    assert not limits.may_use_source(marketer, posts)
    assert set(limits.allowed_sources(marketer, Source.objects.all())) == {web, app, loose}
    assert limits.may_use_workspace(marketer, shop)
    assert not limits.may_use_workspace(marketer, blog)
    assert list(limits.allowed_workspaces(marketer, Workspace.objects.all())) == [shop]


def test_a_chosen_source_does_not_open_its_whole_workspace(support: User, shop: Workspace) -> None:
    web = make_source("Web", "wk-web-1234", workspace=shop)
    app = make_source("App", "wk-app-1234", workspace=shop)
    limit_to(support, sources=[web])
    assert limits.may_use_source(support, web)
    assert not limits.may_use_source(support, app)
    # A privacy request or a Public API call acts on the whole workspace: not theirs.
    assert not limits.may_use_workspace(support, shop)


def test_deleting_every_chosen_source_never_widens_access(marketer: User) -> None:
    web = make_source("Web", "wk-web-1234")
    other = make_source("Other", "wk-other-1234")
    limit_to(marketer, sources=[web])
    web.delete()
    limits.forget(marketer)
    assert limits.is_limited(marketer)
    assert not limits.may_use_source(marketer, other)
    assert not limits.allowed_sources(marketer, Source.objects.all()).exists()


def test_the_answer_is_read_once_per_user_object(
    marketer: User, django_assert_num_queries: object
) -> None:
    web = make_source("Web", "wk-web-1234")
    limit_to(marketer, sources=[web])
    fresh = User.objects.get(pk=marketer.pk)
    with django_assert_num_queries(3):  # type: ignore[operator]
        assert limits.may_use_source(fresh, web)
        assert limits.may_use_source(fresh, web)
    unlimited = User.objects.create_user("someone")
    with django_assert_num_queries(1):  # type: ignore[operator]
        assert limits.may_use_source(unlimited, web)
        assert limits.may_use_source(unlimited, web)
