// Package algorithmservice is the HTTP service around one detection rule: the
// layering service (port 8001) and the wash-trading service (port 8002) are
// this package with different rules.
//
// POST /detect takes {request_id, event_fingerprint, events[1..100000]} and
// answers 200 {request_id, service_name, status, results, error,
// final_status}. Results are cached by (request_id, event_fingerprint), so an
// orchestrator retry gets the first answer; a retry that arrives while the
// first attempt is still computing waits for it instead of computing again.
// A body that breaks the contract is 422; a body over the size limit is 413;
// a failure inside the rule is 200 with status "failure", as before.
package algorithmservice

import (
	"container/list"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/layering-detection/kubectl-layering/services/detect"
	"github.com/layering-detection/kubectl-layering/services/events"
	"github.com/layering-detection/kubectl-layering/services/httpserver"
	"github.com/layering-detection/kubectl-layering/services/wire"
)

// Defaults of Config.
const (
	DefaultMaxBody      = 64 << 20 // 100,000 events are ~16 MB of JSON
	DefaultCacheEntries = 1024
	DefaultCacheTTL     = 15 * time.Minute
)

// Config of an algorithm service.
type Config struct {
	Name         string // "layering" or "wash_trading"
	Detect       func([]events.Event) []detect.Sequence
	MaxEvents    int   // per request (default wire.MaxEventsPerRequest)
	MaxBody      int64 // bytes (default DefaultMaxBody)
	CacheEntries int
	CacheTTL     time.Duration
	// Concurrency bounds the requests decoded and analysed at once, and so
	// the memory they hold; others wait (default GOMAXPROCS, at least 2).
	Concurrency int
}

// Register adds POST /detect to the server.
func Register(s *httpserver.Server, cfg Config) {
	if cfg.MaxEvents <= 0 {
		cfg.MaxEvents = wire.MaxEventsPerRequest
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.CacheEntries <= 0 {
		cfg.CacheEntries = DefaultCacheEntries
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = DefaultCacheTTL
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = max(2, runtime.GOMAXPROCS(0))
	}
	h := &handler{
		cfg:   cfg,
		srv:   s,
		cache: newCache(cfg.CacheEntries, cfg.CacheTTL),
		slots: make(chan struct{}, cfg.Concurrency),
		detections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "detections_total", Help: "Suspicious sequences detected, by detection type.",
		}, []string{"detection_type"}),
		cacheHits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "detect_cache_hits_total", Help: "/detect requests answered from the (request_id, fingerprint) cache.",
		}),
	}
	s.Registerer().MustRegister(h.detections, h.cacheHits)
	s.Handle(http.MethodPost, "/detect", h.detect, httpserver.MaxBody(cfg.MaxBody))
}

type handler struct {
	cfg        Config
	srv        *httpserver.Server
	cache      *cache
	slots      chan struct{}
	detections *prometheus.CounterVec
	cacheHits  prometheus.Counter
}

func (h *handler) detect(w http.ResponseWriter, r *http.Request) {
	log := httpserver.Log(r.Context())
	select {
	case h.slots <- struct{}{}:
		defer func() { <-h.slots }()
	case <-r.Context().Done():
		httpserver.WriteError(w, http.StatusServiceUnavailable, "request cancelled while waiting")
		return
	}
	body, ok := httpserver.ReadBody(w, r)
	if !ok {
		return
	}
	req, err := wire.DecodeDetectRequest(body, h.cfg.MaxEvents)
	if err != nil {
		log.Warn("invalid /detect request", "error", err.Error())
		httpserver.WriteError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	log = log.With("pipeline_request_id", req.RequestID)
	results, hit, err := h.cache.get(cacheKey{req.RequestID, req.EventFingerprint}, func() ([]wire.Sequence, error) {
		start := time.Now()
		seqs, err := safeDetect(h.cfg.Detect, req.Events)
		if err != nil {
			return nil, err
		}
		out := make([]wire.Sequence, len(seqs))
		for i := range seqs {
			out[i] = wire.FromDetection(&seqs[i])
			h.detections.WithLabelValues(out[i].DetectionType).Inc()
		}
		h.srv.EventsProcessed().Add(float64(len(req.Events)))
		log.Info("detection completed", "events", len(req.Events), "detections", len(out),
			"detect_ms", float64(time.Since(start).Microseconds())/1000)
		return out, nil
	})
	resp := wire.DetectResponse{RequestID: req.RequestID, ServiceName: h.cfg.Name, FinalStatus: true}
	switch {
	case err != nil:
		log.Error("detection failed", "error", err.Error())
		resp.Status, resp.Error = wire.StatusFailure, wire.Ptr(err.Error())
	default:
		if hit {
			h.cacheHits.Inc()
			log.Info("cache hit", "fingerprint", req.EventFingerprint[:8], "results", len(results))
		}
		resp.Status, resp.Results = wire.StatusSuccess, results
	}
	httpserver.WriteJSON(w, http.StatusOK, resp)
}

func safeDetect(detectFn func([]events.Event) []detect.Sequence, evs []events.Event) (seqs []detect.Sequence, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("Detection failed: %v", p)
		}
	}()
	seqs = detectFn(evs)
	if seqs == nil {
		seqs = []detect.Sequence{}
	}
	return seqs, nil
}

type cacheKey struct{ requestID, fingerprint string }

type cacheEntry struct {
	key     cacheKey
	done    chan struct{}
	results []wire.Sequence
	err     error
	expires time.Time
	elem    *list.Element
}

// cache is an LRU of results with a TTL; concurrent requests for one key
// share a single computation. Failures are not kept.
type cache struct {
	mu      sync.Mutex
	max     int
	ttl     time.Duration
	now     func() time.Time
	entries map[cacheKey]*cacheEntry
	lru     *list.List // front = most recent
}

func newCache(maxEntries int, ttl time.Duration) *cache {
	return &cache{max: maxEntries, ttl: ttl, now: time.Now, entries: map[cacheKey]*cacheEntry{}, lru: list.New()}
}

func (c *cache) get(k cacheKey, compute func() ([]wire.Sequence, error)) (res []wire.Sequence, hit bool, err error) {
	c.mu.Lock()
	if e, ok := c.entries[k]; ok {
		select {
		case <-e.done:
			if c.now().Before(e.expires) {
				c.lru.MoveToFront(e.elem)
				c.mu.Unlock()
				return e.results, true, nil
			}
			c.remove(e)
		default: // in flight: wait for it
			c.mu.Unlock()
			<-e.done
			if e.err != nil {
				return c.get(k, compute)
			}
			return e.results, true, nil
		}
	}
	e := &cacheEntry{key: k, done: make(chan struct{})}
	e.elem = c.lru.PushFront(e)
	c.entries[k] = e
	c.mu.Unlock()

	e.results, e.err = compute()
	c.mu.Lock()
	e.expires = c.now().Add(c.ttl)
	if e.err != nil {
		c.remove(e)
	}
	close(e.done)
	for c.lru.Len() > c.max {
		oldest := c.lru.Back().Value.(*cacheEntry)
		if oldest == e {
			break
		}
		c.remove(oldest)
	}
	c.mu.Unlock()
	return e.results, false, e.err
}

func (c *cache) remove(e *cacheEntry) {
	if c.entries[e.key] == e {
		delete(c.entries, e.key)
		c.lru.Remove(e.elem)
	}
}
