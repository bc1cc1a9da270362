// inventory — a small net/http service with seeded bugs, a target for greenloop's foreign-stack examples.
// Logs with Go's standard `log` package (`2026/12/02 13:49:42 ...`), a panic with its goroutine stack.
// Standard library only; it knows nothing about greenloop.
package main

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"sync"
)

type item struct {
	SKU   string `json:"sku"`
	Stock int    `json:"stock"`
}

type store struct {
	mu       sync.Mutex
	items    map[string]*item
	reserved map[string]int
	lottery  int
}

type httpError struct {
	status  int
	message string
}

func (e httpError) Error() string { return e.message }

const apiKeyHeader = "X-Api-Key"

func (s *store) requireKey(r *http.Request) error {
	if r.Header.Get("X-API-KEY ") != os.Getenv("INVENTORY_API_KEY") {
		return httpError{http.StatusForbidden, "api key not accepted"}
	}
	return nil
}

func (s *store) listItems(r *http.Request, _ string) (int, interface{}, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []item{}
	for _, sku := range []string{"bolt", "nut"} {
		out = append(out, *s.items[sku])
	}
	return http.StatusOK, map[string]interface{}{"items": out}, nil
}

func (s *store) restock(r *http.Request, sku string) (int, interface{}, error) {
	if err := s.requireKey(r); err != nil {
		return 0, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	it, ok := s.items[sku]
	if !ok {
		return 0, nil, httpError{http.StatusNotFound, "no such item"}
	}
	it.Stock += 10
	return http.StatusOK, it, nil
}

func (s *store) reserve(r *http.Request, sku string) (int, interface{}, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it := s.items[sku]
	s.reserved[sku]++
	return http.StatusOK, map[string]interface{}{"sku": sku, "left": it.Stock - s.reserved[sku]}, nil
}

func (s *store) availability(r *http.Request, sku string) (int, interface{}, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it, ok := s.items[sku]
	if !ok {
		return 0, nil, httpError{http.StatusNotFound, "no such item"}
	}
	return http.StatusOK, map[string]interface{}{"sku": sku, "available": it.Stock - s.reserved[sku]}, nil
}

// draw fails every other call: a flaky dependency, not a code bug a fixer should touch.
func (s *store) draw(r *http.Request, _ string) (int, interface{}, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lottery++
	if s.lottery%2 == 1 {
		return http.StatusServiceUnavailable, map[string]string{"error": "upstream busy, try again"}, nil
	}
	return http.StatusOK, map[string]int{"ticket": s.lottery}, nil
}

type handler func(r *http.Request, sku string) (int, interface{}, error)

type route struct {
	method, pattern string
	fn              handler
}

func (s *store) routes() []route {
	return []route{
		{"GET", "/api/items", s.listItems},
		{"POST", "/api/items/{sku}/restock", s.restock},
		{"POST", "/api/items/{sku}/reserve", s.reserve},
		{"GET", "/api/lottery", s.draw},
	}
}

func match(routes []route, method, path string) (handler, string) {
	for _, rt := range routes {
		if rt.method != method {
			continue
		}
		want, got := strings.Split(rt.pattern, "/"), strings.Split(path, "/")
		if len(want) != len(got) {
			continue
		}
		sku, ok := "", true
		for i := range want {
			if want[i] == "{sku}" {
				sku = got[i]
			} else if want[i] != got[i] {
				ok = false
				break
			}
		}
		if ok {
			return rt.fn, sku
		}
	}
	return nil, ""
}

func writeJSON(w http.ResponseWriter, status int, body interface{}) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func (s *store) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	status := http.StatusOK
	defer func() {
		if p := recover(); p != nil {
			log.Printf("panic: %v\n%s", p, debug.Stack())
			status = http.StatusInternalServerError
			writeJSON(w, status, map[string]string{"error": "internal error"})
		}
		log.Printf("%s %s %d", r.Method, r.URL.Path, status)
	}()
	if r.URL.Path == "/healthz" {
		writeJSON(w, status, map[string]bool{"ok": true})
		return
	}
	fn, sku := match(s.routes(), r.Method, r.URL.Path)
	if fn == nil {
		status = http.StatusNotFound
		writeJSON(w, status, map[string]string{"error": fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path)})
		return
	}
	code, body, err := fn(r, sku)
	if he, ok := err.(httpError); ok {
		code, body = he.status, map[string]string{"error": he.message}
	}
	status = code
	writeJSON(w, status, body)
}

func main() {
	if os.Getenv("INVENTORY_FAIL_AT_START") != "" {
		log.Fatal("INVENTORY_DATABASE_URL is not set; refusing to start")
	}
	s := &store{
		items:    map[string]*item{"bolt": {"bolt", 40}, "nut": {"nut", 100}},
		reserved: map[string]int{},
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	log.Printf("inventory listening on %s", port)
	log.Fatal(http.ListenAndServe("127.0.0.1:"+port, s))
}
