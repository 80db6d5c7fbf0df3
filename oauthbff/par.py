"""Pushed authorization requests (RFC 9126): the sign-in's parameters go to the provider over the
back channel, client-authenticated, and the browser carries only ``client_id`` and ``request_uri``.

Nothing of the request (scopes, PKCE challenge, redirect URI) can then be read or altered in the
browser, and the provider knows which client asked before anyone is shown a login page. PAR setting:
"auto" pushes whenever discovery names a pushed_authorization_request_endpoint, "true" requires one
(sign-in is refused without it), "false" never pushes.
"""

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from oauthbff.conf import oauthbff_settings
from oauthbff.exceptions import ProviderError
from oauthbff.oidc_client import push_authorization_request

PAR_MODES = ("auto", "true", "false")


def par_mode():
    """The PAR setting as one of PAR_MODES (booleans and their spellings accepted); FAPI 2.0
    requires PAR whatever the setting says."""
    if str(oauthbff_settings.PROFILE).lower() == "fapi2":
        return "true"
    value = oauthbff_settings.PAR
    if isinstance(value, bool):
        return "true" if value else "false"
    value = str(value).strip().lower()
    return {
        "1": "true",
        "yes": "true",
        "on": "true",
        "0": "false",
        "no": "false",
        "off": "false",
    }.get(value, value)


def uses_par(provider):
    """Whether this sign-in is pushed; ProviderError when PAR is required but not offered."""
    mode = par_mode()
    if mode == "false":
        return False
    if provider.endpoint("pushed_authorization_request_endpoint"):
        return True
    if mode == "true":
        raise ProviderError(
            "The identity provider offers no pushed authorization requests, which this site requires."
        )
    return False


def pushed_authorization_url(authorization_url, provider, *, dpop_key=None):
    """``authorization_url`` (an authorization request built with every parameter in its query)
    turned into the provider's authorization endpoint with only client_id and request_uri."""
    parts = urlsplit(authorization_url)
    params = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        params.setdefault(name, []).append(value)
    # A repeated parameter (RFC 8707 ``resource``) is pushed as often as it was given.
    params = {name: values[0] if len(values) == 1 else values for name, values in params.items()}
    request_uri = push_authorization_request(params, dpop_key=dpop_key)
    query = urlencode({"client_id": params["client_id"], "request_uri": request_uri})
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
