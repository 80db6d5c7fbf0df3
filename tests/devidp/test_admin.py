"""The IdP's own admin: an admin user edits registration data there and the webhook fires."""

import json
import re

import requests

ADMIN_PAGE = "/admin/devidp/registration/{id}/change/"


def csrf_token(html):
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def admin_session(idp, email="admin@example.com"):
    browser = requests.Session()
    login_page = browser.get(f"{idp.url}/admin/login/", timeout=10)
    response = browser.post(
        f"{idp.url}/admin/login/?next=/admin/",
        data={
            "csrfmiddlewaretoken": csrf_token(login_page.text),
            "username": email,
            "password": idp.password,
            "next": "/admin/",
        },
        headers={"Referer": f"{idp.url}/admin/login/"},
        timeout=10,
    )
    return browser, response


def test_admin_edit_of_registration_data_fires_the_webhook(devidp, webhook_receiver):
    browser, response = admin_session(devidp)
    assert response.url.endswith("/admin/"), "admin@example.com could not sign in to the IdP admin"
    registration = devidp.registration("customer@example.com")
    url = devidp.url + ADMIN_PAGE.format(id=registration["id"])
    form = browser.get(url, timeout=10)
    assert form.status_code == 200
    user_pk = re.search(r'name="user"[^>]*value="([^"]+)"', form.text)
    user_pk = user_pk.group(1) if user_pk else devidp.user_id("customer@example.com")
    application_pk = re.search(
        r'<select name="application"[^>]*>.*?<option value="(\d+)" selected', form.text, re.S
    ).group(1)
    try:
        saved = browser.post(
            url,
            data={
                "csrfmiddlewaretoken": csrf_token(form.text),
                "user": user_pk,
                "application": application_pk,
                "roles": json.dumps(registration["roles"]),
                "data": json.dumps({"userData": "edited in the IdP admin"}),
                "username": "",
                "timezone": "",
            },
            headers={"Referer": url},
            timeout=10,
        )
        event = webhook_receiver.next(event_type="user.registration.update")["json"]["event"]

        assert saved.status_code == 200 and "was changed successfully" in saved.text
        assert event["registration"]["data"] == {"userData": "edited in the IdP admin"}
        assert event["original"]["data"] == registration["data"]
        updated = devidp.registration("customer@example.com")
        assert updated["lastUpdateInstant"] > registration["lastUpdateInstant"]
    finally:
        devidp.set_registration_data(
            "customer@example.com", {"userData": registration["data"]["userData"]}
        )


def test_a_customer_cannot_use_the_idp_admin(devidp):
    _browser, response = admin_session(devidp, "customer@example.com")

    assert "/admin/login/" in response.url
