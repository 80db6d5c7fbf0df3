"""oauthbff.upstreams: the UPSTREAMS entries, their system check, and what the sign-in asks for."""

import pytest

from oauthbff.checks import check_oauthbff_settings, check_upstreams
from oauthbff.client import get_upstreams
from oauthbff.upstreams import (
    Upstream,
    configured_upstreams,
    get_upstream,
    sign_in_resources,
    sign_in_scope,
)


def configure(settings, **values):
    settings.OAUTHBFF = {**settings.OAUTHBFF, **values}


def test_an_entry_is_a_url_or_a_dict_naming_its_tokens_target(settings):
    configure(
        settings,
        UPSTREAMS={
            "plain": "https://plain.example/v1/",
            "bank": {
                "url": "https://bank.example/",
                "resource": "https://bank/",
                "scope": " a  b ",
            },
            "orders": {"url": "https://orders.example", "audience": "https://orders"},
            "both": {"url": "https://both.example", "resource": ["urn:x:one", "https://two/"]},
        },
    )
    upstreams = configured_upstreams()
    assert upstreams["plain"] == Upstream("plain", "https://plain.example/v1")
    assert not upstreams["plain"].has_own_token
    bank = upstreams["bank"]
    assert (bank.url, bank.resources, bank.scope, bank.has_own_token) == (
        "https://bank.example",
        ("https://bank/",),
        "a b",
        True,
    )
    assert get_upstream("orders").audience == "https://orders" and get_upstream("nope") is None
    assert upstreams["both"].resources == ("urn:x:one", "https://two/")
    assert get_upstreams()["bank"] == "https://bank.example"
    # What each token is for, told apart: a changed target is a new token.
    assert len({u.target for u in upstreams.values()}) == 4


@pytest.mark.parametrize(
    "entry, problem",
    [
        ({"url": "https://a.example", "resource": "https://a/#part"}, "fragment"),
        ({"url": "https://a.example", "resource": "relative/path"}, "absolute URI"),
        ({"url": "https://a.example", "resource": 42}, "not a URI"),
        ({"url": "https://a.example", "scope": ["a"]}, "scope that is not a string"),
        ({"url": "https://a.example", "audiences": "x"}, "unknown keys (audiences"),
        ({"resource": "https://a/"}, "url that is not an absolute"),
        ({"url": "https://a.example?x=1"}, "url that must not contain a query"),
    ],
)
def test_a_bad_entry_is_a_start_up_error_and_left_out(settings, entry, problem):
    configure(settings, UPSTREAMS={"bad": entry, "good": "https://good.example"})
    (message,) = check_upstreams()
    assert message.id == "oauthbff.E201" and problem in message.msg
    assert list(configured_upstreams()) == ["good"]


def test_a_plain_http_dict_entry_warns_like_a_url(settings):
    configure(settings, UPSTREAMS={"lan": {"url": "http://10.0.0.2/api", "scope": "x"}})
    assert [m.id for m in check_upstreams()] == ["oauthbff.W201"]


@pytest.mark.parametrize(
    "value, bad",
    [
        (["https://api.example/", "https://other.example/#frag"], ["https://other.example/#frag"]),
        ("not a uri, urn:example:api", ["not a uri"]),
        (["/relative"], ["/relative"]),
        (["https://api.example/", "urn:example:api"], []),
    ],
)
def test_resource_must_be_absolute_uris_without_a_fragment(settings, value, bad):
    configure(settings, RESOURCE=value)
    messages = [m for m in check_oauthbff_settings(None) if m.id == "oauthbff.E043"]
    assert [m.msg.split("'")[3] for m in messages] == bad


def test_the_sign_in_asks_for_every_resource_and_the_scopes_that_go_with_them(settings):
    configure(
        settings,
        SCOPES="openid offline_access",
        RESOURCE="https://main/",
        UPSTREAMS={
            "bank": {"url": "https://bank.example", "resource": "https://bank/", "scope": "acc"},
            "again": {"url": "https://b2.example", "resource": "https://bank/", "scope": "acc x"},
            "orders": {"url": "https://orders.example", "audience": "o", "scope": "orders"},
            "scoped": {"url": "https://scoped.example", "scope": "scoped-api"},
        },
    )
    assert sign_in_resources() == ["https://main/", "https://bank/"]
    # An audience's scope is asked for at its own grant (Auth0), not at sign-in.
    assert sign_in_scope() == "openid offline_access acc x scoped-api"
