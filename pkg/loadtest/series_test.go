package loadtest

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/layering-detection/kubectl-layering/pkg/loadtest/stats"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

// latencies is a histogram of the given latencies in ms.
func latencies(ms ...int) []uint64 {
	h := make([]uint64, len(stats.Buckets))
	for _, m := range ms {
		h[stats.Bucket(time.Duration(m)*time.Millisecond)]++
	}
	return stats.Trim(h)
}

// twoGenerators: a at 1/s from 0 to 10 s, b at 1/s from 5 s, still running.
func twoGenerators() *Observations {
	o := NewObservations()
	o.AddRecord("a", stats.Record{Kind: stats.KindStart, Time: at(0).UnixMilli(), Rate: 1, Workers: 2})
	o.AddRecord("b", stats.Record{Kind: stats.KindStart, Time: at(5).UnixMilli(), Rate: 1, Workers: 2})
	for s := 1; s <= 10; s++ {
		o.AddRecord("a", stats.Record{Kind: stats.KindInterval, Time: at(float64(s)).UnixMilli(), Sent: 1, Done: 1,
			Codes: map[string]uint64{"200": 1}, Latency: latencies(10 * s), Workers: 2})
	}
	o.AddRecord("a", stats.Record{Kind: stats.KindEnd, Time: at(10).UnixMilli(), Reason: "duration"})
	for s := 6; s <= 12; s++ {
		r := stats.Record{Kind: stats.KindInterval, Time: at(float64(s)).UnixMilli(), Sent: 1, Done: 1, Codes: map[string]uint64{"429": 1}, Workers: 2, ThrottledMillis: 500}
		if s == 12 {
			r.InFlight = 2 // every slot busy
		}
		o.AddRecord("b", r)
	}
	return o
}

// Requirement: traffic in a window sums the generators' records in it, and
// what was asked counts each generator only while it ran.
func TestTraffic(t *testing.T) {
	s := twoGenerators().Snapshot()
	if got := s.LoadStart(); !got.Equal(t0) {
		t.Errorf("load start %s", got)
	}
	tr := s.Traffic(at(4), at(8))
	// a: 5,6,7,8; b: 6,7,8.
	if tr.Sent != 7 || tr.Codes["200"] != 4 || tr.Codes["429"] != 3 || tr.Generators != 2 {
		t.Errorf("sent %d, codes %v, generators %d", tr.Sent, tr.Codes, tr.Generators)
	}
	if tr.Asked != 4+3 { // a the whole 4 s, b from 5 s
		t.Errorf("asked %g, want 7", tr.Asked)
	}
	if tr.Latency.Count() != 4 || tr.Saturated {
		t.Errorf("latencies %d, saturated %v", tr.Latency.Count(), tr.Saturated)
	}
	if late := s.Traffic(at(10), at(12)); !late.Saturated || late.InFlight != 2 || late.Throttled != 0.5 || late.Asked != 2 {
		t.Errorf("after a ended: %+v", late)
	}
}

// Requirement: the shortfall (sent < 99 % of asked) names its causes: pods
// that never ran, busy in-flight slots, CPU throttling.
func TestShortfall(t *testing.T) {
	if s := Shortfall(Traffic{Asked: 100, Sent: 99}, 2, 2, 0); s != "" {
		t.Errorf("99 %% sent: %q", s)
	}
	s := Shortfall(Traffic{Asked: 100, Sent: 50, Saturated: true, Throttled: 0.2}, 3, 2, 1)
	for _, want := range []string{"sent 50.0% of the asked requests", "2 of 3 generator pods ran", "1 generator pods stopped before their time", "in-flight slots were busy", "CPU-throttled 20% of the time at their 250m limit"} {
		if !strings.Contains(s, want) {
			t.Errorf("shortfall %q lacks %q", s, want)
		}
	}
	if s := Shortfall(Traffic{Asked: 100, Sent: 90}, 1, 1, 0); !strings.Contains(s, "no cause seen") {
		t.Errorf("unexplained shortfall: %q", s)
	}
}

func sampleAt(s float64, replicas, ready int32, lastScale float64) ClusterSample {
	c := ClusterSample{At: at(s), HPACurrent: replicas, HPADesired: replicas, Replicas: replicas, Ready: ready}
	if lastScale != 0 {
		c.LastScale = at(lastScale)
	}
	return c
}

// Requirement: a scale event is timed by the HPA's lastScaleTime when that
// falls between the samples, and named by the HPA's event of the same size.
func TestScaleEvents(t *testing.T) {
	o := twoGenerators()
	for _, c := range []ClusterSample{sampleAt(-2, 1, 1, 0), sampleAt(50, 1, 1, 0), sampleAt(52, 3, 1, 51), sampleAt(54, 3, 3, 51), sampleAt(400, 1, 1, 0)} {
		o.AddCluster(c)
	}
	events := o.Snapshot().ScaleEvents()
	want := []ScaleEvent{{At: at(51), T: 51, From: 1, To: 3}, {At: at(400), T: 400, From: 3, To: 1}}
	if !reflect.DeepEqual(events, want) {
		t.Fatalf("events %+v, want %+v", events, want)
	}
	named := WithReasons(events, []HPAEvent{
		{At: at(20), Message: "New size: 3; reason: memory resource utilization (percentage of request) above target"},
		{At: at(51.5), Message: "New size: 3; reason: cpu resource utilization (percentage of request) above target"},
		{At: at(401), Message: "New size: 1; reason: All metrics below target"},
	})
	if named[0].Reason != "cpu resource utilization (percentage of request) above target" || named[1].Reason != "All metrics below target" {
		t.Errorf("reasons %q, %q", named[0].Reason, named[1].Reason)
	}
}

// Requirement: latency per phase: before the first new replica was Ready,
// after it, and after the load (only an observed scale-in).
func TestPhases(t *testing.T) {
	o := twoGenerators()
	o.Stop(at(12))
	s := o.Snapshot()
	phases := s.Phases(at(5), at(30))
	names := []string{}
	for _, p := range phases {
		names = append(names, p.Name)
	}
	if !reflect.DeepEqual(names, []string{"before scale-out", "scaled out", "after the load"}) {
		t.Fatalf("phases %v", names)
	}
	before, after := phases[0], phases[1]
	if before.Requests != 5 || before.Codes["200"] != 5 || before.P99 < 50 || before.P99 > 55 {
		t.Errorf("before scale-out: %+v", before)
	}
	if after.Requests != 12 || after.Codes["429"] != 7 || after.From != 5 || after.To != 12 {
		t.Errorf("scaled out: %+v", after)
	}
	if only := s.Phases(time.Time{}, at(13)); len(only) != 1 || only[0].Name != "under load" || only[0].Requests != 17 {
		t.Errorf("no scale-out, no observation after: %+v", only)
	}
}

// Requirement: the chart's series fit the width: counts keep their peaks,
// utilizations their means.
func TestDownsample(t *testing.T) {
	v := []float64{1, 1, 5, 1, 2, 2}
	if got := Downsample(v, 3, true); !reflect.DeepEqual(got, []float64{1, 5, 2}) {
		t.Errorf("max: %v", got)
	}
	if got := Downsample(v, 3, false); !reflect.DeepEqual(got, []float64{1, 3, 2}) {
		t.Errorf("mean: %v", got)
	}
	if got := Downsample(v, 10, true); !reflect.DeepEqual(got, v) {
		t.Errorf("narrower than width: %v", got)
	}
}
