package loadtest

import (
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
)

func testSpec() JobSpec {
	target := &Target{
		Service: "layering", Namespace: "layering-detection-prod", Deployment: "layering-detection-layering",
		Selector: map[string]string{"app.kubernetes.io/name": "layering"}, Address: "10.96.0.20:8001", Path: "/detect", PodPort: 8001,
		APIKey: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "layering-detection-api-key"}, Key: "API_KEY"},
	}
	load := Load{Service: "layering", Profile: ProfileCPU, Rate: 4, Concurrency: 8, EventsPerRequest: 50000, Duration: 3 * time.Minute}
	plan, _ := PlanFor(load, 100)
	return JobSpec{Name: "layering-loadtest-layering-abcde", Target: target, Load: load, Plan: plan, Image: "registry.example/layering-detection-loadgen:1.4.2"}
}

// Requirement: the generator pods pass Pod Security `restricted` (the
// environments' namespaces enforce it), run as uid 1000, and have CPU limits.
func TestGeneratorPodIsRestricted(t *testing.T) {
	job := testSpec().Job()
	pod := job.Spec.Template
	eval, err := policy.NewEvaluator(policy.DefaultChecks())
	if err != nil {
		t.Fatal(err)
	}
	for _, res := range eval.EvaluatePod(psapi.LevelVersion{Level: psapi.LevelRestricted, Version: psapi.LatestVersion()}, &pod.ObjectMeta, &pod.Spec) {
		if !res.Allowed {
			t.Errorf("restricted: %s: %s", res.ForbiddenReason, res.ForbiddenDetail)
		}
	}
	c := pod.Spec.Containers[0]
	if *pod.Spec.SecurityContext.RunAsUser != 1000 || c.Resources.Limits.Cpu().MilliValue() != 250 || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("uid %d, limits %v", *pod.Spec.SecurityContext.RunAsUser, c.Resources.Limits)
	}
	if *pod.Spec.AutomountServiceAccountToken || *job.Spec.BackoffLimit != 0 || *job.Spec.TTLSecondsAfterFinished != 60 ||
		*job.Spec.ActiveDeadlineSeconds != int64((5*time.Minute).Seconds()) || *job.Spec.Parallelism != 3 || *job.Spec.Completions != 3 {
		t.Errorf("job spec: %+v", job.Spec)
	}
}

// Requirement: the generators read the API key from the environment's Secret
// themselves; no value appears in the Job; they send to the ClusterIP.
func TestGeneratorReadsTheAPIKeyFromTheSecret(t *testing.T) {
	c := testSpec().Job().Spec.Template.Spec.Containers[0]
	var key *corev1.EnvVar
	for i := range c.Env {
		if c.Env[i].Name == "API_KEY" {
			key = &c.Env[i]
		}
	}
	if key == nil || key.Value != "" || key.ValueFrom.SecretKeyRef.Name != "layering-detection-api-key" || key.ValueFrom.SecretKeyRef.Key != "API_KEY" {
		t.Errorf("API_KEY env: %+v", key)
	}
	args := strings.Join(c.Args, " ")
	for _, want := range []string{"-url http://10.96.0.20:8001/detect", "-rate 1.3333333333333333", "-duration 3m0s", "-workers 3", "-events 50000"} {
		if !strings.Contains(args, want) {
			t.Errorf("args %q lack %q", args, want)
		}
	}
}

// Requirement: where the namespace denies traffic by default, two policies
// let exactly these generators reach exactly the target's pods on its port.
func TestGeneratorNetworkPolicies(t *testing.T) {
	s := testSpec()
	job := s.Job()
	job.UID = "uid-1"
	nps := s.NetworkPolicies(job)
	if len(nps) != 2 {
		t.Fatalf("%d policies", len(nps))
	}
	egress, ingress := nps[0], nps[1]
	if egress.Spec.PodSelector.MatchLabels[LabelRun] != s.Name || egress.Spec.Egress[0].To[0].PodSelector.MatchLabels["app.kubernetes.io/name"] != "layering" ||
		egress.Spec.Egress[0].Ports[0].Port.IntVal != 8001 {
		t.Errorf("egress: %+v", egress.Spec)
	}
	if ingress.Spec.PodSelector.MatchLabels["app.kubernetes.io/name"] != "layering" || ingress.Spec.Ingress[0].From[0].PodSelector.MatchLabels[LabelRun] != s.Name ||
		!slices.Equal(ingress.Spec.PolicyTypes, []networkingv1.PolicyType{"Ingress"}) || !slices.Equal(egress.Spec.PolicyTypes, []networkingv1.PolicyType{"Egress"}) {
		t.Errorf("ingress: %+v", ingress.Spec)
	}
	for _, np := range nps {
		if len(np.OwnerReferences) != 1 || np.OwnerReferences[0].UID != "uid-1" {
			t.Errorf("%s not owned by the job: %+v", np.Name, np.OwnerReferences)
		}
	}
}
