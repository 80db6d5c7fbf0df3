"""Subclasses a project would write, used to run the oauthbff suite through the hooks."""

from oauthbff.backends import OIDCBackend
from oauthbff.roles import RolesMapper


class SubclassedBackend(OIDCBackend):
    """A project's backend: it changes nothing, so every test of the suite must pass through it."""

    path = "tests.oauthbff.hooks.SubclassedBackend"


class NicknameBackend(OIDCBackend):
    """Overrides the user hooks: a nickname claim becomes the first name, and each call is seen."""

    calls = []

    def update_user(self, user, claims):
        user = super().update_user(user, claims)
        self.calls.append(("update_user", user.pk, sorted(claims.get("roles", []))))
        if claims.get("nickname") and user.first_name != claims["nickname"]:
            user.first_name = claims["nickname"]
            user.save(update_fields=["first_name"])
        return user


class PermissionsMapper(RolesMapper):
    """Roles from a custom claim (``https://example.com/permissions``), prefixed for the groups."""

    def roles_from_claims(self, claims):
        value = claims.get("https://example.com/permissions")
        if not isinstance(value, list):
            return None
        return [f"perm:{name}" for name in value if isinstance(name, str)]

    def user_flags(self, roles):
        return {"is_staff": "perm:admin" in roles, "is_superuser": False}
