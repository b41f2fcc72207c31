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

// LeaseName is the Lease in each environment's namespace that one deploy at a time holds.
const LeaseName = "kubectl-layering-deploy"

// A held lease expires this long after its last renewal, so a deploy killed
// without releasing it blocks others only briefly.
const leaseDuration = 60 * time.Second

// LockedError says who holds the environment.
type LockedError struct {
	Holder string
	Since  time.Time
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("another deploy holds this environment: %s, since %s (Lease %s; it expires %s after its holder stops renewing it)",
		e.Holder, e.Since.Format(time.RFC3339), LeaseName, leaseDuration)
}

// Lock is a held deploy lease.
type Lock struct {
	kube   kubernetes.Interface
	ns     string
	holder string
	stop   context.CancelFunc
	done   chan struct{}
}

// Acquire takes the environment's deploy lease for holder or fails at once with
// a *LockedError. Creates and updates are conditional on the resourceVersion
// read, so two deploys racing for it cannot both win.
func Acquire(ctx context.Context, kube kubernetes.Interface, ns, holder string) (*Lock, error) {
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
		return nil, err
	default:
		if held(lease) {
			return nil, lockedBy(lease)
		}
		lease.Spec = spec
		_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
	}
	if apierrors.IsAlreadyExists(err) || apierrors.IsConflict(err) {
		// Someone else won the race: report them.
		if lease, getErr := leases.Get(ctx, LeaseName, metav1.GetOptions{}); getErr == nil {
			return nil, lockedBy(lease)
		}
		return nil, &LockedError{Holder: "another deploy", Since: time.Now()}
	}
	if err != nil {
		return nil, fmt.Errorf("taking the deploy lease: %w", err)
	}
	renewCtx, stop := context.WithCancel(context.Background())
	l := &Lock{kube: kube, ns: ns, holder: holder, stop: stop, done: make(chan struct{})}
	go l.renew(renewCtx)
	return l, nil
}

func held(l *coordinationv1.Lease) bool {
	if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity == "" || l.Spec.RenewTime == nil {
		return false
	}
	d := leaseDuration
	if l.Spec.LeaseDurationSeconds != nil {
		d = time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second
	}
	return time.Since(l.Spec.RenewTime.Time) < d
}

func lockedBy(l *coordinationv1.Lease) error {
	e := &LockedError{Holder: ptr.Deref(l.Spec.HolderIdentity, "unknown")}
	if l.Spec.AcquireTime != nil {
		e.Since = l.Spec.AcquireTime.Time
	}
	return e
}

func (l *Lock) renew(ctx context.Context) {
	defer close(l.done)
	t := time.NewTicker(leaseDuration / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			lease, err := l.kube.CoordinationV1().Leases(l.ns).Get(ctx, LeaseName, metav1.GetOptions{})
			if err != nil || ptr.Deref(lease.Spec.HolderIdentity, "") != l.holder {
				continue
			}
			lease.Spec.RenewTime = ptr.To(metav1.NewMicroTime(time.Now()))
			_, _ = l.kube.CoordinationV1().Leases(l.ns).Update(ctx, lease, metav1.UpdateOptions{})
		}
	}
}

// Release gives the lease up; it works after the deploy's context was cancelled.
func (l *Lock) Release() error {
	l.stop()
	<-l.done
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
