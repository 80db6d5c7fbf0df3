"""A FusionAuth-shaped HTTP server for the sync benchmark: registration GET/PATCH and user search,
every request delayed by a fixed latency (asyncio, so the server itself costs little CPU). Run as a separate process so its memory and CPU are not
counted against the BFF.

    python bench/sync_fakeidp.py --latency 0.02   # prints the port on stdout
"""

import argparse
import asyncio
import contextlib
import json
import socket
import sys
import time
import uuid
from urllib.parse import urlsplit

APP_ID = "e9fdb985-9173-4e01-9d73-ac2d60d1dc8e"


class State:
    def __init__(self):
        self.users = {}
        self.order = []
        self.cursors = {}
        self.requests = 0
        self.clock = int(time.time() * 1000)

    def reset(self, count):
        self.users = {}
        self.order = []
        self.cursors = {}
        self.requests = 0
        for n in range(count):
            user_id = str(uuid.UUID(int=n + 1))
            self.users[user_id] = {
                "email": f"user{n}@example.com",
                "data": {"userData": f"note {n}", "plan": "basic"},
                "version": self._tick(),
            }
            self.order.append(user_id)

    def _tick(self):
        self.clock += 1
        return self.clock

    def user_json(self, user_id):
        user = self.users[user_id]
        return {
            "id": user_id,
            "email": user["email"],
            "active": True,
            "registrations": [
                {
                    "applicationId": APP_ID,
                    "data": user["data"],
                    "lastUpdateInstant": user["version"],
                    "roles": ["customer"],
                }
            ],
        }


STATE = State()


def merge(target, patch):
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge(result.get(key), value)
    return result


class App:
    """Routes one request to (status, body); the transport lives in `serve` below."""

    def __init__(self, latency):
        self.latency = latency

    def handle(self, method, path, body):
        path = urlsplit(path).path
        if path == "/_bench/stats":
            return 200, {"requests": STATE.requests, "users": len(STATE.users)}
        if path == "/_bench/reset":
            STATE.reset(int(json.loads(body)["users"]))
            return 200, {"users": len(STATE.users)}
        STATE.requests += 1
        parts = path.strip("/").split("/")
        if parts[:3] == ["api", "user", "registration"] and len(parts) == 5:
            user = STATE.users.get(parts[3])
            if user is None:
                return 404, None
            if method == "PATCH":
                patch = json.loads(body or b"{}").get("registration", {}).get("data", {})
                new = merge(user["data"], patch)
                if new != user["data"]:
                    user["data"] = new
                    user["version"] = STATE._tick()
            return 200, {"registration": STATE.user_json(parts[3])["registrations"][0]}
        if path == "/api/user/search" and method == "POST":
            return self.search(json.loads(body or b"{}").get("search", {}))
        return 404, None

    def search(self, search):
        size = int(search.get("numberOfResults", 25))
        if search.get("ids"):
            ids = [i for i in search["ids"] if i in STATE.users]
            return 200, {"total": len(ids), "users": [STATE.user_json(i) for i in ids]}
        if search.get("nextResults"):
            start = STATE.cursors.pop(search["nextResults"], None)
            if start is None:
                return 400, {"generalErrors": [{"code": "[InvalidNextResults]"}]}
        else:
            start = int(search.get("startRow", 0))
        page = STATE.order[start : start + size]
        token = uuid.uuid4().hex
        STATE.cursors[token] = start + len(page)
        users = [STATE.user_json(i) for i in page]
        # Elasticsearch-shaped: every answer carries nextResults; an empty page ends the listing.
        return 200, {"total": min(len(STATE.order), 10_000), "users": users, "nextResults": token}


REASONS = {200: b"OK", 400: b"Bad Request", 404: b"Not Found"}


async def serve_connection(app, reader, writer):
    """HTTP/1.1 keep-alive on asyncio: cheap enough that the benchmark measures the client."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            length = 0
            for line in lines[1:]:
                if line[:15].lower() == "content-length:":
                    length = int(line[15:].strip())
            body = await reader.readexactly(length) if length else b""
            if not target.startswith("/_bench/"):
                await asyncio.sleep(app.latency)
            status, payload = app.handle(method, target, body)
            raw = json.dumps(payload).encode() if payload is not None else b""
            writer.write(
                b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                % (status, REASONS.get(status, b"OK"), len(raw))
                + raw
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def serve(latency):
    app = App(latency)
    server = await asyncio.start_server(
        lambda r, w: serve_connection(app, r, w), "127.0.0.1", 0, backlog=512
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.02)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.latency))
    return 0


if __name__ == "__main__":
    sys.exit(main())
