// Package orchestrator is the orchestrator service (port 8000).
//
// POST /orchestrate {"input_file": "<name>"} reads INPUT_DIR/<name> (a bare
// file name matching ^[a-zA-Z0-9._-]+$), sends its events to the layering and
// wash-trading services in parallel, then sends their results to the
// aggregator, and answers {request_id, status, event_count, aggregated_count,
// failed_services, error}:
//
//	200 completed — the aggregator wrote the files (failed_services lists
//	    services left out when the aggregator allows partial results)
//	400 a bad file name (absolute, a path, "..", …), a file that is not a
//	    regular file, too large, not UTF-8, missing a column or without a
//	    valid row
//	404 the file does not exist
//	422 a body that is not {"input_file": string}
//	500 the pipeline failed: an algorithm service failed after its retries
//	    and the aggregator refused partial results, or the aggregator failed
//	    or could not be reached; nothing was written
//
// Calls to the other services time out after ALGORITHM_TIMEOUT_SECONDS (the
// aggregator after AggregatorTimeout) and are retried MAX_RETRIES times after
// 1 s, 2 s, 4 s, … on timeouts, connection errors and 5xx only. Every attempt
// of one pipeline carries the same request_id (also sent as X-Request-ID) and
// event_fingerprint, so the algorithm services answer retries from their cache.
//
// Inputs of more than one request's limit (100,000 events) are sent in
// several requests per service, each holding whole (account, product) groups
// (see planChunks); the answers are put back in one-request order. The
// results of a service that failed are sent to the aggregator as a failure
// (results null, error set), so the aggregator decides, by
// ALLOW_PARTIAL_RESULTS, whether to write the others.
package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/layering-detection/kubectl-layering/services/events"
	"github.com/layering-detection/kubectl-layering/services/httpserver"
	"github.com/layering-detection/kubectl-layering/services/wire"
)

// Config of the orchestrator.
type Config struct {
	InputDir          string
	LayeringURL       string
	WashTradingURL    string
	AggregatorURL     string
	LayeringAPIKey    string // X-API-Key sent to each service
	WashTradingAPIKey string
	AggregatorAPIKey  string
	MaxRetries        int
	AlgorithmTimeout  time.Duration
	AggregatorTimeout time.Duration
	BackoffBase       time.Duration
	// MaxEventsPerRequest is the most events sent in one /detect request.
	MaxEventsPerRequest int
	// MaxInputBytes is the largest input file read.
	MaxInputBytes int64
	// ChunkConcurrency bounds the chunks in flight per pipeline (large inputs).
	ChunkConcurrency int
	Client           *http.Client
}

// Defaults.
const (
	DefaultMaxRetries        = 3
	DefaultAlgorithmTimeout  = 30 * time.Second
	DefaultAggregatorTimeout = 60 * time.Second
	DefaultBackoffBase       = time.Second
	DefaultMaxInputBytes     = 256 << 20
	DefaultChunkConcurrency  = 2
)

// ConfigFromEnv reads INPUT_DIR, LAYERING_SERVICE_URL, WASH_TRADING_SERVICE_URL,
// AGGREGATOR_SERVICE_URL, MAX_RETRIES, ALGORITHM_TIMEOUT_SECONDS and the API
// keys to send: LAYERING_API_KEY, WASH_TRADING_API_KEY, AGGREGATOR_API_KEY,
// each falling back to API_KEY.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		InputDir:          httpserver.EnvString(getenv, "INPUT_DIR", "/app/input"),
		LayeringURL:       strings.TrimRight(httpserver.EnvString(getenv, "LAYERING_SERVICE_URL", "http://layering-service:8001"), "/"),
		WashTradingURL:    strings.TrimRight(httpserver.EnvString(getenv, "WASH_TRADING_SERVICE_URL", "http://wash-trading-service:8002"), "/"),
		AggregatorURL:     strings.TrimRight(httpserver.EnvString(getenv, "AGGREGATOR_SERVICE_URL", "http://aggregator-service:8003"), "/"),
		LayeringAPIKey:    httpserver.EnvString(getenv, "LAYERING_API_KEY", getenv("API_KEY")),
		WashTradingAPIKey: httpserver.EnvString(getenv, "WASH_TRADING_API_KEY", getenv("API_KEY")),
		AggregatorAPIKey:  httpserver.EnvString(getenv, "AGGREGATOR_API_KEY", getenv("API_KEY")),
	}
	var err error
	if c.MaxRetries, err = httpserver.EnvInt(getenv, "MAX_RETRIES", DefaultMaxRetries); err != nil {
		return c, err
	}
	if c.MaxRetries < 0 {
		return c, fmt.Errorf("MAX_RETRIES: must be >= 0")
	}
	if c.AlgorithmTimeout, err = httpserver.EnvSeconds(getenv, "ALGORITHM_TIMEOUT_SECONDS", DefaultAlgorithmTimeout); err != nil {
		return c, err
	}
	if c.AlgorithmTimeout <= 0 {
		return c, fmt.Errorf("ALGORITHM_TIMEOUT_SECONDS: must be > 0")
	}
	return c, nil
}

// Orchestrator is the /orchestrate handler.
type Orchestrator struct {
	cfg       Config
	srv       *httpserver.Server
	client    *http.Client
	pipelines *prometheus.CounterVec
	calls     *prometheus.CounterVec
	retries   *prometheus.CounterVec
}

// Register adds POST /orchestrate to the server.
func Register(s *httpserver.Server, cfg Config) *Orchestrator {
	if cfg.MaxEventsPerRequest <= 0 {
		cfg.MaxEventsPerRequest = wire.MaxEventsPerRequest
	}
	if cfg.AlgorithmTimeout <= 0 {
		cfg.AlgorithmTimeout = DefaultAlgorithmTimeout
	}
	if cfg.AggregatorTimeout <= 0 {
		cfg.AggregatorTimeout = DefaultAggregatorTimeout
	}
	if cfg.BackoffBase <= 0 {
		cfg.BackoffBase = DefaultBackoffBase
	}
	if cfg.MaxInputBytes <= 0 {
		cfg.MaxInputBytes = DefaultMaxInputBytes
	}
	if cfg.ChunkConcurrency <= 0 {
		cfg.ChunkConcurrency = DefaultChunkConcurrency
	}
	o := &Orchestrator{cfg: cfg, srv: s, client: cfg.Client}
	if o.client == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 16
		o.client = &http.Client{Transport: t}
	}
	o.pipelines = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pipelines_total", Help: "Orchestrated pipelines by HTTP status code answered.",
	}, []string{"code"})
	o.calls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "downstream_requests_total", Help: "Calls to the other services, by target service and outcome.",
	}, []string{"target", "outcome"})
	o.retries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "downstream_retries_total", Help: "Retries of calls to the other services, by target service.",
	}, []string{"target"})
	s.Registerer().MustRegister(o.pipelines, o.calls, o.retries)
	s.Handle(http.MethodPost, "/orchestrate", o.orchestrate, httpserver.MaxBody(64<<10))
	s.SetInfo(cfg.Info)
	return o
}

// Info is what GET / adds for the orchestrator.
func (c Config) Info() map[string]any {
	return map[string]any{
		"input_dir": c.InputDir, "layering_service_url": c.LayeringURL, "wash_trading_service_url": c.WashTradingURL,
		"aggregator_service_url": c.AggregatorURL, "max_retries": c.MaxRetries, "timeout_seconds": c.AlgorithmTimeout.Seconds(),
	}
}

var fileNameRE = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)

// answer is an /orchestrate outcome.
type answer struct {
	code int
	resp wire.OrchestrateResponse
}

func (o *Orchestrator) fail(a *answer, code int, msg string) {
	a.code = code
	a.resp.Status = wire.StatusFailed
	a.resp.Error = wire.Ptr(msg)
	a.resp.Detail = msg
}

func (o *Orchestrator) orchestrate(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	log := httpserver.Log(ctx)
	body, ok := httpserver.ReadBody(w, r)
	if !ok {
		return
	}
	var raw struct {
		InputFile *string `json:"input_file"`
	}
	if err := json.Unmarshal(body, &raw); err != nil || raw.InputFile == nil {
		msg := "input_file: field required"
		if err != nil {
			msg = "invalid JSON body: " + err.Error()
		}
		httpserver.WriteError(w, http.StatusUnprocessableEntity, msg)
		return
	}
	a := answer{code: http.StatusOK, resp: wire.OrchestrateResponse{
		RequestID: httpserver.RequestID(ctx), Status: wire.StatusCompleted, FailedServices: []string{},
	}}
	start := time.Now()
	log.Info("pipeline started", "input_file", *raw.InputFile)
	// A batch run completes even if its client disconnects (as before); only
	// the shutdown timeout cancels it.
	pctx, cancel := o.srv.Detached(ctx)
	defer cancel()
	o.run(pctx, *raw.InputFile, &a)
	o.pipelines.WithLabelValues(fmt.Sprint(a.code)).Inc()
	if a.code == http.StatusOK {
		log.Info("pipeline completed", "event_count", a.resp.EventCount, "aggregated_count", a.resp.AggregatedCount,
			"failed_services", a.resp.FailedServices, "duration_ms", time.Since(start).Milliseconds())
	} else {
		log.Error("pipeline failed", "status_code", a.code, "error", a.resp.Detail, "failed_services", a.resp.FailedServices,
			"duration_ms", time.Since(start).Milliseconds())
	}
	httpserver.WriteJSON(w, a.code, a.resp)
}

func (o *Orchestrator) run(ctx context.Context, name string, a *answer) {
	log := httpserver.Log(ctx)
	if !fileNameRE.MatchString(name) || name == "." || name == ".." || len(name) > 255 {
		o.fail(a, http.StatusBadRequest, "input_file must be a bare file name matching ^[a-zA-Z0-9._-]+$ inside INPUT_DIR")
		return
	}
	data, code, err := o.readInput(name)
	if err != nil {
		o.fail(a, code, err.Error())
		return
	}
	res, err := events.ReadCSV(unsafe.String(unsafe.SliceData(data), len(data)))
	if err != nil {
		o.fail(a, http.StatusBadRequest, "Failed to read input CSV: "+err.Error())
		return
	}
	for _, wn := range res.Warnings {
		log.Warn("skipping invalid row", "row", wn.Row, "line", wn.Line, "reason", wn.Reason)
	}
	if res.Skipped > len(res.Warnings) {
		log.Warn("more invalid rows skipped", "count", res.Skipped-len(res.Warnings))
	}
	evs := res.Events
	a.resp.EventCount = len(evs)
	o.srv.EventsProcessed().Add(float64(len(evs)))
	if len(evs) == 0 {
		o.fail(a, http.StatusBadRequest, "Input CSV file contains no events")
		return
	}
	log.Info("input read", "events", len(evs), "skipped_rows", res.Skipped, "bytes", len(data))

	chunks, err := planChunks(evs, o.cfg.MaxEventsPerRequest)
	if err != nil {
		o.fail(a, http.StatusBadRequest, err.Error())
		return
	}
	results := o.detectAll(ctx, evs, chunks)
	var failed, failures []string
	for _, res := range results {
		if res.Status != wire.StatusSuccess {
			failed = append(failed, res.ServiceName)
			failures = append(failures, res.ServiceName+": "+*res.Error)
		}
	}
	cause := ""
	if failures != nil {
		cause = " (" + strings.Join(failures, "; ") + ")"
	}
	aggBody, err := json.Marshal(wire.AggregateRequest{
		RequestID: a.resp.RequestID, ExpectedServices: wire.ExpectedServices, Results: results,
	})
	if err != nil {
		o.fail(a, http.StatusInternalServerError, "encoding the aggregate request: "+err.Error())
		return
	}
	data, _, err = o.postWithRetries(ctx, "aggregator", o.cfg.AggregatorURL+"/aggregate", o.cfg.AggregatorAPIKey, aggBody, o.cfg.AggregatorTimeout)
	if err != nil {
		a.resp.FailedServices = nonNil(failed)
		o.fail(a, http.StatusInternalServerError, "Failed to call aggregator service: "+err.Error()+cause)
		return
	}
	agg, err := wire.DecodeAggregateResponse(data)
	if err != nil {
		o.fail(a, http.StatusInternalServerError, "Invalid aggregator response: "+err.Error())
		return
	}
	a.resp.FailedServices = agg.FailedServices
	if agg.Status != wire.StatusCompleted {
		msg := "aggregation failed"
		if agg.Error != nil {
			msg = *agg.Error
		}
		o.fail(a, http.StatusInternalServerError, "Aggregator validation failed: "+msg+cause)
		return
	}
	a.resp.AggregatedCount = agg.MergedCount
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// readInput reads INPUT_DIR/name without following links out of INPUT_DIR.
func (o *Orchestrator) readInput(name string) ([]byte, int, error) {
	root, err := os.OpenRoot(o.cfg.InputDir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, http.StatusNotFound, fmt.Errorf("Input file not found: %s", name)
		}
		return nil, http.StatusInternalServerError, fmt.Errorf("input directory unavailable")
	}
	defer root.Close()
	f, err := root.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, http.StatusNotFound, fmt.Errorf("Input file not found: %s", name)
		}
		return nil, http.StatusBadRequest, fmt.Errorf("Failed to read input CSV: cannot open %s", name)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return nil, http.StatusBadRequest, fmt.Errorf("Failed to read input CSV: %s is not a regular file", name)
	}
	if fi.Size() > o.cfg.MaxInputBytes {
		return nil, http.StatusBadRequest, fmt.Errorf("Failed to read input CSV: %s is larger than %d bytes", name, o.cfg.MaxInputBytes)
	}
	data, err := io.ReadAll(io.LimitReader(f, o.cfg.MaxInputBytes+1))
	if err != nil {
		return nil, http.StatusBadRequest, fmt.Errorf("Failed to read input CSV: %v", err)
	}
	if int64(len(data)) > o.cfg.MaxInputBytes {
		return nil, http.StatusBadRequest, fmt.Errorf("Failed to read input CSV: %s is larger than %d bytes", name, o.cfg.MaxInputBytes)
	}
	return data, 0, nil
}

type service struct {
	name, url, key string
}

// chunkOutcome is one service's answer for one chunk.
type chunkOutcome struct {
	results []wire.Sequence
	err     error
	status  string // failure or timeout when err != nil
}

// detectAll sends every chunk to both algorithm services and returns one
// combined result per service, in wire.ExpectedServices order.
func (o *Orchestrator) detectAll(ctx context.Context, evs []events.Event, chunks [][]int32) []wire.DetectResponse {
	log := httpserver.Log(ctx)
	rid := httpserver.RequestID(ctx)
	services := []service{
		{wire.ServiceLayering, o.cfg.LayeringURL + "/detect", o.cfg.LayeringAPIKey},
		{wire.ServiceWashTrading, o.cfg.WashTradingURL + "/detect", o.cfg.WashTradingAPIKey},
	}
	out := make([][]chunkOutcome, len(services))
	for i := range out {
		out[i] = make([]chunkOutcome, len(chunks))
	}
	var failed [2]atomic.Bool // a service that failed a chunk gets no further chunks
	sem := make(chan struct{}, o.cfg.ChunkConcurrency)
	var wg sync.WaitGroup
	for c, idx := range chunks {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			body, fingerprint := wire.AppendDetectRequest(nil, rid, evs, idx)
			n := len(idx)
			if idx == nil {
				n = len(evs)
			}
			if len(chunks) > 1 {
				log.Info("sending chunk", "chunk", c+1, "of", len(chunks), "events", n, "fingerprint", fingerprint[:8])
			}
			var inner sync.WaitGroup
			for s, svc := range services {
				if failed[s].Load() {
					out[s][c] = chunkOutcome{err: errors.New("skipped after an earlier chunk failed"), status: wire.StatusFailure}
					continue
				}
				inner.Add(1)
				go func() {
					defer inner.Done()
					oc := o.detectOne(ctx, svc, rid, body)
					out[s][c] = oc
					if oc.err != nil {
						failed[s].Store(true)
					}
				}()
			}
			inner.Wait()
		}()
	}
	wg.Wait()

	results := make([]wire.DetectResponse, len(services))
	for s, svc := range services {
		r := wire.DetectResponse{RequestID: rid, ServiceName: svc.name, FinalStatus: true}
		var all []wire.Sequence
		for _, oc := range out[s] {
			if oc.err != nil && r.Error == nil {
				r.Status, r.Error = oc.status, wire.Ptr(oc.err.Error())
			}
			all = append(all, oc.results...)
		}
		if r.Error == nil {
			if len(chunks) > 1 {
				rank := resultOrder(evs, svc.name)
				slices.SortStableFunc(all, func(a, b wire.Sequence) int {
					return rank[[2]string{a.AccountID, a.ProductID}] - rank[[2]string{b.AccountID, b.ProductID}]
				})
			}
			if all == nil {
				all = []wire.Sequence{}
			}
			r.Status, r.Results = wire.StatusSuccess, all
		}
		results[s] = r
	}
	return results
}

// detectOne calls one service for one chunk, with retries.
func (o *Orchestrator) detectOne(ctx context.Context, svc service, rid string, body []byte) chunkOutcome {
	data, _, err := o.postWithRetries(ctx, svc.name, svc.url, svc.key, body, o.cfg.AlgorithmTimeout)
	if err != nil {
		st := wire.StatusFailure
		var ce *callError
		if errors.As(err, &ce) && ce.timeout {
			st = wire.StatusTimeout
		}
		return chunkOutcome{err: err, status: st}
	}
	resp, err := wire.DecodeDetectResponse(data)
	if err != nil {
		return chunkOutcome{err: fmt.Errorf("%s: invalid response: %v", svc.url, err), status: wire.StatusFailure}
	}
	if resp.ServiceName != svc.name {
		return chunkOutcome{err: fmt.Errorf("%s: answered as %q, expected %q", svc.url, resp.ServiceName, svc.name), status: wire.StatusFailure}
	}
	if resp.Status != wire.StatusSuccess {
		msg := resp.Status
		if resp.Error != nil {
			msg = *resp.Error
		}
		return chunkOutcome{err: fmt.Errorf("%s: %s", svc.name, msg), status: resp.Status}
	}
	return chunkOutcome{results: resp.Results}
}
