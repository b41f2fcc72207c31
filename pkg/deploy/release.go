package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"

	"github.com/layering-detection/kubectl-layering/pkg/kube"
	"github.com/layering-detection/kubectl-layering/pkg/revision"
)

// Release applies one environment's manifests and waits until the environment
// is healthy: the pipeline deploy, rollback and deploy --atomic share.
type Release struct {
	Clients        kube.Clients
	DryRun         DryRun
	Timeout        time.Duration // of the wait
	Prune          bool
	WaitForMetrics bool
	Progress       Progress
	Warnings       io.Writer // what went wrong after the outcome was decided (lease release)
	Description    string    // recorded with the revision: "deploy", "rollback to 3", …
	RollbackOf     int       // recorded with the revision

	holder string // who releases, as the API server knows them
}

// Run releases m: preflight, lease, inventory, reclaim volumes, apply
// (replicas handed over), wait, prune, record a revision.
func (r *Release) Run(ctx context.Context, m *Manifest) (*Result, error) {
	start := time.Now()
	res := newResult(m, r.DryRun, r.Description)
	redactor := NewRedactor(m.Objects...)
	err := r.run(ctx, m, res)
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("interrupted: %w (what was applied is listed; re-run to converge)", err)
	}
	err = redactor.Error(err)
	if err != nil {
		res.Error = err.Error()
	}
	res.redact(redactor)
	res.Seconds = time.Since(start).Seconds()
	return res, err
}

func (r *Release) run(ctx context.Context, m *Manifest, res *Result) error {
	if r.DryRun == DryRunClient {
		return nil
	}
	if err := Preflight(ctx, r.Clients, m.Objects); err != nil {
		return err
	}
	if r.DryRun == DryRunServer {
		return r.serverDryRun(ctx, m, res)
	}
	// The lease lives in the environment's namespace: that comes first.
	if err := r.apply(ctx, res, namespaces(m.Objects)); err != nil {
		return err
	}
	r.holder = holderIdentity(ctx, r.Clients.Kube)
	lease, err := Acquire(ctx, r.Clients.Kube, m.Env.Namespace, r.holder)
	if err != nil {
		return err
	}
	defer r.release(lease)
	return leaseCause(lease.Guard(), r.underLease(lease.Guard(), m, res))
}

// underLease is everything that writes to the environment beyond its namespace.
func (r *Release) underLease(ctx context.Context, m *Manifest, res *Result) error {
	inv := &Inventory{Kube: r.Clients.Kube, Env: m.Env.Name, Namespace: m.Env.Namespace}
	previous, err := inv.Read(ctx)
	if err != nil {
		return err
	}
	// Inventoried before they are applied: an interrupted release leaves nothing untracked.
	if err := inv.Write(ctx, union(previous, RefsOf(m.Objects))); err != nil {
		return err
	}
	a := r.applier()
	if res.Reclaimed, err = a.ReclaimVolumes(ctx, m.Objects); err != nil {
		return err
	}
	if err := r.applyObjects(ctx, res, m.Objects); err != nil {
		return err
	}
	if err := r.wait(ctx, res, m.Objects); err != nil {
		return err
	}
	// Pruned only once the new state is healthy: pods of the old ReplicaSets
	// still read the old ConfigMaps until the rollout replaced them.
	if r.Prune {
		if err := r.prune(ctx, res, previous, m.Objects); err != nil {
			return err
		}
		if err := inv.Write(ctx, RefsOf(m.Objects)); err != nil {
			return err
		}
	}
	return r.record(ctx, res, m)
}

func (r *Release) applier() *Applier { return &Applier{Clients: r.Clients, DryRun: r.DryRun} }

// apply applies objs as they are and records what happened to each.
func (r *Release) apply(ctx context.Context, res *Result, objs []*unstructured.Unstructured) error {
	results, err := r.applier().Apply(ctx, objs)
	for i, a := range results {
		res.set(kube.Key(objs[i]), a)
	}
	return err
}

// applyObjects applies every object but the namespaces. Deployments an
// autoscaler scales keep the replica count it chose; the ones created just now
// are handed over at once, so that the next deploy is a true no-op.
func (r *Release) applyObjects(ctx context.Context, res *Result, objs []*unstructured.Unstructured) error {
	a := r.applier()
	send, err := a.HandOverReplicas(ctx, withoutNamespaces(objs))
	if err != nil {
		return err
	}
	results, err := a.Apply(ctx, send)
	for i, x := range results {
		res.set(kube.Key(send[i]), x)
	}
	if err != nil {
		return err
	}
	created := createdAutoscaled(send, results)
	if len(created) == 0 || r.DryRun != DryRunNone {
		return nil
	}
	if created, err = a.HandOverReplicas(ctx, created); err != nil {
		return err
	}
	_, err = a.Apply(ctx, created)
	return err
}

// createdAutoscaled are the Deployments and autoscalers the apply created.
func createdAutoscaled(sent []*unstructured.Unstructured, results []ApplyResult) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for i, x := range results {
		if k := sent[i].GetKind(); x.Action == Created && (k == "Deployment" || k == "HorizontalPodAutoscaler") {
			out = append(out, sent[i])
		}
	}
	return out
}

// prune deletes what previous releases applied that objs no longer contain.
func (r *Release) prune(ctx context.Context, res *Result, inventory []Ref, objs []*unstructured.Unstructured) error {
	a := r.applier()
	doomed, err := a.Prunable(ctx, res.Env, inventory, objs)
	if err != nil {
		return err
	}
	res.Pruned, err = a.Prune(ctx, doomed)
	return err
}

// serverDryRun has the API server evaluate the whole release, persisting nothing.
func (r *Release) serverDryRun(ctx context.Context, m *Manifest, res *Result) error {
	if err := r.apply(ctx, res, m.Objects); err != nil {
		return err
	}
	if !r.Prune {
		return nil
	}
	inventory, err := (&Inventory{Kube: r.Clients.Kube, Env: m.Env.Name, Namespace: m.Env.Namespace}).Read(ctx)
	if err != nil {
		return err
	}
	return r.prune(ctx, res, inventory, m.Objects)
}

// wait blocks until every applied object is healthy or one fails for good.
func (r *Release) wait(ctx context.Context, res *Result, objs []*unstructured.Unstructured) error {
	waitCtx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	w := &Waiter{Clients: r.Clients, Progress: r.Progress, WaitForMetrics: r.WaitForMetrics}
	pending, err := w.Wait(waitCtx, objs)
	res.Pending = pending
	var werr *WaitError
	if errors.As(err, &werr) {
		res.Failures = werr.Failures
		if ctx.Err() != nil {
			return ctx.Err() // interrupted, not unhealthy
		}
	}
	if err != nil {
		return err
	}
	res.Healthy = true
	return nil
}

// record stores the healthy release as a revision (an unchanged re-deploy records nothing).
func (r *Release) record(ctx context.Context, res *Result, m *Manifest) error {
	store := &revision.Store{Kube: r.Clients.Kube, Namespace: m.Env.Namespace}
	rev, err := store.Record(ctx, revision.Revision{
		Env: m.Env.Name, Digest: m.Digest, Images: m.Images, Time: time.Now().UTC(),
		User: r.holder, Description: r.Description, RollbackOf: r.RollbackOf, Manifest: m.YAML,
	})
	if err != nil {
		return err
	}
	res.Revision = rev.Number
	return nil
}

func (r *Release) release(l *Lease) {
	if err := l.Release(); err != nil && r.Warnings != nil {
		fmt.Fprintf(r.Warnings, "warning: releasing the deploy lease: %v (it expires by itself within %s)\n", err, leaseDuration)
	}
}

// leaseCause turns a failure caused by losing the lease into that loss.
func leaseCause(ctx context.Context, err error) error {
	var lost *LeaseLostError
	if err != nil && errors.As(context.Cause(ctx), &lost) {
		return lost
	}
	return err
}

func namespaces(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "Namespace" {
			out = append(out, o)
		}
	}
	return out
}

func withoutNamespaces(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() != "Namespace" {
			out = append(out, o)
		}
	}
	return out
}

// holderIdentity is who is releasing, as the API server authenticates them.
func holderIdentity(ctx context.Context, kube kubernetes.Interface) string {
	host, _ := os.Hostname()
	user := "unknown user"
	if r, err := kube.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{}); err == nil {
		user = r.Status.UserInfo.Username
	}
	return fmt.Sprintf("%s on %s (pid %d)", user, host, os.Getpid())
}
