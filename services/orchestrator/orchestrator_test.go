package orchestrator

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/layering-detection/kubectl-layering/services/events"
	"github.com/layering-detection/kubectl-layering/services/httpserver"
	"github.com/layering-detection/kubectl-layering/services/isotime"
)

func ev(acc, prod string, sec int64, typ events.Type) events.Event {
	return events.Event{Time: isotime.UTC(sec * isotime.Second), Account: acc, Product: prod, Side: events.Buy, Type: typ, Price: "1", Quantity: 1}
}

// Requirement: inputs over one request's limit are split on (account,
// product) boundaries; each chunk keeps input order; nothing is lost.
func TestPlanChunks_SplitsOnGroupBoundaries(t *testing.T) {
	var evs []events.Event
	for i := 0; i < 12; i++ { // groups A (5), B (4), C (3), interleaved
		g := []string{"A", "B", "C", "A", "B", "A", "C", "A", "B", "A", "C", "B"}[i]
		evs = append(evs, ev(g, "P", int64(i), events.OrderPlaced))
	}
	chunks, err := planChunks(evs, 12)
	if err != nil || len(chunks) != 1 || chunks[0] != nil {
		t.Fatalf("within the limit: %v %v", chunks, err)
	}
	chunks, err = planChunks(evs, 9)
	if err != nil {
		t.Fatal(err)
	}
	// A+B = 9 events, then C.
	if len(chunks) != 2 {
		t.Fatalf("chunks %v", chunks)
	}
	seen := map[int32]bool{}
	for _, c := range chunks {
		if len(c) > 9 || !slices.IsSorted(c) {
			t.Fatalf("chunk %v over the limit or out of input order", c)
		}
		groups := map[string]bool{}
		for _, i := range c {
			seen[i] = true
			groups[evs[i].Account] = true
		}
		for _, other := range chunks {
			if slices.Equal(other, c) {
				continue
			}
			for _, i := range other {
				if groups[evs[i].Account] {
					t.Fatalf("group %s split across chunks", evs[i].Account)
				}
			}
		}
	}
	if len(seen) != len(evs) {
		t.Fatalf("%d of %d events planned", len(seen), len(evs))
	}
}

// Requirement: a group larger than a request is cut only at gaps longer than
// any rule's window (30 min); without such a gap it is refused.
func TestPlanChunks_LargeGroupsSplitOnlyAtLongGaps(t *testing.T) {
	var evs []events.Event
	for i := int64(0); i < 6; i++ { // 3 events, a 31-minute gap, 3 events
		sec := i
		if i >= 3 {
			sec += 31 * 60
		}
		evs = append(evs, ev("A", "P", sec, events.TradeExecuted))
	}
	chunks, err := planChunks(evs, 4)
	if err != nil || len(chunks) != 2 || len(chunks[0]) != 3 || len(chunks[1]) != 3 {
		t.Fatalf("chunks %v err %v", chunks, err)
	}
	// A gap of exactly 30 minutes is inside the wash-trading window: no cut.
	for i := 3; i < 6; i++ {
		evs[i].Time.Micros -= isotime.Minute + isotime.Second
	}
	_, err = planChunks(evs, 4)
	var tooLarge *GroupTooLargeError
	if !errors.As(err, &tooLarge) || tooLarge.Account != "A" || tooLarge.Events != 6 {
		t.Fatalf("err = %v", err)
	}
}

func TestResultOrder(t *testing.T) {
	evs := []events.Event{ev("B", "P", 0, events.OrderPlaced), ev("A", "P", 1, events.TradeExecuted), ev("B", "P", 2, events.TradeExecuted)}
	lay, wash := resultOrder(evs, "layering"), resultOrder(evs, "wash_trading")
	if !(lay[[2]string{"B", "P"}] < lay[[2]string{"A", "P"}]) || !(wash[[2]string{"A", "P"}] < wash[[2]string{"B", "P"}]) {
		t.Fatalf("layering %v wash %v", lay, wash)
	}
}

func TestConfigFromEnv(t *testing.T) {
	c, err := ConfigFromEnv(func(k string) string { return map[string]string{"API_KEY": "k", "AGGREGATOR_API_KEY": "agg"}[k] })
	if err != nil {
		t.Fatal(err)
	}
	want := Config{InputDir: "/app/input", LayeringURL: "http://layering-service:8001", WashTradingURL: "http://wash-trading-service:8002",
		AggregatorURL: "http://aggregator-service:8003", LayeringAPIKey: "k", WashTradingAPIKey: "k", AggregatorAPIKey: "agg",
		MaxRetries: 3, AlgorithmTimeout: 30 * time.Second}
	if c != want {
		t.Fatalf("got  %+v\nwant %+v", c, want)
	}
	for k, v := range map[string]string{"MAX_RETRIES": "-1", "ALGORITHM_TIMEOUT_SECONDS": "0"} {
		if _, err := ConfigFromEnv(func(n string) string { return map[string]string{k: v}[n] }); err == nil {
			t.Errorf("%s=%s accepted", k, v)
		}
	}
}

func newOrchestrator(retries int, timeout time.Duration) *Orchestrator {
	s := httpserver.New(httpserver.Config{Service: "orchestrator-service"})
	return Register(s, Config{MaxRetries: retries, AlgorithmTimeout: timeout, BackoffBase: time.Millisecond})
}

// Requirement: MAX_RETRIES extra attempts, only on timeouts, connection
// errors and 5xx; each with the per-call timeout; backoff doubles.
func TestPostWithRetries(t *testing.T) {
	var calls atomic.Int64
	status := http.StatusServiceUnavailable
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Header.Get("X-API-Key") != "k" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	o := newOrchestrator(3, time.Second)
	ctx := context.Background()

	_, attempts, err := o.postWithRetries(ctx, "x", srv.URL, "k", nil, time.Second)
	if err == nil || attempts != 4 || calls.Load() != 4 {
		t.Fatalf("5xx: attempts %d calls %d err %v", attempts, calls.Load(), err)
	}
	calls.Store(0)
	status = http.StatusUnprocessableEntity
	if _, attempts, err = o.postWithRetries(ctx, "x", srv.URL, "k", nil, time.Second); err == nil || attempts != 1 || calls.Load() != 1 {
		t.Fatalf("4xx: attempts %d calls %d err %v", attempts, calls.Load(), err)
	}
	status = http.StatusOK
	if _, attempts, err = o.postWithRetries(ctx, "x", srv.URL, "k", nil, time.Second); err != nil || attempts != 1 {
		t.Fatalf("200: attempts %d err %v", attempts, err)
	}

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := "http://" + ln.Addr().String()
	ln.Close()
	_, attempts, err = o.postWithRetries(ctx, "x", closed, "", nil, time.Second)
	var ce *callError
	if !errors.As(err, &ce) || !ce.retryable || ce.timeout || attempts != 4 {
		t.Fatalf("connection refused: attempts %d err %v", attempts, err)
	}

	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	o = newOrchestrator(1, time.Second)
	start := time.Now()
	_, attempts, err = o.postWithRetries(ctx, "x", slow.URL, "", nil, 100*time.Millisecond)
	if !errors.As(err, &ce) || !ce.timeout || attempts != 2 || time.Since(start) > time.Second {
		t.Fatalf("timeout: attempts %d err %v after %v", attempts, err, time.Since(start))
	}
}
