"""Hostile amounts and credentials for ChangeBank: a number is changed exactly or refused, never a 5xx."""

from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.hostile.conftest import HOSTILE, assert_safe

API = "/api/make-change"
PAGE = "/changebank/make-change/"

pytestmark = pytest.mark.django_db

totals = st.one_of(
    st.text(max_size=40),
    st.decimals(allow_nan=True, allow_infinity=True, places=None).map(str),
    st.decimals(min_value=0, max_value=2_000_000, places=2).map(str),
    st.floats().map(repr),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
)


@pytest.fixture
def customer(signed_in_client):
    return signed_in_client("customer@example.com")


@HOSTILE
@given(total=totals)
@example(total="0.30")
@example(total="1e3")
@example(total="NaN")
@example(total="1_000")
@example(total="９９")
@example(total="1" * 5000)
def test_make_change_answers_any_total_with_exact_change_or_a_400(customer, total):
    response = customer.get(API, {"total": total})
    assert_safe(response, allowed={200, 400})
    body = response.json()
    if response.status_code == 200:
        cents = int((Decimal(total.strip()) * 100).to_integral_value())
        assert body["nickels"] * 5 + body["pennies"] == cents
        assert 0 <= body["pennies"] < 5
    else:
        assert body["error"] and body["message"]


@HOSTILE
@given(total=totals)
def test_the_no_js_page_answers_any_total_with_a_page(customer, total):
    response = customer.get(PAGE, {"total": total})
    assert_safe(response, allowed={200, 400})
    assert response["Content-Type"].startswith("text/html")


@HOSTILE
@given(
    authorization=st.one_of(
        st.text(max_size=200).map(lambda t: "Bearer " + t),
        st.from_regex(
            r"Bearer [A-Za-z0-9_-]{2,40}\.[A-Za-z0-9_-]{2,80}\.[A-Za-z0-9_-]{0,40}", fullmatch=True
        ),
        st.text(max_size=100),
        st.just("Basic dXNlcjpwYXNz"),
    )
)
def test_garbage_bearer_tokens_get_401_json(client, bff_on_devidp, authorization):
    try:
        response = client.get(API, {"total": "3.24"}, HTTP_AUTHORIZATION=authorization)
    except ValueError:
        return  # the test client refuses header values with newlines: no server would see them
    assert_safe(response, allowed={400, 401})
    assert response["Content-Type"].startswith("application/json")


def test_a_customer_is_refused_panic(customer):
    response = customer.post("/api/panic", HTTP_ACCEPT="application/json")
    assert_safe(response, allowed={403})
    page = customer.post("/changebank/panic/")
    assert_safe(page, allowed={403})


@pytest.mark.smoke
@pytest.mark.parametrize("path", [API, "/api/panic"])
def test_anonymous_api_calls_get_401_not_a_redirect(client, path):
    response = client.post(path) if path.endswith("panic") else client.get(path, {"total": "1"})
    assert_safe(response, allowed={401})
