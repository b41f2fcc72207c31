// Command layering-loadgen sends a constant rate of valid requests to one
// layering-detection service and reports, once a second, one JSON line on
// stdout (pkg/loadtest/stats): requests sent and completed, status codes,
// errors, a latency histogram, its own CPU use and throttling. `kubectl
// layering loadtest` runs it as the pods of a Job and reads their logs; it
// runs as well on a laptop against a local service (test/bench/loadgen.sh).
//
//	layering-loadgen -url http://10.96.0.20:8001/detect -rate 2 -duration 5m -events 20000
//
// The API key, if any, comes from $API_KEY and is sent as X-API-Key only.
// SIGTERM or SIGINT stops the load at once; the last lines still report.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/layering-detection/kubectl-layering/pkg/loadtest/stats"
)

type config struct {
	url        string
	rate       float64
	duration   time.Duration
	workers    int
	kind       string // detect, aggregate, orchestrate: from the URL's path
	events     int
	inputFile  string
	timeout    time.Duration
	seed       uint64
	apiKey     string
	keepAlive  bool
	connMaxAge time.Duration
	printBody  bool
	summary    bool
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "layering-loadgen:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cfg.printBody { // one request body, for other tools on the same target (test/bench/loadgen.sh)
		_, _ = os.Stdout.Write(cfg.body()())
		return
	}
	total, err := run(ctx, cfg, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "layering-loadgen:", err)
		os.Exit(1)
	}
	if cfg.summary {
		fmt.Fprintln(os.Stderr, total)
	}
}

func parseFlags(args []string, getenv func(string) string) (config, error) {
	var c config
	fs := flag.NewFlagSet("layering-loadgen", flag.ContinueOnError)
	fs.StringVar(&c.url, "url", "", "the endpoint: http://HOST:PORT/detect, /aggregate or /orchestrate")
	fs.Float64Var(&c.rate, "rate", 1, "requests per second")
	fs.DurationVar(&c.duration, "duration", time.Minute, "how long to send")
	fs.IntVar(&c.workers, "workers", 8, "most requests in flight at once")
	fs.IntVar(&c.events, "events", 10000, "trade events per /detect request; detections per /aggregate request")
	fs.StringVar(&c.inputFile, "input-file", "transactions.csv", "the input file /orchestrate reads")
	fs.DurationVar(&c.timeout, "timeout", time.Minute, "per-request timeout")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the generated events")
	fs.BoolVar(&c.keepAlive, "keepalive", true, "reuse connections")
	fs.DurationVar(&c.connMaxAge, "conn-max-age", time.Second, "close idle connections this often, so that new replicas behind a Service get traffic (0: never)")
	fs.BoolVar(&c.printBody, "print-body", false, "print one request body and exit")
	fs.BoolVar(&c.summary, "summary", false, "at the end, print a summary line on stderr")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	c.apiKey = getenv("API_KEY")
	for _, k := range []string{"/detect", "/aggregate", "/orchestrate"} {
		if strings.HasSuffix(c.url, k) {
			c.kind = k[1:]
		}
	}
	switch {
	case c.kind == "":
		return c, fmt.Errorf("-url %q: must end in /detect, /aggregate or /orchestrate", c.url)
	case c.rate <= 0:
		return c, errors.New("-rate must be positive")
	case c.duration <= 0:
		return c, errors.New("-duration must be positive")
	case c.workers < 1:
		return c, errors.New("-workers must be at least 1")
	case c.events < 1 || c.events > 100000:
		return c, errors.New("-events must be within 1..100000 (the contract's most events per request)")
	}
	return c, nil
}

func (c config) body() body {
	switch c.kind {
	case "aggregate":
		return aggregateBody(c.events, c.seed)
	case "orchestrate":
		return orchestrateBody(c.inputFile)
	}
	return detectBody(c.events, c.seed)
}

// run sends the load until the duration is over or ctx ends, writing a
// record a second to w, and returns the totals.
func run(ctx context.Context, c config, w io.Writer) (*summary, error) {
	build := c.body()
	transport := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: c.workers,
		DisableKeepAlives:   !c.keepAlive,
		DisableCompression:  true,
	}
	client := &http.Client{Transport: transport, Timeout: c.timeout}
	if c.connMaxAge > 0 {
		go closeIdleEvery(ctx, transport, c.connMaxAge)
	}
	header := http.Header{"Content-Type": {"application/json"}}
	if c.apiKey != "" {
		header.Set("X-API-Key", c.apiKey)
	}
	var sent atomic.Uint64
	targeter := func(t *vegeta.Target) error {
		sent.Add(1)
		t.Method, t.URL, t.Header, t.Body = http.MethodPost, c.url, header, build()
		return nil
	}
	attacker := vegeta.NewAttacker(vegeta.Client(client), vegeta.Workers(uint64(min(c.workers, 4))),
		vegeta.MaxWorkers(uint64(c.workers)), vegeta.MaxBody(0), vegeta.Redirects(vegeta.NoFollow))
	out := &reporter{enc: json.NewEncoder(w), cpu: newCPUMeter(), workers: c.workers, total: &summary{}}
	out.emit(stats.Record{Kind: stats.KindStart, Time: time.Now().UnixMilli(), Rate: c.rate, Workers: c.workers})
	results := attacker.Attack(vegeta.Targeter(targeter), vegeta.ConstantPacer{Freq: 1, Per: time.Duration(float64(time.Second) / c.rate)}, c.duration, "")

	reason := "duration"
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var stopping <-chan time.Time
	for {
		select {
		case r, ok := <-results:
			if !ok {
				out.flush(sent.Load())
				out.emit(stats.Record{Kind: stats.KindEnd, Time: time.Now().UnixMilli(), Reason: reason})
				return out.total, nil
			}
			out.add(r)
		case <-tick.C:
			out.flush(sent.Load())
		case <-ctx.Done():
			if reason == "duration" {
				reason = "signal"
				attacker.Stop()
				// Requests in flight may take long; the load has stopped, so do not wait for them.
				stopping = time.After(2 * time.Second)
			}
		case <-stopping:
			out.flush(sent.Load())
			out.emit(stats.Record{Kind: stats.KindEnd, Time: time.Now().UnixMilli(), Reason: reason})
			return out.total, nil
		}
	}
}

// closeIdleEvery closes idle connections periodically: a kept-alive
// connection to a Service's ClusterIP stays on the pod it was first balanced
// to, so replicas added later would never see it.
func closeIdleEvery(ctx context.Context, t *http.Transport, d time.Duration) {
	tick := time.NewTicker(d)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			t.CloseIdleConnections()
		}
	}
}

// reporter accumulates one second of results and writes it as a record.
type reporter struct {
	mu       sync.Mutex
	enc      *json.Encoder
	cpu      *cpuMeter
	workers  int
	total    *summary
	lastSent uint64
	done     uint64
	finished uint64 // completed since the start
	codes    map[string]uint64
	errs     map[string]uint64
	hist     []uint64
}

func (o *reporter) add(r *vegeta.Result) {
	if o.codes == nil {
		o.codes, o.errs, o.hist = map[string]uint64{}, map[string]uint64{}, make([]uint64, len(stats.Buckets))
	}
	o.done++
	o.finished++
	o.codes[fmt.Sprint(r.Code)]++
	if r.Code == 0 {
		o.errs[errorClass(r.Error)]++
		return
	}
	o.hist[stats.Bucket(r.Latency)]++
}

func (o *reporter) flush(sent uint64) {
	cpu, throttled := o.cpu.delta()
	rec := stats.Record{
		Kind: stats.KindInterval, Time: time.Now().UnixMilli(),
		Sent: sent - o.lastSent, Done: o.done, Codes: o.codes, Errors: o.errs,
		InFlight: int(sent - o.finished), Workers: o.workers,
		CPUMillis: cpu.Milliseconds(), ThrottledMillis: throttled.Milliseconds(),
	}
	if len(o.errs) == 0 {
		rec.Errors = nil
	}
	rec.Latency = stats.Trim(o.hist)
	o.emit(rec)
	o.lastSent, o.done, o.codes, o.errs, o.hist = sent, 0, nil, nil, nil
}

func (o *reporter) emit(r stats.Record) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.total.add(r)
	_ = o.enc.Encode(r)
}

// summary is the totals of a run, for people (-summary).
type summary struct {
	start, end         time.Time
	rate               float64
	sent, done         uint64
	codes              map[string]uint64
	latency            stats.Histogram
	cpuMs, throttledMs int64
	saturated          bool
}

func (s *summary) add(r stats.Record) {
	switch r.Kind {
	case stats.KindStart:
		s.start, s.rate, s.codes = r.At(), r.Rate, map[string]uint64{}
	case stats.KindEnd:
		s.end = r.At()
	case stats.KindInterval:
		s.sent += r.Sent
		s.done += r.Done
		for k, v := range r.Codes {
			s.codes[k] += v
		}
		s.latency.Add(r.Latency)
		s.cpuMs += r.CPUMillis
		s.throttledMs += r.ThrottledMillis
		s.saturated = s.saturated || (r.Workers > 0 && r.InFlight >= r.Workers)
	}
}

// String is one line: asked and sent rate, answers, latency, the generator's
// CPU, and why it sent less than asked if it did.
func (s *summary) String() string {
	secs := s.end.Sub(s.start).Seconds()
	asked := s.rate * secs
	line := fmt.Sprintf("asked %.0f/s for %.1fs: sent %d (%.1f/s, %.1f%% of asked), answered %d, codes %v, p50 %s p99 %s, generator CPU %.2fs (%.2f cores), %.0f requests per CPU-second",
		s.rate, secs, s.sent, float64(s.sent)/secs, 100*float64(s.sent)/asked, s.done, s.codes, s.latency.Quantile(0.5), s.latency.Quantile(0.99),
		float64(s.cpuMs)/1000, float64(s.cpuMs)/1000/secs, float64(s.done)/(float64(s.cpuMs)/1000))
	if float64(s.sent) < 0.99*asked {
		switch {
		case s.saturated:
			line += "; below 99 % of asked: every in-flight slot was busy (the target answered slower than rate × latency allows: raise -workers, or the target is the limit)"
		case s.throttledMs > 0:
			line += fmt.Sprintf("; below 99 %% of asked: CPU-throttled %.1fs by the cgroup limit", float64(s.throttledMs)/1000)
		default:
			line += "; below 99 % of asked: the generator's own CPU was the limit"
		}
	}
	return line
}

// errorClass names why a request got no answer, in a few stable words.
func errorClass(msg string) string {
	switch {
	case strings.Contains(msg, "Client.Timeout"), strings.Contains(msg, "deadline exceeded"), strings.Contains(msg, "i/o timeout"):
		return "timeout"
	case strings.Contains(msg, "connection refused"):
		return "refused"
	case strings.Contains(msg, "connection reset"), strings.Contains(msg, "EOF"), strings.Contains(msg, "broken pipe"):
		return "reset"
	}
	return "other"
}
