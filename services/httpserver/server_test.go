package httpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/layering-detection/kubectl-layering/services/wire"
)

func newTestServer(cfg Config) *Server {
	if cfg.Service == "" {
		cfg.Service = "test-service"
	}
	s := New(cfg)
	s.Handle(http.MethodPost, "/echo", func(w http.ResponseWriter, r *http.Request) {
		body, ok := ReadBody(w, r)
		if !ok {
			return
		}
		WriteJSON(w, http.StatusOK, map[string]any{"len": len(body), "request_id": RequestID(r.Context())})
	}, MaxBody(100))
	s.Handle(http.MethodGet, "/panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	return s
}

func do(t *testing.T, h http.Handler, method, path string, body io.Reader, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, body)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func detail(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var b wire.ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
		t.Fatalf("body %q is not {\"detail\": …}: %v", rec.Body.String(), err)
	}
	return b.Detail
}

// Requirement: X-API-Key auth when API_KEY is set; /health and /metrics open.
func TestAuth(t *testing.T) {
	s := newTestServer(Config{APIKey: "secret"})
	if rec := do(t, s, "GET", "/", nil, nil); rec.Code != 401 || detail(t, rec) != "Missing API key. Provide X-API-Key header." {
		t.Fatalf("no key: %d %s", rec.Code, rec.Body)
	}
	if rec := do(t, s, "GET", "/", nil, map[string]string{"X-API-Key": "nope"}); rec.Code != 401 || detail(t, rec) != "Invalid API key." {
		t.Fatalf("wrong key: %d %s", rec.Code, rec.Body)
	}
	if rec := do(t, s, "GET", "/", nil, map[string]string{"X-API-Key": "secret"}); rec.Code != 200 {
		t.Fatalf("right key: %d %s", rec.Code, rec.Body)
	}
	for _, p := range []string{"/health", "/metrics"} {
		if rec := do(t, s, "GET", p, nil, nil); rec.Code != 200 {
			t.Fatalf("%s without key: %d", p, rec.Code)
		}
	}
	// API_KEY unset: auth off.
	if rec := do(t, newTestServer(Config{}), "GET", "/", nil, nil); rec.Code != 200 {
		t.Fatalf("auth off: %d", rec.Code)
	}
}

// Requirement: GET /health is {"status":"healthy","service":"<name>"}; GET /
// gives service, version and status.
func TestHealthAndRoot(t *testing.T) {
	s := newTestServer(Config{Service: "layering-service"})
	rec := do(t, s, "GET", "/health", nil, nil)
	if rec.Code != 200 || rec.Body.String() != `{"service":"layering-service","status":"healthy"}` {
		t.Fatalf("health: %d %s", rec.Code, rec.Body)
	}
	var root map[string]any
	rec = do(t, s, "GET", "/", nil, nil)
	if err := json.Unmarshal(rec.Body.Bytes(), &root); err != nil || root["service"] != "layering-service" || root["status"] != "running" || root["version"] == nil {
		t.Fatalf("root: %s", rec.Body)
	}
	if rec := do(t, s, "HEAD", "/health", nil, nil); rec.Code != 200 {
		t.Fatalf("HEAD /health: %d", rec.Code)
	}
}

// Requirement: per-client rate limit, 429 when exceeded, /health exempt.
func TestRateLimit(t *testing.T) {
	s := newTestServer(Config{RateLimitPerMinute: 2})
	now := time.Unix(1000, 0)
	s.limiter.now = func() time.Time { return now }
	req := func(remote string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, r)
		return rec
	}
	for i := 0; i < 2; i++ {
		if rec := req("203.0.113.1:1000"); rec.Code != 200 {
			t.Fatalf("request %d: %d", i, rec.Code)
		}
	}
	rec := req("203.0.113.1:1001")
	if rec.Code != 429 || detail(t, rec) != "Rate limit exceeded. Maximum 2 requests per minute." || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("3rd request: %d %s %v", rec.Code, rec.Body, rec.Header())
	}
	if rec := req("203.0.113.2:1000"); rec.Code != 200 {
		t.Fatalf("another client: %d", rec.Code)
	}
	r := httptest.NewRequest("GET", "/health", nil)
	r.RemoteAddr = "203.0.113.1:1000"
	hrec := httptest.NewRecorder()
	s.ServeHTTP(hrec, r)
	if hrec.Code != 200 {
		t.Fatalf("/health over the limit: %d", hrec.Code)
	}
	now = now.Add(61 * time.Second) // the window slides
	if rec := req("203.0.113.1:1000"); rec.Code != 200 {
		t.Fatalf("after the window: %d", rec.Code)
	}
	if NewRateLimiter(0) != nil {
		t.Fatal("RATE_LIMIT_PER_MINUTE=0 must disable the limit")
	}
}

// Requirement: the client of a request behind a proxy is the address the
// proxy saw; a client cannot choose its identity with X-Forwarded-For.
func TestClientKey(t *testing.T) {
	cases := []struct{ remote, xff, want string }{
		{"203.0.113.9:5000", "", "203.0.113.9"},
		{"203.0.113.9:5000", "1.2.3.4", "203.0.113.9"},                  // a public peer is the client, whatever it claims
		{"10.0.1.7:5000", "198.51.100.1, 198.51.100.2", "198.51.100.2"}, // the proxy's entry
		{"127.0.0.1:5000", "198.51.100.3", "198.51.100.3"},
		{"10.0.1.7:5000", "garbage", "10.0.1.7"},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.remote
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := ClientKey(r); got != c.want {
			t.Errorf("ClientKey(%s, XFF %q) = %s, want %s", c.remote, c.xff, got, c.want)
		}
	}
}

// Requirement: oversize bodies get 413, declared or streamed.
func TestBodyLimit(t *testing.T) {
	s := newTestServer(Config{})
	if rec := do(t, s, "POST", "/echo", strings.NewReader(strings.Repeat("x", 100)), nil); rec.Code != 200 {
		t.Fatalf("100 bytes: %d %s", rec.Code, rec.Body)
	}
	if rec := do(t, s, "POST", "/echo", strings.NewReader(strings.Repeat("x", 101)), nil); rec.Code != 413 || !strings.HasPrefix(detail(t, rec), "Request body too large") {
		t.Fatalf("101 bytes: %d %s", rec.Code, rec.Body)
	}
	r := httptest.NewRequest("POST", "/echo", io.MultiReader(strings.NewReader(strings.Repeat("x", 150))))
	r.ContentLength = -1 // chunked: no declared length
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, r)
	if rec.Code != 413 {
		t.Fatalf("streamed 150 bytes: %d %s", rec.Code, rec.Body)
	}
}

func TestNotFoundMethodNotAllowedAndPanics(t *testing.T) {
	s := newTestServer(Config{})
	if rec := do(t, s, "GET", "/nope", nil, nil); rec.Code != 404 || detail(t, rec) != "Not Found" {
		t.Fatalf("404: %d %s", rec.Code, rec.Body)
	}
	if rec := do(t, s, "GET", "/echo", nil, nil); rec.Code != 405 || rec.Header().Get("Allow") != "POST" {
		t.Fatalf("405: %d %v", rec.Code, rec.Header())
	}
	if rec := do(t, s, "GET", "/panic", nil, nil); rec.Code != 500 || detail(t, rec) != "Internal Server Error" {
		t.Fatalf("panic: %d %s", rec.Code, rec.Body)
	}
}

// Requirement: every request has a request id (X-Request-ID, kept when the
// caller sends a UUID), in the response header and in the JSON logs.
func TestRequestIDAndJSONLogs(t *testing.T) {
	var logs bytes.Buffer
	s := newTestServer(Config{Logger: NewLogger(&logs, "test-service", slog.LevelDebug)})
	id := "6f1c2a9e-3b7d-4e0f-9a51-2c8d7e6b5a43"
	rec := do(t, s, "POST", "/echo", strings.NewReader("abc"), map[string]string{"X-Request-ID": id})
	if rec.Header().Get("X-Request-ID") != id || !strings.Contains(rec.Body.String(), id) {
		t.Fatalf("request id not kept: %v %s", rec.Header(), rec.Body)
	}
	rec = do(t, s, "POST", "/echo", strings.NewReader("abc"), map[string]string{"X-Request-ID": "not a uuid"})
	if got := rec.Header().Get("X-Request-ID"); !wire.ValidUUID(got) {
		t.Fatalf("generated request id %q", got)
	}
	var line map[string]any
	first, _, _ := strings.Cut(logs.String(), "\n")
	if err := json.Unmarshal([]byte(first), &line); err != nil {
		t.Fatalf("log line is not JSON: %q", first)
	}
	for k, want := range map[string]any{"level": "INFO", "message": "request", "service": "test-service", "request_id": id, "path": "/echo", "status": float64(200)} {
		if line[k] != want {
			t.Errorf("log %s = %v, want %v (%s)", k, line[k], want, first)
		}
	}
	if _, ok := line["timestamp"]; !ok {
		t.Error("log line has no timestamp")
	}
}

// Requirement: /metrics exposes requests, latency and events processed.
func TestMetrics(t *testing.T) {
	s := newTestServer(Config{Service: "layering-service"})
	s.EventsProcessed().Add(42)
	do(t, s, "POST", "/echo", strings.NewReader("abc"), nil)
	body := do(t, s, "GET", "/metrics", nil, nil).Body.String()
	for _, want := range []string{
		`http_requests_total{code="200",method="POST",route="/echo",service="layering-service"} 1`,
		`http_request_duration_seconds_count{method="POST",route="/echo",service="layering-service"} 1`,
		`events_processed_total{service="layering-service"} 42`,
		`http_requests_in_flight{service="layering-service"}`,
		`go_goroutines{service="layering-service"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(body, `route="/nope"`) {
		t.Error("unmatched paths must not become label values")
	}
}

// Requirement: graceful shutdown. On SIGTERM (the context ending) /health
// turns 503 "draining" while requests keep being served for the drain delay;
// in-flight requests finish; then the server stops.
func TestGracefulShutdown(t *testing.T) {
	s := New(Config{Service: "test-service", DrainDelay: 300 * time.Millisecond, ShutdownTimeout: 5 * time.Second})
	release := make(chan struct{})
	started := make(chan struct{})
	s.Handle(http.MethodGet, "/slow", func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		WriteJSON(w, 200, map[string]string{"done": "yes"})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()

	var wg sync.WaitGroup
	var slowCode int
	wg.Add(1)
	go func() {
		defer wg.Done()
		resp, err := http.Get(base + "/slow")
		if err != nil {
			t.Errorf("in-flight request failed: %v", err)
			return
		}
		resp.Body.Close()
		slowCode = resp.StatusCode
	}()
	<-started
	cancel() // SIGTERM
	time.Sleep(50 * time.Millisecond)
	resp, err := http.Get(base + "/health")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || !strings.Contains(string(b), `"draining"`) {
		t.Fatalf("health while draining: %d %s", resp.StatusCode, b)
	}
	if resp, err := http.Get(base + "/"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("new request while draining: %v %v", resp, err)
	}
	close(release)
	wg.Wait()
	if slowCode != 200 {
		t.Fatalf("in-flight request: %d", slowCode)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("server did not stop")
	}
	if _, err := http.Get(base + "/health"); err == nil {
		t.Fatal("server still accepting after shutdown")
	}
}

// Requirement: work still running at the shutdown timeout is cancelled.
func TestShutdownTimeoutCancelsRequests(t *testing.T) {
	s := New(Config{Service: "test-service", DrainDelay: -1, ShutdownTimeout: 100 * time.Millisecond})
	cancelled := make(chan struct{})
	started := make(chan struct{})
	s.Handle(http.MethodGet, "/stuck", func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
		close(cancelled)
	})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	go func() { _, _ = http.Get("http://" + ln.Addr().String() + "/stuck") }()
	<-started
	cancel()
	select {
	case <-cancelled:
	case <-time.After(3 * time.Second):
		t.Fatal("the stuck request's context was not cancelled")
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}

func TestEnvHelpers(t *testing.T) {
	env := map[string]string{"A": "7", "B": "x", "T": "TRUE", "Y": "yes", "N": "no", "S": "2.5"}
	get := func(k string) string { return env[k] }
	if v, err := EnvInt(get, "A", 1); v != 7 || err != nil {
		t.Fatal(v, err)
	}
	if v, err := EnvInt(get, "Z", 1); v != 1 || err != nil {
		t.Fatal(v, err)
	}
	if _, err := EnvInt(get, "B", 1); err == nil {
		t.Fatal("B is not an integer")
	}
	if !EnvBool(get, "T", false) || !EnvBool(get, "Y", false) || EnvBool(get, "N", true) || !EnvBool(get, "Z", true) || EnvBool(get, "B", true) {
		t.Fatal("EnvBool does not follow the existing services (true/1/yes)")
	}
	if d, err := EnvSeconds(get, "S", 0); d != 2500*time.Millisecond || err != nil {
		t.Fatal(d, err)
	}
	for in, want := range map[string]slog.Level{"DEBUG": slog.LevelDebug, "info": slog.LevelInfo, "WARNING": slog.LevelWarn, "ERROR": slog.LevelError, "CRITICAL": LevelCritical, "": slog.LevelInfo} {
		if got, ok := ParseLevel(in); !ok || got != want {
			t.Errorf("ParseLevel(%q) = %v %v", in, got, ok)
		}
	}
	if _, ok := ParseLevel("LOUD"); ok {
		t.Error("ParseLevel accepted LOUD")
	}
}

// The binary entry point: flags and configuration errors.
func TestMain_FlagsAndConfigErrors(t *testing.T) {
	spec := Spec{Service: "x-service", DefaultPort: 1, Setup: func(*Server, func(string) string) error { return nil }}
	var out, errb bytes.Buffer
	if code := Main(spec, []string{"-version"}, func(string) string { return "" }, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "x-service ") {
		t.Fatalf("-version: %d %q", code, out.String())
	}
	if code := Main(spec, nil, func(k string) string { return map[string]string{"PORT": "http"}[k] }, &out, &errb); code != 2 {
		t.Fatalf("bad PORT: exit %d", code)
	}
	if code := Main(spec, nil, func(k string) string { return map[string]string{"RATE_LIMIT_PER_MINUTE": "many"}[k] }, io.Discard, &errb); code != 2 {
		t.Fatalf("bad RATE_LIMIT_PER_MINUTE: exit %d", code)
	}
	// -healthcheck against a healthy and an absent server.
	s := New(Config{Service: "x-service"})
	srv := httptest.NewServer(s)
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	env := func(k string) string {
		if k == "PORT" {
			return strings.TrimPrefix(srv.URL[strings.LastIndex(srv.URL, ":"):], ":")
		}
		return ""
	}
	if code := Main(spec, []string{"-healthcheck"}, env, io.Discard, &errb); code != 0 {
		t.Fatalf("-healthcheck healthy (port %d): exit %d %s", port, code, errb.String())
	}
	srv.Close()
	if code := Main(spec, []string{"-healthcheck"}, env, io.Discard, io.Discard); code != 1 {
		t.Fatalf("-healthcheck down: exit %d", code)
	}
}

// A detached context survives the client going away but not the shutdown timeout.
func TestDetached(t *testing.T) {
	s := New(Config{Service: "test-service", DrainDelay: -1, ShutdownTimeout: 50 * time.Millisecond})
	client, cancelClient := context.WithCancel(context.WithValue(context.Background(), requestIDKey, "id"))
	d, cancel := s.Detached(client)
	defer cancel()
	cancelClient()
	if d.Err() != nil || RequestID(d) != "id" {
		t.Fatal("detached context cancelled with its client or lost its values")
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	for s.base.Load() == nil {
		time.Sleep(time.Millisecond)
	}
	d2, cancel2 := s.Detached(context.Background())
	defer cancel2()
	stop()
	<-served
	select {
	case <-d2.Done():
	case <-time.After(time.Second):
		t.Fatal("detached context not cancelled at shutdown")
	}
}
