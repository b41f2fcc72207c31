package loadtest

import (
	"fmt"
	"strconv"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// Labels of everything a load test creates.
const (
	LabelName     = "app.kubernetes.io/name"
	GeneratorName = "layering-loadgen"
	LabelRun      = "layering-detection.io/loadtest"
)

// Generator pods' resources: CPU is limited so that generators cannot starve
// the node (a throttled generator reports it, and the report says so);
// memory holds the request bodies in flight.
var (
	generatorCPURequest = resource.MustParse("50m")
	generatorCPULimit   = resource.MustParse("250m")
	maxGeneratorMemory  = int64(1 << 30)
)

// bodyBytes estimates one request body: the generator keeps one body per
// request in flight, plus the template it copies from.
func bodyBytes(l Load) int64 {
	switch l.Service {
	case "orchestrator":
		return 1 << 10
	case "aggregator":
		return 520 * int64(l.EventsPerRequest)
	}
	return 175 * int64(l.EventsPerRequest)
}

// generatorMemory is one generator pod's memory request and limit: the
// bodies in flight and the template, twice over for the garbage collector.
func generatorMemory(l Load, workers int) int64 {
	const base = 48 << 20
	b := base + 2*bodyBytes(l)*int64(workers+1)
	return (b + 1<<20 - 1) &^ (1<<20 - 1) // whole MiB
}

// JobSpec is everything the generator Job is made of.
type JobSpec struct {
	Name   string
	Target *Target
	Load   Load
	Plan   Plan
	Image  string
}

// Job is the generator Job: Plan.Generators pods, each sending its share of
// the rate to the Service's ClusterIP. Pod Security restricted, uid 1000, no
// service account token; it removes itself a minute after finishing and can
// never run much past its duration, should the plugin be gone.
func (s JobSpec) Job() *batchv1.Job {
	labels := map[string]string{LabelName: GeneratorName, LabelRun: s.Name}
	mem := generatorMemory(s.Load, s.Plan.WorkersPerGenerator)
	memory := *resource.NewQuantity(mem, resource.BinarySI)
	// Go 1.24 reads no cgroup limit: one thread per CPU of the limit (rounded
	// up), and the garbage collector working harder before the memory limit.
	env := []corev1.EnvVar{
		{Name: "GOMAXPROCS", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu", Divisor: resource.MustParse("1")}}},
		{Name: "GOMEMLIMIT", Value: strconv.FormatInt(mem/10*9, 10)},
	}
	if s.Target.APIKey != nil {
		env = append(env, corev1.EnvVar{Name: "API_KEY", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: s.Target.APIKey.DeepCopy()}})
	}
	n := int32(s.Plan.Generators)
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name: s.Name, Namespace: s.Target.Namespace, Labels: labels,
			Annotations: map[string]string{"layering-detection.io/loadtest-target": s.Target.Deployment},
		},
		Spec: batchv1.JobSpec{
			Parallelism:             &n,
			Completions:             &n,
			BackoffLimit:            ptr.To[int32](0),
			ActiveDeadlineSeconds:   ptr.To(int64((s.Load.Duration + 2*time.Minute).Seconds())),
			TTLSecondsAfterFinished: ptr.To[int32](60),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					RestartPolicy:                 corev1.RestartPolicyNever,
					AutomountServiceAccountToken:  ptr.To(false),
					EnableServiceLinks:            ptr.To(false),
					TerminationGracePeriodSeconds: ptr.To[int64](5),
					SecurityContext: &corev1.PodSecurityContext{
						RunAsNonRoot:   ptr.To(true),
						RunAsUser:      ptr.To[int64](1000),
						RunAsGroup:     ptr.To[int64](1000),
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					Containers: []corev1.Container{{
						Name:            "loadgen",
						Image:           s.Image,
						ImagePullPolicy: corev1.PullIfNotPresent,
						Command:         []string{"/layering-loadgen"},
						// A generator that fails says why in its pod's status.
						TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
						Args:                     s.args(),
						Env:                      env,
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{corev1.ResourceCPU: generatorCPURequest, corev1.ResourceMemory: memory},
							Limits:   corev1.ResourceList{corev1.ResourceCPU: generatorCPULimit, corev1.ResourceMemory: memory},
						},
						SecurityContext: &corev1.SecurityContext{
							AllowPrivilegeEscalation: ptr.To(false),
							ReadOnlyRootFilesystem:   ptr.To(true),
							RunAsNonRoot:             ptr.To(true),
							Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
						},
					}},
				},
			},
		},
	}
}

func (s JobSpec) args() []string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	args := []string{
		"-url", fmt.Sprintf("http://%s%s", s.Target.Address, s.Target.Path),
		"-rate", f(s.Plan.RatePerGenerator),
		"-duration", s.Load.Duration.String(),
		"-workers", strconv.Itoa(s.Plan.WorkersPerGenerator),
	}
	if s.Load.InputFile != "" {
		return append(args, "-input-file", s.Load.InputFile)
	}
	return append(args, "-events", strconv.Itoa(s.Load.EventsPerRequest))
}

// NetworkPolicies let the generators reach the target's pods where the
// namespace denies traffic by default: egress from the generators, ingress
// to the target, on its port only. Owned by the Job, so they go with it.
func (s JobSpec) NetworkPolicies(owner *batchv1.Job) []*networkingv1.NetworkPolicy {
	generators := metav1.LabelSelector{MatchLabels: map[string]string{LabelRun: s.Name}}
	target := metav1.LabelSelector{MatchLabels: s.Target.Selector}
	port := []networkingv1.NetworkPolicyPort{{Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromInt32(s.Target.PodPort))}}
	meta := func(suffix string) metav1.ObjectMeta {
		return metav1.ObjectMeta{
			Name: s.Name + "-" + suffix, Namespace: s.Target.Namespace,
			Labels: map[string]string{LabelName: GeneratorName, LabelRun: s.Name},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "batch/v1", Kind: "Job", Name: owner.Name, UID: owner.UID,
			}},
		}
	}
	return []*networkingv1.NetworkPolicy{{
		ObjectMeta: meta("egress"),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: generators,
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress:      []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{PodSelector: &target}}, Ports: port}},
		},
	}, {
		ObjectMeta: meta("ingress"),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: target,
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress:     []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: &generators}}, Ports: port}},
		},
	}}
}
