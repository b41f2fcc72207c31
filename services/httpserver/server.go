// Package httpserver is what the four services share around their handlers:
// routing with FastAPI-shaped errors, X-API-Key authentication, per-client
// rate limiting, body size limits, request ids, JSON access logs, Prometheus
// metrics, GET /health, GET /metrics and GET /, and graceful shutdown.
//
// Shutdown: when the context given to Serve ends (SIGTERM), the server marks
// itself draining — GET /health answers 503 {"status":"draining"} so
// readiness probes and load balancer health checks take the pod out of
// rotation — but keeps serving every request, new or in flight, for
// DrainDelay, while endpoint removal propagates. It then stops accepting
// connections and waits up to ShutdownTimeout for requests in flight; any
// still running after that have their contexts cancelled. Liveness probes
// cannot restart a draining pod in that time: they need 3 failures 30 s apart.
package httpserver

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/layering-detection/kubectl-layering/services/version"
	"github.com/layering-detection/kubectl-layering/services/wire"
)

// Defaults of Config.
const (
	DefaultDrainDelay      = 5 * time.Second
	DefaultShutdownTimeout = 20 * time.Second
	DefaultMaxBody         = 1 << 20
)

// Config of a Server.
type Config struct {
	Service            string // e.g. "orchestrator-service"
	APIKey             string // X-API-Key value required; empty disables auth
	RateLimitPerMinute int    // per client; <= 0 disables the limit
	Logger             *slog.Logger
	DrainDelay         time.Duration // keep serving after SIGTERM (default 5 s; < 0 for none)
	ShutdownTimeout    time.Duration // then wait for requests in flight (default 20 s)
	EventsHelp         string        // help text of events_processed_total
	Info               func() map[string]any
}

// Option configures a route.
type Option func(*route)

// Open exempts a route from authentication and rate limiting.
func Open() Option { return func(r *route) { r.open = true } }

// MaxBody sets the largest request body a route accepts (HTTP 413 beyond).
func MaxBody(n int64) Option { return func(r *route) { r.maxBody = n } }

type route struct {
	path    string
	handler http.HandlerFunc
	open    bool
	maxBody int64
}

// Server is one service's HTTP server.
type Server struct {
	cfg      Config
	log      *slog.Logger
	reg      *prometheus.Registry
	wrapped  prometheus.Registerer
	routes   map[string]map[string]*route // path -> method -> route
	limiter  *RateLimiter
	draining atomic.Bool
	base     atomic.Pointer[context.Context] // cancelled at the shutdown timeout

	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
	events   prometheus.Counter
}

// New returns a server with GET /health, GET /metrics and GET / registered.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	if cfg.DrainDelay == 0 {
		cfg.DrainDelay = DefaultDrainDelay
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	if cfg.EventsHelp == "" {
		cfg.EventsHelp = "Events processed."
	}
	s := &Server{
		cfg:     cfg,
		log:     cfg.Logger,
		reg:     prometheus.NewRegistry(),
		routes:  map[string]map[string]*route{},
		limiter: NewRateLimiter(cfg.RateLimitPerMinute),
	}
	s.wrapped = prometheus.WrapRegistererWith(prometheus.Labels{"service": cfg.Service}, s.reg)
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "http_requests_total", Help: "HTTP requests by method, route and status code.",
	}, []string{"method", "route", "code"})
	s.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "http_request_duration_seconds", Help: "HTTP request latency by method and route.",
		Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
	}, []string{"method", "route"})
	s.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{Name: "http_requests_in_flight", Help: "HTTP requests being served."})
	s.events = prometheus.NewCounter(prometheus.CounterOpts{Name: "events_processed_total", Help: cfg.EventsHelp})
	s.wrapped.MustRegister(s.requests, s.duration, s.inFlight, s.events,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	s.Handle(http.MethodGet, "/health", s.health, Open())
	s.Handle(http.MethodGet, "/metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}).ServeHTTP, Open())
	s.Handle(http.MethodGet, "/", s.root)
	return s
}

// Handle registers a handler for method and exact path.
func (s *Server) Handle(method, path string, h http.HandlerFunc, opts ...Option) {
	r := &route{path: path, handler: h, maxBody: DefaultMaxBody}
	for _, o := range opts {
		o(r)
	}
	if s.routes[path] == nil {
		s.routes[path] = map[string]*route{}
	}
	s.routes[path][method] = r
}

// Detached returns a context with ctx's values that is not cancelled when the
// client goes away, only when the server gives up on requests in flight at the
// shutdown timeout. Call cancel when done.
func (s *Server) Detached(ctx context.Context) (context.Context, context.CancelFunc) {
	d, cancel := context.WithCancel(context.WithoutCancel(ctx))
	if b := s.base.Load(); b != nil {
		stop := context.AfterFunc(*b, cancel)
		return d, func() { stop(); cancel() }
	}
	return d, cancel
}

// SetInfo sets what GET / adds to {service, version, status}.
func (s *Server) SetInfo(info func() map[string]any) { s.cfg.Info = info }

// Logger is the server's logger.
func (s *Server) Logger() *slog.Logger { return s.log }

// Registerer registers service metrics (labelled service=<name>).
func (s *Server) Registerer() prometheus.Registerer { return s.wrapped }

// EventsProcessed is the events_processed_total counter.
func (s *Server) EventsProcessed() prometheus.Counter { return s.events }

// Draining reports whether shutdown has begun.
func (s *Server) Draining() bool { return s.draining.Load() }

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "draining", "service": s.cfg.Service})
		return
	}
	WriteJSON(w, http.StatusOK, map[string]string{"status": "healthy", "service": s.cfg.Service})
}

func (s *Server) root(w http.ResponseWriter, r *http.Request) {
	info := map[string]any{"service": s.cfg.Service, "version": version.Version, "status": "running"}
	if s.cfg.Info != nil {
		for k, v := range s.cfg.Info() {
			info[k] = v
		}
	}
	WriteJSON(w, http.StatusOK, info)
}

// ServeHTTP runs the middleware chain and the route's handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rid := r.Header.Get("X-Request-ID")
	if !wire.ValidUUID(rid) {
		rid = wire.NewUUID()
	}
	logger := s.log.With("request_id", rid)
	ctx := context.WithValue(context.WithValue(r.Context(), requestIDKey, rid), loggerKey, logger)
	r = r.WithContext(ctx)
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	rec.Header().Set("X-Request-ID", rid)
	if s.draining.Load() {
		rec.Header().Set("Connection", "close") // move keep-alive clients to other replicas
	}

	rt, allowed := s.lookup(r)
	label := "unmatched"
	if rt != nil {
		label = rt.path
	}
	s.inFlight.Inc()
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			logger.Error("panic serving request", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			if !rec.wrote {
				WriteError(rec, http.StatusInternalServerError, "Internal Server Error")
			}
		}
		s.inFlight.Dec()
		elapsed := time.Since(start)
		s.requests.WithLabelValues(r.Method, label, strconv.Itoa(rec.status)).Inc()
		s.duration.WithLabelValues(r.Method, label).Observe(elapsed.Seconds())
		level := slog.LevelInfo
		if label == "/health" || label == "/metrics" {
			level = slog.LevelDebug
		}
		logger.Log(ctx, level, "request", "method", r.Method, "path", r.URL.Path, "status", rec.status,
			"duration_ms", float64(elapsed.Microseconds())/1000, "bytes", rec.bytes, "client", ClientKey(r))
	}()

	switch {
	case rt == nil && allowed == "":
		WriteError(rec, http.StatusNotFound, "Not Found")
		return
	case rt == nil:
		rec.Header().Set("Allow", allowed)
		WriteError(rec, http.StatusMethodNotAllowed, "Method Not Allowed")
		return
	}
	if !rt.open {
		if s.limiter != nil {
			ok, remaining, reset := s.limiter.Allow(ClientKey(r))
			h := rec.Header()
			h.Set("X-RateLimit-Limit", strconv.Itoa(s.cfg.RateLimitPerMinute))
			h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
			h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
			if !ok {
				h.Set("Retry-After", strconv.Itoa(max(1, int(time.Until(reset).Seconds()+0.999))))
				WriteError(rec, http.StatusTooManyRequests, fmt.Sprintf("Rate limit exceeded. Maximum %d requests per minute.", s.cfg.RateLimitPerMinute))
				return
			}
		}
		if s.cfg.APIKey != "" {
			key := r.Header.Get("X-API-Key")
			if key == "" {
				logger.Warn("API key missing from request")
				WriteError(rec, http.StatusUnauthorized, "Missing API key. Provide X-API-Key header.")
				return
			}
			if subtle.ConstantTimeCompare([]byte(key), []byte(s.cfg.APIKey)) != 1 {
				logger.Warn("invalid API key provided")
				WriteError(rec, http.StatusUnauthorized, "Invalid API key.")
				return
			}
		}
	}
	if r.ContentLength > rt.maxBody {
		WriteError(rec, http.StatusRequestEntityTooLarge, tooLarge(rt.maxBody))
		return
	}
	r.Body = http.MaxBytesReader(rec, r.Body, rt.maxBody)
	rt.handler(rec, r)
}

func tooLarge(limit int64) string {
	return fmt.Sprintf("Request body too large. Maximum size: %.1fMB", float64(limit)/(1<<20))
}

func (s *Server) lookup(r *http.Request) (rt *route, allowed string) {
	methods := s.routes[r.URL.Path]
	if methods == nil {
		return nil, ""
	}
	if rt := methods[r.Method]; rt != nil {
		return rt, ""
	}
	if r.Method == http.MethodHead {
		if rt := methods[http.MethodGet]; rt != nil {
			return rt, ""
		}
	}
	var names []string
	for m := range methods {
		names = append(names, m)
	}
	sort.Strings(names)
	return nil, strings.Join(names, ", ")
}

// recorder captures the status and size of a response.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int
	wrote  bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// WriteJSON writes v as a JSON response with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"detail":"Internal Server Error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// WriteError writes FastAPI's error shape {"detail": detail}.
func WriteError(w http.ResponseWriter, status int, detail string) {
	WriteJSON(w, status, wire.ErrorBody{Detail: detail})
}

// ReadBody reads the whole request body. On failure it has answered (413 when
// the body exceeds the route's limit, 400 otherwise) and returns false.
func ReadBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	var buf []byte
	if r.ContentLength > 0 { // a declared length cannot make us allocate more than 16 MiB up front
		buf = make([]byte, 0, min(r.ContentLength, 16<<20)+1)
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, true
		}
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				WriteError(w, http.StatusRequestEntityTooLarge, tooLarge(tooBig.Limit))
			} else {
				WriteError(w, http.StatusBadRequest, "could not read request body")
			}
			return nil, false
		}
	}
}

// Serve serves on ln until ctx ends, then drains and shuts down (see the
// package comment). It returns nil after a clean shutdown.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	base, cancelBase := context.WithCancel(context.Background())
	defer cancelBase()
	s.base.Store(&base)
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.Info("listening", "address", ln.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.draining.Store(true)
	s.log.Info("shutdown requested: draining", "drain_delay_s", s.cfg.DrainDelay.Seconds(), "shutdown_timeout_s", s.cfg.ShutdownTimeout.Seconds())
	if s.cfg.DrainDelay > 0 {
		select {
		case <-time.After(s.cfg.DrainDelay):
		case err := <-errc:
			return err
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		s.log.Warn("requests still in flight at the shutdown timeout: cancelling them", "error", err.Error())
		cancelBase()
		_ = srv.Close()
		return nil
	}
	s.log.Info("shutdown complete")
	return nil
}
