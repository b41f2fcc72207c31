package loadtest

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/guptarohit/asciigraph"

	"github.com/layering-detection/kubectl-layering/pkg/output"
)

// Report is the outcome of a load test; -o json|yaml prints all of it,
// the full time series included.
type Report struct {
	Env             string    `json:"env"`
	Target          *Target   `json:"target"`
	Load            Load      `json:"load"`
	DurationSeconds float64   `json:"duration_seconds"`
	Plan            Plan      `json:"plan"`
	Image           string    `json:"generator_image"`
	Started         time.Time `json:"started"`
	LoadSeconds     float64   `json:"load_seconds"`     // how long the load ran
	ObservedSeconds float64   `json:"observed_seconds"` // load and observation after it
	// Stopped says why the load ended: "duration", "interrupted" or the failure.
	Stopped      string            `json:"stopped"`
	Sent         uint64            `json:"sent"`
	Completed    uint64            `json:"completed"`
	Codes        map[string]uint64 `json:"codes"`
	Errors       map[string]uint64 `json:"errors,omitempty"`
	RateLimited  uint64            `json:"rate_limited"` // 429s, counted on their own
	AskedRate    float64           `json:"asked_rate"`
	AchievedRate float64           `json:"achieved_rate"`
	// Shortfall says why the generators sent less than 99 % of what was asked.
	Shortfall string    `json:"shortfall,omitempty"`
	Phases    []Phase   `json:"phases"`
	Scaling   Scaling   `json:"scaling"`
	Verdicts  []Verdict `json:"verdicts"`
	Series    []Sample  `json:"series"`
}

// Build reduces the observations to the report.
func Build(env string, t *Target, l Load, p Plan, image string, s Snapshot, events []HPAEvent, end time.Time, ran int, observeScaleIn bool) *Report {
	start := s.LoadStart()
	r := &Report{Env: env, Target: t, Load: l, DurationSeconds: l.Duration.Seconds(), Plan: p, Image: image, Started: start}
	if start.IsZero() {
		r.Scaling = ScalingOf(s, t, nil)
		r.Verdicts = Judge(t, r.Scaling, observeScaleIn)
		return r
	}
	stop := s.Stopped
	if stop.IsZero() {
		stop = end
	}
	r.LoadSeconds = math.Round(stop.Sub(start).Seconds())
	r.ObservedSeconds = math.Round(end.Sub(start).Seconds())
	all := s.Traffic(start.Add(-time.Second), end)
	load := s.Traffic(start.Add(-time.Second), stop.Add(time.Second))
	r.Sent, r.Completed, r.Codes, r.RateLimited = all.Sent, all.Done, all.Codes, all.Codes["429"]
	if len(all.Errors) > 0 {
		r.Errors = all.Errors
	}
	load.Seconds = stop.Sub(start).Seconds()
	r.AskedRate, r.AchievedRate = round2(load.AskedRate()), round2(load.Rate())
	early := 0
	for _, g := range s.Generators {
		if !g.Start.IsZero() && g.EndReason != "duration" && g.End.Before(stop) {
			early++
		}
	}
	r.Shortfall = Shortfall(load, p.Generators, ran, early)
	scaleEvents := WithReasons(s.ScaleEvents(), events)
	r.Scaling = ScalingOf(s, t, scaleEvents)
	r.Phases = s.Phases(FirstNewReady(s), end)
	r.Verdicts = Judge(t, r.Scaling, observeScaleIn)
	r.Series = s.Series()
	return r
}

// Failed tells whether a verdict went against the run.
func (r *Report) Failed() bool {
	for _, v := range r.Verdicts {
		if v.OK != nil && !*v.OK {
			return true
		}
	}
	return false
}

// Header and Rows are the verdicts (output.Tabular); Write prints the whole report.
func (r *Report) Header() []string { return []string{"", "VERDICT", "DETAIL"} }

func (r *Report) Rows() [][]string {
	rows := make([][]string, len(r.Verdicts))
	for i, v := range r.Verdicts {
		rows[i] = []string{v.Mark(), v.Name, v.Detail}
	}
	return rows
}

// Write prints the report for people: summary, verdicts, phases, replicas,
// scale events and the chart.
func (r *Report) Write(w io.Writer, color bool) error {
	fmt.Fprintln(w, r.summary())
	if r.Shortfall != "" {
		fmt.Fprintf(w, "asked rate not reached: %s\n", r.Shortfall)
	}
	fmt.Fprintln(w)
	if err := output.PrintTable(w, r.Header(), r.Rows()); err != nil {
		return err
	}
	if len(r.Phases) > 0 {
		fmt.Fprintln(w)
		if err := output.PrintTable(w, []string{"PHASE", "FROM", "TO", "REQUESTS", "RATE", "P50", "P95", "P99", "CODES"}, r.phaseRows()); err != nil {
			return err
		}
	}
	if len(r.Scaling.Events) > 0 {
		fmt.Fprintln(w)
		if err := output.PrintTable(w, []string{"SCALED", "AT", "REASON"}, r.eventRows()); err != nil {
			return err
		}
	}
	if len(r.Scaling.Replicas) > 0 {
		fmt.Fprintln(w)
		if err := output.PrintTable(w, []string{"REPLICA", "ADDED", "READY", "REQUESTS SERVED"}, r.replicaRows()); err != nil {
			return err
		}
	}
	if chart := r.Chart(100, color); chart != "" {
		fmt.Fprintln(w)
		fmt.Fprintln(w, chart)
	}
	return nil
}

func (r *Report) summary() string {
	l := r.Load
	what := fmt.Sprintf("%s events", thousands(l.EventsPerRequest))
	if l.Service == "orchestrator" {
		what = l.InputFile
	} else if l.Service == "aggregator" {
		what = fmt.Sprintf("%s detections", thousands(l.EventsPerRequest))
	}
	limit := "no rate limit"
	if r.Plan.RateLimitPerMinute > 0 {
		limit = fmt.Sprintf("rate limit %d/min per client", r.Plan.RateLimitPerMinute)
	}
	s := fmt.Sprintf("loadtest %s %s (%s): %s %s at %s/s asked, %s/s sent (%s), %d generator pods × %.2f/s (%s), profile %s\n",
		r.Env, l.Service, r.Target.Path, what, "per request", trimFloat(r.AskedRate), trimFloat(r.AchievedRate), ratio(r.AchievedRate, r.AskedRate),
		r.Plan.Generators, r.Plan.RatePerGenerator, limit, l.Profile)
	s += fmt.Sprintf("load %s of %s (%s); %d requests sent, %d completed, codes %s",
		secs(r.LoadSeconds), l.Duration, r.Stopped, r.Sent, r.Completed, codes(r.Codes, r.Errors))
	if r.RateLimited > 0 {
		s += fmt.Sprintf("; %d rate-limited (429)", r.RateLimited)
	}
	sc := r.Scaling
	s += fmt.Sprintf("\nreplicas %d → peak %d (min %d, max %d); peak CPU %s of the request (target %d%%), memory %s (target %d%%)",
		sc.StartReplicas, sc.PeakReplicas, sc.MinReplicas, sc.MaxReplicas, pct(sc.PeakCPU), r.Target.CPUTarget, pct(sc.PeakMemory), r.Target.MemoryTarget)
	return s
}

func (r *Report) phaseRows() [][]string {
	var rows [][]string
	for _, p := range r.Phases {
		rows = append(rows, []string{p.Name, secs(p.From), secs(p.To), fmt.Sprint(p.Requests), trimFloat(p.Rate) + "/s",
			latency(p.P50), latency(p.P95), latency(p.P99), codes(p.Codes, p.Errors)})
	}
	return rows
}

func (r *Report) eventRows() [][]string {
	var rows [][]string
	for _, e := range r.Scaling.Events {
		rows = append(rows, []string{fmt.Sprintf("%d → %d", e.From, e.To), secs(e.T), e.Reason})
	}
	return rows
}

func (r *Report) replicaRows() [][]string {
	var rows [][]string
	for _, p := range r.Scaling.Replicas {
		added, ready := "before", "before"
		if p.New {
			added, ready = optSeconds(p.Created), optSeconds(p.Ready)
			if p.Ready == nil && p.Pending != "" {
				ready = "not ready: " + p.Pending
			}
		}
		served := fmt.Sprint(p.Served)
		if p.Served < 0 {
			served = "unknown"
		}
		rows = append(rows, []string{p.Pod, added, ready, served})
	}
	return rows
}

// Chart draws replicas and CPU/memory utilization over time (seconds since
// the load started), each at most width columns.
func (r *Report) Chart(width int, color bool) string {
	if len(r.Series) < 2 {
		return ""
	}
	var ts, replicas, ready, cpu, memory, target []float64
	for _, x := range r.Series {
		ts = append(ts, x.T)
		replicas = append(replicas, float64(x.Replicas))
		ready = append(ready, float64(x.Ready))
		cpu = append(cpu, utilization(x.CPU))
		memory = append(memory, utilization(x.Memory))
		target = append(target, float64(r.Target.CPUTarget))
	}
	from, to := ts[0], ts[len(ts)-1]
	xAxis := []asciigraph.Option{
		asciigraph.XAxisRange(from, to),
		asciigraph.XAxisValueFormatter(func(v float64) string { return fmt.Sprintf("%.0fs", v) }),
	}
	opts := func(caption string, colors ...asciigraph.AnsiColor) []asciigraph.Option {
		o := append([]asciigraph.Option{asciigraph.Caption(caption)}, xAxis...)
		if color {
			o = append(o, asciigraph.SeriesColors(colors...))
		}
		return o
	}
	replicaChart := asciigraph.PlotMany([][]float64{Downsample(replicas, width, true), Downsample(ready, width, true)},
		append(opts(fmt.Sprintf("replicas (max %d); the second line: ready", r.Target.MaxReplicas), asciigraph.Blue, asciigraph.Green),
			asciigraph.LowerBound(0), asciigraph.UpperBound(float64(r.Target.MaxReplicas)), asciigraph.Precision(0),
			asciigraph.Height(int(min(r.Target.MaxReplicas, 12))))...)
	utilChart := asciigraph.PlotMany([][]float64{Downsample(cpu, width, false), Downsample(memory, width, false), Downsample(target, width, false)},
		append(opts(fmt.Sprintf("CPU and memory utilization, %% of request (flat line: the CPU target %d %%; memory target %d %%)", r.Target.CPUTarget, r.Target.MemoryTarget),
			asciigraph.Red, asciigraph.Yellow, asciigraph.Default), asciigraph.LowerBound(0), asciigraph.Precision(0), asciigraph.Height(10))...)
	return replicaChart + "\n\n" + utilChart
}

func utilization(v *int32) float64 {
	if v == nil {
		return 0
	}
	return float64(*v)
}

func codes(c, errs map[string]uint64) string {
	if len(c) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		name := k
		if k == "0" {
			name = "no answer"
			var why []string
			for e, n := range errs {
				why = append(why, fmt.Sprintf("%s %d", e, n))
			}
			sort.Strings(why)
			if len(why) > 0 {
				name += " (" + strings.Join(why, ", ") + ")"
			}
		}
		parts = append(parts, fmt.Sprintf("%s:%d", name, c[k]))
	}
	return strings.Join(parts, " ")
}

func latency(msv float64) string {
	switch {
	case msv == 0:
		return "-"
	case msv >= 1000:
		return fmt.Sprintf("%.2fs", msv/1000)
	}
	return fmt.Sprintf("%.0fms", msv)
}

func secs(s float64) string { return fmt.Sprintf("%.0fs", s) }

func optSeconds(s *float64) string {
	if s == nil {
		return "-"
	}
	return fmt.Sprintf("%.0fs", *s)
}

func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*a/b)
}

func trimFloat(v float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
}

func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
