package algorithmservice

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/layering-detection/kubectl-layering/services/detect"
	"github.com/layering-detection/kubectl-layering/services/detect/layering"
	"github.com/layering-detection/kubectl-layering/services/events"
	"github.com/layering-detection/kubectl-layering/services/httpserver"
	"github.com/layering-detection/kubectl-layering/services/isotime"
	"github.com/layering-detection/kubectl-layering/services/wire"
)

const rid = "550e8400-e29b-41d4-a716-446655440000"

func pattern() []events.Event {
	var evs []events.Event
	add := func(sec int64, typ events.Type, side events.Side, qty int64) {
		evs = append(evs, events.Event{Time: isotime.UTC((1761474080 + sec) * isotime.Second), Account: "ACC001", Product: "IBM",
			Side: side, Type: typ, Price: "141.20", Quantity: qty})
	}
	add(0, events.OrderPlaced, events.Buy, 5000)
	add(2, events.OrderPlaced, events.Buy, 4000)
	add(4, events.OrderPlaced, events.Buy, 6000)
	add(5, events.OrderCancelled, events.Buy, 5000)
	add(6, events.OrderCancelled, events.Buy, 4000)
	add(7, events.OrderCancelled, events.Buy, 6000)
	add(8, events.TradeExecuted, events.Sell, 10000)
	return evs
}

func server(cfg Config) *httpserver.Server {
	s := httpserver.New(httpserver.Config{Service: "layering-service"})
	Register(s, cfg)
	return s
}

func post(s http.Handler, body string) (int, wire.DetectResponse, string) {
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/detect", strings.NewReader(body)))
	var resp wire.DetectResponse
	_ = json.Unmarshal(rec.Body.Bytes(), &resp)
	return rec.Code, resp, rec.Body.String()
}

// Requirement: POST /detect answers 200 {request_id, service_name, status,
// results, error, final_status} with the rule's detections.
func TestDetect_AnswersTheContractShape(t *testing.T) {
	s := server(Config{Name: layering.Name, Detect: layering.Detect})
	body, _ := wire.AppendDetectRequest(nil, rid, pattern(), nil)
	code, resp, raw := post(s, string(body))
	if code != 200 || resp.RequestID != rid || resp.ServiceName != "layering" || resp.Status != "success" || resp.Error != nil || !resp.FinalStatus {
		t.Fatalf("HTTP %d %s", code, raw)
	}
	if len(resp.Results) != 1 || resp.Results[0].EndTimestamp != "2025-10-26T10:21:28+00:00" || resp.Results[0].TotalBuyQty != 15000 {
		t.Fatalf("results %s", raw)
	}
	// No detection: results is an empty list, not null.
	quiet, _ := wire.AppendDetectRequest(nil, rid, pattern()[:2], nil)
	if _, _, raw := post(s, string(quiet)); !strings.Contains(raw, `"results":[]`) {
		t.Fatalf("empty results: %s", raw)
	}
}

// Requirement: results are cached by (request_id, fingerprint): a retry gets
// the first answer without running the rule again, also while the first
// attempt is still running; another request id runs again.
func TestDetect_CachesByRequestIDAndFingerprint(t *testing.T) {
	var runs atomic.Int64
	gate := make(chan struct{})
	detectFn := func(evs []events.Event) []detect.Sequence {
		runs.Add(1)
		<-gate
		return layering.Detect(evs)
	}
	s := server(Config{Name: layering.Name, Detect: detectFn, Concurrency: 4})
	body, _ := wire.AppendDetectRequest(nil, rid, pattern(), nil)
	var wg sync.WaitGroup
	answers := make([]string, 3)
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, answers[i] = post(s, string(body))
		}()
	}
	time.Sleep(100 * time.Millisecond) // all three are in: one computes, two wait
	close(gate)
	wg.Wait()
	if runs.Load() != 1 {
		t.Fatalf("rule ran %d times for one (request_id, fingerprint)", runs.Load())
	}
	if answers[0] != answers[1] || answers[1] != answers[2] {
		t.Fatalf("answers differ:\n%s\n%s\n%s", answers[0], answers[1], answers[2])
	}
	_, _, later := post(s, string(body))
	if runs.Load() != 1 || later != answers[0] {
		t.Fatalf("a later retry ran the rule again (%d runs)", runs.Load())
	}
	other, _ := wire.AppendDetectRequest(nil, wire.NewUUID(), pattern(), nil)
	post(s, string(other))
	if runs.Load() != 2 {
		t.Fatalf("another request id must run the rule: %d runs", runs.Load())
	}
}

func TestCache_EvictsOldestAndExpires(t *testing.T) {
	c := newCache(2, time.Minute)
	now := time.Unix(0, 0)
	c.now = func() time.Time { return now }
	runs := 0
	get := func(id string) bool {
		_, hit, _ := c.get(cacheKey{id, "f"}, func() ([]wire.Sequence, error) { runs++; return []wire.Sequence{}, nil })
		return hit
	}
	get("a")
	get("b")
	get("c") // evicts a
	if get("b") != true || get("a") != false {
		t.Fatal("LRU eviction wrong")
	}
	now = now.Add(2 * time.Minute)
	if get("a") {
		t.Fatal("expired entry served")
	}
}

// Requirement: a body breaking the contract is 422; more than 100,000 events is 422.
func TestDetect_InvalidBodiesAre422(t *testing.T) {
	s := server(Config{Name: layering.Name, Detect: layering.Detect, MaxEvents: 3})
	for _, body := range []string{
		`{}`, `not json`,
		`{"request_id":"x","event_fingerprint":"` + strings.Repeat("a", 64) + `","events":[]}`,
	} {
		if code, _, raw := post(s, body); code != 422 || !strings.Contains(raw, `"detail"`) {
			t.Errorf("%s: HTTP %d %s", body, code, raw)
		}
	}
	four, _ := wire.AppendDetectRequest(nil, rid, pattern()[:4], nil)
	if code, _, raw := post(s, string(four)); code != 422 || !strings.Contains(raw, "at most 3 events") {
		t.Fatalf("4 events over a limit of 3: HTTP %d %s", code, raw)
	}
}

// Requirement: a failure inside the rule is answered 200 with status
// "failure" and an error (the existing services' behaviour), and not cached.
func TestDetect_RuleFailureIsStatusFailure(t *testing.T) {
	var runs atomic.Int64
	s := server(Config{Name: layering.Name, Detect: func([]events.Event) []detect.Sequence {
		runs.Add(1)
		panic("index out of range")
	}})
	body, _ := wire.AppendDetectRequest(nil, rid, pattern(), nil)
	for i := 0; i < 2; i++ {
		code, resp, raw := post(s, string(body))
		if code != 200 || resp.Status != "failure" || resp.Error == nil || !strings.Contains(*resp.Error, "index out of range") ||
			!strings.Contains(raw, `"results":null`) || !resp.FinalStatus {
			t.Fatalf("HTTP %d %s", code, raw)
		}
	}
	if runs.Load() != 2 {
		t.Fatalf("failures must not be cached: %d runs", runs.Load())
	}
}
