package loadtest

import (
	"strings"
	"testing"
	"time"

	"github.com/layering-detection/kubectl-layering/pkg/loadtest/stats"
)

// localLayering is the local overlay's layering autoscaler.
var localLayering = &Target{MinReplicas: 1, MaxReplicas: 10, CPUTarget: 70, MemoryTarget: 80, ScaleUpWindow: 60 * time.Second, ScaleDownWindow: 300 * time.Second}

// run is a snapshot of a load from 0 to stop s with the given replica counts
// (sample time → replicas) and pods.
func run(stop float64, counts map[float64]int32, pods ...*Replica) Snapshot {
	o := NewObservations()
	o.AddRecord("g", stats.Record{Kind: stats.KindStart, Time: at(0).UnixMilli(), Rate: 1})
	o.AddRecord("g", stats.Record{Kind: stats.KindEnd, Time: at(stop).UnixMilli()})
	times := make([]float64, 0, len(counts))
	for s := range counts {
		times = append(times, s)
	}
	for i := range times { // in time order
		for j := i + 1; j < len(times); j++ {
			if times[j] < times[i] {
				times[i], times[j] = times[j], times[i]
			}
		}
	}
	for _, s := range times {
		o.AddCluster(sampleAt(s, counts[s], counts[s], 0))
	}
	o.Stop(at(stop))
	s := o.Snapshot()
	for _, p := range pods {
		s.Pods[p.Name] = p
	}
	return s
}

func judge(s Snapshot, observe bool) map[string]Verdict {
	sc := ScalingOf(s, localLayering, s.ScaleEvents())
	out := map[string]Verdict{}
	for _, v := range Judge(localLayering, sc, observe) {
		out[v.Name] = v
	}
	return out
}

func expect(t *testing.T, name string, v Verdict, ok *bool, detail string) {
	t.Helper()
	if (v.OK == nil) != (ok == nil) || (ok != nil && *v.OK != *ok) || !strings.Contains(v.Detail, detail) {
		t.Errorf("%s: %s %s, want %v with %q", name, v.Mark(), v.Detail, ok, detail)
	}
}

var yes, no = func() *bool { b := true; return &b }(), func() *bool { b := false; return &b }()

// Requirement: a run that scales 1 → 4 at 50 s, is back at min 320 s after
// the load, and whose new replicas all served requests passes every verdict.
func TestJudgeAGoodRun(t *testing.T) {
	s := run(180, map[float64]int32{-2: 1, 48: 1, 50: 4, 200: 4, 500: 1},
		&Replica{Name: "old", Created: at(-100), Ready: at(-90), Served: 400},
		&Replica{Name: "new-1", Created: at(50), Ready: at(53), Served: 120},
		&Replica{Name: "new-2", Created: at(50), Ready: at(54), Served: 110, Gone: at(500)})
	v := judge(s, true)
	expect(t, "scaled out", v["scaled out under load"], yes, "1 → 4 replicas, the first scale-out 50 s after the load began")
	expect(t, "max", v["respected max"], yes, "peak 4 of max 10")
	expect(t, "cooldowns", v["cooldowns"], yes, "back at min 1 320 s after the load stopped")
	expect(t, "traffic", v["every new replica served"], yes, "2 of 2 new replicas served requests")
}

// Requirement: each verdict fails for what it guards against.
func TestJudgeFailures(t *testing.T) {
	expect(t, "no scale-out", judge(run(180, map[float64]int32{0: 1, 100: 1}), false)["scaled out under load"], no, "stayed at 1")
	expect(t, "above max", judge(run(180, map[float64]int32{0: 1, 50: 11}), false)["respected max"], no, "peak 11 of max 10")
	// A scale-out 20 s into the load: the 60 s scale-up window was not applied.
	expect(t, "early scale-out", judge(run(180, map[float64]int32{0: 1, 20: 3}), false)["cooldowns"], no, "first scale-out 20 s after the load began")
	// Back at min 100 s after the load: the 300 s scale-down window was not applied.
	expect(t, "early scale-in", judge(run(180, map[float64]int32{0: 1, 50: 3, 280: 1}), true)["cooldowns"], no, "back at min 1 100 s after the load stopped")
	// A scale-in 60 s after a scale-out to more, during the load.
	expect(t, "flapping", judge(run(300, map[float64]int32{0: 1, 50: 4, 110: 2}), false)["cooldowns"], no, "scale-in to 2 only 60 s after the scale-out to 4")
	// Observed, but still scaled out when the observation ended.
	expect(t, "not back", judge(run(180, map[float64]int32{0: 1, 50: 3, 600: 3}), true)["cooldowns"], no, "not back at min 1")
	starved := run(180, map[float64]int32{0: 1, 50: 3}, &Replica{Name: "new", Created: at(50), Ready: at(55), Served: 0})
	expect(t, "starved replica", judge(starved, false)["every new replica served"], no, "0 of 1 new replicas")
}

// Requirement: what the run cannot tell is not judged (–), with the reason.
func TestJudgeUndecided(t *testing.T) {
	atMax := judge(run(180, map[float64]int32{0: 10, 100: 10}), false)
	expect(t, "at max", atMax["scaled out under load"], nil, "already at its maximum of 10")
	expect(t, "nothing to time", atMax["cooldowns"], nil, "no scaling to time")
	expect(t, "nothing added", atMax["every new replica served"], nil, "no replica was added")
	unread := run(180, map[float64]int32{0: 1, 50: 2}, &Replica{Name: "new", Created: at(50), Ready: at(55), Served: -1})
	expect(t, "metrics unread", judge(unread, false)["every new replica served"], nil, "could not be read")
	// Scaled out and the scale-up timed, the scale-in not observed: judged on what was seen.
	expect(t, "scale-in not observed", judge(run(180, map[float64]int32{0: 1, 50: 2}), false)["cooldowns"], yes, "first scale-out 50 s")
}
