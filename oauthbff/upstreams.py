"""The proxy's allowlist, ``OAUTHBFF["UPSTREAMS"]``: each API's base URL, and what its token is for.

An entry is a base URL, or a dict that also names the token the API gets::

    "UPSTREAMS": {
        "profile": "https://profile.example/v1",           # gets the session's own access token
        "bank": {
            "url": "https://bank.example/v1",
            "resource": "https://bank.example/",           # RFC 8707 (node-oidc-provider)
            "scope": "accounts",
        },
        "orders": {"url": "https://orders.example", "audience": "https://orders"},  # Auth0
    }

An upstream with ``resource``, ``audience`` or ``scope`` gets a token of its own, obtained with the
session's refresh token (``oauthbff.upstream_tokens``); the sign-in asks for its resource and scope
up front (an audience's scope excepted), so that the grant the user consents to covers it. This module reads settings only.
"""

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from oauthbff.conf import oauthbff_settings

_NAME_RE = re.compile(r"[A-Za-z0-9_-]+")
TOKEN_KEYS = ("resource", "audience", "scope")
ENTRY_KEYS = frozenset({"url", *TOKEN_KEYS})


@dataclass(frozen=True)
class Upstream:
    """One allowlisted API: its name, base URL (no trailing slash) and what its token is for."""

    name: str
    url: str
    resources: tuple = ()
    audience: str = ""
    scope: str = ""

    @property
    def has_own_token(self):
        """True when the API gets a token minted for it, never the session's main one."""
        return bool(self.resources or self.audience or self.scope)

    @property
    def target(self):
        """What its token is minted for, as one string: a stored token for another target (the
        settings changed) is never reused."""
        return "|".join((" ".join(self.resources), self.audience, " ".join(self.scope.split())))


def as_list(value):
    """A setting that is one string (comma-separated) or a list of strings, as a list."""
    if not value:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [str(item).strip() for item in items if str(item).strip()]


def resource_problem(uri):
    """Why ``uri`` cannot be an RFC 8707 resource indicator (§2: an absolute URI without a
    fragment), or None."""
    parts = urlsplit(str(uri))
    if not parts.scheme or not (parts.netloc or parts.path):
        return "is not an absolute URI"
    if "#" in str(uri):
        return "must not contain a fragment"
    return None


def _url_problem(url):
    parts = urlsplit(str(url or ""))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "is not an absolute http(s) URL"
    if parts.query or parts.fragment or parts.username or parts.password:
        return "must not contain a query, fragment or credentials"
    return None


def upstream_problem(name, entry):
    """Why an UPSTREAMS entry cannot be used (None when it can): names are one URL segment, a base
    URL is absolute http(s) with no query, fragment or credentials, and a token's resource, audience
    and scope are what the provider can be asked for."""
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        return "has a name that is not letters, digits, '-' or '_'"
    if not isinstance(entry, dict):
        return _url_problem(entry)
    unknown = sorted(set(entry) - ENTRY_KEYS)
    if unknown:
        return f"has unknown keys ({', '.join(unknown)}; known: url, resource, audience, scope)"
    problem = _url_problem(entry.get("url"))
    if problem:
        return f"has a url that {problem}"
    resource = entry.get("resource") or []
    if not isinstance(resource, str | list | tuple):
        return "has a resource that is not a URI or a list of URIs"
    for uri in [resource] if isinstance(resource, str) else resource:
        problem = resource_problem(uri)
        if problem:
            return f"has a resource {uri!r} that {problem}"
    for key in ("audience", "scope"):
        if not isinstance(entry.get(key) or "", str):
            return f"has a {key} that is not a string"
    return None


def _upstream(name, entry):
    if not isinstance(entry, dict):
        return Upstream(name=name, url=str(entry).rstrip("/"))
    resource = entry.get("resource") or []
    return Upstream(
        name=name,
        url=str(entry["url"]).rstrip("/"),
        resources=tuple([resource] if isinstance(resource, str) else resource),
        audience=entry.get("audience") or "",
        scope=" ".join((entry.get("scope") or "").split()),
    )


def configured_upstreams():
    """{name: Upstream} for every usable entry of UPSTREAMS; unusable ones are left out (the system
    check names them)."""
    return {
        name: _upstream(name, entry)
        for name, entry in (oauthbff_settings.UPSTREAMS or {}).items()
        if upstream_problem(name, entry) is None
    }


def get_upstream(name):
    """The Upstream called ``name``, or None."""
    return configured_upstreams().get(name)


def sign_in_resources():
    """The ``resource`` parameters of the authorization request (RFC 8707 §2.1): RESOURCE (what
    the session's own token is for) and every upstream's, so that the grant covers them all."""
    resources = as_list(oauthbff_settings.RESOURCE)
    for upstream in configured_upstreams().values():
        resources.extend(upstream.resources)
    return list(dict.fromkeys(resources))


def sign_in_scope():
    """SCOPES, plus the scopes of every upstream without an ``audience``: a refresh grant may only
    narrow the scopes granted at sign-in (node-oidc-provider's resources, Keycloak's client scopes).
    An audience's scopes are its own API's, asked for at its grant (Auth0)."""
    scopes = str(oauthbff_settings.SCOPES).split()
    for upstream in configured_upstreams().values():
        if not upstream.audience:
            scopes.extend(upstream.scope.split())
    return " ".join(dict.fromkeys(scopes))
