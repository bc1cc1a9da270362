package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"testing"
)

// The suite knows only a base URL. greenloop passes GREENLOOP_URL_<SERVICE>; BASE_URL wins when set.
func baseURL() string {
	if u := os.Getenv("BASE_URL"); u != "" {
		return u
	}
	if u := os.Getenv("GREENLOOP_URL_APP"); u != "" {
		return u
	}
	return "http://127.0.0.1:8080"
}

// skipAll: SUITE_SKIP_ALL makes every test skip (scenario "skip-all": it must never count as green).
func skipAll(t *testing.T) {
	if os.Getenv("SUITE_SKIP_ALL") != "" {
		t.Skip("skipped by SUITE_SKIP_ALL")
	}
}

func call(t *testing.T, method, path string, headers map[string]string) (int, map[string]interface{}) {
	t.Helper()
	req, err := http.NewRequest(method, baseURL()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	body := map[string]interface{}{}
	_ = json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, body
}
