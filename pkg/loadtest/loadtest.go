// Package loadtest drives load at one service of an environment from inside
// the cluster and observes its autoscaler: generator pods (a Job running
// cmd/layering-loadgen) send valid requests through the Service's ClusterIP,
// as clients do, while the HPA, the Deployment and the pods are sampled;
// the report times the scale-out and scale-in against the HPA's settings.
package loadtest

import (
	"context"
	"fmt"
	"io"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"
)

// Test is one load test.
type Test struct {
	Kube           kubernetes.Interface
	Env            string
	Target         *Target
	Load           Load
	Plan           Plan
	Image          string
	ObserveScaleIn bool
	// Live gets the live view; Tick is how often the cluster is sampled,
	// LiveEvery how often a plain (non-terminal) live line is written.
	Live      io.Writer
	Tick      time.Duration
	LiveEvery time.Duration
}

// GeneratorError means the generator pods could not send the load (their
// image cannot be pulled, no node has room, the namespace refuses them).
type GeneratorError struct{ Reason string }

func (e *GeneratorError) Error() string {
	return "the load could not be generated: " + e.Reason
}

// Run runs the load test and returns its report, also when it ends early
// (Ctrl-C, a failure: the report so far, with the error). The generators are
// always removed.
func (t *Test) Run(ctx context.Context) (*Report, error) {
	obs := NewObservations()
	c := &cluster{kube: t.Kube, target: t.Target, obs: obs}
	if _, err := c.sample(ctx); err != nil { // the state before the load
		return nil, err
	}
	job, err := t.startGenerators(ctx)
	if err != nil {
		return nil, err
	}
	defer t.removeGenerators(job)
	gens := &generators{kube: t.Kube, job: job, want: t.Plan.Generators, obs: obs,
		started: map[string]bool{}, ended: map[string]bool{}, exited: map[string]bool{}}
	view := newLive(t.Live, t.LiveEvery)

	stopped, runErr := t.drive(ctx, c, gens, view)
	c.scrape(context.WithoutCancel(ctx)) // the requests each replica served, before any scale-in
	t.removeGenerators(job)              // the load stops now, whatever ended it
	obs.Stop(loadStop(obs.Snapshot(), time.Now()))
	gens.wait()
	if runErr == nil && ctx.Err() == nil && t.ObserveScaleIn {
		runErr = t.observeScaleIn(ctx, c, view)
	}
	if ctx.Err() != nil {
		stopped = "interrupted"
	}
	end := time.Now()
	final := obs.Snapshot()
	view.show(NowOf(final, t.Target, end), true)
	eventsCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	events := hpaEvents(eventsCtx, t.Kube, t.Target, final.LoadStart())
	report := Build(t.Env, t.Target, t.Load, t.Plan, t.Image, final, events, end, gens.ran(), t.ObserveScaleIn)
	report.Stopped = stopped
	if runErr != nil {
		report.Stopped = "failed: " + runErr.Error()
	}
	return report, runErr
}

// drive samples the cluster and follows the generators until they have all
// finished, ctx ends or the load cannot go on.
func (t *Test) drive(ctx context.Context, c *cluster, gens *generators, view *live) (stopped string, err error) {
	deadline := time.Now().Add(t.Load.Duration + 3*time.Minute) // pods must start and finish within it
	tick := time.NewTicker(t.Tick)
	defer tick.Stop()
	failures := 0
	for i := 1; ; i++ {
		select {
		case <-ctx.Done():
			return "interrupted", nil
		case <-tick.C:
		}
		problem, err := gens.poll(ctx)
		if err != nil {
			return "", err
		}
		if problem != "" {
			return "", &GeneratorError{problem}
		}
		if _, err := c.sample(ctx); err != nil && ctx.Err() == nil {
			// A lost sample leaves a gap in the series; a lost API server ends the test.
			if failures++; failures >= 5 {
				return "", err
			}
		} else {
			failures = 0
		}
		if i%5 == 0 {
			c.scrape(ctx)
		}
		view.show(NowOf(c.obs.Snapshot(), t.Target, time.Now()), false)
		if gens.done() {
			return "duration", nil
		}
		if time.Now().After(deadline) {
			return "", &GeneratorError{fmt.Sprintf("the generators did not finish within %s of their start", t.Load.Duration+3*time.Minute)}
		}
	}
}

// scaleInSlack is how long past the scale-down window the scale-in is
// awaited: the metrics of the last loaded seconds and the HPA's syncs lag
// (up to 2 minutes were seen on the shared local node).
const scaleInSlack = 5 * time.Minute

// observeScaleIn samples until the HPA is back at its minimum, or the
// scale-down window and scaleInSlack have passed.
func (t *Test) observeScaleIn(ctx context.Context, c *cluster, view *live) error {
	deadline := time.Now().Add(t.Target.ScaleDownWindow + scaleInSlack)
	tick := time.NewTicker(t.Tick)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		s, err := c.sample(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		view.show(NowOf(c.obs.Snapshot(), t.Target, time.Now()), false)
		if s.Replicas <= t.Target.MinReplicas {
			return nil
		}
	}
	return nil
}

// loadStop is when the load ended: the last generator's end when all ended,
// else now (they are being removed).
func loadStop(s Snapshot, now time.Time) time.Time {
	var last time.Time
	for _, g := range s.Generators {
		if g.Start.IsZero() {
			continue
		}
		if g.End.IsZero() {
			return now
		}
		if g.End.After(last) {
			last = g.End
		}
	}
	if last.IsZero() {
		return now
	}
	return last
}

// startGenerators creates the generator Job and, where the namespace has
// network policies, the two that let it reach the target.
func (t *Test) startGenerators(ctx context.Context) (*batchv1.Job, error) {
	spec := JobSpec{Name: "layering-loadtest-" + t.Target.Service + "-" + rand.String(5), Target: t.Target, Load: t.Load, Plan: t.Plan, Image: t.Image}
	job, err := t.Kube.BatchV1().Jobs(t.Target.Namespace).Create(ctx, spec.Job(), metav1.CreateOptions{FieldManager: "kubectl-layering"})
	if err != nil {
		return nil, &GeneratorError{fmt.Sprintf("creating job %s: %v", spec.Name, err)}
	}
	if t.Target.NetworkPolicies {
		for _, np := range spec.NetworkPolicies(job) {
			if _, err := t.Kube.NetworkingV1().NetworkPolicies(np.Namespace).Create(ctx, np, metav1.CreateOptions{FieldManager: "kubectl-layering"}); err != nil {
				t.removeGenerators(job)
				return nil, &GeneratorError{fmt.Sprintf("creating network policy %s: %v", np.Name, err)}
			}
		}
	}
	return job, nil
}

// removeGenerators deletes the Job, its pods at once (the generators stop
// on SIGTERM) and its network policies. It runs on Ctrl-C too, so it has its
// own deadline rather than the command's context.
func (t *Test) removeGenerators(job *batchv1.Job) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns, sel := job.Namespace, LabelRun+"="+job.Name
	background := metav1.DeletePropagationBackground
	err := t.Kube.BatchV1().Jobs(ns).Delete(ctx, job.Name, metav1.DeleteOptions{PropagationPolicy: &background})
	if err != nil && !apierrors.IsNotFound(err) {
		fmt.Fprintf(t.Live, "warning: could not delete job %s: %v (it removes itself a minute after it ends)\n", job.Name, err)
	}
	_ = t.Kube.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: sel})
	if err := t.Kube.NetworkingV1().NetworkPolicies(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: sel}); err != nil && !apierrors.IsNotFound(err) {
		fmt.Fprintf(t.Live, "warning: could not delete the network policies %s: %v\n", sel, err)
	}
}
