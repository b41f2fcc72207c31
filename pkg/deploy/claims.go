package deploy

import (
	"context"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
)

// The scheduler sets a pod that mounts an unbound claim aside and retries it
// after a backoff of seconds (1 s, doubling): a fresh environment whose pods
// were created moments before their claims bound came up 3–5 s late. A claim
// reserved by one of the release's own volumes binds within moments, needing
// only the volume controller, so a workload that mounts it is applied once it
// has; the others go at once.
//
// Only if the controller already holds the volume: a claim it syncs first
// stays unbound until its next resync (--pvclaimbinder-sync-period, 15 s by
// default). The controller takes in new volumes one by one, so the claims are
// applied once each new volume has left phase Pending.
const (
	settleWait  = 10 * time.Second // then the release goes on; the wait reports a claim still unbound
	settleCheck = 50 * time.Millisecond
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

// preboundClaims are the "namespace/name" of the claims in objs that a volume
// in objs reserves (spec.claimRef) or that name their volume (spec.volumeName).
// Claims left to a provisioner are not among them: provisioning may take long,
// or wait for the first pod (WaitForFirstConsumer).
func preboundClaims(objs []*unstructured.Unstructured) map[string]bool {
	claims := map[string]bool{}
	volumes := map[string]bool{}
	for _, o := range objs {
		if o.GetKind() == "PersistentVolume" {
			volumes[o.GetName()] = true
		}
	}
	for _, o := range objs {
		switch o.GetKind() {
		case "PersistentVolume":
			ns, _, _ := unstructured.NestedString(o.Object, "spec", "claimRef", "namespace")
			name, _, _ := unstructured.NestedString(o.Object, "spec", "claimRef", "name")
			if name != "" {
				claims[ns+"/"+name] = true
			}
		case "PersistentVolumeClaim":
			if v, _, _ := unstructured.NestedString(o.Object, "spec", "volumeName"); volumes[v] {
				claims[o.GetNamespace()+"/"+o.GetName()] = true
			}
		}
	}
	return claims
}

// claimsToAwait are the prebound claims among objs that the apply left unbound.
func claimsToAwait(objs []*unstructured.Unstructured, results []ApplyResult) []*unstructured.Unstructured {
	prebound := preboundClaims(objs)
	var out []*unstructured.Unstructured
	for i, o := range objs {
		if o.GetKind() != "PersistentVolumeClaim" || !prebound[o.GetNamespace()+"/"+o.GetName()] {
			continue
		}
		live := results[i].Object
		if live == nil {
			continue // not applied: nothing to wait for
		}
		if phase, _, _ := unstructured.NestedString(live.Object, "status", "phase"); phase != "Bound" {
			out = append(out, live)
		}
	}
	return out
}

// mountedClaims are the claims among unbound that the pod template of o mounts.
func mountedClaims(o *unstructured.Unstructured, unbound []*unstructured.Unstructured) []*unstructured.Unstructured {
	if len(unbound) == 0 {
		return nil
	}
	volumes, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "volumes")
	var out []*unstructured.Unstructured
	for _, c := range unbound {
		for _, v := range volumes {
			m, _ := v.(map[string]any)
			name, _, _ := unstructured.NestedString(m, "persistentVolumeClaim", "claimName")
			if name == c.GetName() && o.GetNamespace() == c.GetNamespace() {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

// awaitPhase polls objs until each is in one of phases, settleWait has passed
// or ctx is done. It never fails the release: the wait that follows the apply
// reports a claim that stays unbound, with its reason.
func (a *Applier) awaitPhase(ctx context.Context, objs []*unstructured.Unstructured, phases ...string) {
	if len(objs) == 0 {
		return
	}
	_ = wait.PollUntilContextTimeout(ctx, settleCheck, settleWait, false, func(ctx context.Context) (bool, error) {
		for len(objs) > 0 {
			o := objs[0]
			client, err := a.Clients.ResourceFor(o.GroupVersionKind(), o.GetNamespace())
			if err != nil {
				return false, err
			}
			live, err := client.Get(ctx, o.GetName(), metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			if phase, _, _ := unstructured.NestedString(live.Object, "status", "phase"); !slices.Contains(phases, phase) {
				return false, nil
			}
			objs = objs[1:]
		}
		return true, nil
	})
}
