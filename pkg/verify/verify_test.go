package verify

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	restclient "k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"
)

// Requirement: the report keeps its JSON shape and table (e2e tests and users parse them).
func TestReportShape(t *testing.T) {
	r := &Report{Env: "local", Namespace: "layering-detection-local", Seconds: 1.5, Results: []Result{
		{"probes", "deployment/a", Pass, "1/1 available, probes as specified", "never shown on a pass"},
		{"volumes", "pvc/logs-pvc", Fail, "Pending, not Bound", "kubectl describe pvc logs-pvc"},
		{"ingress", "-", Skip, "this environment has no Ingress", ""},
	}}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"env":"local","namespace":"layering-detection-local","results":[` +
		`{"check":"probes","subject":"deployment/a","status":"pass","reason":"1/1 available, probes as specified","hint":"never shown on a pass"},` +
		`{"check":"volumes","subject":"pvc/logs-pvc","status":"fail","reason":"Pending, not Bound","hint":"kubectl describe pvc logs-pvc"},` +
		`{"check":"ingress","subject":"-","status":"skip","reason":"this environment has no Ingress"}],"seconds":1.5}`
	if string(b) != want {
		t.Errorf("JSON\n%s\nwant\n%s", b, want)
	}
	if h := r.Header(); !reflect.DeepEqual(h, []string{"CHECK", "SUBJECT", "STATUS", "REASON"}) {
		t.Errorf("header %v", h)
	}
	rows := [][]string{
		{"probes", "deployment/a", "pass", "1/1 available, probes as specified"},
		{"volumes", "pvc/logs-pvc", "fail", "Pending, not Bound (kubectl describe pvc logs-pvc)"},
		{"ingress", "-", "skip", "this environment has no Ingress"},
	}
	if !reflect.DeepEqual(r.Rows(), rows) {
		t.Errorf("rows %q, want %q", r.Rows(), rows)
	}
	if !r.Failed() {
		t.Error("a report with a failure does not say it failed")
	}
}

func TestRunRefusesAnUnknownCheck(t *testing.T) {
	v, _ := verifier(t, nil, live(deployment("orchestrator", serviceContainer())))
	_, err := v.Run(context.Background(), []string{"probes", "dnss"})
	if err == nil || !strings.Contains(err.Error(), `unknown check "dnss": checks are probes,dns,volumes,secrets,scaling,ingress`) {
		t.Errorf("got %v", err)
	}
}

func TestRunOfAnEnvironmentNotDeployed(t *testing.T) {
	v, _ := verifier(t, nil)
	_, err := v.Run(context.Background(), Checks)
	var notDeployed *NotDeployedError
	if !errors.As(err, &notDeployed) || !strings.Contains(err.Error(), "run kubectl layering deploy --env test") {
		t.Errorf("got %v, want a NotDeployedError", err)
	}
}

// answers is a fake API server proxy: every Service answers GET /health with body.
type answers string

func (a answers) DoRaw(context.Context) ([]byte, error) { return []byte(a), nil }
func (a answers) Stream(context.Context) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader(string(a))), nil
}

func healthy(cs *fake.Clientset) {
	cs.PrependProxyReactor("services", func(k8stesting.Action) (bool, restclient.ResponseWrapper, error) {
		return true, answers(`{"status":"healthy"}`), nil
	})
}

func resultsOf(t *testing.T, v *Verifier, checks ...string) []Result {
	t.Helper()
	report, err := v.Run(context.Background(), checks)
	if err != nil {
		t.Fatal(err)
	}
	return report.Results
}

func find(results []Result, check, subject string) (Result, bool) {
	for _, r := range results {
		if r.Check == check && r.Subject == subject {
			return r, true
		}
	}
	return Result{}, false
}

// Requirement: secret values never appear in a report, neither when the Secret
// is complete nor when a key is missing; in JSON or in the table, plain or base64.
func TestSecretValuesNeverInTheReport(t *testing.T) {
	const value = "s3cr3t-salt-value"
	d := deployment("orchestrator", serviceContainer())
	for name, data := range map[string]map[string][]byte{
		"complete":    {"PSEUDONYMIZATION_SALT": []byte(value)},
		"key missing": {"OTHER": []byte(value)},
	} {
		t.Run(name, func(t *testing.T) {
			secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "salt", Namespace: ns}, Data: data}
			v, cs := verifier(t, []runtime.Object{d}, live(d), secret)
			healthy(cs)
			report, err := v.Run(context.Background(), []string{"probes", "secrets", "scaling", "ingress"})
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := find(report.Results, "secrets", "secret/salt"); !ok {
				t.Fatalf("the secret was not checked: %+v", report.Results)
			}
			out, _ := json.Marshal(report)
			for _, row := range report.Rows() {
				out = append(out, strings.Join(row, " ")...)
			}
			for _, leak := range []string{value, base64.StdEncoding.EncodeToString([]byte(value))} {
				if strings.Contains(string(out), leak) {
					t.Errorf("the report shows a secret value: %s", out)
				}
			}
		})
	}
}

// Requirement: a Service without ports is skipped with the reason, not a panic.
func TestServiceWithoutPorts(t *testing.T) {
	headless := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "headless", Namespace: ns}, Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone}}
	ported := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "layering-service", Namespace: ns}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 8001}}}}
	v, cs := verifier(t, []runtime.Object{headless, ported}, live(deployment("orchestrator", serviceContainer())))
	healthy(cs)
	results := resultsOf(t, v, "probes")
	if r, _ := find(results, "probes", "service/headless GET /health"); r.Status != Skip || !strings.Contains(r.Reason, "no ports") {
		t.Errorf("service without ports: %+v", r)
	}
	if r, _ := find(results, "probes", "service/layering-service GET /health"); r.Status != Pass {
		t.Errorf("service with a port: %+v", r)
	}
}

// Requirement: an HPA without minReplicas (in the manifests and live, as the
// fake API server does not default it) is judged with the API's default of 1, not a panic.
func TestHPAWithoutMinReplicas(t *testing.T) {
	want := hpa(nil, 4)
	v, _ := verifier(t, []runtime.Object{want}, live(deployment("orchestrator", serviceContainer())), withMetrics(want, 5, 30))
	r, ok := find(resultsOf(t, v, "scaling"), "scaling", "hpa/orchestrator")
	if !ok || r.Status != Pass || !strings.HasPrefix(r.Reason, "1-4 replicas") {
		t.Errorf("got %+v", r)
	}
}

// Requirement: a pod without containers fails dns and volumes with the reason, not a panic.
func TestPodWithoutContainers(t *testing.T) {
	d := deployment("orchestrator", serviceContainer())
	empty := runningPod("orchestrator-1", "orchestrator") // no containers
	v, _ := verifier(t, []runtime.Object{d, configMap()}, live(d), empty)
	results := resultsOf(t, v, "dns", "volumes")
	for _, check := range []string{"dns", "volumes"} {
		r, ok := find(results, check, "deployment/orchestrator")
		if !ok || r.Status != Fail || !strings.Contains(r.Reason, "pod orchestrator-1 has no containers to look inside") {
			t.Errorf("%s: %+v in %+v", check, r, results)
		}
	}
}

// Requirement: a Deployment without containers in the manifests fails probes,
// dns and volumes with the reason, not a panic.
func TestDeploymentWithoutContainersInTheManifests(t *testing.T) {
	d := deployment("orchestrator")
	v, _ := verifier(t, []runtime.Object{d, configMap()}, live(deployment("orchestrator", serviceContainer())))
	results := resultsOf(t, v, "probes", "dns", "volumes")
	for _, check := range []string{"probes", "dns", "volumes"} {
		r, ok := find(results, check, "deployment/orchestrator")
		if !ok || r.Status != Fail || !strings.Contains(r.Reason, "no containers") {
			t.Errorf("%s: %+v in %+v", check, r, results)
		}
	}
}

// Requirement: no ready pod to look inside is a failure with the reason.
func TestNoReadyPodToLookInside(t *testing.T) {
	d := deployment("orchestrator", serviceContainer())
	v, _ := verifier(t, []runtime.Object{d, configMap()}, live(d))
	r, ok := find(resultsOf(t, v, "dns"), "dns", "deployment/orchestrator")
	if !ok || r.Status != Fail || r.Reason != "cannot look inside: deployment/orchestrator has no ready pod" {
		t.Errorf("got %+v", r)
	}
}

// Requirement: results come in report order: by check as listed in Checks, then by subject.
func TestRunOrdersResults(t *testing.T) {
	d := deployment("orchestrator", serviceContainer())
	b := deployment("aggregator", serviceContainer())
	want := hpa(nil, 4)
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "salt", Namespace: ns}, Data: map[string][]byte{"PSEUDONYMIZATION_SALT": []byte("x")}}
	v, cs := verifier(t, []runtime.Object{d, b, want}, live(d), live(b), withMetrics(want, 1, 1), secret)
	healthy(cs)
	var got []string
	for _, r := range resultsOf(t, v, "ingress", "scaling", "secrets", "probes") {
		got = append(got, r.Check+" "+r.Subject)
	}
	order := []string{"probes deployment/aggregator", "probes deployment/orchestrator", "secrets secret/salt", "scaling hpa/orchestrator", "ingress -"}
	if !reflect.DeepEqual(got, order) {
		t.Errorf("order %q, want %q", got, order)
	}
}
