"""Pushed authorization requests (RFC 9126) with OAUTHBFF PAR = auto / true / false."""

import json
from urllib.parse import parse_qs

import pytest
import responses

from oauthbff.callback import pending_sign_in
from oauthbff.checks import check_discovery, check_sender_constraints
from oauthbff.par import par_mode
from tests.oauthbff.fakeop import CLIENT_ID, CLIENT_SECRET, ISSUER, authorize_params

pytestmark = pytest.mark.django_db

PAR_URL = f"{ISSUER}/oauth2/par"
REQUEST_URI = "urn:ietf:params:oauth:request_uri:abc123"


@pytest.fixture
def par_op(op):
    op.metadata["pushed_authorization_request_endpoint"] = PAR_URL
    op.pushed = []

    def push(request):
        form = {k: v[0] for k, v in parse_qs(request.body).items()}
        op.pushed.append({"form": form, "headers": dict(request.headers)})
        return 201, {}, json.dumps({"request_uri": REQUEST_URI, "expires_in": 60})

    op.rsps.add_callback(responses.POST, PAR_URL, callback=push)
    return op


def configure(settings, **values):
    settings.OAUTHBFF = {**settings.OAUTHBFF, **values}


def test_auto_pushes_when_the_provider_offers_it(client, par_op):
    response = client.get("/auth/login/?next=/after/")
    assert response.status_code == 302
    params = authorize_params(response["Location"])
    assert params == {"client_id": CLIENT_ID, "request_uri": REQUEST_URI}
    assert response["Location"].startswith(f"{ISSUER}/oauth2/authorize?")
    (pushed,) = par_op.pushed
    form = pushed["form"]
    assert form["code_challenge_method"] == "S256" and pending_sign_in(form["state"])
    assert form["redirect_uri"] == "http://testserver/auth/callback/" and form["nonce"]
    assert pushed["headers"]["Authorization"].startswith("Basic ")  # client authentication


def test_auto_without_the_endpoint_and_false_do_not_push(client, op, settings):
    assert "state" in authorize_params(client.get("/auth/login/")["Location"])
    op.metadata["pushed_authorization_request_endpoint"] = f"{ISSUER}/oauth2/par"
    configure(settings, PAR=False)
    assert "state" in authorize_params(client.get("/auth/login/")["Location"])


def test_true_without_the_endpoint_refuses_to_start(client, op, settings):
    configure(settings, PAR="true")
    response = client.get("/auth/login/")
    assert response.status_code == 503 and "Sign-in unavailable" in response.content.decode()


@pytest.mark.parametrize(
    "answer",
    [
        {"status": 400, "body": "no OAuth error"},
        {"status": 201, "json": {"expires_in": 60}},
        {"status": 201, "json": {"request_uri": 12}},
        {"status": 500, "body": "oops"},
        {"status": 201, "body": "not json"},
    ],
    ids=["refused", "no-request-uri", "bad-request-uri", "5xx", "not-json"],
)
def test_a_bad_par_answer_is_a_page_not_a_500(client, op, answer):
    op.metadata["pushed_authorization_request_endpoint"] = PAR_URL
    op.rsps.add(responses.POST, PAR_URL, **answer)
    response = client.get("/auth/login/")
    assert response.status_code == 503 and "Sign-in unavailable" in response.content.decode()


@pytest.mark.parametrize(
    ("value", "mode"),
    [("auto", "auto"), (True, "true"), ("TRUE", "true"), (False, "false"), ("off", "false")],
)
def test_par_spellings(settings, value, mode):
    configure(settings, PAR=value)
    assert par_mode() == mode


def test_fapi2_requires_par_whatever_the_setting(settings):
    configure(settings, PAR="false", PROFILE="fapi2")
    assert par_mode() == "true"


def test_the_checks_refuse_a_bad_value_and_a_missing_endpoint(settings):
    configure(
        settings, ISSUER=ISSUER, CLIENT_ID=CLIENT_ID, CLIENT_SECRET=CLIENT_SECRET, PAR="sometimes"
    )
    (error,) = check_sender_constraints(None)
    assert error.id == "oauthbff.E031" and "\n" not in error.msg
    configure(settings, PAR="true")
    with responses.RequestsMock() as rsps:
        rsps.get(f"{ISSUER}/.well-known/openid-configuration", json={"issuer": ISSUER})
        assert [e.id for e in check_discovery(None)] == ["oauthbff.E039"]


def test_the_discovery_check_names_what_the_fapi2_profile_misses(settings):
    configure(
        settings, ISSUER=ISSUER, PROFILE="fapi2", TOKEN_AUTH_METHOD="private_key_jwt", DPOP=True
    )
    bare = {"issuer": ISSUER, "token_endpoint_auth_methods_supported": ["client_secret_basic"]}
    full = {
        **bare,
        "pushed_authorization_request_endpoint": PAR_URL,
        "dpop_signing_alg_values_supported": ["ES256", "PS256"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "authorization_response_iss_parameter_supported": True,
    }
    for metadata, expected in (
        (bare, ["oauthbff.E039", "oauthbff.E040", "oauthbff.E041", "oauthbff.E042"]),
        (full, []),
    ):
        with responses.RequestsMock() as rsps:
            rsps.get(f"{ISSUER}/.well-known/openid-configuration", json=metadata)
            messages = check_discovery(None)
        assert sorted(m.id for m in messages) == expected
        assert all("\n" not in m.msg for m in messages)


def test_the_audience_goes_with_the_authorization_request_pushed_or_not(client, par_op, settings):
    """OIDC_AUDIENCE is Auth0's ``audience``: the API the access token is to be for."""
    configure(settings, AUDIENCE="https://api.changebank.test")
    client.get("/auth/login/")
    assert par_op.pushed[-1]["form"]["audience"] == "https://api.changebank.test"
    configure(settings, PAR="false")
    params = authorize_params(client.get("/auth/login/")["Location"])
    assert params["audience"] == "https://api.changebank.test"


def test_every_resource_is_pushed(client, op, settings):
    """RFC 8707 resource parameters repeat; the push carries each of them."""
    op.metadata["pushed_authorization_request_endpoint"] = PAR_URL
    pushed = []

    def push(request):
        pushed.append(parse_qs(request.body))
        return 201, {}, json.dumps({"request_uri": REQUEST_URI, "expires_in": 60})

    op.rsps.add_callback(responses.POST, PAR_URL, callback=push)
    configure(settings, RESOURCE=["https://a.example/", "https://b.example/"])
    assert client.get("/auth/login/").status_code == 302
    (form,) = pushed
    assert form["resource"] == ["https://a.example/", "https://b.example/"]
    assert len(form["state"]) == 1 and len(form["client_id"]) == 1


def test_a_refused_push_says_so_rather_than_unreachable(client, op):
    """An OAuth error (e.g. invalid_target for a resource the provider does not know) is a 502
    that says the provider refused, not the "could not reach" page."""
    op.metadata["pushed_authorization_request_endpoint"] = PAR_URL
    op.rsps.add(responses.POST, PAR_URL, status=400, json={"error": "invalid_target"})
    response = client.get("/auth/login/")
    page = response.content.decode()
    assert response.status_code == 502 and "refused to start the sign-in" in page
    assert "could not reach" not in page
