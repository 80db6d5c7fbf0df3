"""The development IdP's URLs: FusionAuth's paths."""

from django.contrib import admin
from django.urls import path, re_path

from devidp.views import api, dev, oidc

UUID = "[0-9a-fA-F-]{36}"

urlpatterns = [
    path(".well-known/openid-configuration", oidc.discovery, name="discovery"),
    re_path(rf"^(?P<tenant_id>{UUID})/\.well-known/openid-configuration$", oidc.discovery),
    path(".well-known/jwks.json", oidc.jwks, name="jwks"),
    path("oauth2/authorize", oidc.AuthorizeView.as_view(), name="authorize"),
    path("oauth2/token", oidc.TokenView.as_view(), name="token"),
    path("oauth2/userinfo", oidc.UserInfoView.as_view(), name="userinfo"),
    path("oauth2/introspect", oidc.IntrospectView.as_view(), name="introspect"),
    path("oauth2/revoke", oidc.RevokeView.as_view(), name="revoke"),
    path("oauth2/logout", oidc.LogoutView.as_view(), name="logout"),
    path("api/login", api.login_api),
    path("api/user/registration", api.registration),
    re_path(r"^api/user/registration/(?P<user_id>[^/]+)$", api.registration),
    re_path(
        r"^api/user/registration/(?P<user_id>[^/]+)/(?P<application_id>[^/]+)$", api.registration
    ),
    path("api/user/search", api.user_search),
    path("api/user", api.user),
    re_path(r"^api/user/(?P<user_id>[^/]+)$", api.user),
    re_path(r"^api/tenant/(?P<tenant_id>[^/]+)$", api.tenant),
    re_path(r"^api/application/(?P<application_id>[^/]+)$", api.application),
    re_path(r"^api/webhook/(?P<webhook_id>[^/]+)$", api.webhook),
    path("api/key/generate", api.key_generate),
    re_path(r"^api/key/generate/(?P<key_id>[^/]+)$", api.key_generate),
    path("api/key/import", api.key_import),
    re_path(r"^api/key/import/(?P<key_id>[^/]+)$", api.key_import),
    re_path(r"^api/key/(?P<key_id>[^/]+)$", api.key_detail),
    path("api/jwt/refresh", api.refresh_tokens),
    re_path(r"^api/jwt/refresh/(?P<token_id>[^/]+)$", api.refresh_tokens),
    re_path(r"^api/", api.not_found),
    path("_dev/stats", dev.stats, name="dev-stats"),
    path("_dev/stats/reset", dev.reset_stats, name="dev-stats-reset"),
    path("_dev/logout-token", dev.logout_token, name="dev-logout-token"),
    path("admin/", admin.site.urls),
]
