"""POST/GET /api/user/search, like FusionAuth: ``ids`` (unpaged), ``query`` (a subset of the
Elasticsearch DSL) or ``queryString`` (database-engine semantics), with paging and sorting."""

import fnmatch
import json
import uuid

from django.db.models import Q

from devidp.models import Registration, User
from devidp.serializers import user_json
from devidp.services import ApiError, field_error

EXPANDABLE = ["memberships", "registrations"]
SORTABLE = {
    "email": "email",
    "login": "email",
    "id": "id",
    "insertInstant": "insert_instant",
    "lastUpdateInstant": "last_update_instant",
    "firstName": "first_name",
    "lastName": "last_name",
    "username": "username",
}
MAX_IDS = 10000


def search_users(criteria, expand=None):
    if not isinstance(criteria, dict):
        raise field_error("search", "blank", "search is required.")
    expand = EXPANDABLE if expand is None else [e for e in expand if e in EXPANDABLE]
    ids = criteria.get("ids")
    if ids:
        if not isinstance(ids, list) or len(ids) > MAX_IDS:
            raise field_error("search.ids", "invalid", f"Up to {MAX_IDS} ids.")
        users = list(User.objects.filter(pk__in=_valid_uuids(ids)))
        return _response(users, len(users), expand)
    start = _non_negative(criteria.get("startRow", 0), "search.startRow")
    size = _non_negative(criteria.get("numberOfResults", 25), "search.numberOfResults")
    users = _ordered(User.objects.all(), criteria.get("sortFields"))
    query = criteria.get("query")
    if query:
        users = _filter_by_query(users, query)
        return _response(users[start : start + size], len(users), expand)
    query_string = criteria.get("queryString")
    if query_string is None or str(query_string).strip() == "":
        raise field_error("search.queryString", "blank", "Give ids, query or queryString.")
    users = users.filter(_query_string_filter(str(query_string)))
    return _response(list(users[start : start + size]), users.count(), expand)


def _valid_uuids(values):
    valid = []
    for value in values:
        try:
            valid.append(uuid.UUID(str(value)))
        except ValueError:
            continue
    return valid


def _non_negative(value, field):
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise field_error(field, "invalid", f"{field} must be a number.") from None
    if number < 0:
        raise field_error(field, "invalid", f"{field} must not be negative.")
    return number


def _ordered(queryset, sort_fields):
    order = []
    for sort in sort_fields or []:
        name = SORTABLE.get((sort or {}).get("name"))
        if name is None:
            raise field_error("search.sortFields", "invalid", "Unsupported sort field.")
        order.append(("-" if (sort.get("order") or "asc").lower() == "desc" else "") + name)
    return queryset.order_by(*order, "insert_instant", "id")


def _query_string_filter(text):
    """One case-insensitive term, ``*`` a wildcard, over e-mail, names and username."""
    term = text.strip()
    if term.strip("*") == "":
        return Q()
    core = term.strip("*")
    fields = ("email", "first_name", "last_name", "username")
    if "*" in core:
        parts = [p for p in core.split("*") if p]
        query = Q()
        for field in fields:
            field_q = Q()
            for part in parts:
                field_q &= Q(**{f"{field}__icontains": part})
            query |= field_q
        return query
    if term.startswith("*") or term.endswith("*"):
        lookup = (
            "icontains"
            if term.startswith("*") and term.endswith("*")
            else ("istartswith" if term.endswith("*") else "iendswith")
        )
        query = Q()
        for field in fields:
            query |= Q(**{f"{field}__{lookup}": core})
        return query
    query = Q()
    for field in fields:
        query |= Q(**{f"{field}__iexact": core})
    return query


def _response(users, total, expand):
    registrations = {}
    if "registrations" in expand and users:
        for registration in (
            Registration.objects.filter(user__in=users)
            .select_related("application")
            .order_by("insert_instant")
        ):
            registrations.setdefault(registration.user_id, []).append(registration)
    body = {
        "total": total,
        "users": [
            user_json(
                user,
                registrations.get(user.pk, []) if "registrations" in expand else None,
            )
            for user in users
        ],
    }
    if "memberships" in expand:
        for user in body["users"]:
            user["memberships"] = []
    unexpanded = [e for e in EXPANDABLE if e not in expand]
    if unexpanded:
        body["expandable"] = unexpanded
    return body


# --- the Elasticsearch subset -------------------------------------------------------------------


def _filter_by_query(queryset, query):
    if isinstance(query, str):
        try:
            query = json.loads(query)
        except ValueError:
            raise field_error("search.query", "invalid", "search.query is not JSON.") from None
    if not isinstance(query, dict):
        raise field_error("search.query", "invalid", "search.query must be an object.")
    query = query.get("query", query)
    users = list(queryset)
    registrations = {}
    for registration in Registration.objects.select_related("application"):
        registrations.setdefault(registration.user_id, []).append(registration)
    matched = []
    for user in users:
        document = user_json(user, registrations.get(user.pk, []))
        try:
            if _matches(query, document):
                matched.append(user)
        except (KeyError, TypeError, AttributeError, ValueError):
            raise field_error("search.query", "invalid", "Unsupported query.") from None
    return matched


def _values(document, path):
    """All values at a dotted path, flattening lists (as Elasticsearch fields do)."""
    values = [document]
    for part in path.split("."):
        if part == "keyword":
            continue
        next_values = []
        for value in values:
            if isinstance(value, list):
                value = [v.get(part) for v in value if isinstance(v, dict)]
                next_values.extend(v for v in value if v is not None)
            elif isinstance(value, dict) and part in value:
                next_values.append(value[part])
        values = next_values
    flat = []
    for value in values:
        flat.extend(value if isinstance(value, list) else [value])
    return flat


def _equal(actual, expected):
    if isinstance(actual, str) and isinstance(expected, str):
        return actual.lower() == expected.lower()
    return actual == expected


def _field_and_value(clause):
    ((field, value),) = clause.items()
    if isinstance(value, dict):
        value = value.get("value", value.get("query"))
    return field, value


def _matches(query, document):
    ((kind, clause),) = query.items()
    if kind == "match_all":
        return True
    if kind == "bool":
        must = clause.get("must", []) + clause.get("filter", [])
        must = must if isinstance(must, list) else [must]
        should = clause.get("should", [])
        should = should if isinstance(should, list) else [should]
        must_not = clause.get("must_not", [])
        must_not = must_not if isinstance(must_not, list) else [must_not]
        return (
            all(_matches(q, document) for q in must)
            and (not should or any(_matches(q, document) for q in should))
            and not any(_matches(q, document) for q in must_not)
        )
    if kind == "nested":
        path = clause["path"]
        for item in _values(document, path):
            if isinstance(item, dict) and _matches(clause["query"], _prefix(path, item)):
                return True
        return False
    if kind in ("term", "match", "match_phrase"):
        field, value = _field_and_value(clause)
        return any(_equal(v, value) for v in _values(document, field))
    if kind == "terms":
        ((field, values),) = clause.items()
        return any(_equal(v, e) for v in _values(document, field) for e in values)
    if kind == "exists":
        return bool(_values(document, clause["field"]))
    if kind == "wildcard":
        field, value = _field_and_value(clause)
        return any(
            fnmatch.fnmatch(str(v).lower(), str(value).lower()) for v in _values(document, field)
        )
    if kind == "query_string":
        text = clause.get("query", "*")
        if text.strip() == "*":
            return True
        term = text.strip().lower()
        return any(
            fnmatch.fnmatch(str(v).lower(), term)
            for key in ("email", "firstName", "lastName", "username", "fullName")
            for v in _values(document, key)
        )
    raise ApiError(
        400,
        {
            "generalErrors": [
                {"code": "[InvalidQuery]", "message": f"Unsupported query type {kind}."}
            ]
        },
    )


def _prefix(path, item):
    document = {}
    cursor = document
    parts = path.split(".")
    for part in parts[:-1]:
        cursor = cursor.setdefault(part, {})
    cursor[parts[-1]] = item
    return document
