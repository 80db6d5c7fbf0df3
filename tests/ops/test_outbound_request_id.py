"""The request id reaches the provider: its logs and ours can then be matched line by line."""

import responses

from oauthbff.http import provider_session, upstream_session
from ops import requestid

URL = "https://idp.example.com/.well-known/jwks.json"


@responses.activate
def test_calls_made_while_serving_a_request_carry_its_id():
    responses.add(responses.GET, URL, json={})
    token = requestid.request_id.set("req-0123456789")
    try:
        provider_session.get(URL)
        upstream_session.get(URL, headers={"Accept": "application/json"})
    finally:
        requestid.request_id.reset(token)
    provider_session.get(URL)  # outside a request: no id to send
    sent = [call.request.headers for call in responses.calls]
    assert sent[0]["X-Request-ID"] == "req-0123456789"
    assert sent[1]["X-Request-ID"] == "req-0123456789" and sent[1]["Accept"] == "application/json"
    assert "X-Request-ID" not in sent[2]


def test_the_middleware_keeps_the_proxys_id(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="proxy-id-42abc")
    assert response["X-Request-ID"] == "proxy-id-42abc"
