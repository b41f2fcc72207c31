package loopback

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/layering-detection/kubectl-layering/services/aggregator"
	"github.com/layering-detection/kubectl-layering/services/algorithmservice"
	"github.com/layering-detection/kubectl-layering/services/detect/layering"
	"github.com/layering-detection/kubectl-layering/services/detect/washtrading"
	"github.com/layering-detection/kubectl-layering/services/httpserver"
	"github.com/layering-detection/kubectl-layering/services/orchestrator"
	"github.com/layering-detection/kubectl-layering/services/wire"
)

// options of a test cluster.
type options struct {
	apiKey              string
	rateLimit           int
	salt                string
	strict, partial     bool
	maxRetries          int
	maxEventsPerRequest int
	algorithmTimeout    time.Duration
	detectMaxBody       int64
	// replace the URL of a service with an address nothing listens on, or
	// with another server (fault injection).
	layeringURL, washURL, aggregatorURL string
	// wrap the algorithm services' handlers (count, delay, fail requests).
	wrapDetect func(name string, h http.Handler) http.Handler
}

func defaults() options { return options{strict: true, maxRetries: 3} }

// cluster is the four services on loopback.
type cluster struct {
	t                                 testing.TB
	inputDir, outputDir, logsDir      string
	orchestrator, layering, wash, agg string // base URLs
	stops                             []func()
	detectCalls                       map[string]*atomic.Int64 // /detect requests received
}

// start runs the four services. Logs go to the test log only when -v.
func start(t testing.TB, o options) *cluster {
	t.Helper()
	dir := t.TempDir()
	c := &cluster{
		t: t, inputDir: filepath.Join(dir, "input"), outputDir: filepath.Join(dir, "output"), logsDir: filepath.Join(dir, "logs"),
		detectCalls: map[string]*atomic.Int64{wire.ServiceLayering: {}, wire.ServiceWashTrading: {}},
	}
	for _, d := range []string{c.inputDir, c.outputDir, c.logsDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	logOut := io.Discard
	if testing.Verbose() {
		logOut = testWriter{t}
	}
	newServer := func(service string) *httpserver.Server {
		return httpserver.New(httpserver.Config{
			Service: service, APIKey: o.apiKey, RateLimitPerMinute: o.rateLimit,
			Logger: httpserver.NewLogger(logOut, service, slog.LevelDebug), DrainDelay: -1, ShutdownTimeout: 5 * time.Second,
		})
	}
	detector := func(service, name string, detect algorithmservice.Config) string {
		s := newServer(service)
		algorithmservice.Register(s, detect)
		var h http.Handler = s
		if o.wrapDetect != nil {
			h = o.wrapDetect(name, h)
		}
		return c.serve(s, countDetect(c.detectCalls[name], h))
	}
	c.layering = detector("layering-service", wire.ServiceLayering, algorithmservice.Config{Name: layering.Name, Detect: layering.Detect, MaxBody: o.detectMaxBody})
	c.wash = detector("wash-trading-service", wire.ServiceWashTrading, algorithmservice.Config{Name: washtrading.Name, Detect: washtrading.Detect, MaxBody: o.detectMaxBody})
	as := newServer("aggregator-service")
	aggregator.Register(as, aggregator.Config{OutputDir: c.outputDir, LogsDir: c.logsDir, ValidationStrict: o.strict, AllowPartialResults: o.partial, Salt: o.salt})
	c.agg = c.serve(as, as)

	cfg := orchestrator.Config{
		InputDir: c.inputDir, LayeringURL: c.layering, WashTradingURL: c.wash, AggregatorURL: c.agg,
		LayeringAPIKey: o.apiKey, WashTradingAPIKey: o.apiKey, AggregatorAPIKey: o.apiKey,
		MaxRetries: o.maxRetries, AlgorithmTimeout: o.algorithmTimeout, AggregatorTimeout: 10 * time.Second,
		BackoffBase: time.Millisecond, MaxEventsPerRequest: o.maxEventsPerRequest,
	}
	for _, r := range []struct {
		from string
		to   *string
	}{{o.layeringURL, &cfg.LayeringURL}, {o.washURL, &cfg.WashTradingURL}, {o.aggregatorURL, &cfg.AggregatorURL}} {
		if r.from != "" {
			*r.to = r.from
		}
	}
	orch := newServer("orchestrator-service")
	orchestrator.Register(orch, cfg)
	c.orchestrator = c.serve(orch, orch)
	t.Cleanup(c.stop)
	return c
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func countDetect(n *atomic.Int64, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/detect" {
			n.Add(1)
		}
		h.ServeHTTP(w, r)
	})
}

// serve runs s (through handler h) on a random loopback port.
func (c *cluster) serve(s *httpserver.Server, h http.Handler) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		if h == http.Handler(s) {
			done <- s.Serve(ctx, ln)
			return
		}
		srv := &http.Server{Handler: h}
		go func() { <-ctx.Done(); _ = srv.Close() }()
		err := srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		done <- err
	}()
	c.stops = append(c.stops, func() {
		cancel()
		if err := <-done; err != nil {
			c.t.Errorf("server: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

func (c *cluster) stop() {
	for _, s := range c.stops {
		s()
	}
	c.stops = nil
}

// input writes an input file.
func (c *cluster) input(name string, data []byte) {
	c.t.Helper()
	if err := os.WriteFile(filepath.Join(c.inputDir, name), data, 0o644); err != nil {
		c.t.Fatal(err)
	}
}

// orchestrate posts {"input_file": name} and decodes the answer.
func (c *cluster) orchestrate(name, apiKey string) (int, wire.OrchestrateResponse) {
	c.t.Helper()
	body, _ := json.Marshal(map[string]string{"input_file": name})
	return c.post(c.orchestrator+"/orchestrate", apiKey, body)
}

func (c *cluster) post(url, apiKey string, body []byte) (int, wire.OrchestrateResponse) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if apiKey != "" {
		req.Header.Set("X-API-Key", apiKey)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out wire.OrchestrateResponse
	_ = json.Unmarshal(data, &out)
	return resp.StatusCode, out
}

// outputs returns the names and contents of every file in the output and
// logs directories (temporary files included).
func (c *cluster) outputs() map[string]string {
	c.t.Helper()
	out := map[string]string{}
	for _, dir := range []string{c.outputDir, c.logsDir} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			c.t.Fatal(err)
		}
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				c.t.Fatal(err)
			}
			out[filepath.Base(dir)+"/"+e.Name()] = string(b)
		}
	}
	return out
}

func keys(m map[string]string) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	sort.Strings(k)
	return k
}

func readTestdata(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
