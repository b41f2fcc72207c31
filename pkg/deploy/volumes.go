package deploy

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
)

// A claim that names a volume the volume controller does not hold yet stays
// unbound until the controller's next resync (--pvclaimbinder-sync-period,
// 15 s by default), and its pods with it. The controller takes in new volumes
// one by one, so claims are applied once each new volume has left phase Pending.
const (
	volumeWait  = 10 * time.Second // then the release goes on; its wait reports a claim still unbound
	volumeCheck = 50 * time.Millisecond
)

// volumesToAwait are the volumes among results that the volume controller has
// yet to take in: just created (phase Pending or none yet), or reserved again
// for a new claim and still Released.
func volumesToAwait(results []ApplyResult) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, r := range results {
		if r.Object == nil || r.Object.GetKind() != "PersistentVolume" {
			continue
		}
		phase, _, _ := unstructured.NestedString(r.Object.Object, "status", "phase")
		uid, _, _ := unstructured.NestedString(r.Object.Object, "spec", "claimRef", "uid")
		if phase == "" || phase == "Pending" || (phase == "Released" && uid == "") {
			out = append(out, r.Object)
		}
	}
	return out
}

// awaitVolumes polls volumes until each is Available or Bound, volumeWait has
// passed or ctx is done. It never fails the release: the wait that follows the
// apply reports a claim that stays unbound, with its reason.
func (a *Applier) awaitVolumes(ctx context.Context, volumes []*unstructured.Unstructured) {
	if len(volumes) == 0 {
		return
	}
	_ = wait.PollUntilContextTimeout(ctx, volumeCheck, volumeWait, false, func(ctx context.Context) (bool, error) {
		for len(volumes) > 0 {
			o := volumes[0]
			client, err := a.Clients.ResourceFor(o.GroupVersionKind(), o.GetNamespace())
			if err != nil {
				return false, err
			}
			live, err := client.Get(ctx, o.GetName(), metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			if phase, _, _ := unstructured.NestedString(live.Object, "status", "phase"); phase != "Available" && phase != "Bound" {
				return false, nil
			}
			volumes = volumes[1:]
		}
		return true, nil
	})
}
