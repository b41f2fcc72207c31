package loopback

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/layering-detection/kubectl-layering/services/events"
	"github.com/layering-detection/kubectl-layering/services/isotime"
	"github.com/layering-detection/kubectl-layering/services/synthetic"
	"github.com/layering-detection/kubectl-layering/services/wire"
)

const key = "test-api-key"

// expected returns the expected output files of an input, keyed like outputs().
func expected(t testing.TB, input string) map[string]string {
	return map[string]string{
		"output/suspicious_accounts.csv": string(readTestdata(t, "expected/"+input+"/suspicious_accounts.csv")),
		"logs/detections.csv":            string(readTestdata(t, "expected/"+input+"/detections.csv")),
	}
}

func assertFiles(t testing.TB, got, want map[string]string) {
	t.Helper()
	if !reflect.DeepEqual(keys(got), keys(want)) {
		t.Fatalf("files %v, want %v", keys(got), keys(want))
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s differs\n got: %q\nwant: %q", name, got[name], w)
		}
	}
}

// Requirement: the pipeline across four real HTTP servers reproduces the
// existing services' files byte for byte (transactions.csv in, the expected
// files out; sample_transactions.csv has no detection: headers only).
func TestPipeline_ReproducesTheExpectedFilesByteForByte(t *testing.T) {
	for _, in := range []struct {
		name           string
		events, merged int
	}{{"transactions", 18, 2}, {"sample_transactions", 19, 0}} {
		t.Run(in.name, func(t *testing.T) {
			o := defaults()
			o.apiKey = key
			c := start(t, o)
			c.input(in.name+".csv", readTestdata(t, in.name+".csv"))
			code, resp := c.orchestrate(in.name+".csv", key)
			if code != http.StatusOK || resp.Status != "completed" || resp.EventCount != in.events || resp.AggregatedCount != in.merged ||
				len(resp.FailedServices) != 0 || resp.Error != nil || !wire.ValidUUID(resp.RequestID) {
				t.Fatalf("HTTP %d %+v", code, resp)
			}
			assertFiles(t, c.outputs(), expected(t, in.name))
		})
	}
}

// Requirement: with a salt, every account id written is the hex sha256 of
// "salt:account_id", in both files; everything else is identical.
func TestPipeline_WithASaltAccountIDsAreSHA256OfSaltColonAccountID(t *testing.T) {
	const salt = "pepper-2025"
	o := defaults()
	o.salt = salt
	c := start(t, o)
	c.input("transactions.csv", readTestdata(t, "transactions.csv"))
	if code, resp := c.orchestrate("transactions.csv", ""); code != http.StatusOK {
		t.Fatalf("HTTP %d %+v", code, resp)
	}
	want := map[string]string{}
	for name, content := range expected(t, "transactions") {
		lines := strings.Split(content, "\r\n")
		for i := 1; i < len(lines); i++ {
			if lines[i] == "" {
				continue
			}
			acc, rest, _ := strings.Cut(lines[i], ",")
			sum := sha256.Sum256([]byte(salt + ":" + acc))
			lines[i] = hex.EncodeToString(sum[:]) + "," + rest
		}
		want[name] = strings.Join(lines, "\r\n")
	}
	got := c.outputs()
	assertFiles(t, got, want)
	for _, content := range got {
		if strings.Contains(content, "ACC0") {
			t.Fatalf("a raw account id was written:\n%s", content)
		}
	}
}

// Requirement: inputs larger than one /detect request's limit still work:
// they are split on (account, product) boundaries and give the same files.
func TestPipeline_SplitsInputsLargerThanOneDetectRequest(t *testing.T) {
	t.Run("transactions.csv in requests of at most 7 events", func(t *testing.T) {
		o := defaults()
		o.maxEventsPerRequest = 7
		c := start(t, o)
		c.input("transactions.csv", readTestdata(t, "transactions.csv"))
		if code, resp := c.orchestrate("transactions.csv", ""); code != http.StatusOK {
			t.Fatalf("HTTP %d %+v", code, resp)
		}
		assertFiles(t, c.outputs(), expected(t, "transactions"))
		if n := c.detectCalls[wire.ServiceLayering].Load(); n != 3 {
			t.Fatalf("layering received %d requests, want 3 (groups of 7, 7 and 4 events)", n)
		}
	})

	// Generated data with detections of both rules: the files written with
	// requests of at most 2,500 events equal those written with one request.
	evs := synthetic.Generate(20000, synthetic.Options{Accounts: 50, Products: 5, LayeringEvery: 200, WashEvery: 300})
	// One (account, product) larger than a request, with 40-minute gaps
	// every 1,000 events: it can only be split at those gaps.
	big := synthetic.Generate(6000, synthetic.Options{Accounts: 1, Products: 1, Seed: 7, LayeringEvery: 100, WashEvery: 150})
	for i := range big {
		big[i].Account, big[i].Product = "BIG", "ONE"
		big[i].Time.Micros += int64(i/1000) * 40 * isotime.Minute
	}
	csv := synthetic.AppendCSV(nil, append(evs, big...))

	run := func(limit int) (map[string]string, []int) {
		o := defaults()
		o.maxEventsPerRequest = limit
		var mu sync.Mutex
		var sizes []int
		o.wrapDetect = func(name string, h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				if req, err := wire.DecodeDetectRequest(body, 1<<30); err == nil && name == wire.ServiceLayering {
					mu.Lock()
					sizes = append(sizes, len(req.Events))
					mu.Unlock()
				}
				r.Body = io.NopCloser(bytes.NewReader(body))
				h.ServeHTTP(w, r)
			})
		}
		c := start(t, o)
		c.input("big.csv", csv)
		code, resp := c.orchestrate("big.csv", "")
		if code != http.StatusOK || resp.EventCount != 26000 {
			t.Fatalf("limit %d: HTTP %d %+v", limit, code, resp)
		}
		return c.outputs(), sizes
	}
	whole, sizes := run(wire.MaxEventsPerRequest)
	if len(sizes) != 1 || sizes[0] != 26000 {
		t.Fatalf("unsplit run sent %v", sizes)
	}
	lines := strings.Count(whole["output/suspicious_accounts.csv"], "\n")
	if !strings.Contains(whole["output/suspicious_accounts.csv"], "WASH_TRADING") || !strings.Contains(whole["output/suspicious_accounts.csv"], "LAYERING") || lines < 100 {
		t.Fatalf("generated input should give many detections of both rules, got %d lines", lines)
	}
	split, sizes := run(2500)
	if len(sizes) < 11 {
		t.Fatalf("split run sent %d requests, want at least 11", len(sizes))
	}
	total := 0
	for _, n := range sizes {
		if n > 2500 {
			t.Fatalf("a request carried %d events, over the limit of 2,500", n)
		}
		total += n
	}
	if total != 26000 {
		t.Fatalf("requests carried %d events in all, want 26000", total)
	}
	assertFiles(t, split, whole)
}

// Requirement: one (account, product) with more events than a request takes
// and no gap to split at is refused (400), and nothing is written.
func TestPipeline_UnsplittableGroupIsRefused(t *testing.T) {
	o := defaults()
	o.maxEventsPerRequest = 5
	c := start(t, o)
	c.input("transactions.csv", readTestdata(t, "transactions.csv"))
	code, resp := c.orchestrate("transactions.csv", "")
	if code != http.StatusBadRequest || resp.Status != "failed" || !strings.Contains(*resp.Error, `"ACC001"`) {
		t.Fatalf("HTTP %d %+v", code, resp)
	}
	if out := c.outputs(); len(out) != 0 {
		t.Fatalf("files written: %v", keys(out))
	}
}

func closedAddress(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// failFirst answers the first n /detect requests of service with status.
func failFirst(service string, n int64, status int) func(string, http.Handler) http.Handler {
	var seen atomic.Int64
	return func(name string, h http.Handler) http.Handler {
		if name != service {
			return h
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/detect" && seen.Add(1) <= n {
				http.Error(w, `{"detail":"injected failure"}`, status)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
}

// Requirement: bad inputs give the documented status and write nothing.
func TestPipeline_BadInputsGiveTheDocumentedStatusAndWriteNothing(t *testing.T) {
	good := readTestdata(t, "transactions.csv")
	cases := []struct {
		name   string
		opts   func(*options)
		setup  func(c *cluster)
		file   string
		apiKey string
		code   int
		detail string
	}{
		{name: "missing column", file: "nocol.csv", code: 400, detail: "Missing required CSV columns: ['price']",
			setup: func(c *cluster) {
				c.input("nocol.csv", []byte("timestamp,account_id,product_id,side,quantity,event_type\n2025-10-26T10:21:20Z,A,P,BUY,1,ORDER_PLACED\n"))
			}},
		{name: "only bad rows", file: "bad.csv", code: 400, detail: "Input CSV file contains no events",
			setup: func(c *cluster) {
				c.input("bad.csv", []byte(events.Columns[0]+",account_id,product_id,side,price,quantity,event_type\nyesterday,A,P,BUY,1,1,ORDER_PLACED\n2025-10-26T10:21:20Z,A,P,HOLD,1,1,ORDER_PLACED\n"))
			}},
		{name: "not UTF-8", file: "latin1.csv", code: 400, detail: "not valid UTF-8",
			setup: func(c *cluster) {
				c.input("latin1.csv", append(append([]byte{}, good...), "\n2025-10-26T10:21:20Z,caf\xe9,P,BUY,1,1,ORDER_PLACED"...))
			}},
		{name: "missing file", file: "absent.csv", code: 404, detail: "Input file not found"},
		{name: "path traversal", file: "../transactions.csv", code: 400, detail: "bare file name",
			setup: func(c *cluster) { writeFile(t, filepath.Join(c.inputDir, "..", "transactions.csv"), good) }},
		{name: "absolute path", file: "/etc/passwd", code: 400, detail: "bare file name"},
		{name: "parent directory", file: "..", code: 400, detail: "bare file name"},
		{name: "current directory", file: ".", code: 400, detail: "bare file name"},
		{name: "empty name", file: "", code: 400, detail: "bare file name"},
		{name: "symlink out of INPUT_DIR", file: "link.csv", code: 400, detail: "cannot open",
			setup: func(c *cluster) {
				outside := filepath.Join(c.inputDir, "..", "secret.csv")
				writeFile(t, outside, good)
				if err := os.Symlink(outside, filepath.Join(c.inputDir, "link.csv")); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "a directory", file: "subdir", code: 400, detail: "not a regular file",
			setup: func(c *cluster) { _ = os.Mkdir(filepath.Join(c.inputDir, "subdir"), 0o755) }},
		{name: "missing API key", file: "transactions.csv", apiKey: "-", code: 401, detail: "Missing API key"},
		{name: "wrong API key", file: "transactions.csv", apiKey: "wrong", code: 401, detail: "Invalid API key"},
		{name: "layering service down: retries, then 500 naming it", file: "transactions.csv", code: 500, detail: "Services failed: ['layering']",
			opts: func(o *options) { o.layeringURL = closedAddress(t) }},
		{name: "wash-trading service answers 503: retries, then 500 naming it", file: "transactions.csv", code: 500, detail: "Services failed: ['wash_trading']",
			opts: func(o *options) {
				o.wrapDetect = failFirst(wire.ServiceWashTrading, 100, http.StatusServiceUnavailable)
			}},
		{name: "aggregator down: retries, then 500", file: "transactions.csv", code: 500, detail: "Failed to call aggregator service",
			opts: func(o *options) { o.aggregatorURL = closedAddress(t) }},
		{name: "detect body over the services' limit: 413, not retried, 500", file: "transactions.csv", code: 500, detail: "HTTP 413",
			opts: func(o *options) { o.detectMaxBody = 1000 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := defaults()
			o.apiKey = key
			if tc.opts != nil {
				tc.opts(&o)
			}
			c := start(t, o)
			c.input("transactions.csv", good)
			if tc.setup != nil {
				tc.setup(c)
			}
			apiKey := key
			switch tc.apiKey {
			case "-":
				apiKey = ""
			case "":
			default:
				apiKey = tc.apiKey
			}
			code, resp := c.orchestrate(tc.file, apiKey)
			detail := resp.Detail
			if code != tc.code || !strings.Contains(detail, tc.detail) {
				t.Fatalf("HTTP %d detail %q, want %d containing %q (%+v)", code, detail, tc.code, tc.detail, resp)
			}
			if code != 401 && (resp.Status != "failed" || resp.Error == nil || *resp.Error != detail) {
				t.Fatalf("answer shape: %+v", resp)
			}
			if out := c.outputs(); len(out) != 0 {
				t.Fatalf("files written: %v", keys(out))
			}
		})
	}
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Requirement: retries happen on 5xx (MAX_RETRIES extra attempts) and the
// pipeline succeeds when a later attempt does; 4xx is not retried.
func TestPipeline_RetriesOnlyTransientFailures(t *testing.T) {
	t.Run("two 503s then success: 3 attempts, expected files", func(t *testing.T) {
		o := defaults()
		o.wrapDetect = failFirst(wire.ServiceLayering, 2, http.StatusServiceUnavailable)
		c := start(t, o)
		c.input("transactions.csv", readTestdata(t, "transactions.csv"))
		if code, resp := c.orchestrate("transactions.csv", ""); code != http.StatusOK {
			t.Fatalf("HTTP %d %+v", code, resp)
		}
		assertFiles(t, c.outputs(), expected(t, "transactions"))
		if n := c.detectCalls[wire.ServiceLayering].Load(); n != 3 {
			t.Fatalf("layering received %d requests, want 3", n)
		}
	})
	t.Run("always 503: MAX_RETRIES+1 attempts", func(t *testing.T) {
		o := defaults()
		o.maxRetries = 2
		o.wrapDetect = failFirst(wire.ServiceLayering, 100, http.StatusBadGateway)
		c := start(t, o)
		c.input("transactions.csv", readTestdata(t, "transactions.csv"))
		code, resp := c.orchestrate("transactions.csv", "")
		if code != http.StatusInternalServerError || !reflect.DeepEqual(resp.FailedServices, []string{"layering"}) {
			t.Fatalf("HTTP %d %+v", code, resp)
		}
		if n := c.detectCalls[wire.ServiceLayering].Load(); n != 3 {
			t.Fatalf("layering received %d requests, want 3 (MAX_RETRIES=2)", n)
		}
	})
	t.Run("400 is not retried", func(t *testing.T) {
		o := defaults()
		o.wrapDetect = failFirst(wire.ServiceLayering, 100, http.StatusBadRequest)
		c := start(t, o)
		c.input("transactions.csv", readTestdata(t, "transactions.csv"))
		if code, _ := c.orchestrate("transactions.csv", ""); code != http.StatusInternalServerError {
			t.Fatalf("HTTP %d", code)
		}
		if n := c.detectCalls[wire.ServiceLayering].Load(); n != 1 {
			t.Fatalf("layering received %d requests, want 1", n)
		}
	})
	t.Run("a timed-out attempt is retried and answered from the cache", func(t *testing.T) {
		o := defaults()
		o.algorithmTimeout = 300 * time.Millisecond
		var first atomic.Bool
		o.wrapDetect = func(name string, h http.Handler) http.Handler {
			if name != wire.ServiceLayering {
				return h
			}
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/detect" && first.CompareAndSwap(false, true) {
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, r)     // the service computes and caches the result…
					time.Sleep(time.Second) // …but answers too late
					return
				}
				h.ServeHTTP(w, r)
			})
		}
		c := start(t, o)
		c.input("transactions.csv", readTestdata(t, "transactions.csv"))
		if code, resp := c.orchestrate("transactions.csv", ""); code != http.StatusOK {
			t.Fatalf("HTTP %d %+v", code, resp)
		}
		assertFiles(t, c.outputs(), expected(t, "transactions"))
		if n := c.detectCalls[wire.ServiceLayering].Load(); n != 2 {
			t.Fatalf("layering received %d requests, want 2", n)
		}
		resp, err := http.Get(c.layering + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		metrics, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(metrics), `detect_cache_hits_total{service="layering-service"} 1`) {
			t.Fatalf("the retry was not answered from the cache:\n%s", metrics)
		}
	})
}

// Requirement: ALLOW_PARTIAL_RESULTS=true writes what the services that
// succeeded found, and names the failed ones.
func TestPipeline_PartialResultsWhenAllowed(t *testing.T) {
	o := defaults()
	o.partial = true
	o.washURL = closedAddress(t)
	c := start(t, o)
	c.input("transactions.csv", readTestdata(t, "transactions.csv"))
	code, resp := c.orchestrate("transactions.csv", "")
	if code != http.StatusOK || resp.Status != "completed" || resp.AggregatedCount != 2 || !reflect.DeepEqual(resp.FailedServices, []string{"wash_trading"}) {
		t.Fatalf("HTTP %d %+v", code, resp)
	}
	assertFiles(t, c.outputs(), expected(t, "transactions"))
}

// Requirement: the previous files stay intact when a pipeline fails.
func TestPipeline_AFailedRunLeavesThePreviousFilesIntact(t *testing.T) {
	o := defaults()
	o.wrapDetect = failFirst(wire.ServiceLayering, 100, http.StatusBadRequest)
	c := start(t, o)
	c.input("transactions.csv", readTestdata(t, "transactions.csv"))
	writeFile(t, filepath.Join(c.outputDir, "suspicious_accounts.csv"), []byte("previous\r\n"))
	writeFile(t, filepath.Join(c.logsDir, "detections.csv"), []byte("previous\r\n"))
	if code, _ := c.orchestrate("transactions.csv", ""); code != http.StatusInternalServerError {
		t.Fatalf("HTTP %d", code)
	}
	assertFiles(t, c.outputs(), map[string]string{"output/suspicious_accounts.csv": "previous\r\n", "logs/detections.csv": "previous\r\n"})
}

// Requirement: per-client rate limit (429), /health exempt; oversize bodies 413.
func TestPipeline_RateLimitAndBodyLimit(t *testing.T) {
	o := defaults()
	o.rateLimit = 3
	c := start(t, o)
	get := func(path string) int {
		resp, err := http.Get(c.orchestrator + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i := 0; i < 3; i++ {
		if code := get("/"); code != http.StatusOK {
			t.Fatalf("request %d: HTTP %d", i+1, code)
		}
	}
	if code := get("/"); code != http.StatusTooManyRequests {
		t.Fatalf("4th request: HTTP %d, want 429", code)
	}
	if code, _ := c.orchestrate("transactions.csv", ""); code != http.StatusTooManyRequests {
		t.Fatalf("orchestrate over the limit: HTTP %d, want 429", code)
	}
	for i := 0; i < 5; i++ {
		if code := get("/health"); code != http.StatusOK {
			t.Fatalf("/health over the limit: HTTP %d, want 200", code)
		}
	}
	// Other services count their own clients: the detector still answers.
	code, _ := c.post(c.layering+"/detect", "", bytes.Repeat([]byte("x"), 70<<20))
	if code != http.StatusRequestEntityTooLarge {
		t.Fatalf("70 MiB /detect body: HTTP %d, want 413", code)
	}
	big := []byte(`{"input_file":"` + strings.Repeat("a", 70<<10) + `"}`)
	o2 := defaults()
	c2 := start(t, o2)
	if code, _ := c2.post(c2.orchestrator+"/orchestrate", "", big); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("70 KiB /orchestrate body: HTTP %d, want 413", code)
	}
}

// Requirement: one request id follows a pipeline through the services (the
// /orchestrate answer, X-Request-ID and request_id of every /detect call).
func TestPipeline_OneRequestIDAcrossServices(t *testing.T) {
	o := defaults()
	var mu sync.Mutex
	var seen []string
	o.wrapDetect = func(name string, h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			req, err := wire.DecodeDetectRequest(body, wire.MaxEventsPerRequest)
			mu.Lock()
			seen = append(seen, r.Header.Get("X-Request-ID"), req.RequestID)
			mu.Unlock()
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			h.ServeHTTP(w, r)
		})
	}
	c := start(t, o)
	c.input("transactions.csv", readTestdata(t, "transactions.csv"))
	code, resp := c.orchestrate("transactions.csv", "")
	if code != http.StatusOK || len(seen) != 4 {
		t.Fatalf("HTTP %d, %d ids seen", code, len(seen))
	}
	for _, id := range seen {
		if id != resp.RequestID {
			t.Fatalf("ids %v, want all %s", seen, resp.RequestID)
		}
	}
}

// Requirement: bad rows are skipped with a warning and do not change what the
// good rows give.
func TestPipeline_BadRowsAreSkipped(t *testing.T) {
	c := start(t, defaults())
	lines := strings.Split(string(readTestdata(t, "transactions.csv")), "\n")
	junk := []string{
		"2025-10-26T10:21:21Z,ACC001,IBM,BUY,not-a-price,5000,ORDER_PLACED",
		"2025-10-26T10:21:23Z,ACC001,IBM,BUY,141.18,-4,ORDER_CANCELLED",
		"never,ACC001,IBM,SELL,141.05,10000,TRADE_EXECUTED",
		"2025-10-26T11:05:03Z,ACC017,AAPL,SIDEWAYS,196.01,3000,ORDER_CANCELLED",
		"2025-10-26T11:05:03Z,ACC017",
	}
	withJunk := append([]string{lines[0]}, junk[:3]...)
	withJunk = append(withJunk, lines[1:10]...)
	withJunk = append(withJunk, junk[3:]...)
	withJunk = append(withJunk, lines[10:]...)
	c.input("dirty.csv", []byte(strings.Join(withJunk, "\n")))
	code, resp := c.orchestrate("dirty.csv", "")
	if code != http.StatusOK || resp.EventCount != 18 || resp.AggregatedCount != 2 {
		t.Fatalf("HTTP %d %+v", code, resp)
	}
	assertFiles(t, c.outputs(), expected(t, "transactions"))
}
