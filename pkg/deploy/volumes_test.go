package deploy

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

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
