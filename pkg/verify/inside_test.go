package verify

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/layering-detection/kubectl-layering/pkg/verify/probeapi"
)

// Requirement (dns, volumes): the probe is asked for the service names the
// container's ConfigMaps point it at (host:port of each *_URL), and for its
// claim mounts, read-only as mounted; other volumes and settings are left out.
func TestProbeRequest(t *testing.T) {
	d := deployment("orchestrator", serviceContainer())
	other := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "someone-elses"}, Data: map[string]string{"X_URL": "http://elsewhere:9"}}
	for name, tc := range map[string]struct {
		dns, volumes bool
		want         probeapi.Request
	}{
		"dns and volumes": {true, true, probeapi.Request{
			DNS:      []string{"aggregator-service:8003", "layering-service:8001", "wash-trading-service:8002"},
			Writable: []string{"/app/output"}, ReadOnly: []string{"/app/input"}}},
		"dns only":     {true, false, probeapi.Request{DNS: []string{"aggregator-service:8003", "layering-service:8001", "wash-trading-service:8002"}}},
		"volumes only": {false, true, probeapi.Request{Writable: []string{"/app/output"}, ReadOnly: []string{"/app/input"}}},
		"neither":      {false, false, probeapi.Request{}},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := probeRequest(d, []*corev1.ConfigMap{configMap(), other}, tc.dns, tc.volumes)
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// Requirement: a Deployment without containers in the manifests is a clear error, not a panic.
func TestProbeRequestOfADeploymentWithoutContainers(t *testing.T) {
	_, err := probeRequest(deployment("orchestrator"), nil, true, true)
	if err == nil || !strings.Contains(err.Error(), "no containers") {
		t.Errorf("got %v, want an error saying the Deployment has no containers", err)
	}
}

// Requirement: a container that reads no ConfigMap with service URLs and mounts
// no claim asks the probe for nothing (verify then skips that Deployment).
func TestProbeRequestOfAPlainContainer(t *testing.T) {
	d := deployment("plain", corev1.Container{Name: "plain"})
	got, err := probeRequest(d, []*corev1.ConfigMap{configMap()}, true, true)
	if err != nil || !got.Empty() {
		t.Errorf("got %+v, %v; want an empty request", got, err)
	}
}

// Requirement: the probe's results become report rows: dns under dns, the rest
// under volumes; subjects name deployment, probe check and target; failures carry a hint.
func TestProbeRows(t *testing.T) {
	got := probeRows("orchestrator", []probeapi.Result{
		{Check: probeapi.CheckDNS, Target: "layering-service:8001", OK: true, Detail: "resolves to 10.96.0.20 and accepts connections"},
		{Check: probeapi.CheckDNS, Target: "aggregator-service:8003", Detail: "does not resolve: i/o timeout"},
		{Check: probeapi.CheckReadOnly, Target: "/app/input", Detail: "a write succeeded: the mount is writable"},
		{Check: probeapi.CheckWritable, Target: "/app/output", OK: true, Detail: "uid 1000 wrote, read back and removed a file"},
		{Check: probeapi.CheckPersists, Target: "/app/output", Detail: "the file written before the pod restart is gone"},
	})
	want := []Result{
		{"dns", "deployment/orchestrator dns layering-service:8001", Pass, "resolves to 10.96.0.20 and accepts connections", ""},
		{"dns", "deployment/orchestrator dns aggregator-service:8003", Fail, "does not resolve: i/o timeout", probeHints[probeapi.CheckDNS]},
		{"volumes", "deployment/orchestrator readonly /app/input", Fail, "a write succeeded: the mount is writable", probeHints[probeapi.CheckReadOnly]},
		{"volumes", "deployment/orchestrator writable /app/output", Pass, "uid 1000 wrote, read back and removed a file", ""},
		{"volumes", "deployment/orchestrator persists /app/output", Fail, "the file written before the pod restart is gone", probeHints[probeapi.CheckPersists]},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%+v\nwant\n%+v", got, want)
	}
	for _, r := range want {
		if r.Status == Fail && r.Hint == "" {
			t.Errorf("%s fails without a hint", r.Subject)
		}
	}
}

func TestFailedRows(t *testing.T) {
	got := failedRows("orchestrator", []string{"dns", "volumes"}, errors.New("no ready pod"), "h")
	want := []Result{{"dns", "deployment/orchestrator", Fail, "no ready pod", "h"}, {"volumes", "deployment/orchestrator", Fail, "no ready pod", "h"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

// Requirement (volumes): a claim passes only when Bound and not being deleted.
func TestJudgeClaim(t *testing.T) {
	pvc := func(phase corev1.PersistentVolumeClaimPhase, deleting bool) *corev1.PersistentVolumeClaim {
		c := &corev1.PersistentVolumeClaim{Spec: corev1.PersistentVolumeClaimSpec{VolumeName: "logs-pv"}, Status: corev1.PersistentVolumeClaimStatus{Phase: phase}}
		if deleting {
			c.DeletionTimestamp = &metav1.Time{Time: time.Now()}
		}
		return c
	}
	for name, tc := range map[string]struct {
		pvc    *corev1.PersistentVolumeClaim
		err    error
		status Status
		reason string
	}{
		"bound":          {pvc(corev1.ClaimBound, false), nil, Pass, "Bound to logs-pv"},
		"pending":        {pvc(corev1.ClaimPending, false), nil, Fail, "Pending, not Bound"},
		"being deleted":  {pvc(corev1.ClaimBound, true), nil, Fail, "being deleted (kept only while pods still use it)"},
		"does not exist": {nil, errors.New(`persistentvolumeclaims "logs-pvc" not found`), Fail, `persistentvolumeclaims "logs-pvc" not found`},
	} {
		t.Run(name, func(t *testing.T) {
			r := judgeClaim("logs-pvc", tc.pvc, tc.err, "test", ns)
			if r.Subject != "pvc/logs-pvc" || r.Status != tc.status || r.Reason != tc.reason {
				t.Errorf("got %+v, want %s %q", r, tc.status, tc.reason)
			}
		})
	}
}
