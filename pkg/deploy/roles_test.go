package deploy

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Requirement (issue 12): preflight refuses a ServiceAccount whose IRSA role
// is empty, malformed or in the placeholder account; one without the
// annotation (the local environment) or with a real role passes.
func TestCheckRoles(t *testing.T) {
	sa := func(annotations map[string]string) *unstructured.Unstructured {
		u := obj("v1", "ServiceAccount", "amazon-cloudwatch", "fluent-bit")
		u.SetAnnotations(annotations)
		return u
	}
	role := func(arn string) map[string]string { return map[string]string{RoleAnnotation: arn} }
	for _, c := range []struct {
		name string
		obj  *unstructured.Unstructured
		want string // a problem containing this, or "" for none
	}{
		{"real role", sa(role("arn:aws:iam::123456789012:role/layering-detection-fluent-bit")), ""},
		{"GovCloud partition", sa(role("arn:aws-us-gov:iam::123456789012:role/path/fluent-bit")), ""},
		{"no annotation", sa(nil), ""},
		{"empty", sa(role("")), "not set"},
		{"placeholder account", sa(role("arn:aws:iam::111122223333:role/layering-detection-fluent-bit")), "placeholder"},
		{"unreplaced account", sa(role("arn:aws:iam::ACCOUNT:role/layering-detection-fluent-bit")), "placeholder or a malformed account"},
		{"not a role", sa(role("arn:aws:iam::123456789012:user/someone")), "not an IAM role ARN"},
		{"annotation on another kind", func() *unstructured.Unstructured {
			u := obj("v1", "ConfigMap", "ns", "x")
			u.SetAnnotations(role(""))
			return u
		}(), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			problems := checkRoles([]*unstructured.Unstructured{c.obj})
			switch {
			case c.want == "" && len(problems) > 0:
				t.Errorf("problems %v, want none", problems)
			case c.want != "" && (len(problems) != 1 || !strings.Contains(problems[0].Problem, c.want) || !strings.Contains(problems[0].Fix, "accountId")):
				t.Errorf("problems %v, want one saying %q with the accountId fix", problems, c.want)
			}
		})
	}
}

// Requirement (issue 12): wait attributes a failing pod to its workload, a
// Deployment's through its ReplicaSet and a DaemonSet's (Fluent Bit) directly.
func TestWorkloadOf(t *testing.T) {
	pod := func(labels map[string]string, kind, name string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Labels: labels, OwnerReferences: []metav1.OwnerReference{{Kind: kind, Name: name}}}}
	}
	for _, c := range []struct {
		pod  *corev1.Pod
		want string
	}{
		{pod(map[string]string{"pod-template-hash": "5d8f"}, "ReplicaSet", "layering-detection-layering-5d8f"), "deployment/layering-detection-layering"},
		{pod(map[string]string{"pod-template-generation": "1"}, "DaemonSet", "fluent-bit"), "daemonset/fluent-bit"},
		{pod(nil, "ReplicaSet", "bare-rs"), ""},
		{pod(nil, "Job", "x"), ""},
	} {
		if got := workloadOf(c.pod); got != c.want {
			t.Errorf("workloadOf(%v) = %q, want %q", c.pod.OwnerReferences, got, c.want)
		}
	}
}
