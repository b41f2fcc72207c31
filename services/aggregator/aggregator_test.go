package aggregator

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/layering-detection/kubectl-layering/services/httpserver"
	"github.com/layering-detection/kubectl-layering/services/wire"
)

const rid = "550e8400-e29b-41d4-a716-446655440000"

func layeringSeq(acc, prod, start, end string) wire.Sequence {
	side, n := "BUY", int64(3)
	return wire.Sequence{AccountID: acc, ProductID: prod, StartTimestamp: start, EndTimestamp: end, TotalBuyQty: 15000, TotalSellQty: 10000,
		DetectionType: "LAYERING", Side: &side, NumCancelledOrders: &n, OrderTimestamps: []string{start}}
}

func washSeq(acc, prod, start, end string, alt float64, pc *float64) wire.Sequence {
	return wire.Sequence{AccountID: acc, ProductID: prod, StartTimestamp: start, EndTimestamp: end, TotalBuyQty: 6000, TotalSellQty: 6000,
		DetectionType: "WASH_TRADING", AlternationPercentage: &alt, PriceChangePercentage: pc}
}

func ok(service string, seqs ...wire.Sequence) wire.DetectResponse {
	if seqs == nil {
		seqs = []wire.Sequence{}
	}
	return wire.DetectResponse{RequestID: rid, ServiceName: service, Status: "success", Results: seqs, FinalStatus: true}
}

func failed(service, status string) wire.DetectResponse {
	return wire.DetectResponse{RequestID: rid, ServiceName: service, Status: status, Error: wire.Ptr("connection refused"), FinalStatus: true}
}

func req(results ...wire.DetectResponse) wire.AggregateRequest {
	return wire.AggregateRequest{RequestID: rid, ExpectedServices: []string{"layering", "wash_trading"}, Results: results}
}

var lay = layeringSeq("ACC001", "IBM", "2025-10-26T10:21:20+00:00", "2025-10-26T10:21:28+00:00")

// Requirement: VALIDATION_STRICT and ALLOW_PARTIAL_RESULTS are honoured.
func TestEvaluate_ValidationStrictAndAllowPartialResults(t *testing.T) {
	notFinal := ok("wash_trading")
	notFinal.FinalStatus = false
	cases := []struct {
		name            string
		strict, partial bool
		req             wire.AggregateRequest
		merged          int
		failed          []string
		err             string // substring; "" for success
	}{
		{"all succeeded", true, false, req(ok("layering", lay), ok("wash_trading")), 1, []string{}, ""},
		{"strict: a missing service fails validation", true, true, req(ok("layering", lay)), 0, []string{"wash_trading"},
			"Missing services: ['wash_trading']. Expected: ['layering', 'wash_trading'], Got: ['layering']"},
		{"strict: a result not final fails validation", true, true, req(ok("layering", lay), notFinal), 0, []string{},
			"Services not completed: ['wash_trading']"},
		{"strict: a duplicate result fails validation", true, true, req(ok("layering", lay), ok("layering"), ok("wash_trading")), 0, []string{},
			"Duplicate results for services: ['layering']"},
		{"strict: an unexpected result fails validation", true, true,
			wire.AggregateRequest{RequestID: rid, ExpectedServices: []string{"layering"}, Results: []wire.DetectResponse{ok("layering", lay), ok("wash_trading")}},
			0, []string{}, "Unexpected services: ['wash_trading']"},
		{"not strict, partial: a missing service is a failed service", false, true, req(ok("layering", lay)), 1, []string{"wash_trading"}, ""},
		{"not strict: a result not final is used", false, false, req(ok("layering", lay), notFinal), 1, []string{}, ""},
		{"not strict, no partial: a missing service fails", false, false, req(ok("layering", lay)), 0, []string{"wash_trading"},
			"Services failed: ['wash_trading']; partial results are not allowed"},
		{"no partial: a failed service fails the aggregation", true, false, req(ok("layering", lay), failed("wash_trading", "timeout")), 0,
			[]string{"wash_trading"}, "Services failed: ['wash_trading']"},
		{"partial: the successful services are merged", true, true, req(failed("layering", "failure"), ok("wash_trading", washSeq("A", "P", "2025-10-26T10:00:00+00:00", "2025-10-26T10:05:00+00:00", 100, nil))),
			1, []string{"layering"}, ""},
		{"partial: no successful service fails", true, true, req(failed("layering", "failure"), failed("wash_trading", "failure")), 0,
			[]string{"layering", "wash_trading"}, "No successful service results"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			merged, failedServices, _, err := Evaluate(Config{ValidationStrict: c.strict, AllowPartialResults: c.partial}, c.req)
			if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
				t.Fatalf("err = %v, want %q", err, c.err)
			}
			if len(merged) != c.merged || !reflect.DeepEqual(failedServices, c.failed) {
				t.Fatalf("merged %d failed %v, want %d %v", len(merged), failedServices, c.merged, c.failed)
			}
		})
	}
}

// Requirement: merging drops only true duplicates (same account, product,
// type and window); overlapping windows of one account across products and
// types are all kept (the old aggregator's defect).
func TestEvaluate_DeduplicatesOnlyTrueDuplicates(t *testing.T) {
	a := layeringSeq("ACC1", "IBM", "2025-10-26T10:00:00+00:00", "2025-10-26T10:00:08+00:00")
	sameWindowOtherSpelling := layeringSeq("ACC1", "IBM", "2025-10-26T12:00:00+02:00", "2025-10-26T10:00:08Z")
	overlapOtherProduct := layeringSeq("ACC1", "MSFT", "2025-10-26T10:00:02+00:00", "2025-10-26T10:00:09+00:00")
	overlapOtherType := washSeq("ACC1", "IBM", "2025-10-26T09:59:00+00:00", "2025-10-26T10:20:00+00:00", 80, nil)
	overlapSameTypeProduct := layeringSeq("ACC1", "IBM", "2025-10-26T10:00:01+00:00", "2025-10-26T10:00:08+00:00")
	merged, _, _, err := Evaluate(Config{ValidationStrict: true}, req(
		ok("layering", a, sameWindowOtherSpelling, overlapOtherProduct, overlapSameTypeProduct),
		ok("wash_trading", overlapOtherType)))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range merged {
		got = append(got, m.seq.ProductID+"/"+m.seq.DetectionType+"/"+m.seq.StartTimestamp)
	}
	want := []string{
		"IBM/LAYERING/2025-10-26T10:00:00+00:00", "MSFT/LAYERING/2025-10-26T10:00:02+00:00",
		"IBM/LAYERING/2025-10-26T10:00:01+00:00", "IBM/WASH_TRADING/2025-10-26T09:59:00+00:00",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("merged %v\nwant   %v", got, want)
	}
}

// Requirement: the files are written as the existing services write them.
func TestRender_MatchesTheExistingFormat(t *testing.T) {
	pc := 1.2345
	items, _, _, err := Evaluate(Config{ValidationStrict: true}, req(
		ok("layering", lay),
		ok("wash_trading", washSeq("ACC002", "GOOG", "2025-10-26T10:00:00.5+00:00", "2025-10-26T10:05:00Z", 200.0/3, &pc))))
	if err != nil {
		t.Fatal(err)
	}
	accounts, detections := Render(items, "")
	wantAccounts := "account_id,product_id,total_buy_qty,total_sell_qty,num_cancelled_orders,detected_timestamp,detection_type,alternation_percentage,price_change_percentage\r\n" +
		"ACC001,IBM,15000,10000,3,2025-10-26T10:21:28+00:00,LAYERING,,\r\n" +
		"ACC002,GOOG,6000,6000,0,2025-10-26T10:05:00+00:00,WASH_TRADING,66.67,1.23\r\n"
	wantDetections := "account_id,product_id,order_timestamps,duration_seconds\r\n" +
		"ACC001,IBM,2025-10-26T10:21:20+00:00,8.000\r\n" +
		"ACC002,GOOG,,299.500\r\n"
	if string(accounts) != wantAccounts {
		t.Errorf("suspicious_accounts.csv\n got %q\nwant %q", accounts, wantAccounts)
	}
	if string(detections) != wantDetections {
		t.Errorf("detections.csv\n got %q\nwant %q", detections, wantDetections)
	}
}

// Requirement: account ids are pseudonymized (hex sha256 of "salt:id")
// whenever a salt is set; formula-injection cells are escaped; cells are
// quoted as Python's csv module quotes them.
func TestRender_PseudonymizationEscapingAndQuoting(t *testing.T) {
	// sha256("s:ACC001"), as `printf 's:ACC001' | sha256sum` prints it.
	if got := Pseudonymize("s", "ACC001"); got != "909788648e3272cccb636919cbf16ccb790f85e76f7463bbccb7f30eb840aea5" {
		t.Fatalf("Pseudonymize = %q", got)
	}
	for in, want := range map[string]string{"=SUM(A1)": "'=SUM(A1)", "+1": "'+1", "-1": "'-1", "@x": "'@x", "\tx": "'\tx", "\rx": "'\rx", "ACC": "ACC", "": ""} {
		if got := EscapeFormula(in); got != want {
			t.Errorf("EscapeFormula(%q) = %q, want %q", in, got, want)
		}
	}
	items, _, _, _ := Evaluate(Config{ValidationStrict: true}, req(ok("layering",
		layeringSeq("=cmd|' /C calc'!A0", "a,b", "2025-10-26T10:21:20+00:00", "2025-10-26T10:21:28+00:00"),
		layeringSeq(`say "hi"`, "line\nbreak", "2025-10-26T10:21:20+00:00", "2025-10-26T10:21:28+00:00"),
	), ok("wash_trading")))
	accounts, _ := Render(items, "")
	for _, want := range []string{"\r\n'=cmd|' /C calc'!A0,\"a,b\",", "\r\n\"say \"\"hi\"\"\",\"line\nbreak\","} {
		if !strings.Contains(string(accounts), want) {
			t.Errorf("missing %q in\n%s", want, accounts)
		}
	}
	salted, saltedDetections := Render(items, "salt")
	if strings.Contains(string(salted), "calc") || strings.Contains(string(saltedDetections), "calc") ||
		!strings.Contains(string(salted), "\r\n"+Pseudonymize("salt", "=cmd|' /C calc'!A0")+",") {
		t.Fatalf("salted output:\n%s\n%s", salted, saltedDetections)
	}
}

// Requirement: both files are written atomically: on a failure no target is
// touched and no temporary file is left; on success no temporary file remains.
func TestWriteAtomically(t *testing.T) {
	dir := t.TempDir()
	out, logs := filepath.Join(dir, "out"), filepath.Join(dir, "logs")
	if err := WriteAtomically([]OutputFile{{out, "a.csv", []byte("new a")}, {logs, "b.csv", []byte("new b")}}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(out, "a.csv"), filepath.Join(logs, "b.csv")} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o644 {
			t.Fatalf("%s: %v %v", p, fi, err)
		}
	}
	// The second directory cannot be created (a file is in the way): the
	// first target keeps its old content and no temporary file is left.
	blocked := filepath.Join(dir, "blocked")
	if err := os.WriteFile(blocked, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := WriteAtomically([]OutputFile{{out, "a.csv", []byte("newer a")}, {filepath.Join(blocked, "sub"), "b.csv", []byte("x")}})
	if err == nil {
		t.Fatal("want an error")
	}
	if b, _ := os.ReadFile(filepath.Join(out, "a.csv")); string(b) != "new a" {
		t.Fatalf("a.csv = %q after a failed write", b)
	}
	entries, _ := os.ReadDir(out)
	if len(entries) != 1 {
		t.Fatalf("left behind: %v", entries)
	}
}

func TestRemoveStaleTemps(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, ".suspicious_accounts.csv.123.tmp")
	fresh := filepath.Join(dir, ".detections.csv.456.tmp")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	removeStaleTemps(dir, 10*time.Minute)
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatal("stale temp kept")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Fatal("fresh temp removed")
	}
}

// Requirement: POST /aggregate answers {status, merged_count, failed_services,
// error}; 422 for bodies breaking the contract; 500 when writing fails.
func TestAggregateEndpoint(t *testing.T) {
	dir := t.TempDir()
	s := httpserver.New(httpserver.Config{Service: "aggregator-service"})
	Register(s, Config{OutputDir: filepath.Join(dir, "out"), LogsDir: filepath.Join(dir, "logs"), ValidationStrict: true})
	call := func(v any) (int, map[string]any) {
		b, _ := json.Marshal(v)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/aggregate", strings.NewReader(string(b))))
		var out map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &out)
		return rec.Code, out
	}
	code, out := call(req(ok("layering", lay), ok("wash_trading")))
	if code != 200 || out["status"] != "completed" || out["merged_count"] != float64(1) || out["error"] != nil || len(out["failed_services"].([]any)) != 0 {
		t.Fatalf("HTTP %d %v", code, out)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "out", SuspiciousAccountsFile)); !strings.Contains(string(b), "ACC001,IBM,15000") {
		t.Fatalf("file: %q", b)
	}
	code, out = call(req(ok("layering", lay), failed("wash_trading", "failure")))
	if code != 200 || out["status"] != "validation_failed" || out["error"] == nil {
		t.Fatalf("validation failure: HTTP %d %v", code, out)
	}
	if code, _ := call(map[string]any{"request_id": rid}); code != 422 {
		t.Fatalf("incomplete body: HTTP %d", code)
	}
	// Writing fails: the logs directory is a file.
	s2 := httpserver.New(httpserver.Config{Service: "aggregator-service"})
	blocked := filepath.Join(dir, "blocked")
	_ = os.WriteFile(blocked, nil, 0o644)
	Register(s2, Config{OutputDir: filepath.Join(dir, "out2"), LogsDir: blocked, ValidationStrict: true})
	b, _ := json.Marshal(req(ok("layering", lay), ok("wash_trading")))
	rec := httptest.NewRecorder()
	s2.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/aggregate", strings.NewReader(string(b))))
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), "Failed to write output files") {
		t.Fatalf("write failure: HTTP %d %s", rec.Code, rec.Body)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "out2")); len(entries) != 0 {
		t.Fatalf("partial output after a write failure: %v", entries)
	}
}

func TestConfigFromEnv(t *testing.T) {
	c := ConfigFromEnv(func(string) string { return "" })
	if c.OutputDir != "/app/output" || c.LogsDir != "/app/logs" || !c.ValidationStrict || c.AllowPartialResults || c.Salt != "" {
		t.Fatalf("defaults: %+v", c)
	}
	env := map[string]string{"VALIDATION_STRICT": "false", "ALLOW_PARTIAL_RESULTS": "yes", "PSEUDONYMIZATION_SALT": "s"}
	c = ConfigFromEnv(func(k string) string { return env[k] })
	if c.ValidationStrict || !c.AllowPartialResults || c.Salt != "s" {
		t.Fatalf("from env: %+v", c)
	}
}
