import pytest
from django.core.checks import Error

from oauthbff.checks import check_oauthbff_settings, check_session_engine


def ids(messages):
    return sorted(m.id for m in messages)


def test_default_settings_pass():
    assert [m for m in check_oauthbff_settings(None) if isinstance(m, Error)] == []
    assert check_session_engine(None) == []


def test_cookie_session_engine_refused(settings):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    (error,) = check_session_engine(None)
    assert error.id == "oauthbff.E001" and "\n" not in error.msg


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"ISSUER": ""}, "oauthbff.E002"),
        ({"ISSUER": "ftp://x"}, "oauthbff.E003"),
        ({"CLIENT_ID": ""}, "oauthbff.E005"),
        ({"CLIENT_SECRET": ""}, "oauthbff.E006"),
        ({"TOKEN_AUTH_METHOD": "client_secret_jwt"}, "oauthbff.E007"),
        ({"ALLOWED_ALGORITHMS": ["RS256", "none"]}, "oauthbff.E008"),
        ({"ALLOWED_ALGORITHMS": ["HS256"]}, "oauthbff.E009"),
        ({"SCOPES": "profile email"}, "oauthbff.E010"),
        ({"SCOPES": "openid email"}, "oauthbff.W001"),
        ({"REFRESH_LEEWAY": -1}, "oauthbff.E011"),
        ({"STAFF_ROLES": [], "SUPERUSER_ROLES": ["root"]}, "oauthbff.W002"),
        ({"TOKEN_ENCRYPTION_KEY": "not-a-key"}, "oauthbff.E012"),
        ({"EXEMPT_URLS": "oauthbff:user"}, "oauthbff.E018"),
        ({"JSON_PATH_PREFIXES": ["/api/", 3]}, "oauthbff.E018"),
        ({"EXEMPT_URLS": ["oauthbff:no-such-view"]}, "oauthbff.W003"),
    ],
)
def test_each_problem_is_one_line(settings, overrides, expected):
    settings.OAUTHBFF = {**settings.OAUTHBFF, **overrides}
    messages = check_oauthbff_settings(None)
    assert expected in ids(messages)
    for m in messages:
        assert "\n" not in m.msg


def test_https_required_in_production(settings):
    settings.DEBUG = False
    settings.OAUTHBFF = {**settings.OAUTHBFF, "ISSUER": "http://idp.example"}
    assert "oauthbff.E004" in ids(check_oauthbff_settings(None))


def test_backend_and_middleware(settings):
    settings.AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
    mw = [m for m in settings.MIDDLEWARE if "TokenRefresh" not in m]
    settings.MIDDLEWARE = mw
    assert {"oauthbff.E013", "oauthbff.E014"} <= set(ids(check_oauthbff_settings(None)))
    settings.MIDDLEWARE = ["oauthbff.middleware.TokenRefreshMiddleware", *mw]
    assert "oauthbff.E015" in ids(check_oauthbff_settings(None))


@pytest.mark.parametrize("name", ["no_such_relation", "groups", "username"])
def test_user_select_related_must_be_single_valued_relations(settings, name):
    settings.OAUTHBFF = {**settings.OAUTHBFF, "USER_SELECT_RELATED": ["userdata", name]}
    assert "oauthbff.E016" in ids(check_oauthbff_settings(None))
    settings.OAUTHBFF = {**settings.OAUTHBFF, "USER_SELECT_RELATED": ["userdata"]}
    assert "oauthbff.E016" not in ids(check_oauthbff_settings(None))


def test_exempt_urls_by_name_or_path_pass(settings):
    settings.OAUTHBFF = {**settings.OAUTHBFF, "EXEMPT_URLS": ["oauthbff:user", "/health/"]}
    assert not {"oauthbff.E018", "oauthbff.W003"} & set(ids(check_oauthbff_settings(None)))


@pytest.mark.parametrize(
    ("backend", "expected"),
    [
        ("django.core.cache.backends.locmem.LocMemCache", ["oauthbff.E020"]),
        ("django.core.cache.backends.dummy.DummyCache", ["oauthbff.E020"]),
        ("django.core.cache.backends.redis.RedisCache", []),
    ],
)
def test_a_cache_each_process_keeps_to_itself_is_a_deploy_error(settings, backend, expected):
    from oauthbff.checks import check_shared_cache

    settings.CACHES = {"default": {"BACKEND": backend, "LOCATION": "redis://127.0.0.1:1/0"}}
    messages = check_shared_cache()
    assert ids(messages) == expected
    assert all(isinstance(m, Error) and "\n" not in m.msg for m in messages)


def test_no_token_encryption_key_of_its_own_is_a_deploy_warning(settings):
    from cryptography.fernet import Fernet

    from oauthbff.checks import check_token_encryption_key

    settings.OAUTHBFF = {**settings.OAUTHBFF, "TOKEN_ENCRYPTION_KEY": ""}
    assert ids(check_token_encryption_key()) == ["oauthbff.W021"]
    settings.OAUTHBFF = {
        **settings.OAUTHBFF,
        "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    }
    assert check_token_encryption_key() == []
