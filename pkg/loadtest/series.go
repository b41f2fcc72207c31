package loadtest

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"time"

	"github.com/layering-detection/kubectl-layering/pkg/loadtest/stats"
)

// The reductions of a Snapshot: traffic in a window, the time series, the
// phases, the scale events. All pure.

// LoadStart is when the first generator began sending; zero before.
func (s Snapshot) LoadStart() time.Time {
	var t time.Time
	for _, g := range s.Generators {
		if !g.Start.IsZero() && (t.IsZero() || g.Start.Before(t)) {
			t = g.Start
		}
	}
	return t
}

// Traffic is the load of all generators in one window.
type Traffic struct {
	Seconds    float64
	Asked      float64 // requests the generators were asked to send in the window
	Sent       uint64
	Done       uint64
	Codes      map[string]uint64
	Errors     map[string]uint64
	Latency    stats.Histogram
	InFlight   int // at the window's end, all generators
	Workers    int
	Throttled  float64 // share of the window the running generators were CPU-throttled
	Generators int     // that sent in the window
	Saturated  bool    // at some point every generator's in-flight slots were busy
}

// Traffic sums the generators' records in (from, to].
func (s Snapshot) Traffic(from, to time.Time) Traffic {
	t := Traffic{Seconds: to.Sub(from).Seconds(), Codes: map[string]uint64{}, Errors: map[string]uint64{}}
	for _, g := range s.Generators {
		if g.Start.IsZero() {
			continue
		}
		end := g.End
		if end.IsZero() {
			end = to
		}
		if overlap := minTime(end, to).Sub(maxTime(g.Start, from)); overlap > 0 {
			t.Asked += g.Rate * overlap.Seconds()
		}
	}
	last := map[string]stats.Record{}
	var throttled float64
	for _, r := range s.Records {
		at := r.At()
		if !at.After(from) || at.After(to) {
			continue
		}
		t.Sent += r.Sent
		t.Done += r.Done
		for k, v := range r.Codes {
			t.Codes[k] += v
		}
		for k, v := range r.Errors {
			t.Errors[k] += v
		}
		t.Latency.Add(r.Latency)
		throttled += float64(r.ThrottledMillis)
		if r.Workers > 0 && r.InFlight >= r.Workers {
			t.Saturated = true
		}
		last[r.Pod] = r.Record
	}
	for _, r := range last {
		t.InFlight += r.InFlight
		t.Workers += r.Workers
	}
	t.Generators = len(last)
	if t.Generators > 0 && t.Seconds > 0 {
		t.Throttled = throttled / 1000 / (t.Seconds * float64(t.Generators))
	}
	return t
}

// Rate is the requests sent per second.
func (t Traffic) Rate() float64 { return perSecond(float64(t.Sent), t.Seconds) }

// AskedRate is the requests per second the generators were asked to send.
func (t Traffic) AskedRate() float64 { return perSecond(t.Asked, t.Seconds) }

func perSecond(n, seconds float64) float64 {
	if seconds <= 0 {
		return 0
	}
	return n / seconds
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/float64(time.Millisecond)*10) / 10 }

// Sample is one point of the time series: the traffic since the previous
// sample, and the autoscaler and Deployment at this one.
type Sample struct {
	T          float64           `json:"t"` // seconds since the load started
	AskedRate  float64           `json:"asked_rate"`
	SentRate   float64           `json:"sent_rate"`
	DoneRate   float64           `json:"done_rate"`
	Codes      map[string]uint64 `json:"codes,omitempty"`
	Errors     map[string]uint64 `json:"errors,omitempty"`
	P50        float64           `json:"p50_ms"`
	P95        float64           `json:"p95_ms"`
	P99        float64           `json:"p99_ms"`
	InFlight   int               `json:"in_flight"`
	HPACurrent int32             `json:"hpa_current"`
	HPADesired int32             `json:"hpa_desired"`
	Replicas   int32             `json:"replicas"`
	Ready      int32             `json:"ready"`
	CPU        *int32            `json:"cpu_percent"`
	Memory     *int32            `json:"memory_percent"`
}

// Series is one sample per cluster sample.
func (s Snapshot) Series() []Sample {
	start := s.LoadStart()
	out := make([]Sample, 0, len(s.Cluster))
	for i, c := range s.Cluster {
		from := c.At.Add(-2 * time.Second)
		if i > 0 {
			from = s.Cluster[i-1].At
		}
		t := s.Traffic(from, c.At)
		x := Sample{
			T:         math.Round(c.At.Sub(start).Seconds()*10) / 10,
			AskedRate: round2(t.AskedRate()), SentRate: round2(t.Rate()), DoneRate: round2(perSecond(float64(t.Done), t.Seconds)),
			P50: ms(t.Latency.Quantile(0.5)), P95: ms(t.Latency.Quantile(0.95)), P99: ms(t.Latency.Quantile(0.99)),
			InFlight:   t.InFlight,
			HPACurrent: c.HPACurrent, HPADesired: c.HPADesired, Replicas: c.Replicas, Ready: c.Ready, CPU: c.CPU, Memory: c.Memory,
		}
		if len(t.Codes) > 0 {
			x.Codes = t.Codes
		}
		if len(t.Errors) > 0 {
			x.Errors = t.Errors
		}
		if start.IsZero() {
			x.T = 0
		}
		out = append(out, x)
	}
	return out
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

// ScaleEvent is one change of the Deployment's replica count by the HPA.
type ScaleEvent struct {
	At     time.Time `json:"-"`
	T      float64   `json:"t"` // seconds since the load started
	From   int32     `json:"from"`
	To     int32     `json:"to"`
	Reason string    `json:"reason,omitempty"`
}

// ScaleEvents are the changes of the replica count between samples, timed by
// the HPA's lastScaleTime when it falls between them.
func (s Snapshot) ScaleEvents() []ScaleEvent {
	var out []ScaleEvent
	start := s.LoadStart()
	for i := 1; i < len(s.Cluster); i++ {
		prev, cur := s.Cluster[i-1], s.Cluster[i]
		if cur.Replicas == prev.Replicas || prev.Replicas == 0 {
			continue
		}
		at := cur.At
		// lastScaleTime has one-second resolution: allow that much before the previous sample.
		if ls := cur.LastScale; !ls.IsZero() && ls.After(prev.At.Add(-time.Second)) && !ls.After(cur.At) {
			at = ls
		}
		out = append(out, ScaleEvent{At: at, T: math.Round(at.Sub(start).Seconds()), From: prev.Replicas, To: cur.Replicas})
	}
	return out
}

// HPAEvent is an event the HPA controller recorded (SuccessfulRescale).
type HPAEvent struct {
	At      time.Time
	Message string // "New size: 4; reason: cpu resource utilization (percentage of request) above target"
}

var newSize = regexp.MustCompile(`New size: (\d+); reason: (.*)`)

// WithReasons names the reason of each scale event from the HPA's events:
// the one announcing the same new size closest in time (within 30 s).
func WithReasons(events []ScaleEvent, hpa []HPAEvent) []ScaleEvent {
	out := append([]ScaleEvent(nil), events...)
	for i := range out {
		best := 31 * time.Second
		for _, e := range hpa {
			m := newSize.FindStringSubmatch(e.Message)
			if m == nil || m[1] != strconv.Itoa(int(out[i].To)) {
				continue
			}
			if d := absDuration(e.At.Sub(out[i].At)); d < best {
				best, out[i].Reason = d, m[2]
			}
		}
	}
	return out
}

// Phase is the traffic of one part of the run.
type Phase struct {
	Name     string            `json:"name"`
	From     float64           `json:"from"` // seconds since the load started
	To       float64           `json:"to"`
	Requests uint64            `json:"requests"` // completed
	Rate     float64           `json:"rate"`     // sent per second
	P50      float64           `json:"p50_ms"`
	P95      float64           `json:"p95_ms"`
	P99      float64           `json:"p99_ms"`
	Codes    map[string]uint64 `json:"codes"`
	Errors   map[string]uint64 `json:"errors,omitempty"`
}

// Phases split the run at the moment the first new replica was Ready (when
// latency can first improve) and at the end of the load.
func (s Snapshot) Phases(firstNewReady, end time.Time) []Phase {
	start, stop := s.LoadStart(), s.Stopped
	if start.IsZero() {
		return nil
	}
	if stop.IsZero() {
		stop = end
	}
	type cut struct {
		name     string
		from, to time.Time
	}
	cuts := []cut{{"under load", start, stop}}
	if !firstNewReady.IsZero() && firstNewReady.After(start) && firstNewReady.Before(stop) {
		cuts = []cut{{"before scale-out", start, firstNewReady}, {"scaled out", firstNewReady, stop}}
	}
	if end.Sub(stop) >= 10*time.Second { // an observed scale-in, not the last sample's lag
		cuts = append(cuts, cut{"after the load", stop, end})
	}
	var out []Phase
	for _, c := range cuts {
		// The first records come up to a second after a generator starts: count them in.
		from := c.from
		if from.Equal(start) {
			from = from.Add(-time.Second)
		}
		t := s.Traffic(from, c.to)
		p := Phase{
			Name: c.name, From: math.Round(c.from.Sub(start).Seconds()), To: math.Round(c.to.Sub(start).Seconds()),
			Requests: t.Done, Rate: round2(perSecond(float64(t.Sent), c.to.Sub(c.from).Seconds())),
			P50: ms(t.Latency.Quantile(0.5)), P95: ms(t.Latency.Quantile(0.95)), P99: ms(t.Latency.Quantile(0.99)),
			Codes: t.Codes,
		}
		if len(t.Errors) > 0 {
			p.Errors = t.Errors
		}
		out = append(out, p)
	}
	return out
}

// Shortfall says why the generators sent less than asked (below 99 %), or
// "" when they did not: planned generator pods of the plan, ran of them got
// to run, early of them stopped before their time.
func Shortfall(t Traffic, planned, ran, early int) string {
	if t.Asked == 0 || float64(t.Sent) >= 0.99*t.Asked {
		return ""
	}
	why := fmt.Sprintf("sent %.1f%% of the asked requests", 100*float64(t.Sent)/t.Asked)
	var reasons []string
	if ran < planned {
		reasons = append(reasons, fmt.Sprintf("%d of %d generator pods ran", ran, planned))
	}
	if early > 0 {
		reasons = append(reasons, fmt.Sprintf("%d generator pods stopped before their time", early))
	}
	if t.Saturated {
		reasons = append(reasons, "all in-flight slots were busy at times: the service answered slower than rate × latency allows (raise --concurrency, or the service is saturated)")
	}
	if t.Throttled > 0.05 {
		reasons = append(reasons, fmt.Sprintf("the generators were CPU-throttled %.0f%% of the time at their %s limit", 100*t.Throttled, generatorCPULimit.String()))
	}
	if len(reasons) == 0 {
		reasons = append(reasons, "no cause seen (not saturated, not throttled): the generators' pacing fell behind")
	}
	for i, r := range reasons {
		if i == 0 {
			why += ": " + r
		} else {
			why += "; " + r
		}
	}
	return why
}

// Downsample reduces values to at most width points, each the maximum (for
// counts: a short peak must stay visible) or the mean of its share.
func Downsample(values []float64, width int, useMax bool) []float64 {
	if width <= 0 || len(values) <= width {
		return values
	}
	out := make([]float64, width)
	for i := range out {
		lo, hi := i*len(values)/width, (i+1)*len(values)/width
		agg := values[lo]
		for _, v := range values[lo+1 : hi] {
			if useMax {
				agg = math.Max(agg, v)
			} else {
				agg += v
			}
		}
		if !useMax {
			agg /= float64(hi - lo)
		}
		out[i] = agg
	}
	return out
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
