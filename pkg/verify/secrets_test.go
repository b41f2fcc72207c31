package verify

import (
	"errors"
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Requirement (secrets): the keys checked are exactly those the containers read.
func TestSecretKeysRead(t *testing.T) {
	c := serviceContainer()
	c.Env = append(c.Env,
		corev1.EnvVar{Name: "API_KEY", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "api"}, Key: "KEY"}}},
		corev1.EnvVar{Name: "PLAIN", Value: "x"},
	)
	got := secretKeysRead([]*appsv1.Deployment{deployment("a", c), deployment("b", serviceContainer()), deployment("none")})
	want := map[string][]string{"salt": {"PSEUDONYMIZATION_SALT"}, "api": {"KEY"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// Requirement (secrets): a Secret passes when every key read holds something,
// and fails naming the missing or empty keys, never their values.
func TestJudgeSecretKeys(t *testing.T) {
	for name, tc := range map[string]struct {
		data   map[string][]byte
		status Status
		reason string
	}{
		"all there":    {map[string][]byte{"A": []byte("v1"), "B": []byte("v2")}, Pass, "holds A, B"},
		"one missing":  {map[string][]byte{"A": []byte("v1")}, Fail, "missing or empty key B"},
		"one empty":    {map[string][]byte{"A": {}, "B": []byte("v2")}, Fail, "missing or empty key A"},
		"secret empty": {nil, Fail, "missing or empty key A, B"},
	} {
		t.Run(name, func(t *testing.T) {
			r := judgeSecretKeys("s", tc.data, []string{"B", "A"})
			if r.Subject != "secret/s" || r.Status != tc.status || r.Reason != tc.reason {
				t.Errorf("got %+v, want %s %q", r, tc.status, tc.reason)
			}
		})
	}
}

// Requirement (secrets): an ExternalSecret passes only with condition Ready=True.
func TestJudgeExternalSecret(t *testing.T) {
	es := func(status, reason, message string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{"status": map[string]any{"conditions": []any{
			map[string]any{"type": "Ready", "status": status, "reason": reason, "message": message}}}}}
	}
	for name, tc := range map[string]struct {
		live   *unstructured.Unstructured
		err    error
		status Status
		reason string
	}{
		"ready":        {es("True", "SecretSynced", "ok"), nil, Pass, "ready: SecretSynced"},
		"not ready":    {es("False", "SecretSyncedError", "could not get secret data from provider"), nil, Fail, "not ready: could not get secret data from provider"},
		"no condition": {&unstructured.Unstructured{Object: map[string]any{}}, nil, Fail, "not ready: no Ready condition yet"},
		"absent":       {nil, errors.New(`externalsecrets.external-secrets.io "x" not found`), Fail, `externalsecrets.external-secrets.io "x" not found`},
	} {
		t.Run(name, func(t *testing.T) {
			r := judgeExternalSecret("x", tc.live, tc.err, ns)
			if r.Subject != "externalsecret/x" || r.Status != tc.status || r.Reason != tc.reason {
				t.Errorf("got %+v, want %s %q", r, tc.status, tc.reason)
			}
		})
	}
}
