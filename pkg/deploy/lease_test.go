package deploy

import (
	"context"
	"errors"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

// Requirement: one release per environment; the second fails at once naming the holder.
func TestLeaseIsExclusive(t *testing.T) {
	ctx := context.Background()
	kube := fake.NewClientset()
	l, err := Acquire(ctx, kube, "ns", "alice on host (pid 1)")
	if err != nil {
		t.Fatal(err)
	}
	var locked *LockedError
	if _, err := Acquire(ctx, kube, "ns", "bob"); !errors.As(err, &locked) || locked.Holder != "alice on host (pid 1)" {
		t.Fatalf("second acquire: %v, want a LockedError naming alice", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if l2, err := Acquire(ctx, kube, "ns", "bob"); err != nil {
		t.Fatalf("after release: %v", err)
	} else {
		_ = l2.Release()
	}
}

// Requirement (issue 9, correctness 3): a release whose lease was taken over
// stops — its guarded context ends with a *LeaseLostError — instead of applying on.
func TestLeaseLostCancelsTheRelease(t *testing.T) {
	ctx := context.Background()
	kube := fake.NewClientset()
	l, err := Acquire(ctx, kube, "ns", "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	l.stop() // restart renewal at test speed
	<-l.done
	renewCtx, stop := context.WithCancel(context.Background())
	l.stop, l.done, l.every = stop, make(chan struct{}), 10*time.Millisecond
	go l.renew(renewCtx)

	// Someone else takes the lease (e.g. it expired while this process was stopped).
	lease, err := kube.CoordinationV1().Leases("ns").Get(ctx, LeaseName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lease.Spec.HolderIdentity = ptr.To("bob")
	if _, err := kube.CoordinationV1().Leases("ns").Update(ctx, lease, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.Guard().Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the release's context was not cancelled after the lease was lost")
	}
	var lost *LeaseLostError
	if !errors.As(context.Cause(l.Guard()), &lost) {
		t.Fatalf("cause %v, want a LeaseLostError", context.Cause(l.Guard()))
	}
	// What the release returns when a step fails because of it.
	if err := leaseCause(l.Guard(), context.Canceled); !errors.As(err, &lost) {
		t.Errorf("leaseCause = %v, want the LeaseLostError", err)
	}
}

// Requirement: an expired lease of a killed release does not block the next one.
func TestExpiredLeaseIsTakenOver(t *testing.T) {
	ctx := context.Background()
	kube := fake.NewClientset()
	l, err := Acquire(ctx, kube, "ns", "killed")
	if err != nil {
		t.Fatal(err)
	}
	l.stop()
	<-l.done
	lease, _ := kube.CoordinationV1().Leases("ns").Get(ctx, LeaseName, metav1.GetOptions{})
	lease.Spec.RenewTime = &metav1.MicroTime{Time: time.Now().Add(-2 * leaseDuration)}
	if _, err := kube.CoordinationV1().Leases("ns").Update(ctx, lease, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	l2, err := Acquire(ctx, kube, "ns", "next")
	if err != nil {
		t.Fatalf("expired lease not taken over: %v", err)
	}
	_ = l2.Release()
}
