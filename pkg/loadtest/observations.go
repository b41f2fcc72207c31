package loadtest

import (
	"sort"
	"sync"
	"time"

	"github.com/layering-detection/kubectl-layering/pkg/loadtest/stats"
)

// Observations are everything seen during a load test: the generators'
// records, the autoscaler and Deployment over time, the target's pods and
// the requests each one served. Safe for concurrent use; the reductions
// (series.go, verdict.go) work on a Snapshot.
type Observations struct {
	mu sync.Mutex
	s  Snapshot
}

// Snapshot is a consistent copy of the observations.
type Snapshot struct {
	Records    []PodRecord
	Generators map[string]*Generator
	Cluster    []ClusterSample
	Pods       map[string]*Replica
	// Stopped is when the plugin stopped the load (Ctrl-C, a failure), zero if
	// the generators ran their course.
	Stopped time.Time
}

// PodRecord is one record of one generator pod.
type PodRecord struct {
	Pod string
	stats.Record
}

// Generator is one generator pod's course.
type Generator struct {
	Start, End time.Time
	Rate       float64
	Workers    int
	EndReason  string
}

// ClusterSample is the autoscaler and the Deployment at one moment.
type ClusterSample struct {
	At         time.Time
	HPACurrent int32
	HPADesired int32
	CPU        *int32 // average utilization, % of the request; nil without metrics
	Memory     *int32
	Replicas   int32 // the Deployment's desired count, as the HPA set it
	Ready      int32
	LastScale  time.Time // the HPA's status.lastScaleTime
}

// Replica is one pod of the target.
type Replica struct {
	Name    string    `json:"pod"`
	Created time.Time `json:"-"`
	Ready   time.Time `json:"-"` // first seen Ready; zero if never
	Gone    time.Time `json:"-"` // deleted (scale-in), zero while it lives
	// Served is what the pod's own /metrics counted on the endpoint (all
	// status codes), since the pod started; -1 if it could not be read.
	Served float64 `json:"requests_served"`
	// Pending says why a pod is not Ready (scheduling, image), if it says.
	Pending string `json:"pending,omitempty"`
}

func NewObservations() *Observations {
	return &Observations{s: Snapshot{Generators: map[string]*Generator{}, Pods: map[string]*Replica{}}}
}

// AddRecord takes one generator record.
func (o *Observations) AddRecord(pod string, r stats.Record) {
	o.mu.Lock()
	defer o.mu.Unlock()
	g := o.s.Generators[pod]
	if g == nil {
		g = &Generator{}
		o.s.Generators[pod] = g
	}
	switch r.Kind {
	case stats.KindStart:
		g.Start, g.Rate, g.Workers = r.At(), r.Rate, r.Workers
	case stats.KindEnd:
		g.End, g.EndReason = r.At(), r.Reason
	case stats.KindInterval:
		o.s.Records = append(o.s.Records, PodRecord{pod, r})
	}
}

// EndGenerator marks a generator gone without its end record (deleted, crashed).
func (o *Observations) EndGenerator(pod string, at time.Time, reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if g := o.s.Generators[pod]; g != nil && g.End.IsZero() && !g.Start.IsZero() {
		g.End, g.EndReason = at, reason
	}
}

// AddCluster takes one sample of the autoscaler and Deployment.
func (o *Observations) AddCluster(c ClusterSample) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.s.Cluster = append(o.s.Cluster, c)
}

// SetPod records the state of one target pod.
func (o *Observations) SetPod(name string, created, ready time.Time, pending string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	p := o.s.Pods[name]
	if p == nil {
		p = &Replica{Name: name, Created: created, Served: -1}
		o.s.Pods[name] = p
	}
	if p.Ready.IsZero() {
		p.Ready = ready
	}
	p.Pending = pending
	if !ready.IsZero() {
		p.Pending = ""
	}
}

// PodGone records that a target pod no longer exists.
func (o *Observations) PodGone(name string, at time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if p := o.s.Pods[name]; p != nil && p.Gone.IsZero() {
		p.Gone = at
	}
}

// SetServed records a pod's request count from its /metrics.
func (o *Observations) SetServed(name string, n float64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if p := o.s.Pods[name]; p != nil {
		p.Served = n
	}
}

// Stop records that the plugin stopped the load at t.
func (o *Observations) Stop(t time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.s.Stopped.IsZero() {
		o.s.Stopped = t
	}
}

// Pods copies the target's pods as observed so far.
func (o *Observations) Pods() []Replica {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]Replica, 0, len(o.s.Pods))
	for _, p := range o.s.Pods {
		out = append(out, *p)
	}
	return out
}

// Snapshot copies the observations.
func (o *Observations) Snapshot() Snapshot {
	o.mu.Lock()
	defer o.mu.Unlock()
	c := Snapshot{
		Records:    append([]PodRecord(nil), o.s.Records...),
		Cluster:    append([]ClusterSample(nil), o.s.Cluster...),
		Generators: make(map[string]*Generator, len(o.s.Generators)),
		Pods:       make(map[string]*Replica, len(o.s.Pods)),
		Stopped:    o.s.Stopped,
	}
	for k, g := range o.s.Generators {
		g := *g
		c.Generators[k] = &g
	}
	for k, p := range o.s.Pods {
		p := *p
		c.Pods[k] = &p
	}
	sort.Slice(c.Records, func(i, j int) bool { return c.Records[i].Time < c.Records[j].Time })
	return c
}
