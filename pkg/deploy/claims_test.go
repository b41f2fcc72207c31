package deploy

import (
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Requirement (issue 18): the workloads of a release wait only for the claims
// its own volumes reserve, and only while the apply left them unbound; claims
// left to a provisioner never hold them.
func TestClaimsToAwait(t *testing.T) {
	volume := func(name, claimNS, claim string) *unstructured.Unstructured {
		u := obj("v1", "PersistentVolume", "", name)
		if claim != "" {
			_ = unstructured.SetNestedStringMap(u.Object, map[string]string{"namespace": claimNS, "name": claim}, "spec", "claimRef")
		}
		return u
	}
	claim := func(name, volumeName, phase string) *unstructured.Unstructured {
		u := obj("v1", "PersistentVolumeClaim", "env", name)
		if volumeName != "" {
			_ = unstructured.SetNestedField(u.Object, volumeName, "spec", "volumeName")
		}
		if phase != "" {
			_ = unstructured.SetNestedField(u.Object, phase, "status", "phase")
		}
		return u
	}
	names := func(objs []*unstructured.Unstructured) []string {
		var out []string
		for _, o := range objs {
			out = append(out, o.GetName())
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		objs    []*unstructured.Unstructured
		results []ApplyResult
		want    []string
	}{
		{"reserved by a volume of the release, pending",
			[]*unstructured.Unstructured{volume("pv-input", "env", "input"), claim("input", "", "")},
			[]ApplyResult{{}, {Object: claim("input", "", "Pending")}},
			[]string{"input"}},
		{"naming a volume of the release",
			[]*unstructured.Unstructured{volume("pv-input", "", ""), claim("input", "pv-input", "")},
			[]ApplyResult{{}, {Object: claim("input", "pv-input", "Pending")}},
			[]string{"input"}},
		{"already bound (a release or a no-op)",
			[]*unstructured.Unstructured{volume("pv-input", "env", "input"), claim("input", "", "")},
			[]ApplyResult{{}, {Object: claim("input", "", "Bound")}},
			nil},
		{"left to a provisioner",
			[]*unstructured.Unstructured{claim("scratch", "", "")},
			[]ApplyResult{{Object: claim("scratch", "", "Pending")}},
			nil},
		{"reserved in another namespace",
			[]*unstructured.Unstructured{volume("pv-input", "other", "input"), claim("input", "", "")},
			[]ApplyResult{{}, {Object: claim("input", "", "Pending")}},
			nil},
		{"not applied",
			[]*unstructured.Unstructured{volume("pv-input", "env", "input"), claim("input", "", "")},
			[]ApplyResult{{}, {Action: NotApplied}},
			nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := names(claimsToAwait(tc.objs, tc.results)); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("claims to await: %v, want %v", got, tc.want)
			}
		})
	}
}

// Requirement (issue 18): claims are applied only once the volume controller
// has taken in the release's new or reclaimed volumes (else a claim waits for
// its resync, 15 s by default); volumes it already holds hold nothing.
func TestVolumesToAwait(t *testing.T) {
	volume := func(phase, claimUID string) ApplyResult {
		u := obj("v1", "PersistentVolume", "", "pv")
		_ = unstructured.SetNestedStringMap(u.Object, map[string]string{"namespace": "env", "name": "input", "uid": claimUID}, "spec", "claimRef")
		if phase != "" {
			_ = unstructured.SetNestedField(u.Object, phase, "status", "phase")
		}
		return ApplyResult{Object: u, Action: Created}
	}
	for _, tc := range []struct {
		name   string
		result ApplyResult
		await  bool
	}{
		{"just created", volume("Pending", ""), true},
		{"no status yet", volume("", ""), true},
		{"reclaimed, still Released", volume("Released", ""), true},
		{"released, its old claim's UID still on it", volume("Released", "0b1d"), false},
		{"available", volume("Available", ""), false},
		{"bound", volume("Bound", "0b1d"), false},
		{"not applied", ApplyResult{Action: NotApplied}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := len(volumesToAwait([]ApplyResult{tc.result})) == 1; got != tc.await {
				t.Errorf("awaited %v, want %v", got, tc.await)
			}
		})
	}
}

// Requirement (issue 18): a workload waits only for the unbound claims its
// pods mount; one that mounts none is applied at once.
func TestMountedClaims(t *testing.T) {
	deployment := func(claims ...string) *unstructured.Unstructured {
		u := obj("apps/v1", "Deployment", "env", "d")
		volumes := []any{map[string]any{"name": "tmp", "emptyDir": map[string]any{}}}
		for _, c := range claims {
			volumes = append(volumes, map[string]any{"name": c, "persistentVolumeClaim": map[string]any{"claimName": c}})
		}
		_ = unstructured.SetNestedSlice(u.Object, volumes, "spec", "template", "spec", "volumes")
		return u
	}
	unbound := []*unstructured.Unstructured{obj("v1", "PersistentVolumeClaim", "env", "input"), obj("v1", "PersistentVolumeClaim", "env", "logs")}
	for _, tc := range []struct {
		name string
		o    *unstructured.Unstructured
		want int
	}{
		{"mounts two of them", deployment("input", "logs", "output"), 2},
		{"mounts none", deployment(), 0},
		{"mounts a bound one only", deployment("output"), 0},
		{"not a workload", obj("v1", "Service", "env", "s"), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := len(mountedClaims(tc.o, unbound)); got != tc.want {
				t.Errorf("waits for %d claims, want %d", got, tc.want)
			}
		})
	}
}
