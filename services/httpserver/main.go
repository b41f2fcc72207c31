package httpserver

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/layering-detection/kubectl-layering/services/version"
)

// Spec describes one service binary for Main.
type Spec struct {
	Service     string // e.g. "orchestrator-service"
	DefaultPort int
	EventsHelp  string
	// Setup reads the service's own environment and registers its routes.
	Setup func(s *Server, getenv func(string) string) error
}

// Main runs a service binary and returns its exit code.
//
// Environment shared by all services: PORT, LOG_LEVEL, API_KEY,
// RATE_LIMIT_PER_MINUTE (default 100; 0 disables), and
// SHUTDOWN_DRAIN_SECONDS (default 5) and SHUTDOWN_TIMEOUT_SECONDS (default
// 20), which should add up to less than the pod's termination grace period.
//
// Flags: -healthcheck probes GET /health on the local port and exits 0 when
// it answers 200 (a HEALTHCHECK for images without a shell); -version prints
// the version.
func Main(spec Spec, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(spec.Service, flag.ContinueOnError)
	fs.SetOutput(stderr)
	healthcheck := fs.Bool("healthcheck", false, "probe GET /health on the local port and exit 0 if healthy")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *showVersion {
		fmt.Fprintf(stdout, "%s %s (%s)\n", spec.Service, version.Version, version.Commit)
		return 0
	}
	port, err := EnvInt(getenv, "PORT", spec.DefaultPort)
	if err == nil && (port < 1 || port > 65535) {
		err = fmt.Errorf("PORT: %d is not a TCP port", port)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if *healthcheck {
		return probe(port, stderr)
	}
	level, ok := ParseLevel(getenv("LOG_LEVEL"))
	logger := NewLogger(stdout, spec.Service, level)
	if !ok {
		logger.Warn("unknown LOG_LEVEL, using INFO", "LOG_LEVEL", getenv("LOG_LEVEL"))
	}
	sizeRuntime(logger)

	rate, err1 := EnvInt(getenv, "RATE_LIMIT_PER_MINUTE", 100)
	drain, err2 := EnvSeconds(getenv, "SHUTDOWN_DRAIN_SECONDS", DefaultDrainDelay)
	timeout, err3 := EnvSeconds(getenv, "SHUTDOWN_TIMEOUT_SECONDS", DefaultShutdownTimeout)
	for _, err := range []error{err1, err2, err3} {
		if err != nil {
			logger.Error("invalid configuration", "error", err.Error())
			return 2
		}
	}
	if drain == 0 {
		drain = -1 // explicitly no drain
	}
	apiKey := getenv("API_KEY")
	if apiKey == "" {
		logger.Warn("API_KEY not configured: authentication disabled (development mode)")
	}
	srv := New(Config{
		Service: spec.Service, APIKey: apiKey, RateLimitPerMinute: rate, Logger: logger,
		DrainDelay: drain, ShutdownTimeout: timeout, EventsHelp: spec.EventsHelp,
	})
	if err := spec.Setup(srv, getenv); err != nil {
		logger.Error("invalid configuration", "error", err.Error())
		return 2
	}
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(port))
	if err != nil {
		logger.Error("cannot listen", "error", err.Error())
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-ctx.Done()
		stop() // a second signal gets the default action
	}()
	logger.Info("starting", "version", version.Version, "port", port, "rate_limit_per_minute", rate,
		"auth", apiKey != "", "log_level", level.String())
	if err := srv.Serve(ctx, ln); err != nil {
		logger.Error("server failed", "error", err.Error())
		return 1
	}
	return 0
}

func probe(port int, stderr io.Writer) int {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/health")
	if err != nil {
		fmt.Fprintln(stderr, "unhealthy:", err)
		return 1
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(stderr, "unhealthy: HTTP", resp.StatusCode)
		return 1
	}
	return 0
}

// EnvInt reads an integer variable (def when unset or empty).
func EnvInt(getenv func(string) string, name string, def int) (int, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not an integer", name, v)
	}
	return n, nil
}

// EnvSeconds reads a non-negative number of seconds (def when unset or empty).
func EnvSeconds(getenv func(string) string, name string, def time.Duration) (time.Duration, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return def, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f > 1e6 {
		return 0, fmt.Errorf("%s: %q is not a number of seconds", name, v)
	}
	return time.Duration(f * float64(time.Second)), nil
}

// EnvBool reads a boolean the way the existing services do: "true", "1" or
// "yes" (any case) is true, anything else false; def when unset.
func EnvBool(getenv func(string) string, name string, def bool) bool {
	v := getenv(name)
	if v == "" {
		return def
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes":
		return true
	}
	return false
}

// EnvString reads a variable with a default for unset or empty.
func EnvString(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}
