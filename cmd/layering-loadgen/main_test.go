package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/layering-detection/kubectl-layering/pkg/loadtest/stats"
)

var uuid = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// Requirement: /detect bodies are valid AlgorithmRequests: a UUID per
// request (the services cache by request_id and fingerprint: every request
// must be computed), the fingerprint the sha256 of the events array, n
// events of the contract's fields in time order, with layering and wash
// patterns in them.
func TestDetectBody(t *testing.T) {
	build := detectBody(5000, 1)
	var a, b struct {
		RequestID   string            `json:"request_id"`
		Fingerprint string            `json:"event_fingerprint"`
		Events      []json.RawMessage `json:"events"`
	}
	first := build()
	if err := json.Unmarshal(first, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(build(), &b); err != nil {
		t.Fatal(err)
	}
	if !uuid.MatchString(a.RequestID) || a.RequestID == b.RequestID || a.Fingerprint != b.Fingerprint || len(a.Events) != 5000 {
		t.Fatalf("ids %s %s, fingerprints %s %s, %d events", a.RequestID, b.RequestID, a.Fingerprint, b.Fingerprint, len(a.Events))
	}
	array := first[strings.Index(string(first), `"events":`)+len(`"events":`) : len(first)-1]
	if sum := sha256.Sum256(array); hex.EncodeToString(sum[:]) != a.Fingerprint {
		t.Error("the fingerprint is not the sha256 of the events array")
	}
	var last time.Time
	types := map[string]int{}
	for i, raw := range a.Events {
		var e struct {
			Timestamp string `json:"timestamp"`
			AccountID string `json:"account_id"`
			ProductID string `json:"product_id"`
			Side      string `json:"side"`
			Price     string `json:"price"`
			Quantity  int64  `json:"quantity"`
			EventType string `json:"event_type"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatal(err)
		}
		at, err := time.Parse(time.RFC3339Nano, e.Timestamp)
		if err != nil || at.Before(last) || e.AccountID == "" || e.ProductID == "" || (e.Side != "BUY" && e.Side != "SELL") || e.Quantity <= 0 ||
			!regexp.MustCompile(`^\d+\.\d\d$`).MatchString(e.Price) {
			t.Fatalf("event %d: %s (%v)", i, raw, err)
		}
		last = at
		types[e.EventType]++
	}
	if types["ORDER_PLACED"] == 0 || types["ORDER_CANCELLED"] == 0 || types["TRADE_EXECUTED"] == 0 || len(types) != 3 {
		t.Errorf("event types %v", types)
	}
}

// Requirement: /aggregate bodies carry both algorithm services' successful
// results under one request id; /orchestrate names the input file.
func TestAggregateAndOrchestrateBodies(t *testing.T) {
	var req struct {
		RequestID        string   `json:"request_id"`
		ExpectedServices []string `json:"expected_services"`
		Results          []struct {
			RequestID   string            `json:"request_id"`
			ServiceName string            `json:"service_name"`
			Status      string            `json:"status"`
			Results     []json.RawMessage `json:"results"`
		} `json:"results"`
	}
	if err := json.Unmarshal(aggregateBody(101, 1)(), &req); err != nil {
		t.Fatal(err)
	}
	if !uuid.MatchString(req.RequestID) || strings.Join(req.ExpectedServices, ",") != "layering,wash_trading" || len(req.Results) != 2 ||
		req.Results[0].ServiceName != "layering" || req.Results[1].ServiceName != "wash_trading" || req.Results[0].Status != "success" ||
		len(req.Results[0].Results)+len(req.Results[1].Results) != 101 || req.Results[1].RequestID != req.RequestID {
		t.Errorf("aggregate body: %+v", req)
	}
	if got := string(orchestrateBody("transactions.csv")()); got != `{"input_file":"transactions.csv"}` {
		t.Errorf("orchestrate body %s", got)
	}
}

// Requirement: bad flags are clear errors; the API key comes from $API_KEY.
func TestParseFlags(t *testing.T) {
	env := func(k string) string { return map[string]string{"API_KEY": "k"}[k] }
	c, err := parseFlags([]string{"-url", "http://10.0.0.1:8003/aggregate", "-rate", "2.5"}, env)
	if err != nil || c.kind != "aggregate" || c.rate != 2.5 || c.apiKey != "k" {
		t.Errorf("%+v %v", c, err)
	}
	for args, want := range map[string]string{
		"-url http://x/other":             "must end in /detect, /aggregate or /orchestrate",
		"-url http://x/detect -rate 0":    "-rate must be positive",
		"-url http://x/detect -events 0":  "-events must be within 1..100000",
		"-url http://x/detect -workers 0": "-workers must be at least 1",
	} {
		if _, err := parseFlags(strings.Fields(args), env); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", args, err, want)
		}
	}
}

// Requirement: the generator sends the asked rate with the API key as
// X-API-Key, and reports every second what it sent, the answers by status
// code (429s among them) and their latencies, then an end record.
func TestRunReportsEverySecond(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.Header.Get("X-API-Key") != "secret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if n.Add(1)%4 == 0 {
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		time.Sleep(5 * time.Millisecond)
	}))
	defer srv.Close()
	c, err := parseFlags([]string{"-url", srv.URL + "/detect", "-rate", "20", "-duration", "2s", "-events", "100", "-workers", "4"}, func(string) string { return "secret" })
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	totals := make(chan *summary, 1)
	go func() {
		total, err := run(context.Background(), c, pw)
		totals <- total
		_ = pw.CloseWithError(err)
	}()
	var recs []stats.Record
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		r, err := stats.Parse(sc.Bytes())
		if err != nil {
			t.Fatalf("%s: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	if len(recs) < 3 || recs[0].Kind != stats.KindStart || recs[0].Rate != 20 || recs[len(recs)-1].Kind != stats.KindEnd || recs[len(recs)-1].Reason != "duration" {
		t.Fatalf("records %+v", recs)
	}
	var sent, done uint64
	codes := map[string]uint64{}
	var h stats.Histogram
	for _, r := range recs[1 : len(recs)-1] {
		sent += r.Sent
		done += r.Done
		for k, v := range r.Codes {
			codes[k] += v
		}
		h.Add(r.Latency)
	}
	if sent < 38 || sent > 42 || done != sent || codes["401"] != 0 || codes["429"] == 0 || codes["200"] == 0 || h.Count() != done {
		t.Errorf("sent %d, done %d, codes %v, latencies %d", sent, done, codes, h.Count())
	}
	if p50 := h.Quantile(0.5); p50 < 5*time.Millisecond || p50 > time.Second {
		t.Errorf("p50 %s", p50)
	}
	if total := <-totals; total.sent != sent || !strings.Contains(total.String(), "asked 20/s for 2.0s: sent") || strings.Contains(total.String(), "below 99 %") {
		t.Errorf("summary %s", total)
	}
}

// Requirement: requests without an answer are classed by why.
func TestErrorClass(t *testing.T) {
	got := map[string]string{}
	for _, msg := range []string{`Post "http://x": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`,
		"dial tcp 10.0.0.1:8001: connect: connection refused", "read: connection reset by peer", "unexpected EOF", "tls: bad"} {
		got[msg] = errorClass(msg)
	}
	classes := []string{}
	for _, c := range got {
		classes = append(classes, c)
	}
	sort.Strings(classes)
	if strings.Join(classes, ",") != "other,refused,reset,reset,timeout" {
		t.Errorf("classes %v", got)
	}
}
