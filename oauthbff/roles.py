"""Roles: one reader of the provider's role claim, and one place that applies roles to a user.

``RolesMapper`` is the hook: sign-in, every token refresh and every bearer-token API call read roles
through the class named by ``ROLES_MAPPER``, so a subclass (say, one that reads a custom claim or
renames roles) holds everywhere.
"""

from django.contrib.auth.models import Group

from oauthbff.conf import oauthbff_settings


def claim_at(claims, path):
    """The value at a dotted ``path`` in ``claims`` (``realm_access.roles``), or None."""
    value = claims
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


class RolesMapper:
    """Reads role names from claims and maps them onto a Django user (groups and staff flags)."""

    def roles_from_claims(self, claims):
        """The role names in ``claims`` at ROLES_CLAIM, or None when the claims carry none.

        A list of names, or one name as a bare string; anything else is not a role claim.
        """
        value = claim_at(claims, oauthbff_settings.ROLES_CLAIM)
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list):
            return None
        return [
            str(role)
            for role in value
            if isinstance(role, str | int) and not isinstance(role, bool)
        ]

    def user_flags(self, roles):
        """The ``is_staff`` / ``is_superuser`` values ``roles`` grant."""
        staff_roles = set(oauthbff_settings.STAFF_ROLES) | set(oauthbff_settings.SUPERUSER_ROLES)
        return {
            "is_staff": bool(roles & staff_roles),
            "is_superuser": bool(roles & set(oauthbff_settings.SUPERUSER_ROLES)),
        }

    def group_names(self, roles):
        """The Django groups a user with ``roles`` is in (the provider is their source)."""
        return sorted(role[:150] for role in roles)

    def apply(self, user, roles):
        """Set the user's staff / superuser flags and groups from ``roles``."""
        roles = set(roles)
        flags = self.user_flags(roles)
        changed = [name for name, value in flags.items() if getattr(user, name) != value]
        for name in changed:
            setattr(user, name, flags[name])
        if changed:
            user.save(update_fields=changed)
        user.groups.set(
            [Group.objects.get_or_create(name=name)[0] for name in self.group_names(roles)]
        )


def get_roles_mapper():
    """An instance of the configured ROLES_MAPPER class."""
    return oauthbff_settings.ROLES_MAPPER()
