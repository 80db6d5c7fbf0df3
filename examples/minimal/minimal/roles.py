"""The hook this example overrides: which claim holds a user's roles.

Okta, Microsoft Entra ID and Authentik put them in a ``groups`` claim; FusionAuth and Keycloak in
``roles`` or ``realm_access.roles`` (the ROLES_CLAIM setting). This mapper reads ``groups`` when the
provider sends it, and falls back to ROLES_CLAIM otherwise. oauthbff uses it at sign-in, at every
token refresh and for bearer tokens sent to the project's APIs.
"""

from oauthbff.roles import RolesMapper


class GroupsOrRolesMapper(RolesMapper):
    def roles_from_claims(self, claims):
        groups = claims.get("groups")
        if isinstance(groups, list):
            return [str(group) for group in groups if isinstance(group, str)]
        return super().roles_from_claims(claims)
