import json
import os
import urllib.error
import urllib.request

# The suite calls the front only. greenloop passes GREENLOOP_URL_FRONT; BASE_URL wins when set.
BASE_URL = os.environ.get("BASE_URL") or os.environ.get("GREENLOOP_URL_FRONT", "http://127.0.0.1:8080")


def call(method, path):
    req = urllib.request.Request(BASE_URL + path, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=5) as res:
            return res.status, json.loads(res.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def test_health():
    assert call("GET", "/healthz")[0] == 200


def test_checkout_prices_the_order():
    status, body = call("POST", "/api/checkout?sku=tea&qty=2")
    assert status == 200, f"POST /api/checkout returned {status}: {body}"
    assert body["order"]["total"] == 9.0


def test_checkout_unknown_sku():
    status, body = call("POST", "/api/checkout?sku=mug&qty=1")
    assert status == 404, f"POST /api/checkout returned {status}: {body}"


def test_cart_lists_nothing_yet():
    status, body = call("GET", "/api/cart")
    assert status == 200, f"GET /api/cart returned {status}: {body}"
    assert body == {"items": []}
