// Package stats is what the load generator (cmd/layering-loadgen) reports and
// the plugin reads: one JSON line per generator pod per second on the pod's
// stdout, with latency as counts over fixed buckets so that the lines of many
// pods merge exactly.
package stats

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// Kinds of records.
const (
	KindStart    = "start"    // the generator begins sending; Rate is what it was asked for
	KindInterval = "interval" // one second of traffic
	KindEnd      = "end"      // the generator stopped; Reason says why
)

// Record is one line of a generator's stdout.
type Record struct {
	Kind string `json:"kind"`
	// Time is the end of the interval (start and end: the moment), Unix milliseconds.
	Time int64 `json:"t"`
	// Rate is the generator's asked rate, requests/s (start).
	Rate float64 `json:"rate,omitempty"`
	// Sent are the requests issued in the interval, Done those that completed.
	Sent uint64 `json:"sent,omitempty"`
	Done uint64 `json:"done,omitempty"`
	// Codes counts completed requests by HTTP status; "0" means no answer (Errors says why).
	Codes map[string]uint64 `json:"codes,omitempty"`
	// Errors counts requests without an answer by class (timeout, refused, reset, other).
	Errors map[string]uint64 `json:"errors,omitempty"`
	// Latency counts completed requests per Buckets entry (trailing zeros cut).
	Latency []uint64 `json:"lat,omitempty"`
	// InFlight is the requests outstanding at the end of the interval; Workers
	// the generator's cap on them.
	InFlight int `json:"inflight,omitempty"`
	Workers  int `json:"workers,omitempty"`
	// CPUMillis is the CPU the generator used in the interval and
	// ThrottledMillis the time its cgroup was throttled (CPU limit reached).
	CPUMillis       int64 `json:"cpu_ms,omitempty"`
	ThrottledMillis int64 `json:"throttled_ms,omitempty"`
	// Reason why the generator stopped (end): "duration", "signal", "error: …".
	Reason string `json:"reason,omitempty"`
}

// Parse reads one line; lines that are not records (a Go panic, say) are errors.
func Parse(line []byte) (Record, error) {
	var r Record
	if err := json.Unmarshal(line, &r); err != nil {
		return r, fmt.Errorf("not a generator record: %w", err)
	}
	switch r.Kind {
	case KindStart, KindInterval, KindEnd:
		return r, nil
	}
	return r, fmt.Errorf("not a generator record: kind %q", r.Kind)
}

// At is the record's time.
func (r Record) At() time.Time { return time.UnixMilli(r.Time) }

// Buckets are the latency histogram's lower bounds: 0, then 0.5 ms growing by
// 10 % a step up to 2 minutes (the last bucket is open-ended). A percentile
// read from them is within 10 % of the true value.
var Buckets = func() []time.Duration {
	b := []time.Duration{0}
	for d := 500 * time.Microsecond; d < 2*time.Minute; d = time.Duration(math.Ceil(float64(d) * 1.1)) {
		b = append(b, d)
	}
	return b
}()

// Bucket is the index of the bucket holding latency d.
func Bucket(d time.Duration) int {
	lo, hi := 0, len(Buckets)-1
	for lo < hi { // the last bound <= d
		mid := (lo + hi + 1) / 2
		if Buckets[mid] <= d {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// Histogram is latency counts per Buckets entry, mergeable.
type Histogram []uint64

// Add merges o into h.
func (h *Histogram) Add(o []uint64) {
	if len(o) > len(*h) {
		*h = append(*h, make([]uint64, len(o)-len(*h))...)
	}
	for i, c := range o {
		(*h)[i] += c
	}
}

// Count is the number of latencies in h.
func (h Histogram) Count() uint64 {
	var n uint64
	for _, c := range h {
		n += c
	}
	return n
}

// Quantile is the upper bound of the bucket holding the q-quantile (0 < q <= 1):
// the true value is at most this and at least 1/1.1 of it. 0 when h is empty.
func (h Histogram) Quantile(q float64) time.Duration {
	n := h.Count()
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	var seen uint64
	for i, c := range h {
		seen += c
		if seen >= rank {
			if i+1 < len(Buckets) {
				return Buckets[i+1]
			}
			return Buckets[i] // open-ended: at least this
		}
	}
	return Buckets[len(Buckets)-1]
}

// Trim cuts trailing zero counts, for compact lines.
func Trim(h []uint64) []uint64 {
	n := len(h)
	for n > 0 && h[n-1] == 0 {
		n--
	}
	return h[:n]
}
