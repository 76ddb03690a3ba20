package api

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// Requests are counted under their route pattern, not their path, and the
// registry passed in is what /metrics serves.
func TestRequestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	other := prometheus.NewCounter(prometheus.CounterOpts{Name: "bouncesink_test_other_total", Help: "x"})
	reg.MustRegister(other)
	h := handler(t, newFake(), Options{Metrics: m})
	do(t, h, "GET", "/v1/suppressions/alice@example.org", "", nil)
	do(t, h, "GET", "/v1/suppressions/bob@example.org", "", nil)
	do(t, h, "GET", "/v1/suppressions/carol@example.org", "", nil)
	do(t, h, "GET", "/nowhere", "", nil)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`bouncesink_http_requests_total{code="200",route="GET /v1/suppressions/{address}"} 1`,
		`bouncesink_http_requests_total{code="404",route="GET /v1/suppressions/{address}"} 2`,
		`bouncesink_http_requests_total{code="404",route="/"} 1`,
		`bouncesink_test_other_total 0`,
		`bouncesink_http_request_duration_seconds_count{route="GET /v1/suppressions/{address}"} 3`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if t.Failed() {
		t.Log(body)
	}
}
