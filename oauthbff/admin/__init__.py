"""Staff see people by e-mail and name, sessions by device, and what the identity provider owns read-only.

Usernames here are derived from (issuer, sub) (see ``backends.username_for``): stable, but not
something a person recognises. Every list, title and message in these admins names people by
``person_label`` instead. What the provider sends at each sign-in (e-mail, name, groups from roles,
staff and superuser flags) is read-only for the users it owns: an edit here would say "changed
successfully" and be undone at the next sign-in or token refresh.
"""

from oauthbff.admin.labels import LabelledAdminMixin, is_provider_owned, person_label, when
from oauthbff.admin.sessions import END_REASONS, SECRET_FIELDS, OIDCIdentityAdmin, OIDCSessionAdmin
from oauthbff.admin.users import ProviderGroupAdmin, ProviderUserAdmin

__all__ = [
    "END_REASONS",
    "SECRET_FIELDS",
    "LabelledAdminMixin",
    "OIDCIdentityAdmin",
    "OIDCSessionAdmin",
    "ProviderGroupAdmin",
    "ProviderUserAdmin",
    "is_provider_owned",
    "person_label",
    "when",
]
