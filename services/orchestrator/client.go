package orchestrator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/layering-detection/kubectl-layering/services/httpserver"
)

// callError is a failed call to another service.
type callError struct {
	msg       string
	retryable bool // timeout, connection error or 5xx
	timeout   bool
}

func (e *callError) Error() string { return e.msg }

// maxResponseBytes bounds what is read from another service's answer.
const maxResponseBytes = 256 << 20

// post sends one POST with a per-call timeout and classifies failures.
func (o *Orchestrator) post(ctx context.Context, url, apiKey string, body []byte, timeout time.Duration) ([]byte, error) {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, &callError{msg: err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	if rid := httpserver.RequestID(ctx); rid != "" {
		req.Header.Set("X-Request-ID", rid) // one id in every service's logs
	}
	if apiKey != "" {
		req.Header.Set("X-API-Key", apiKey)
	}
	resp, err := o.client.Do(req)
	if err != nil {
		return nil, classify(ctx, cctx, url, timeout, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, classify(ctx, cctx, url, timeout, err)
	}
	switch {
	case resp.StatusCode >= 500:
		return nil, &callError{msg: fmt.Sprintf("%s: HTTP %d: %s", url, resp.StatusCode, snippet(data)), retryable: true}
	case resp.StatusCode >= 300:
		return nil, &callError{msg: fmt.Sprintf("%s: HTTP %d: %s", url, resp.StatusCode, snippet(data))}
	}
	return data, nil
}

func classify(parent, call context.Context, url string, timeout time.Duration, err error) error {
	if parent.Err() != nil { // the /orchestrate request itself was cancelled
		return &callError{msg: fmt.Sprintf("%s: cancelled: %v", url, parent.Err())}
	}
	var ne net.Error
	if errors.Is(call.Err(), context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return &callError{msg: fmt.Sprintf("%s: timed out after %s", url, timeout), retryable: true, timeout: true}
	}
	return &callError{msg: fmt.Sprintf("%s: connection error: %v", url, err), retryable: true}
}

func snippet(b []byte) string {
	const n = 300
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// postWithRetries makes up to MaxRetries+1 attempts, retrying only
// retryable failures, after backoff, 2×backoff, 4×backoff, …
func (o *Orchestrator) postWithRetries(ctx context.Context, service, url, apiKey string, body []byte, timeout time.Duration) ([]byte, int, error) {
	log := httpserver.Log(ctx)
	var err error
	for attempt := 0; attempt <= o.cfg.MaxRetries; attempt++ {
		var data []byte
		data, err = o.post(ctx, url, apiKey, body, timeout)
		o.calls.WithLabelValues(service, outcome(err)).Inc()
		if err == nil {
			if attempt > 0 {
				log.Info("call succeeded after retries", "service", service, "attempts", attempt+1)
			}
			return data, attempt + 1, nil
		}
		var ce *callError
		if !errors.As(err, &ce) || !ce.retryable || attempt == o.cfg.MaxRetries {
			log.Error("call failed", "service", service, "attempts", attempt+1, "error", err.Error())
			return nil, attempt + 1, err
		}
		backoff := o.cfg.BackoffBase << attempt
		log.Warn("call failed, retrying", "service", service, "attempt", attempt+1, "of", o.cfg.MaxRetries+1,
			"backoff_s", backoff.Seconds(), "error", err.Error())
		o.retries.WithLabelValues(service).Inc()
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return nil, attempt + 1, &callError{msg: fmt.Sprintf("%s: cancelled: %v", url, ctx.Err())}
		}
	}
	return nil, o.cfg.MaxRetries + 1, err
}

func outcome(err error) string {
	var ce *callError
	switch {
	case err == nil:
		return "success"
	case errors.As(err, &ce) && ce.timeout:
		return "timeout"
	case errors.As(err, &ce) && ce.retryable:
		return "retryable_error"
	}
	return "error"
}
