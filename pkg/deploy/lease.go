package deploy

import (
	"context"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// LeaseName is the Lease in each environment's namespace that one release
// (deploy or rollback) at a time holds.
const LeaseName = "kubectl-layering-deploy"

// A held lease expires this long after its last renewal, so a release killed
// without releasing it blocks others only briefly.
const leaseDuration = 60 * time.Second

// LockedError says who holds the environment.
type LockedError struct {
	Holder string
	Since  time.Time
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("another deploy or rollback holds this environment: %s, since %s (Lease %s; it expires %s after its holder stops renewing it)",
		e.Holder, e.Since.Format(time.RFC3339), LeaseName, leaseDuration)
}

// LeaseLostError means the lease could not be renewed: another release may
// already be writing to the environment, so this one stopped.
type LeaseLostError struct{ Reason string }

func (e *LeaseLostError) Error() string {
	return "lost the environment's deploy lease (" + e.Reason + "): stopped, because another deploy or rollback may already be running; " +
		"check with kubectl layering history, then re-run"
}

// Lease is a held deploy lease, renewed in the background.
type Lease struct {
	kube   kubernetes.Interface
	ns     string
	holder string
	every  time.Duration
	stop   context.CancelFunc
	done   chan struct{}
	lost   context.CancelCauseFunc // cancels the guarded context
	guard  context.Context
}

// Acquire takes the environment's deploy lease for holder or fails at once with
// a *LockedError. Creates and updates are conditional on the resourceVersion
// read, so two releases racing for it cannot both win.
func Acquire(ctx context.Context, kube kubernetes.Interface, ns, holder string) (*Lease, error) {
	if err := take(ctx, kube, ns, holder); err != nil {
		return nil, err
	}
	renewCtx, stop := context.WithCancel(context.Background())
	guard, lost := context.WithCancelCause(ctx)
	l := &Lease{kube: kube, ns: ns, holder: holder, every: leaseDuration / 3, stop: stop, done: make(chan struct{}), lost: lost, guard: guard}
	go l.renew(renewCtx)
	return l, nil
}

func take(ctx context.Context, kube kubernetes.Interface, ns, holder string) error {
	leases := kube.CoordinationV1().Leases(ns)
	now := metav1.NewMicroTime(time.Now())
	spec := coordinationv1.LeaseSpec{
		HolderIdentity:       ptr.To(holder),
		LeaseDurationSeconds: ptr.To(int32(leaseDuration / time.Second)),
		AcquireTime:          &now,
		RenewTime:            &now,
	}
	lease, err := leases.Get(ctx, LeaseName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = leases.Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: LeaseName, Namespace: ns}, Spec: spec}, metav1.CreateOptions{})
	case err != nil:
		return err
	default:
		if held(lease, time.Now()) {
			return lockedBy(lease)
		}
		lease.Spec = spec
		_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
	}
	if apierrors.IsAlreadyExists(err) || apierrors.IsConflict(err) {
		// Someone else won the race: report them.
		if lease, getErr := leases.Get(ctx, LeaseName, metav1.GetOptions{}); getErr == nil {
			return lockedBy(lease)
		}
		return &LockedError{Holder: "another deploy", Since: time.Now()}
	}
	if err != nil {
		return fmt.Errorf("taking the deploy lease: %w", err)
	}
	return nil
}

// held tells whether a lease has a holder whose last renewal has not expired at now.
func held(l *coordinationv1.Lease, now time.Time) bool {
	if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity == "" || l.Spec.RenewTime == nil {
		return false
	}
	d := leaseDuration
	if l.Spec.LeaseDurationSeconds != nil {
		d = time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second
	}
	return now.Sub(l.Spec.RenewTime.Time) < d
}

func lockedBy(l *coordinationv1.Lease) error {
	e := &LockedError{Holder: ptr.Deref(l.Spec.HolderIdentity, "unknown")}
	if l.Spec.AcquireTime != nil {
		e.Since = l.Spec.AcquireTime.Time
	}
	return e
}

// Guard is ctx for the work done under the lease: it is cancelled, with a
// *LeaseLostError as its cause, as soon as the lease is lost.
func (l *Lease) Guard() context.Context { return l.guard }

func (l *Lease) renew(ctx context.Context) {
	defer close(l.done)
	t := time.NewTicker(l.every)
	defer t.Stop()
	lastRenewed := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			err := l.renewOnce(ctx)
			var lost *LeaseLostError
			switch {
			case err == nil:
				lastRenewed = time.Now()
			case ctx.Err() != nil:
				return
			case asLost(err, &lost):
				l.lost(lost)
				return
			case time.Since(lastRenewed) > leaseDuration-l.every:
				// Transient errors, but the lease expires before the next try: others may take it.
				l.lost(&LeaseLostError{Reason: "could not renew it before it expired: " + err.Error()})
				return
			}
		}
	}
}

// renewOnce extends the lease; a *LeaseLostError when someone else holds it now.
func (l *Lease) renewOnce(ctx context.Context) error {
	leases := l.kube.CoordinationV1().Leases(l.ns)
	lease, err := leases.Get(ctx, LeaseName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return &LeaseLostError{Reason: "the Lease was deleted"}
	}
	if err != nil {
		return err
	}
	if holder := ptr.Deref(lease.Spec.HolderIdentity, ""); holder != l.holder {
		return &LeaseLostError{Reason: fmt.Sprintf("it is now held by %q", holder)}
	}
	lease.Spec.RenewTime = ptr.To(metav1.NewMicroTime(time.Now()))
	_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		return &LeaseLostError{Reason: "someone else changed it"}
	}
	return err
}

func asLost(err error, target **LeaseLostError) bool {
	l, ok := err.(*LeaseLostError)
	if ok {
		*target = l
	}
	return ok
}

// Release gives the lease up; it works after the release's context was cancelled.
func (l *Lease) Release() error {
	l.stop()
	<-l.done
	l.lost(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lease, err := l.kube.CoordinationV1().Leases(l.ns).Get(ctx, LeaseName, metav1.GetOptions{})
	if err != nil || ptr.Deref(lease.Spec.HolderIdentity, "") != l.holder {
		return err
	}
	lease.Spec.HolderIdentity = nil
	lease.Spec.RenewTime = nil
	_, err = l.kube.CoordinationV1().Leases(l.ns).Update(ctx, lease, metav1.UpdateOptions{})
	return err
}
