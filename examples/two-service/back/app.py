"""pricing — the back service of greenloop's two-service example (stdlib http.server).

Logs one JSON object per line the way many Python services on Cloud Run do: "time" in epoch seconds (a
float), "severity", "message", a "trace" field when a traceparent arrived, and the traceback in "stack".
"""

import json
import os
import sys
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

PRICES = {"tea": "4.50", "cup": "9.00"}


def log(severity, message, **fields):
    sys.stdout.write(json.dumps({"time": time.time(), "severity": severity, "message": message, **fields}) + "\n")
    sys.stdout.flush()


def quote(query):
    sku = query.get("sku", [""])[0]
    qty = int(query.get("qty", ["1"])[0])
    if sku not in PRICES:
        return 404, {"error": f"unknown sku {sku}"}
    return 200, {"sku": sku, "qty": qty, "total": round(PRICES[sku] * qty, 2)}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        url = urlparse(self.path)
        trace = (self.headers.get("traceparent") or "").split("-")
        extra = {"trace": trace[1]} if len(trace) == 4 else {}
        try:
            if url.path == "/healthz":
                status, body = 200, {"ok": True}
            elif url.path == "/quote":
                status, body = quote(parse_qs(url.query))
            else:
                status, body = 404, {"error": f"no route for GET {url.path}"}
        except Exception as e:
            log("ERROR", f"quote failed: {e!r}", stack=traceback.format_exc(), **extra)
            status, body = 500, {"error": "internal error"}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        severity = "ERROR" if status >= 500 else "WARNING" if status >= 400 else "INFO"
        log(severity, f"GET {self.path} {status}", httpRequest={"requestMethod": "GET", "requestUrl": self.path, "status": status}, **extra)


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "8080"))
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    log("INFO", f"pricing listening on {port}")
    server.serve_forever()
