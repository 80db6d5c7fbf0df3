"""RFC 6902 JSON Patch, for FusionAuth's ``application/json-patch+json`` PATCH mode (1.39+)."""

import copy

from devidp.services import general_error


def _tokens(pointer):
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise general_error("[InvalidJSONPatch]", f"Invalid JSON pointer {pointer!r}.")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _parent(document, pointer):
    tokens = _tokens(pointer)
    if not tokens:
        raise general_error("[InvalidJSONPatch]", "The whole document cannot be patched.")
    target = document
    for token in tokens[:-1]:
        target = _child(target, token, pointer)
    return target, tokens[-1]


def _child(target, token, pointer):
    try:
        if isinstance(target, list):
            return target[int(token)]
        return target[token]
    except (KeyError, IndexError, ValueError, TypeError):
        raise general_error("[InvalidJSONPatch]", f"Path {pointer!r} does not exist.") from None


def _get(document, pointer):
    target = document
    for token in _tokens(pointer):
        target = _child(target, token, pointer)
    return target


def _add(document, pointer, value):
    parent, token = _parent(document, pointer)
    if isinstance(parent, list):
        index = len(parent) if token == "-" else int(token)
        parent.insert(index, value)
    elif isinstance(parent, dict):
        parent[token] = value
    else:
        raise general_error("[InvalidJSONPatch]", f"Cannot add at {pointer!r}.")


def _remove(document, pointer):
    parent, token = _parent(document, pointer)
    value = _child(parent, token, pointer)
    if isinstance(parent, list):
        parent.pop(int(token))
    else:
        del parent[token]
    return value


def apply(document, operations):
    """Apply the operations to a copy of ``document``; any failure is a 400 and changes nothing."""
    if not isinstance(operations, list):
        raise general_error("[InvalidJSONPatch]", "A JSON Patch is an array of operations.")
    result = copy.deepcopy(document)
    for operation in operations:
        if not isinstance(operation, dict) or "path" not in operation:
            raise general_error("[InvalidJSONPatch]", "Each operation needs op and path.")
        op, path = operation.get("op"), operation["path"]
        try:
            if op == "add":
                _add(result, path, copy.deepcopy(operation["value"]))
            elif op == "remove":
                _remove(result, path)
            elif op == "replace":
                _remove(result, path)
                _add(result, path, copy.deepcopy(operation["value"]))
            elif op == "move":
                _add(result, path, _remove(result, operation["from"]))
            elif op == "copy":
                _add(result, path, copy.deepcopy(_get(result, operation["from"])))
            elif op == "test":
                if _get(result, path) != operation["value"]:
                    raise general_error("[InvalidJSONPatch]", f"Test failed at {path!r}.")
            else:
                raise general_error("[InvalidJSONPatch]", f"Unknown op {op!r}.")
        except KeyError as missing:
            raise general_error(
                "[InvalidJSONPatch]", f"Operation {op!r} needs {missing}."
            ) from None
        except (ValueError, TypeError):
            raise general_error("[InvalidJSONPatch]", f"Invalid index in {path!r}.") from None
    return result
