"""Debug pages and error reports: no access, refresh or ID token in any frame."""

import pytest
from django.test import Client
from django.views.debug import ExceptionReporter

from oauthbff.crypto import decrypt
from oauthbff.debug import SafeExceptionReporterFilter
from oauthbff.models import OIDCSession
from oauthbff.signals import user_signed_in
from tests.oauthbff.fakeop import sign_in

pytestmark = pytest.mark.django_db


class Broken(Exception):
    pass


@pytest.mark.parametrize("debug", [True, False])
def test_the_debug_page_of_an_error_during_sign_in_shows_no_token(op, settings, debug):
    settings.DEBUG = debug
    seen = {}

    def fail(request, **kwargs):
        seen["request"] = request
        raise Broken("a receiver failed during sign-in")

    user_signed_in.connect(fail, weak=False, dispatch_uid="test_debug.fail")
    try:
        with pytest.raises(Broken) as raised:
            sign_in(Client(), op)
    finally:
        user_signed_in.disconnect(dispatch_uid="test_debug.fail")
    row = OIDCSession.objects.get()
    tokens = [decrypt(row.access_token), decrypt(row.refresh_token), decrypt(row.id_token)]
    assert all(tokens)
    reporter = ExceptionReporter(seen["request"], raised.type, raised.value, raised.tb)
    assert isinstance(reporter.filter, SafeExceptionReporterFilter)
    html = reporter.get_traceback_html()
    text = reporter.get_traceback_text()
    assert "a receiver failed during sign-in" in html
    assert "complete_sign_in" in html and "login_success" in html  # the frames are there
    for token in tokens:
        assert token not in html and token not in text
    assert "eyJ" not in html


def test_values_that_look_like_tokens_are_hidden_whatever_their_name():
    jwt_like = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
    cleansed = SafeExceptionReporterFilter().cleanse_value(
        "result", {"answer": [jwt_like], "token_response": {"refresh_token": "rt-1"}, "n": 1}
    )
    assert jwt_like not in str(cleansed) and "rt-1" not in str(cleansed)
    assert cleansed["n"] == 1
