package loadtest

import (
	"strings"
	"testing"
	"time"
)

// Requirement: what is not asked comes from the profile; the orchestrator
// reads a file instead of generated events.
func TestWithDefaults(t *testing.T) {
	cpu := Load{Service: "layering"}.WithDefaults()
	if cpu.Profile != ProfileCPU || cpu.Rate != 4 || cpu.EventsPerRequest != 50000 || cpu.Concurrency != 8 || cpu.Duration != 5*time.Minute {
		t.Errorf("cpu defaults: %+v", cpu)
	}
	mem := Load{Service: "layering", Profile: ProfileMemory, Rate: 1}.WithDefaults()
	if mem.Rate != 1 || mem.EventsPerRequest != MaxEventsPerRequest || mem.Concurrency != 16 {
		t.Errorf("memory defaults (rate asked): %+v", mem)
	}
	orch := Load{Service: "orchestrator"}.WithDefaults()
	if orch.EventsPerRequest != 0 || orch.InputFile != "transactions.csv" {
		t.Errorf("orchestrator defaults: %+v", orch)
	}
	if err := orch.Validate(); err != nil {
		t.Errorf("orchestrator defaults invalid: %v", err)
	}
}

// Requirement: bad input is a clear error naming the flag, the bound, and
// what to do.
func TestValidate(t *testing.T) {
	ok := Load{Service: "layering"}.WithDefaults()
	for _, c := range []struct {
		change func(*Load)
		want   string
	}{
		{func(l *Load) { l.Service = "billing" }, `--service "billing": use one of layering, wash-trading, orchestrator, aggregator`},
		{func(l *Load) { l.Profile = "disk" }, "--profile"},
		{func(l *Load) { l.Rate = 501 }, "at most 500 requests/s"},
		{func(l *Load) { l.Rate = -1 }, "--rate"},
		{func(l *Load) { l.Duration = 31 * time.Minute }, "--duration 31m0s: must be within 10s..30m0s"},
		{func(l *Load) { l.Concurrency = 1000 }, "--concurrency 1000"},
		{func(l *Load) { l.EventsPerRequest = 100001 }, "the contract's most events per request"},
		{func(l *Load) { l.InputFile = "x.csv" }, "--input-file applies to the orchestrator only"},
		{func(l *Load) { l.Service = "orchestrator" }, "--events-per-request does not apply to the orchestrator"},
	} {
		l := ok
		c.change(&l)
		err := l.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", l, err, c.want)
		}
	}
	if err := ok.Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

// Requirement: each generator pod (one client of the per-client rate limit)
// stays below the limit of a single replica, so more rate means more pods,
// within the ceiling; concurrency is spread so that a pod's memory holds its
// requests in flight.
func TestPlanFor(t *testing.T) {
	layering := func(rate float64, concurrency, events int) Load {
		return Load{Service: "layering", Profile: ProfileCPU, Rate: rate, Concurrency: concurrency, EventsPerRequest: events, Duration: time.Minute}
	}
	for _, c := range []struct {
		name       string
		load       Load
		limit      int
		generators int
		rate       float64
		workers    int
		why        string
	}{
		{"under the limit of one client", layering(1, 8, 50000), 100, 1, 1, 8, "100 requests/min per client"},
		{"4/s at 100/min: 3 clients of 1.33/s", layering(4, 8, 50000), 100, 3, 4.0 / 3, 3, "at most 1.50/s"},
		{"exactly at the headroom", layering(3, 2, 1000), 100, 2, 1.5, 1, "1.50/s"},
		{"a raised limit", layering(20, 8, 1000), 6000, 1, 20, 8, "at most 90.00/s"},
		{"no limit: the generator ceiling", layering(250, 30, 1000), 0, 3, 250.0 / 3, 10, "at most 100 requests/s per generator"},
		{"large requests many at once: spread over more pods", layering(1, 64, 100000), 100, 3, 1.0 / 3, 22, "fit in no fewer generator pods"},
	} {
		p, err := PlanFor(c.load, c.limit)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if p.Generators != c.generators || p.WorkersPerGenerator != c.workers || abs(p.RatePerGenerator-c.rate) > 1e-9 || !strings.Contains(p.Why, c.why) {
			t.Errorf("%s: %+v, want %d generators × %.3f/s, %d workers, why %q", c.name, p, c.generators, c.rate, c.workers, c.why)
		}
		if mem := generatorMemory(c.load, p.WorkersPerGenerator); mem > maxGeneratorMemory {
			t.Errorf("%s: %d MiB per generator", c.name, mem>>20)
		}
	}
	_, err := PlanFor(layering(40, 8, 1000), 100)
	if err == nil || !strings.Contains(err.Error(), "--rate 40 needs 27 generator pods") || !strings.Contains(err.Error(), "--events-per-request") {
		t.Errorf("over the generator ceiling: %v", err)
	}
	aggregate := Load{Service: "aggregator", Profile: ProfileMemory, Rate: 1, Concurrency: 400, EventsPerRequest: 100000, Duration: time.Minute}
	_, err = PlanFor(aggregate, 0)
	if err == nil || !strings.Contains(err.Error(), "lower --concurrency or --events-per-request") {
		t.Errorf("over the memory ceiling: %v", err)
	}
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}
