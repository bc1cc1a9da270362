from conftest import call


def test_health():
    status, body = call("GET", "/health", auth=False)
    assert status == 200 and body == {"ok": True}


def test_list_orders_with_valid_token():
    status, body = call("GET", "/api/orders")
    assert status == 200, f"GET /api/orders returned {status}: {body}"
    assert body["orders"] == ["1", "2"]


def test_order_total():
    status, body = call("GET", "/api/orders/1/total")
    assert status == 200, f"GET /api/orders/1/total returned {status}: {body}"
    assert body == {"id": "1", "total": 9.0}


def test_cancel_order():
    status, body = call("POST", "/api/orders/2/cancel")
    assert status == 200, f"POST /api/orders/2/cancel returned {status}: {body}"
    assert body["status"] == "cancelled"
