package loadtest

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// tolerance absorbs the one-second resolution of the HPA's lastScaleTime and
// of the generators' clocks when timing against a stabilization window.
const tolerance = 2 * time.Second

// hpaSync is how often the HPA controller evaluates (kube-controller-manager's
// default --horizontal-pod-autoscaler-sync-period). A stabilization window
// holds the recommendations of the syncs within it, so a load's effect may
// first (or last) be seen up to one sync before the window's start.
const hpaSync = 15 * time.Second

// Scaling is what the autoscaler did during the run.
type Scaling struct {
	MinReplicas   int32        `json:"min_replicas"`
	MaxReplicas   int32        `json:"max_replicas"`
	StartReplicas int32        `json:"start_replicas"`
	PeakReplicas  int32        `json:"peak_replicas"`
	PeakCPU       *int32       `json:"peak_cpu_percent"`
	PeakMemory    *int32       `json:"peak_memory_percent"`
	FirstScaleOut *float64     `json:"first_scale_out_seconds"` // after the load started
	Events        []ScaleEvent `json:"events"`
	// Replicas are the target's pods, those added during the run marked New.
	Replicas []ReplicaReport `json:"replicas"`
	// BackAtMin is how long after the load stopped the HPA was back at its
	// minimum (with --observe-scale-in).
	BackAtMin *float64 `json:"back_at_min_after_load_seconds"`
	// AtRest: when the load began, the HPA was not in the middle of scaling.
	AtRest bool `json:"-"`
}

// ReplicaReport is one pod of the target.
type ReplicaReport struct {
	Pod     string   `json:"pod"`
	New     bool     `json:"new"`             // created after the load started
	Created *float64 `json:"created_seconds"` // after the load started (new pods)
	Ready   *float64 `json:"ready_seconds"`   // after the load started (new pods)
	Served  float64  `json:"requests_served"` // the pod's own /metrics count on the endpoint; -1 unknown
	Pending string   `json:"pending,omitempty"`
}

// ScalingOf reduces the snapshot to what the autoscaler did.
func ScalingOf(s Snapshot, t *Target, events []ScaleEvent) Scaling {
	start, stop := s.LoadStart(), s.Stopped
	sc := Scaling{MinReplicas: t.MinReplicas, MaxReplicas: t.MaxReplicas, Events: events}
	for i, c := range s.Cluster {
		// The count when the load began: the last sample before it (or the first one).
		if i == 0 || !c.At.After(start) {
			sc.StartReplicas = c.Replicas
			sc.AtRest = c.HPACurrent == c.HPADesired && c.HPACurrent == c.Replicas
		}
		sc.PeakReplicas = max(sc.PeakReplicas, c.Replicas, c.HPACurrent, c.HPADesired)
		sc.PeakCPU = maxPtr(sc.PeakCPU, c.CPU)
		sc.PeakMemory = maxPtr(sc.PeakMemory, c.Memory)
	}
	for _, e := range events {
		if e.To > e.From && !e.At.Before(start) {
			v := e.At.Sub(start).Seconds()
			sc.FirstScaleOut = &v
			break
		}
	}
	if !stop.IsZero() {
		for _, c := range s.Cluster {
			if c.At.After(stop) && c.Replicas == t.MinReplicas && sc.PeakReplicas > t.MinReplicas {
				at := c.At
				for _, e := range events { // the scale event that brought it there is timed better
					if e.To == t.MinReplicas && e.At.After(stop) && !e.At.After(c.At) {
						at = e.At
					}
				}
				v := math.Round(at.Sub(stop).Seconds())
				sc.BackAtMin = &v
				break
			}
		}
	}
	for _, p := range s.Pods {
		r := ReplicaReport{Pod: p.Name, New: !start.IsZero() && p.Created.After(start), Served: p.Served, Pending: p.Pending}
		if r.New {
			r.Created = secondsAfter(p.Created, start)
			r.Ready = secondsAfter(p.Ready, start)
		}
		sc.Replicas = append(sc.Replicas, r)
	}
	sort.Slice(sc.Replicas, func(i, j int) bool {
		a, b := sc.Replicas[i], sc.Replicas[j]
		if a.New != b.New {
			return !a.New
		}
		if a.Created != nil && b.Created != nil && *a.Created != *b.Created {
			return *a.Created < *b.Created
		}
		return a.Pod < b.Pod
	})
	return sc
}

// FirstNewReady is when the first replica added during the load was Ready.
func FirstNewReady(s Snapshot) time.Time {
	start := s.LoadStart()
	var first time.Time
	for _, p := range s.Pods {
		if !start.IsZero() && p.Created.After(start) && !p.Ready.IsZero() && (first.IsZero() || p.Ready.Before(first)) {
			first = p.Ready
		}
	}
	return first
}

func secondsAfter(t, start time.Time) *float64 {
	if t.IsZero() {
		return nil
	}
	v := math.Round(t.Sub(start).Seconds()*10) / 10
	return &v
}

func maxPtr(a, b *int32) *int32 {
	if b == nil || (a != nil && *a >= *b) {
		return a
	}
	v := *b
	return &v
}

// Verdict is one judgement of the run; OK is nil when the run could not tell.
type Verdict struct {
	Name   string `json:"name"`
	OK     *bool  `json:"ok"`
	Detail string `json:"detail"`
}

// Mark is ✓, ✗ or – (not judged).
func (v Verdict) Mark() string {
	switch {
	case v.OK == nil:
		return "–"
	case *v.OK:
		return "✓"
	}
	return "✗"
}

func verdict(name string, ok bool, format string, args ...any) Verdict {
	return Verdict{Name: name, OK: &ok, Detail: fmt.Sprintf(format, args...)}
}

func undecided(name, format string, args ...any) Verdict {
	return Verdict{Name: name, Detail: fmt.Sprintf(format, args...)}
}

// Judge gives the run's verdicts: scaled out under load, respected max,
// cooldowns honoured, and traffic reached every new replica.
func Judge(t *Target, sc Scaling, observeScaleIn bool) []Verdict {
	return []Verdict{judgeScaledOut(sc), judgeMax(sc), judgeCooldowns(t, sc, observeScaleIn), judgeTraffic(sc)}
}

func judgeScaledOut(sc Scaling) Verdict {
	const name = "scaled out under load"
	switch {
	case sc.StartReplicas >= sc.MaxReplicas && sc.MaxReplicas > 0:
		return undecided(name, "already at its maximum of %d when the load began", sc.MaxReplicas)
	case sc.FirstScaleOut == nil:
		return verdict(name, false, "stayed at %d (peak CPU %s, memory %s of the requests)", sc.StartReplicas, pct(sc.PeakCPU), pct(sc.PeakMemory))
	}
	return verdict(name, true, "%d → %d replicas, the first scale-out %.0f s after the load began", sc.StartReplicas, sc.PeakReplicas, *sc.FirstScaleOut)
}

func judgeMax(sc Scaling) Verdict {
	const name = "respected max"
	return verdict(name, sc.PeakReplicas <= sc.MaxReplicas, "peak %d of max %d", sc.PeakReplicas, sc.MaxReplicas)
}

// judgeCooldowns checks the stabilization windows. The HPA scales up to the
// lowest recommendation of the scale-up window and down to the highest of the
// scale-down window, so: a scale-out from rest comes no earlier than the
// scale-up window after the load began; no scale-in comes within the
// scale-down window of a scale-out to more replicas; the return to the
// minimum comes no earlier than the scale-down window after the load
// stopped. Each allows one HPA sync (hpaSync) and the clocks' tolerance.
func judgeCooldowns(t *Target, sc Scaling, observeScaleIn bool) Verdict {
	const name = "cooldowns"
	var ok, broken []string
	earliest := func(window time.Duration) time.Duration { return max(window-hpaSync, 0) - tolerance }
	if sc.FirstScaleOut != nil && sc.AtRest {
		line := fmt.Sprintf("first scale-out %.0f s after the load began (scale-up window %s)", *sc.FirstScaleOut, t.ScaleUpWindow)
		if seconds(*sc.FirstScaleOut) >= earliest(t.ScaleUpWindow) {
			ok = append(ok, line)
		} else {
			broken = append(broken, line)
		}
	}
	for _, in := range sc.Events {
		if in.To >= in.From {
			continue
		}
		for _, out := range sc.Events {
			if out.To > in.To && out.To > out.From && out.At.Before(in.At) && in.At.Sub(out.At) < earliest(t.ScaleDownWindow) {
				broken = append(broken, fmt.Sprintf("scale-in to %d only %.0f s after the scale-out to %d (scale-down window %s)",
					in.To, in.At.Sub(out.At).Seconds(), out.To, t.ScaleDownWindow))
			}
		}
	}
	if sc.BackAtMin != nil {
		line := fmt.Sprintf("back at min %d %.0f s after the load stopped (scale-down window %s)", sc.MinReplicas, *sc.BackAtMin, t.ScaleDownWindow)
		if seconds(*sc.BackAtMin) >= earliest(t.ScaleDownWindow) {
			ok = append(ok, line)
		} else {
			broken = append(broken, line)
		}
	} else if observeScaleIn && sc.PeakReplicas > sc.MinReplicas {
		broken = append(broken, fmt.Sprintf("not back at min %d when the observation ended", sc.MinReplicas))
	}
	switch {
	case len(broken) > 0:
		return verdict(name, false, "%s", strings.Join(append(broken, ok...), "; "))
	case len(ok) == 0:
		return undecided(name, "no scaling to time")
	}
	return verdict(name, true, "%s", strings.Join(ok, "; "))
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func judgeTraffic(sc Scaling) Verdict {
	const name = "every new replica served"
	var added, served, unknown int
	for _, r := range sc.Replicas {
		if !r.New || r.Ready == nil {
			continue
		}
		added++
		switch {
		case r.Served < 0:
			unknown++
		case r.Served > 0:
			served++
		}
	}
	switch {
	case added == 0:
		return undecided(name, "no replica was added")
	case unknown > 0:
		return undecided(name, "%d of %d new replicas' /metrics could not be read", unknown, added)
	}
	return verdict(name, served == added, "%d of %d new replicas served requests", served, added)
}

func pct(v *int32) string {
	if v == nil {
		return "unknown"
	}
	return fmt.Sprintf("%d%%", *v)
}
