package verify

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
)

const ns = "layering-detection-test"

// Objects shaped like the platform's, small enough to read in a test.

func serviceContainer() corev1.Container {
	return corev1.Container{
		Name:           "orchestrator",
		StartupProbe:   &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/health", Port: intstr.FromInt32(8000)}}, PeriodSeconds: 1, FailureThreshold: 95},
		LivenessProbe:  &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/health", Port: intstr.FromInt32(8000)}}},
		ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/health", Port: intstr.FromInt32(8000)}}, PeriodSeconds: 5},
		EnvFrom:        []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "orchestrator-config"}}}},
		Env: []corev1.EnvVar{{Name: "PSEUDONYMIZATION_SALT", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "salt"}, Key: "PSEUDONYMIZATION_SALT"}}}},
		VolumeMounts: []corev1.VolumeMount{
			{Name: "input", MountPath: "/app/input", ReadOnly: true},
			{Name: "output", MountPath: "/app/output"},
			{Name: "tmp", MountPath: "/tmp"},
		},
	}
}

func deployment(name string, containers ...corev1.Container) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec: corev1.PodSpec{
					Containers: containers,
					Volumes: []corev1.Volume{
						{Name: "input", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "input-pvc", ReadOnly: true}}},
						{Name: "output", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "output-pvc"}}},
						{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
					},
				},
			},
		},
		Status: appsv1.DeploymentStatus{AvailableReplicas: 1},
	}
}

// live is the Deployment as the API server returns it: probes defaulted.
func live(d *appsv1.Deployment) *appsv1.Deployment {
	d = d.DeepCopy()
	for i := range d.Spec.Template.Spec.Containers {
		c := &d.Spec.Template.Spec.Containers[i]
		c.StartupProbe, c.LivenessProbe, c.ReadinessProbe = withDefaults(c.StartupProbe), withDefaults(c.LivenessProbe), withDefaults(c.ReadinessProbe)
	}
	return d
}

func configMap() *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "orchestrator-config", Namespace: ns}, Data: map[string]string{
		"LAYERING_SERVICE_URL":     "http://layering-service:8001",
		"WASH_TRADING_SERVICE_URL": "http://wash-trading-service:8002/",
		"AGGREGATOR_URL":           "http://aggregator-service:8003",
		"LOG_LEVEL":                "INFO",
		"INPUT_PATH_URL":           "/app/input", // no host: not a service
	}}
}

// runningPod is a ready pod of the Deployment app.
func runningPod(name, app string, containers ...corev1.Container) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: k8stypes.UID("uid-" + name), Labels: map[string]string{"app": app}},
		Spec:       corev1.PodSpec{Containers: containers},
		Status:     corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
}

// asRendered turns typed objects into what Verifier.Objects holds.
func asRendered(t *testing.T, objs ...runtime.Object) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, o := range objs {
		gvks, _, err := scheme.Scheme.ObjectKinds(o)
		if err != nil {
			t.Fatal(err)
		}
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{Object: m}
		u.SetGroupVersionKind(gvks[0])
		out = append(out, u)
	}
	return out
}

// verifier is a Verifier of the rendered objects against a fake cluster holding the live ones.
func verifier(t *testing.T, rendered []runtime.Object, cluster ...runtime.Object) (*Verifier, *fake.Clientset) {
	cs := fake.NewClientset(cluster...)
	return &Verifier{Kube: cs, Env: "test", Namespace: ns, Objects: asRendered(t, rendered...), ProbeImage: "layering-detection-verify-probe:test"}, cs
}
