package rollback

import (
	"context"
	"errors"
	"fmt"

	"github.com/layering-detection/kubectl-layering/pkg/deploy"
	"github.com/layering-detection/kubectl-layering/pkg/manifests"
	"github.com/layering-detection/kubectl-layering/pkg/revision"
)

// Rollback re-applies a recorded revision's manifests exactly, through the
// release pipeline of deploy (preflight, lease, apply, wait, prune), and
// records the result as a new revision that says where it came from.
type Rollback struct {
	Release    *deploy.Release // configured as for a deploy; Description and RollbackOf are set here
	Store      *revision.Store
	Env        manifests.Env
	ToRevision int // 0: the default target (see Target)
}

// Result is the rollback's release result and the revision it returned to.
type Result struct {
	*deploy.Result
	From int `json:"from"` // the revision live before
	To   int `json:"to"`   // the revision returned to
}

// Run chooses the target, releases its manifests, and explains a failure in
// terms of revisions.
func (r *Rollback) Run(ctx context.Context) (*Result, error) {
	revs, err := r.Store.List(ctx, r.Env.Name, true)
	if err != nil {
		return nil, fmt.Errorf("reading the history: %w", err)
	}
	target, err := Target(r.Env.Name, revs, r.ToRevision)
	if err != nil {
		return nil, err
	}
	m, err := deploy.FromYAML(r.Env, target.Manifest)
	if err != nil {
		return nil, fmt.Errorf("revision %d's manifests: %w", target.Number, err)
	}
	if r.Release.Description == "" {
		r.Release.Description = fmt.Sprintf("rollback to %d", target.Number)
	}
	r.Release.RollbackOf = target.Number
	res, err := r.Release.Run(ctx, m)
	out := &Result{Result: res, From: revs[0].Number, To: target.Number}
	if err != nil {
		return out, &PartialError{From: revs[0].Number, To: target.Number, Result: res, Err: err}
	}
	return out, nil
}

// PartialError says, for a failed rollback, which objects are at which revision.
type PartialError struct {
	From, To int
	Result   *deploy.Result
	Err      error
}

func (e *PartialError) Error() string {
	applied, total := 0, len(e.Result.Objects)
	for _, o := range e.Result.Objects {
		if o.Action != deploy.NotApplied && o.Action != deploy.Failed {
			applied++
		}
	}
	return fmt.Sprintf("rollback to revision %d failed: %d of %d objects are at revision %d's manifests, %d are not (still as revision %d left them; the table lists each): %v",
		e.To, applied, total, e.To, total-applied, e.From, e.Err)
}

func (e *PartialError) Unwrap() error { return e.Err }

// Atomic returns the environment to its last recorded (healthy) revision
// after a release of failed failed to become healthy. With no revision there
// is nothing to return to: the failed release's objects stay for inspection.
func Atomic(ctx context.Context, release *deploy.Release, store *revision.Store, env manifests.Env, failed *deploy.Manifest) (*Result, error) {
	latest, ok, err := store.Latest(ctx, env.Name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, &NoEarlierRevisionError{Env: env.Name}
	}
	release.Description = fmt.Sprintf("atomic rollback after failed deploy of %s", describe(failed))
	rb := &Rollback{Release: release, Store: store, Env: env, ToRevision: latest.Number}
	return rb.Run(ctx)
}

func describe(m *deploy.Manifest) string {
	if img, ok := m.Images["orchestrator"]; ok {
		return fmt.Sprintf("%s (%s)", m.Digest[:19], img)
	}
	return m.Digest[:19]
}

// IsUnhealthy tells whether err is a release that applied but did not become
// healthy: what --atomic rolls back.
func IsUnhealthy(err error) bool {
	var w *deploy.WaitError
	return errors.As(err, &w)
}
