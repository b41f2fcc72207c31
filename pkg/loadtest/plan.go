package loadtest

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Ceilings: a load test is bounded whatever is asked.
const (
	MaxDuration         = 30 * time.Minute
	MaxRate             = 500.0 // requests/s, all generators together
	MaxGenerators       = 20    // pods
	MaxConcurrency      = 400   // requests in flight, all generators together
	MaxEventsPerRequest = 100000
	// rateLimitHeadroom keeps each generator below the services' per-client
	// limit: the limiter counts a sliding minute, and pacing jitters.
	rateLimitHeadroom = 0.9
	// generatorCeiling is the most one generator pod is asked to send (req/s);
	// test/bench/loadgen.sh measures far more per core, so a generator within
	// its CPU limit is not what limits a run.
	generatorCeiling = 100.0
)

// Services and the endpoint a load test drives on each.
var Endpoints = map[string]string{
	"orchestrator": "/orchestrate",
	"layering":     "/detect",
	"wash-trading": "/detect",
	"aggregator":   "/aggregate",
}

// Services are the names --service takes.
var Services = []string{"layering", "wash-trading", "orchestrator", "aggregator"}

// Profiles are the load shapes.
const (
	ProfileCPU    = "cpu"
	ProfileMemory = "memory"
)

// Load is what the user asked for; zero values take the profile's defaults.
type Load struct {
	Service          string        `json:"service"`
	Profile          string        `json:"profile"`
	Rate             float64       `json:"rate"` // requests/s in all
	Concurrency      int           `json:"concurrency"`
	Duration         time.Duration `json:"-"`
	EventsPerRequest int           `json:"events_per_request,omitempty"` // /detect: trade events; /aggregate: detections
	InputFile        string        `json:"input_file,omitempty"`         // /orchestrate
}

// WithDefaults fills what was not asked from the profile: cpu sends many
// medium requests (each costs the layering service about 60 ms of CPU on the
// project's machine); memory sends the largest requests the contract allows,
// many at once, so that the replicas' working sets grow.
func (l Load) WithDefaults() Load {
	if l.Profile == "" {
		l.Profile = ProfileCPU
	}
	rate, concurrency, events := 4.0, 8, 50000
	if l.Profile == ProfileMemory {
		rate, concurrency, events = 2, 16, MaxEventsPerRequest
		if l.Service == "aggregator" {
			events = 50000 // detections: ~25 MB of JSON per request
		}
	}
	if l.Rate == 0 {
		l.Rate = rate
	}
	if l.Concurrency == 0 {
		l.Concurrency = concurrency
	}
	if l.EventsPerRequest == 0 && l.Service != "orchestrator" {
		l.EventsPerRequest = events
	}
	if l.Duration == 0 {
		l.Duration = 5 * time.Minute
	}
	if l.Service == "orchestrator" && l.InputFile == "" {
		l.InputFile = "transactions.csv"
	}
	return l
}

// Validate says what is wrong with a load and how to fix it.
func (l Load) Validate() error {
	switch {
	case !slices.Contains(Services, l.Service):
		return fmt.Errorf("--service %q: use one of %s", l.Service, strings.Join(Services, ", "))
	case l.Profile != ProfileCPU && l.Profile != ProfileMemory:
		return fmt.Errorf("--profile %q: use cpu or memory", l.Profile)
	case l.Rate <= 0 || l.Rate > MaxRate:
		return fmt.Errorf("--rate %g: must be above 0 and at most %g requests/s", l.Rate, MaxRate)
	case l.Concurrency < 1 || l.Concurrency > MaxConcurrency:
		return fmt.Errorf("--concurrency %d: must be within 1..%d", l.Concurrency, MaxConcurrency)
	case l.Duration < 10*time.Second || l.Duration > MaxDuration:
		return fmt.Errorf("--duration %s: must be within 10s..%s", l.Duration, MaxDuration)
	case l.Service == "orchestrator" && l.EventsPerRequest != 0:
		return fmt.Errorf("--events-per-request does not apply to the orchestrator: it reads --input-file from its input volume")
	case l.Service != "orchestrator" && (l.EventsPerRequest < 1 || l.EventsPerRequest > MaxEventsPerRequest):
		return fmt.Errorf("--events-per-request %d: must be within 1..%d (the contract's most events per request)", l.EventsPerRequest, MaxEventsPerRequest)
	case l.Service != "orchestrator" && l.InputFile != "":
		return fmt.Errorf("--input-file applies to the orchestrator only")
	}
	return nil
}

// Plan is how the load is spread over generator pods.
type Plan struct {
	Generators          int     `json:"generators"`
	RatePerGenerator    float64 `json:"rate_per_generator"`
	WorkersPerGenerator int     `json:"workers_per_generator"`
	// RateLimitPerMinute is the service's limit per client (and per replica:
	// each replica counts on its own); 0 means none.
	RateLimitPerMinute int    `json:"rate_limit_per_minute"`
	Why                string `json:"why"`
}

// PlanFor spreads l over generator pods. The services limit each client (its
// pod IP) to rateLimit requests a minute per replica; a generator is one
// client, and a Service may send all of its connections to one replica, so
// each generator stays below the limit of a single replica, and more load
// means more generator pods (and heavier requests mean fewer of them).
func PlanFor(l Load, rateLimit int) (Plan, error) {
	perGenerator := generatorCeiling
	why := fmt.Sprintf("at most %g requests/s per generator", generatorCeiling)
	if rateLimit > 0 {
		if c := float64(rateLimit) / 60 * rateLimitHeadroom; c < perGenerator {
			perGenerator = c
			why = fmt.Sprintf("the service allows %d requests/min per client: each generator pod (one client) sends at most %.2f/s", rateLimit, c)
		}
	}
	n := max(int(math.Ceil(l.Rate/perGenerator-1e-9)), 1)
	if n > MaxGenerators {
		return Plan{}, fmt.Errorf("--rate %g needs %d generator pods (%s), more than the %d allowed: lower --rate, or make each request heavier with --events-per-request so that fewer requests reach the target",
			l.Rate, n, why, MaxGenerators)
	}
	// Each request in flight holds its body: spread the concurrency over
	// more generators rather than exceed a generator's memory.
	workers := func(n int) int { return max(int(math.Ceil(float64(l.Concurrency)/float64(n))), 1) }
	for generatorMemory(l, workers(n)) > maxGeneratorMemory {
		if n++; n > MaxGenerators {
			return Plan{}, fmt.Errorf("--concurrency %d of requests this large needs more than %d generator pods of at most %d MiB each: lower --concurrency or --events-per-request",
				l.Concurrency, MaxGenerators, maxGeneratorMemory>>20)
		}
		why = fmt.Sprintf("%d requests in flight of ~%d MiB each fit in no fewer generator pods", l.Concurrency, bodyBytes(l)>>20)
	}
	return Plan{
		Generators: n, RatePerGenerator: l.Rate / float64(n), WorkersPerGenerator: workers(n),
		RateLimitPerMinute: rateLimit, Why: why,
	}, nil
}
