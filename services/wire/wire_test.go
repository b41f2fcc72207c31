package wire

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/layering-detection/kubectl-layering/services/detect"
	"github.com/layering-detection/kubectl-layering/services/events"
	"github.com/layering-detection/kubectl-layering/services/isotime"
)

const (
	uuid = "550e8400-e29b-41d4-a716-446655440000"
	fp   = "a1b2c3d4e5f6789012345678901234567890abcdef1234567890abcdef123456"
)

func sampleEvents() []events.Event {
	t1, _ := isotime.Parse("2025-10-26T10:21:20+00:00")
	t2, _ := isotime.Parse("2025-10-26T12:21:20.5+02:00")
	return []events.Event{
		{Time: t1, Account: "ACC001", Product: "IBM", Side: events.Buy, Price: "141.20", Quantity: 5000, Type: events.OrderPlaced},
		{Time: t2, Account: "we\"ird\\ \n\u00e9\u2028", Product: "P\t1", Side: events.Sell, Price: "1e2", Quantity: 1, Type: events.TradeExecuted},
	}
}

// Requirement: what the orchestrator sends is what the algorithm services read
// (timestamps as isoformat with their offset, price as decimal text).
func TestDetectRequest_RoundTrip(t *testing.T) {
	evs := sampleEvents()
	body, fingerprint := AppendDetectRequest(nil, uuid, evs, nil)
	if !json.Valid(body) {
		t.Fatalf("not valid JSON: %s", body)
	}
	req, err := DecodeDetectRequest(body, MaxEventsPerRequest)
	if err != nil {
		t.Fatal(err)
	}
	if req.RequestID != uuid || req.EventFingerprint != fingerprint || !reflect.DeepEqual(req.Events, evs) {
		t.Fatalf("round trip: %+v", req)
	}
	// encoding/json reads the same values (the body is ordinary JSON).
	var generic struct {
		Events []map[string]any `json:"events"`
	}
	if err := json.Unmarshal(body, &generic); err != nil {
		t.Fatal(err)
	}
	if got := generic.Events[1]["timestamp"]; got != "2025-10-26T12:21:20.500000+02:00" {
		t.Fatalf("timestamp = %v", got)
	}
	if got := generic.Events[1]["account_id"]; got != evs[1].Account {
		t.Fatalf("account_id = %q", got)
	}
	// A subset of events by index.
	sub, subFP := AppendDetectRequest(nil, uuid, evs, []int32{1})
	req, err = DecodeDetectRequest(sub, 10)
	if err != nil || len(req.Events) != 1 || req.Events[0].Product != "P\t1" {
		t.Fatalf("subset: %+v %v", req, err)
	}
	// The fingerprint is the sha256 of the events array: equal events, equal
	// fingerprints, whatever the request id; different events, different ones.
	again, againFP := AppendDetectRequest(nil, NewUUID(), evs, nil)
	if againFP != fingerprint || subFP == fingerprint || !ValidFingerprint(fingerprint) {
		t.Fatalf("fingerprints: %s %s %s", fingerprint, againFP, subFP)
	}
	arr := again[strings.Index(string(again), `"events":`)+len(`"events":`) : len(again)-1]
	if sum := sha256.Sum256(arr); hex.EncodeToString(sum[:]) != fingerprint {
		t.Fatal("fingerprint is not the sha256 of the events array")
	}
}

// Requirement: /detect accepts what the existing (Python) orchestrator sends:
// any key order, extra keys, whitespace, escapes, Z suffixes, upper-case hex.
func TestDetectRequest_AcceptsPythonShapedBodies(t *testing.T) {
	body := `{ "events": [ {"event_type": "ORDER_PLACED", "quantity": 1000, "price": "100.50",
	  "side": "BUY", "product_id": "IBM", "account_id": "ACC\u0030\u00301", "timestamp": "2025-01-15T10:30:00Z", "extra": [1, {"a": null}]} ],
	  "event_fingerprint": "` + strings.ToUpper(fp) + `", "request_id": "{` + strings.ToUpper(uuid) + `}", "unused": true }`
	req, err := DecodeDetectRequest([]byte(body), MaxEventsPerRequest)
	if err != nil {
		t.Fatal(err)
	}
	if req.EventFingerprint != fp || len(req.Events) != 1 || req.Events[0].Account != "ACC001" || req.Events[0].Time.String() != "2025-01-15T10:30:00+00:00" {
		t.Fatalf("got %+v", req)
	}
	for _, q := range []string{`1000.0`, `"1000"`, `1e3`} {
		b := strings.Replace(body, `"quantity": 1000`, `"quantity": `+q, 1)
		if req, err := DecodeDetectRequest([]byte(b), 10); err != nil || req.Events[0].Quantity != 1000 {
			t.Errorf("quantity %s: %v", q, err)
		}
	}
}

// Requirement: bodies that break the contract are rejected as validation errors (HTTP 422).
func TestDetectRequest_Validation(t *testing.T) {
	goodBody, goodFP := AppendDetectRequest(nil, uuid, sampleEvents()[:1], nil)
	good := strings.Replace(string(goodBody), goodFP, fp, 1)
	cases := map[string]string{
		"not JSON":              `{"request_id"`,
		"not an object":         `[]`,
		"trailing data":         good + `{}`,
		"missing request_id":    strings.Replace(good, `"request_id":"`+uuid+`",`, ``, 1),
		"bad request_id":        strings.Replace(good, uuid, "not-a-uuid", 1),
		"missing fingerprint":   strings.Replace(good, `"event_fingerprint":"`+fp+`",`, ``, 1),
		"short fingerprint":     strings.Replace(good, fp, fp[:63], 1),
		"missing events":        `{"request_id":"` + uuid + `","event_fingerprint":"` + fp + `"}`,
		"empty events":          `{"request_id":"` + uuid + `","event_fingerprint":"` + fp + `","events":[]}`,
		"events not array":      `{"request_id":"` + uuid + `","event_fingerprint":"` + fp + `","events":{}}`,
		"missing price":         strings.Replace(good, `"price":"141.20",`, ``, 1),
		"bad side":              strings.Replace(good, `"BUY"`, `"buy"`, 1),
		"bad type":              strings.Replace(good, `"ORDER_PLACED"`, `"ORDER"`, 1),
		"bad timestamp":         strings.Replace(good, `2025-10-26T10:21:20+00:00`, `yesterday`, 1),
		"bad price":             strings.Replace(good, `"141.20"`, `"abc"`, 1),
		"numeric price":         strings.Replace(good, `"141.20"`, `141.20`, 1),
		"zero quantity":         strings.Replace(good, `"quantity":5000`, `"quantity":0`, 1),
		"fractional quantity":   strings.Replace(good, `"quantity":5000`, `"quantity":1.5`, 1),
		"bool quantity":         strings.Replace(good, `"quantity":5000`, `"quantity":true`, 1),
		"empty account":         strings.Replace(good, `"ACC001"`, `""`, 1),
		"invalid utf-8":         strings.Replace(good, `ACC001`, "ACC\xff", 1),
		"control char":          strings.Replace(good, `ACC001`, "ACC\x01", 1),
		"leading zero number":   strings.Replace(good, `"quantity":5000`, `"quantity":05`, 1),
		"unterminated string":   `{"request_id":"abc`,
		"bad escape":            strings.Replace(good, `ACC001`, `ACC\x`, 1),
		"unknown literal value": strings.Replace(good, `"event_type"`, `"x":nul,"event_type"`, 1),
	}
	for name, body := range cases {
		_, err := DecodeDetectRequest([]byte(body), MaxEventsPerRequest)
		if err == nil || !IsValidation(err) {
			t.Errorf("%s: err = %v, want a validation error", name, err)
		}
	}
}

// Requirement: a /detect request carries at most 100,000 events.
func TestDetectRequest_EventLimit(t *testing.T) {
	evs := make([]events.Event, 3)
	for i := range evs {
		evs[i] = sampleEvents()[0]
	}
	body, _ := AppendDetectRequest(nil, uuid, evs, nil)
	if _, err := DecodeDetectRequest(body, 3); err != nil {
		t.Fatalf("3 events with limit 3: %v", err)
	}
	if _, err := DecodeDetectRequest(body, 2); err == nil || !strings.Contains(err.Error(), "at most 2") {
		t.Fatalf("3 events with limit 2: err = %v", err)
	}
}

func TestFromDetection_ShapesLikeThePydanticModel(t *testing.T) {
	t1, _ := isotime.Parse("2025-10-26T10:21:20Z")
	t2, _ := isotime.Parse("2025-10-26T10:21:28Z")
	lay := FromDetection(&detect.Sequence{Account: "A", Product: "P", Start: t1, End: t2, TotalBuyQty: 1, TotalSellQty: 2,
		Type: detect.Layering, Side: events.Buy, NumCancelled: 3, OrderTimes: []isotime.Time{t1}})
	b, _ := json.Marshal(lay)
	want := `{"account_id":"A","product_id":"P","start_timestamp":"2025-10-26T10:21:20+00:00","end_timestamp":"2025-10-26T10:21:28+00:00","total_buy_qty":1,"total_sell_qty":2,"detection_type":"LAYERING","side":"BUY","num_cancelled_orders":3,"order_timestamps":["2025-10-26T10:21:20+00:00"],"alternation_percentage":null,"price_change_percentage":null}`
	if string(b) != want {
		t.Fatalf("layering JSON\n got %s\nwant %s", b, want)
	}
	wash := FromDetection(&detect.Sequence{Account: "A", Product: "P", Start: t1, End: t2, Type: detect.WashTrading, Alternation: 200.0 / 3})
	b, _ = json.Marshal(wash)
	if !strings.Contains(string(b), `"side":null,"num_cancelled_orders":null,"order_timestamps":null,"alternation_percentage":66.66666666666667,"price_change_percentage":null`) {
		t.Fatalf("wash JSON %s", b)
	}
}

// Requirement: the aggregator validates its body like the pydantic models do.
func TestDecodeAggregateRequest_Validation(t *testing.T) {
	seq := `{"account_id":"A","product_id":"P","start_timestamp":"2025-10-26T10:21:20+00:00","end_timestamp":"2025-10-26T10:21:28Z","total_buy_qty":1,"total_sell_qty":2}`
	ok := func(status, results, errv string) string {
		return fmt.Sprintf(`{"request_id":"%s","service_name":"layering","status":"%s","results":%s,"error":%s}`, uuid, status, results, errv)
	}
	body := func(expected, results string) string {
		return fmt.Sprintf(`{"request_id":"%s","expected_services":%s,"results":[%s]}`, uuid, expected, results)
	}
	req, err := DecodeAggregateRequest([]byte(body(`["layering"]`, ok("success", "["+seq+"]", "null"))))
	if err != nil {
		t.Fatal(err)
	}
	if r := req.Results[0]; !r.FinalStatus || r.Results[0].DetectionType != "LAYERING" || r.Results[0].OrderTimestamps != nil {
		t.Fatalf("defaults not applied: %+v", r)
	}
	bad := map[string]string{
		"no expected services":      body(`[]`, ok("success", "[]", "null")),
		"unknown expected service":  body(`["spoofing"]`, ok("success", "[]", "null")),
		"duplicate expected":        body(`["layering","layering"]`, ok("success", "[]", "null")),
		"no results":                fmt.Sprintf(`{"request_id":"%s","expected_services":["layering"],"results":[]}`, uuid),
		"success without results":   body(`["layering"]`, ok("success", "null", "null")),
		"success with error":        body(`["layering"]`, ok("success", "[]", `"x"`)),
		"failure with results":      body(`["layering"]`, ok("failure", "[]", `"x"`)),
		"failure without error":     body(`["layering"]`, ok("failure", "null", "null")),
		"unknown status":            body(`["layering"]`, ok("done", "[]", "null")),
		"bad sequence timestamp":    body(`["layering"]`, ok("success", "["+strings.Replace(seq, "2025-10-26T10:21:28Z", "soon", 1)+"]", "null")),
		"negative quantity":         body(`["layering"]`, ok("success", "["+strings.Replace(seq, `"total_buy_qty":1`, `"total_buy_qty":-1`, 1)+"]", "null")),
		"missing account":           body(`["layering"]`, ok("success", "["+strings.Replace(seq, `"account_id":"A",`, ``, 1)+"]", "null")),
		"bad detection type":        body(`["layering"]`, ok("success", "["+strings.Replace(seq, `}`, `,"detection_type":"SPOOF"}`, 1)+"]", "null")),
		"alternation out of range":  body(`["layering"]`, ok("success", "["+strings.Replace(seq, `}`, `,"alternation_percentage":101}`, 1)+"]", "null")),
		"bad request id":            strings.Replace(body(`["layering"]`, ok("success", "[]", "null")), uuid, "x", 1),
		"wrong type of quantity":    body(`["layering"]`, ok("success", "["+strings.Replace(seq, `"total_buy_qty":1`, `"total_buy_qty":"many"`, 1)+"]", "null")),
		"bad order timestamp":       body(`["layering"]`, ok("success", "["+strings.Replace(seq, `}`, `,"order_timestamps":["x"]}`, 1)+"]", "null")),
		"unknown result service":    strings.Replace(body(`["layering"]`, ok("success", "[]", "null")), `"service_name":"layering"`, `"service_name":"other"`, 1),
		"missing expected services": fmt.Sprintf(`{"request_id":"%s","results":[%s]}`, uuid, ok("success", "[]", "null")),
	}
	for name, b := range bad {
		if _, err := DecodeAggregateRequest([]byte(b)); err == nil || !IsValidation(err) {
			t.Errorf("%s: err = %v, want a validation error", name, err)
		}
	}
}

func TestUUIDs(t *testing.T) {
	for i := 0; i < 100; i++ {
		u := NewUUID()
		if !ValidUUID(u) || len(u) != 36 || u[14] != '4' {
			t.Fatalf("NewUUID() = %q", u)
		}
	}
	for _, s := range []string{uuid, strings.ToUpper(uuid), "{" + uuid + "}", "urn:uuid:" + uuid, strings.ReplaceAll(uuid, "-", "")} {
		if !ValidUUID(s) {
			t.Errorf("ValidUUID(%q) = false", s)
		}
	}
	for _, s := range []string{"", "x", uuid[:35], uuid + "0", strings.Replace(uuid, "a", "g", 1)} {
		if ValidUUID(s) {
			t.Errorf("ValidUUID(%q) = true", s)
		}
	}
}
