package e2e

import "testing"

var key = map[string]string{"X-Api-Key": "test-key-not-secret"}

func TestHealth(t *testing.T) {
	skipAll(t)
	if status, _ := call(t, "GET", "/healthz", nil); status != 200 {
		t.Fatalf("GET /healthz returned %d", status)
	}
}

func TestRestockWithKey(t *testing.T) {
	skipAll(t)
	status, body := call(t, "POST", "/api/items/bolt/restock", key)
	if status != 200 {
		t.Fatalf("POST /api/items/bolt/restock returned %d: %v", status, body)
	}
}

func TestReserveUnknownItem(t *testing.T) {
	skipAll(t)
	status, body := call(t, "POST", "/api/items/washer/reserve", nil)
	if status != 404 {
		t.Fatalf("POST /api/items/washer/reserve returned %d: %v", status, body)
	}
}

func TestAvailability(t *testing.T) {
	skipAll(t)
	status, body := call(t, "GET", "/api/items/nut/availability", nil)
	if status != 200 {
		t.Fatalf("GET /api/items/nut/availability returned %d: %v", status, body)
	}
	if body["available"] != 100.0 {
		t.Fatalf("available = %v, want 100", body["available"])
	}
}
