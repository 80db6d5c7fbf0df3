"""A FusionAuth-shaped HTTP server for the sync benchmark: registration GET/PATCH and user search,
every request delayed by a fixed latency. Run as a separate process so its memory and CPU are not
counted against the BFF.

    python bench/sync_fakeidp.py --latency 0.02   # prints the port on stdout
"""

import argparse
import json
import socket
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

APP_ID = "e9fdb985-9173-4e01-9d73-ac2d60d1dc8e"


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.users = {}
        self.order = []
        self.cursors = {}
        self.requests = 0
        self.clock = int(time.time() * 1000)

    def reset(self, count):
        with self.lock:
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


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    latency = 0.02

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        # Headers and body leave in one segment; without this, Nagle plus delayed ACK adds ~40 ms.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _send(self, status, body=None):
        raw = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self._headers_buffer.append(b"\r\n" + raw)
        self.flush_headers()

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def _count(self):
        path = urlsplit(self.path).path
        if not path.startswith("/_bench/"):
            with STATE.lock:
                STATE.requests += 1
            time.sleep(self.latency)
        return path

    def do_GET(self):
        path = self._count()
        if path == "/_bench/stats":
            return self._send(200, {"requests": STATE.requests, "users": len(STATE.users)})
        parts = path.strip("/").split("/")
        if parts[:3] == ["api", "user", "registration"] and len(parts) == 5:
            if parts[3] not in STATE.users:
                return self._send(404)
            return self._send(200, {"registration": STATE.user_json(parts[3])["registrations"][0]})
        return self._send(404)

    def do_PATCH(self):
        path = self._count()
        parts = path.strip("/").split("/")
        if parts[:3] != ["api", "user", "registration"] or len(parts) != 5:
            return self._send(404)
        patch = self._body().get("registration", {}).get("data", {})
        with STATE.lock:
            user = STATE.users.get(parts[3])
            if user is None:
                return self._send(404)
            new = merge(user["data"], patch)
            if new != user["data"]:
                user["data"] = new
                user["version"] = STATE._tick()
            body = {"registration": STATE.user_json(parts[3])["registrations"][0]}
        return self._send(200, body)

    def do_POST(self):
        path = self._count()
        if path == "/_bench/reset":
            STATE.reset(int(self._body()["users"]))
            return self._send(200, {"users": len(STATE.users)})
        if path != "/api/user/search":
            return self._send(404)
        search = self._body().get("search", {})
        size = int(search.get("numberOfResults", 25))
        with STATE.lock:
            if search.get("ids"):
                ids = [i for i in search["ids"] if i in STATE.users]
                return self._send(200, {"total": len(ids), "users": [STATE.user_json(i) for i in ids]})
            if search.get("nextResults"):
                start = STATE.cursors.pop(search["nextResults"], None)
                if start is None:
                    return self._send(400, {"generalErrors": [{"code": "[InvalidNextResults]"}]})
            else:
                start = int(search.get("startRow", 0))
            page = STATE.order[start : start + size]
            token = uuid.uuid4().hex
            STATE.cursors[token] = start + len(page)
            users = [STATE.user_json(i) for i in page]
            total = min(len(STATE.order), 10_000)
        # Elasticsearch-shaped: every answer carries nextResults; an empty page ends the listing.
        return self._send(200, {"total": total, "users": users, "nextResults": token})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.02)
    args = parser.parse_args()
    Handler.latency = args.latency
    ThreadingHTTPServer.request_queue_size = 256
    ThreadingHTTPServer.daemon_threads = True
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
