"""The one seam between userdata and the sign-in app: who a local user is at the IdP.

userdata learns of sign-ins through oauthbff's signals; when it needs the identity of a user it did not
see sign in (a row created before this app was installed), it asks this function. A project with
another sign-in app points USERDATA["IDENTITY_FUNCTION"] at its own.
"""


def oidc_identity(user):
    """(issuer, subject) of the user's OIDC identity recorded at sign-in, or ("", None)."""
    try:
        from oauthbff.models import OIDCIdentity
    except ImportError:  # installed without oauthbff
        return "", None
    identity = OIDCIdentity.objects.filter(user=user).only("issuer", "subject").first()
    if identity is None:
        return "", None
    return identity.issuer, identity.subject


def identity_of(user):
    """The configured identity function applied to `user`."""
    from .conf import userdata_settings

    return userdata_settings.IDENTITY_FUNCTION(user)
