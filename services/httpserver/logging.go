package httpserver

import (
	"context"
	"io"
	"log/slog"
	"strings"
)

// LevelCritical is Python's CRITICAL.
const LevelCritical = slog.LevelError + 4

// ParseLevel maps LOG_LEVEL (Python names: DEBUG, INFO, WARNING, ERROR,
// CRITICAL; WARN accepted) to a slog level.
func ParseLevel(s string) (slog.Level, bool) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "DEBUG":
		return slog.LevelDebug, true
	case "", "INFO":
		return slog.LevelInfo, true
	case "WARNING", "WARN":
		return slog.LevelWarn, true
	case "ERROR":
		return slog.LevelError, true
	case "CRITICAL", "FATAL":
		return LevelCritical, true
	}
	return slog.LevelInfo, false
}

// NewLogger returns a JSON logger writing one object per line:
// {"timestamp", "level" (Python level names), "message", "service", ...}.
func NewLogger(w io.Writer, service string, level slog.Level) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				a.Key = "timestamp"
			case slog.MessageKey:
				a.Key = "message"
			case slog.LevelKey:
				switch lv := a.Value.Any().(slog.Level); {
				case lv >= LevelCritical:
					a.Value = slog.StringValue("CRITICAL")
				case lv >= slog.LevelError:
					a.Value = slog.StringValue("ERROR")
				case lv >= slog.LevelWarn:
					a.Value = slog.StringValue("WARNING")
				case lv >= slog.LevelInfo:
					a.Value = slog.StringValue("INFO")
				default:
					a.Value = slog.StringValue("DEBUG")
				}
			}
			return a
		},
	})
	return slog.New(h).With("service", service)
}

type ctxKey int

const (
	requestIDKey ctxKey = iota
	loggerKey
)

// RequestID returns the request id the middleware assigned (X-Request-ID).
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// Log returns the request-scoped logger (with request_id), or the default.
func Log(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}
