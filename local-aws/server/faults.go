package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// controlPrefix is local-aws's own API: not an AWS API, unsigned, loopback only.
const controlPrefix = "/_local-aws/"

// Fault is an injected failure for matching requests.
type Fault struct {
	Service   string `json:"service"`             // "ecs", "cloudwatch", …, or "*"
	Operation string `json:"operation"`           // "DescribeServices", …, or "*"
	Kind      string `json:"kind"`                // "throttle", "error", "deny" or "latency"
	Status    int    `json:"status,omitempty"`    // error: 500 (default) or 503
	LatencyMS int    `json:"latencyMs,omitempty"` // latency: added delay
	Count     int    `json:"count,omitempty"`     // requests to affect; 0 means until cleared
	Hits      int    `json:"hits"`                // requests affected so far
}

func (f *Fault) validate() error {
	if f.Service == "" || f.Operation == "" {
		return fmt.Errorf(`"service" and "operation" are required ("*" matches any)`)
	}
	switch f.Kind {
	case "throttle", "deny":
	case "error":
		if f.Status == 0 {
			f.Status = http.StatusInternalServerError
		}
		if f.Status < 500 || f.Status > 599 {
			return fmt.Errorf(`"status" of an error fault must be 5xx, not %d`, f.Status)
		}
	case "latency":
		if f.LatencyMS <= 0 || f.LatencyMS > 120000 {
			return fmt.Errorf(`"latencyMs" of a latency fault must be 1..120000`)
		}
	default:
		return fmt.Errorf(`"kind" must be throttle, error, deny or latency, not %q`, f.Kind)
	}
	if f.Count < 0 {
		return fmt.Errorf(`"count" must be 0 (until cleared) or more`)
	}
	return nil
}

type faultTable struct {
	mu     sync.Mutex
	faults []*Fault
}

func newFaultTable() *faultTable { return &faultTable{} }

// apply sleeps for matching latency faults and returns the first matching
// throttle or error fault as the protocol's error.
func (t *faultTable) apply(svc, op string, p protocol, account string) *apiError {
	var delay time.Duration
	var failure *apiError
	t.mu.Lock()
	for _, f := range t.faults {
		if (f.Service != "*" && f.Service != svc) || (f.Operation != "*" && f.Operation != op) || (f.Count > 0 && f.Hits >= f.Count) {
			continue
		}
		switch f.Kind {
		case "latency":
			f.Hits++
			delay += time.Duration(f.LatencyMS) * time.Millisecond
		case "throttle":
			if failure == nil {
				f.Hits++
				failure = throttlingError(p)
			}
		case "error":
			if failure == nil {
				f.Hits++
				failure = serverError(p, f.Status)
			}
		case "deny":
			if failure == nil {
				f.Hits++
				failure = accessDenied(p, svc, op, account)
			}
		}
	}
	t.mu.Unlock()
	time.Sleep(delay)
	return failure
}

func (s *Server) control(w http.ResponseWriter, r *http.Request) {
	reply := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	fail := func(status int, msg string) { reply(status, map[string]string{"error": msg}) }
	switch r.URL.Path {
	case controlPrefix + "health":
		reply(http.StatusOK, map[string]string{"status": "ok", "region": s.cfg.Region, "accountId": s.cfg.AccountID})
	case controlPrefix + "faults":
		t := s.faults
		switch r.Method {
		case http.MethodGet:
			t.mu.Lock()
			defer t.mu.Unlock()
			reply(http.StatusOK, map[string]any{"faults": t.faults})
		case http.MethodPost:
			var f Fault
			if err := json.NewDecoder(r.Body).Decode(&f); err != nil {
				fail(http.StatusBadRequest, "the body must be one fault as JSON: "+err.Error())
				return
			}
			if err := f.validate(); err != nil {
				fail(http.StatusBadRequest, err.Error())
				return
			}
			f.Hits = 0
			t.mu.Lock()
			t.faults = append(t.faults, &f)
			t.mu.Unlock()
			reply(http.StatusCreated, f)
		case http.MethodDelete:
			t.mu.Lock()
			t.faults = nil
			t.mu.Unlock()
			reply(http.StatusOK, map[string]any{"faults": []*Fault{}})
		default:
			fail(http.StatusMethodNotAllowed, "use GET, POST or DELETE on "+r.URL.Path)
		}
	case controlPrefix + "target-health":
		switch r.Method {
		case http.MethodPost:
			var o TargetHealthOverride
			if err := json.NewDecoder(r.Body).Decode(&o); err != nil {
				fail(http.StatusBadRequest, `the body must be {"targetGroup": NAME|ARN, "state": healthy|unhealthy|initial|unavailable|""}: `+err.Error())
				return
			}
			s.mu.Lock()
			err := s.st.setTargetHealth(o)
			if err == nil {
				err = s.st.save(s.cfg.StatePath)
			}
			s.mu.Unlock()
			if err != nil {
				fail(http.StatusBadRequest, err.Error())
				return
			}
			reply(http.StatusOK, o)
		case http.MethodDelete:
			s.mu.Lock()
			s.st.ELB.HealthOverrides = nil
			err := s.st.save(s.cfg.StatePath)
			s.mu.Unlock()
			if err != nil {
				fail(http.StatusInternalServerError, err.Error())
				return
			}
			reply(http.StatusOK, map[string]any{"overrides": map[string]any{}})
		default:
			fail(http.StatusMethodNotAllowed, "use POST or DELETE on "+r.URL.Path)
		}
	case controlPrefix + "reset":
		if r.Method != http.MethodPost {
			fail(http.StatusMethodNotAllowed, "use POST on "+r.URL.Path)
			return
		}
		s.mu.Lock()
		s.st = seed(s.cfg.Region, s.cfg.AccountID, s.cfg.Now())
		err := s.st.save(s.cfg.StatePath)
		s.mu.Unlock()
		if err != nil {
			fail(http.StatusInternalServerError, err.Error())
			return
		}
		reply(http.StatusOK, map[string]string{"status": "reseeded"})
	default:
		fail(http.StatusNotFound, "local-aws control API: GET health, GET/POST/DELETE faults, POST/DELETE target-health, POST reset under "+controlPrefix)
	}
}
