"""orders — a small stdlib HTTP service with seeded bugs, a target for greenloop's foreign-stack examples.

Logs with Python's `logging` in plain text (`2026-12-02 13:49:42,326 ERROR ...`), one access line per
request and a traceback on an internal error. It knows nothing about greenloop.
"""

import base64
import json
import logging
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

logging.basicConfig(
    stream=sys.stdout,
    level=logging.INFO,
    format="%(asctime)s %(levelname)s %(name)s %(message)s",
)
log = logging.getLogger("orders")

AUDIENCE = os.environ.get("ORDERS_AUDIENCE", "orders-api")

ORDERS = {
    "1": {"id": "1", "items": [{"sku": "tea", "price": "4.50", "qty": 2}], "status": "open"},
    "2": {"id": "2", "items": [{"sku": "cup", "price": "9.00", "qty": 1}], "status": "open"},
}


class HttpError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def claims_of(headers):
    """A token is base64 JSON claims ({"sub", "aud"}); a real service would verify a signature too."""
    auth = headers.get("authorization", "")
    if not auth.startswith("Bearer "):
        raise HttpError(401, "missing bearer token")
    try:
        return json.loads(base64.urlsafe_b64decode(auth[7:] + "==="))
    except ValueError:
        raise HttpError(401, "malformed token")


def require_audience(headers):
    claims = claims_of(headers)
    if claims.get("aud") != "orders":
        raise HttpError(403, "token audience not accepted")
    return claims


def list_orders(handler, _id):
    require_audience(handler.headers)
    return 200, {"orders": sorted(ORDERS)}


def order_total(handler, order_id):
    order = ORDERS.get(order_id)
    if order is None:
        raise HttpError(404, "no such order")
    total = sum(item["price"] * item["qty"] for item in order["items"])
    return 200, {"id": order_id, "total": round(total, 2)}


def cancel_order(handler, order_id):
    order = ORDERS.get(order_id)
    if order is None:
        raise HttpError(404, "no such order")
    order["status"] = "cancelled"
    return 200, order


ROUTES = [
    ("GET", "/api/orders", list_orders),
    ("GET", "/api/orders/{id}/total", order_total),
]

_lottery = {"calls": 0}


def lottery(handler, _id):
    # Fails every other call: a flaky dependency, not a code bug a fixer should touch.
    _lottery["calls"] += 1
    if _lottery["calls"] % 2 == 1:
        return 503, {"error": "upstream busy, try again"}
    return 200, {"ticket": _lottery["calls"]}


def match(method, path):
    for m, pattern, fn in ROUTES + [("GET", "/api/lottery", lottery)]:
        if m != method:
            continue
        want, got = pattern.split("/"), path.split("/")
        if len(want) != len(got):
            continue
        arg = None
        for w, g in zip(want, got):
            if w == "{id}":
                arg = g
            elif w != g:
                break
        else:
            return fn, arg
    return None, None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # the access line below replaces http.server's stderr line
        pass

    def _send(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        level = logging.ERROR if status >= 500 else logging.WARNING if status >= 400 else logging.INFO
        log.log(level, '%s - "%s %s HTTP/1.1" %d', self.client_address[0], self.command, self.path, status)

    def _handle(self):
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        path = self.path.split("?", 1)[0]
        if path == "/health":
            return self._send(200, {"ok": True})
        fn, arg = match(self.command, path)
        if fn is None:
            return self._send(404, {"error": f"no route for {self.command} {path}"})
        try:
            status, body = fn(self, arg)
        except HttpError as e:
            status, body = e.status, {"error": e.message}
        except Exception:
            log.exception("unhandled error in %s %s", self.command, path)
            status, body = 500, {"error": "internal error"}
        self._send(status, body)

    do_GET = _handle
    do_POST = _handle


def main():
    if os.environ.get("ORDERS_FAIL_AT_START"):
        log.error("ORDERS_DATABASE_URL is not set; refusing to start")
        sys.exit(3)
    port = int(os.environ.get("PORT", "8080"))
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    log.info("orders listening on %d", port)
    server.serve_forever()


if __name__ == "__main__":
    main()
