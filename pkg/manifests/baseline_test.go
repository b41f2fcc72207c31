package manifests

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
)

// The ECS baseline (../shared/spec/ecs-baseline.md), service by service.
type serviceBaseline struct {
	name              string
	port              int32
	cpu, memory       string // ECS 512 CPU units = 500m
	desired, min, max int32
	config            map[string]string
}

var baseline = []serviceBaseline{
	{"orchestrator", 8000, "500m", "1024Mi", 1, 1, 5, map[string]string{
		"PORT": "8000", "INPUT_DIR": "/app/input",
		"LAYERING_SERVICE_URL":     "http://layering-service:8001",
		"WASH_TRADING_SERVICE_URL": "http://wash-trading-service:8002",
		"AGGREGATOR_SERVICE_URL":   "http://aggregator-service:8003",
		"MAX_RETRIES":              "3", "ALGORITHM_TIMEOUT_SECONDS": "30", "LOG_LEVEL": "INFO", "RATE_LIMIT_PER_MINUTE": "100",
	}},
	{"layering", 8001, "500m", "512Mi", 2, 1, 10, map[string]string{"PORT": "8001", "LOG_LEVEL": "INFO", "RATE_LIMIT_PER_MINUTE": "100"}},
	{"wash-trading", 8002, "500m", "512Mi", 2, 1, 10, map[string]string{"PORT": "8002", "LOG_LEVEL": "INFO", "RATE_LIMIT_PER_MINUTE": "100"}},
	{"aggregator", 8003, "500m", "512Mi", 1, 1, 5, map[string]string{
		"PORT": "8003", "OUTPUT_DIR": "/app/output", "LOGS_DIR": "/app/logs",
		"VALIDATION_STRICT": "true", "ALLOW_PARTIAL_RESULTS": "false", "LOG_LEVEL": "INFO", "RATE_LIMIT_PER_MINUTE": "100",
	}},
}

// envExpectation is what an environment changes from the baseline.
type envExpectation struct {
	name       string
	eks        bool // ESO, EFS, ALB and IRSA; otherwise the local cluster's stand-ins
	tls        bool
	netpol     bool
	deletion   bool // ALB deletion protection
	albName    string
	certARN    string
	sizeFor    func(serviceBaseline) (cpu, memory string, replicas, max int32)
	cpuRequest string            // when it differs from the limit
	accessPts  map[string]string // volume -> access point id
}

func fullSize(s serviceBaseline) (string, string, int32, int32) {
	return s.cpu, s.memory, s.desired, s.max
}

var accessPoints = map[string]string{"input": "fsap-0000000000000001a", "output": "fsap-0000000000000002b", "logs": "fsap-0000000000000003c"}

var envs = []envExpectation{
	{name: "dev", eks: true, albName: "layering-detection-dev-alb", accessPts: accessPoints,
		sizeFor: func(s serviceBaseline) (string, string, int32, int32) {
			if s.name == "orchestrator" {
				return "250m", "512Mi", 1, 2
			}
			return "250m", "256Mi", 1, 2
		}},
	{name: "staging", eks: true, tls: true, netpol: true, albName: "layering-detection-staging-alb", sizeFor: fullSize, accessPts: accessPoints,
		certARN: "arn:aws:acm:us-east-1:111122223333:certificate/00000000-0000-0000-0000-000000000001"},
	{name: "prod", eks: true, tls: true, netpol: true, deletion: true, albName: "layering-detection-alb", sizeFor: fullSize, accessPts: accessPoints,
		certARN: "arn:aws:acm:us-east-1:111122223333:certificate/00000000-0000-0000-0000-000000000002"},
	{name: "local", sizeFor: fullSize, cpuRequest: "100m"},
}

// rendered indexes one environment's typed objects by kind and name.
type rendered map[string]runtime.Object

// renderTyped builds the kustomization at dir (e.g. overlays/prod) into typed objects.
func renderTyped(t *testing.T, dir string) rendered {
	t.Helper()
	objs := render(t, dir)
	s := typedScheme(t)
	out := rendered{}
	for _, u := range objs {
		typed, err := s.New(u.GroupVersionKind())
		if runtime.IsNotRegisteredError(err) { // a CRD without Go types here (TargetGroupBinding)
			out[u.GetKind()+"/"+u.GetName()] = u
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, typed); err != nil {
			t.Fatal(err)
		}
		out[u.GetKind()+"/"+u.GetName()] = typed
	}
	return out
}

func get[T runtime.Object](t *testing.T, r rendered, kind, name string) T {
	t.Helper()
	o, ok := r[kind+"/"+name]
	if !ok {
		var zero T
		t.Fatalf("no %s %q rendered", kind, name)
		return zero
	}
	return o.(T)
}

func (r rendered) count(kind string) int {
	n := 0
	for k := range r {
		if strings.HasPrefix(k, kind+"/") {
			n++
		}
	}
	return n
}

func eq[V comparable](t *testing.T, what string, got, want V) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func qty(t *testing.T, what string, got resource.Quantity, want string) {
	t.Helper()
	if got.Cmp(resource.MustParse(want)) != 0 {
		t.Errorf("%s = %s, want %s", what, got.String(), want)
	}
}

func version(t *testing.T) string {
	data, err := os.ReadFile("../../VERSION")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

// Requirement: every name and number of the ECS baseline, and what production
// Kubernetes adds to it, holds in every environment; any drift fails here.
func TestEnvironmentsReproduceTheECSBaseline(t *testing.T) {
	for _, env := range envs {
		t.Run(env.name, func(t *testing.T) {
			r := renderTyped(t, "overlays/"+env.name)
			ns := "layering-detection-" + env.name
			checkNamespace(t, r, ns)
			for _, svc := range baseline {
				t.Run(svc.name, func(t *testing.T) {
					checkService(t, r, env, svc, ns)
				})
			}
			checkStorage(t, r, env, ns)
			checkSecrets(t, r, env)
			checkIngress(t, r, env)
			checkTargetGroupBindings(t, r, env)
			eq(t, "NetworkPolicies present", r.count("NetworkPolicy") > 0, env.netpol)
			if env.netpol {
				eq(t, "NetworkPolicies", r.count("NetworkPolicy"), 6)
			}
			// RBAC only where something needs it: no service talks to the API.
			eq(t, "Roles", r.count("Role")+r.count("ClusterRole")+r.count("RoleBinding")+r.count("ClusterRoleBinding"), 0)
		})
	}
}

func checkNamespace(t *testing.T, r rendered, ns string) {
	n := get[*corev1.Namespace](t, r, "Namespace", ns)
	eq(t, "pod-security enforce", n.Labels["pod-security.kubernetes.io/enforce"], "restricted")
	for key, o := range r {
		if m, ok := o.(interface{ GetNamespace() string }); ok && m.GetNamespace() != "" && m.GetNamespace() != ns {
			t.Errorf("%s is in namespace %s, want %s", key, m.GetNamespace(), ns)
		}
	}
}

func checkService(t *testing.T, r rendered, env envExpectation, svc serviceBaseline, ns string) {
	name := "layering-detection-" + svc.name
	cpu, memory, replicas, maxReplicas := env.sizeFor(svc)
	selector := map[string]string{"app.kubernetes.io/name": svc.name}

	d := get[*appsv1.Deployment](t, r, "Deployment", name)
	eq(t, "replicas", *d.Spec.Replicas, replicas)
	if !reflect.DeepEqual(d.Spec.Selector.MatchLabels, selector) {
		t.Errorf("selector = %v, want %v", d.Spec.Selector.MatchLabels, selector)
	}
	// ECS rolling deployment: maximum 200 %, minimum healthy 100 %.
	eq(t, "strategy", d.Spec.Strategy.Type, appsv1.RollingUpdateDeploymentStrategyType)
	eq(t, "maxSurge", *d.Spec.Strategy.RollingUpdate.MaxSurge, intstr.FromString("100%"))
	eq(t, "maxUnavailable", *d.Spec.Strategy.RollingUpdate.MaxUnavailable, intstr.FromInt32(0))

	pod := d.Spec.Template
	for k, v := range selector {
		eq(t, "pod label "+k, pod.Labels[k], v)
	}
	eq(t, "serviceAccountName", pod.Spec.ServiceAccountName, name)
	eq(t, "automountServiceAccountToken", *pod.Spec.AutomountServiceAccountToken, false)
	psc := pod.Spec.SecurityContext
	eq(t, "runAsUser", *psc.RunAsUser, int64(1000))
	eq(t, "runAsGroup", *psc.RunAsGroup, int64(1000))
	eq(t, "fsGroup", *psc.FSGroup, int64(1000))
	eq(t, "runAsNonRoot", *psc.RunAsNonRoot, true)
	eq(t, "seccomp", psc.SeccompProfile.Type, corev1.SeccompProfileTypeRuntimeDefault)
	zones := false
	for _, c := range pod.Spec.TopologySpreadConstraints {
		zones = zones || (c.TopologyKey == "topology.kubernetes.io/zone" && c.WhenUnsatisfiable == corev1.ScheduleAnyway)
	}
	eq(t, "spread across zones (never blocking scheduling)", zones, true)

	// The Pod Security "restricted" profile, evaluated by the admission plugin's own policy code.
	eval, err := policy.NewEvaluator(policy.DefaultChecks())
	if err != nil {
		t.Fatal(err)
	}
	for _, res := range eval.EvaluatePod(psapi.LevelVersion{Level: psapi.LevelRestricted, Version: psapi.LatestVersion()}, &pod.ObjectMeta, &pod.Spec) {
		if !res.Allowed {
			t.Errorf("violates Pod Security restricted: %s: %s", res.ForbiddenReason, res.ForbiddenDetail)
		}
	}

	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	eq(t, "container name", c.Name, svc.name+"-container")
	// ECR on AWS; the local cluster's own registry locally (issue 16).
	image := "localhost:5000/layering-detection-" + svc.name + ":" + version(t)
	if env.eks {
		image = "111122223333.dkr.ecr.us-east-1.amazonaws.com/layering-detection-" + svc.name + ":" + version(t)
	}
	eq(t, "image", c.Image, image)
	eq(t, "imagePullPolicy", c.ImagePullPolicy, corev1.PullIfNotPresent)
	eq(t, "containerPort", c.Ports[0].ContainerPort, svc.port)
	eq(t, "port name", c.Ports[0].Name, "http")
	cpuRequest := cpu
	if env.cpuRequest != "" {
		cpuRequest = env.cpuRequest
	}
	qty(t, "request cpu", c.Resources.Requests[corev1.ResourceCPU], cpuRequest)
	qty(t, "limit cpu", c.Resources.Limits[corev1.ResourceCPU], cpu)
	qty(t, "request memory", c.Resources.Requests[corev1.ResourceMemory], memory)
	qty(t, "limit memory", c.Resources.Limits[corev1.ResourceMemory], memory)
	// Issue 9: every environment bounds local disk (logs and /tmp only).
	qty(t, "request ephemeral-storage", c.Resources.Requests[corev1.ResourceEphemeralStorage], "128Mi")
	qty(t, "limit ephemeral-storage", c.Resources.Limits[corev1.ResourceEphemeralStorage], "256Mi")

	// ECS health check → liveness; readiness per the spec's Technical Details.
	live, ready := c.LivenessProbe, c.ReadinessProbe
	eq(t, "liveness path", live.HTTPGet.Path, "/health")
	eq(t, "liveness port", live.HTTPGet.Port, intstr.FromString("http"))
	eq(t, "liveness period", live.PeriodSeconds, int32(30))
	eq(t, "liveness timeout", live.TimeoutSeconds, int32(10))
	eq(t, "liveness initial delay", live.InitialDelaySeconds, int32(5))
	eq(t, "liveness failure threshold", live.FailureThreshold, int32(3))
	eq(t, "readiness path", ready.HTTPGet.Path, "/health")
	eq(t, "readiness period", ready.PeriodSeconds, int32(10))
	eq(t, "readiness timeout", ready.TimeoutSeconds, int32(5))
	eq(t, "readiness failure threshold", ready.FailureThreshold, int32(3))
	// Issue 18: a startup probe every second makes a new pod Ready about a
	// second after it listens, while a container that never answers is still
	// replaced no sooner than ECS would: start period 5 s + 3 retries × 30 s.
	start := c.StartupProbe
	eq(t, "startup path", start.HTTPGet.Path, "/health")
	eq(t, "startup period", start.PeriodSeconds, int32(1))
	eq(t, "startup tolerance (s)", start.PeriodSeconds*start.FailureThreshold, int32(5+3*30))

	// Rollouts without 5xx: the pod keeps serving until the ALB has deregistered
	// it (deregistration delay 30 s), then has time to finish in-flight work.
	// The local cluster has no ALB: only a short drain.
	preStop := c.Lifecycle.PreStop.Sleep.Seconds
	if !env.eks {
		eq(t, "local preStop", preStop, int64(2))
	} else if preStop <= 30 {
		t.Errorf("preStop sleep %ds does not outlast the ALB deregistration delay (30s)", preStop)
	}
	if grace := *pod.Spec.TerminationGracePeriodSeconds; grace < preStop+30 {
		t.Errorf("grace period %ds leaves under 30s after the %ds preStop", grace, preStop)
	}

	sc := c.SecurityContext
	eq(t, "allowPrivilegeEscalation", *sc.AllowPrivilegeEscalation, false)
	eq(t, "readOnlyRootFilesystem", *sc.ReadOnlyRootFilesystem, true)
	eq(t, "capabilities drop", fmt.Sprint(sc.Capabilities.Drop), "[ALL]")

	// Environment: exactly the ConfigMap of the ECS task, plus the secrets by
	// reference. The ConfigMap is generated: its name carries a content hash.
	eq(t, "envFrom count", len(c.EnvFrom), 1)
	configName := c.EnvFrom[0].ConfigMapRef.Name
	eq(t, "config name", regexp.MustCompile(`^`+name+`-config-[a-z0-9]{10}$`).MatchString(configName), true)
	cm := get[*corev1.ConfigMap](t, r, "ConfigMap", configName)
	if !reflect.DeepEqual(cm.Data, svc.config) {
		t.Errorf("ConfigMap data = %v, want %v", cm.Data, svc.config)
	}
	eq(t, "envFrom", len(c.EnvFrom) == 1 && c.EnvFrom[0].ConfigMapRef.Name == cm.Name, true)
	secrets := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			t.Errorf("env %s is not a secret reference (plain values belong in the ConfigMap)", e.Name)
			continue
		}
		secrets[e.Name] = e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
	}
	wantSecrets := map[string]string{"API_KEY": "layering-detection-api-key/API_KEY"}
	if svc.name == "aggregator" {
		wantSecrets["PSEUDONYMIZATION_SALT"] = "layering-detection-pseudonymization-salt/PSEUDONYMIZATION_SALT"
	}
	if !reflect.DeepEqual(secrets, wantSecrets) {
		t.Errorf("secret env = %v, want %v", secrets, wantSecrets)
	}

	// Volumes: what each ECS task mounted, and a writable /tmp for every one.
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mode := "rw"
		if m.ReadOnly {
			mode = "ro"
		}
		mounts[m.MountPath] = m.Name + ":" + mode
	}
	claims := map[string]string{}
	for _, v := range pod.Spec.Volumes {
		switch {
		case v.PersistentVolumeClaim != nil:
			claims[v.Name] = fmt.Sprintf("%s:%v", v.PersistentVolumeClaim.ClaimName, v.PersistentVolumeClaim.ReadOnly)
		case v.EmptyDir != nil:
			claims[v.Name] = "emptyDir"
		default:
			t.Errorf("volume %s is neither a claim nor an emptyDir", v.Name)
		}
	}
	wantMounts := map[string]string{"/tmp": "tmp:rw"}
	wantClaims := map[string]string{"tmp": "emptyDir"}
	switch svc.name {
	case "orchestrator":
		wantMounts["/app/input"] = "input:ro"
		wantClaims["input"] = "input-pvc:true"
	case "aggregator":
		wantMounts["/app/output"], wantMounts["/app/logs"] = "output:rw", "logs:rw"
		wantClaims["output"], wantClaims["logs"] = "output-pvc:false", "logs-pvc:false"
	}
	if !reflect.DeepEqual(mounts, wantMounts) {
		t.Errorf("mounts = %v, want %v", mounts, wantMounts)
	}
	if !reflect.DeepEqual(claims, wantClaims) {
		t.Errorf("volumes = %v, want %v", claims, wantClaims)
	}

	s := get[*corev1.Service](t, r, "Service", svc.name+"-service")
	eq(t, "Service type", s.Spec.Type, corev1.ServiceTypeClusterIP)
	eq(t, "Service port", s.Spec.Ports[0].Port, svc.port)
	eq(t, "Service targetPort", s.Spec.Ports[0].TargetPort, intstr.FromString("http"))
	if !reflect.DeepEqual(s.Spec.Selector, selector) {
		t.Errorf("Service selector = %v, want %v", s.Spec.Selector, selector)
	}

	h := get[*autoscalingv2.HorizontalPodAutoscaler](t, r, "HorizontalPodAutoscaler", name)
	eq(t, "HPA target", h.Spec.ScaleTargetRef.Kind+"/"+h.Spec.ScaleTargetRef.Name, "Deployment/"+name)
	eq(t, "HPA min", *h.Spec.MinReplicas, svc.min)
	eq(t, "HPA max", h.Spec.MaxReplicas, maxReplicas)
	targets := map[corev1.ResourceName]int32{}
	for _, m := range h.Spec.Metrics {
		if m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource.Target.Type == autoscalingv2.UtilizationMetricType {
			targets[m.Resource.Name] = *m.Resource.Target.AverageUtilization
		}
	}
	if !reflect.DeepEqual(targets, map[corev1.ResourceName]int32{corev1.ResourceCPU: 70, corev1.ResourceMemory: 80}) {
		t.Errorf("HPA utilization targets = %v, want cpu 70, memory 80", targets)
	}
	eq(t, "scale-down stabilization", *h.Spec.Behavior.ScaleDown.StabilizationWindowSeconds, int32(300))
	eq(t, "scale-up stabilization", *h.Spec.Behavior.ScaleUp.StabilizationWindowSeconds, int32(60))

	// A PDB that protects availability but can never block a node drain.
	p := get[*policyv1.PodDisruptionBudget](t, r, "PodDisruptionBudget", name)
	eq(t, "PDB maxUnavailable", *p.Spec.MaxUnavailable, intstr.FromInt32(1))
	eq(t, "PDB unhealthy pod eviction", *p.Spec.UnhealthyPodEvictionPolicy, policyv1.AlwaysAllow)
	if !reflect.DeepEqual(p.Spec.Selector.MatchLabels, selector) {
		t.Errorf("PDB selector = %v, want %v", p.Spec.Selector.MatchLabels, selector)
	}

	sa := get[*corev1.ServiceAccount](t, r, "ServiceAccount", name)
	eq(t, "SA automount", *sa.AutomountServiceAccountToken, false)
	role := ""
	if env.eks {
		role = "arn:aws:iam::111122223333:role/layering-detection-" + env.name + "-" + svc.name
	}
	eq(t, "IRSA role", sa.Annotations["eks.amazonaws.com/role-arn"], role)
}

func checkStorage(t *testing.T, r rendered, env envExpectation, ns string) {
	for _, v := range []string{"input", "output", "logs"} {
		pvc := get[*corev1.PersistentVolumeClaim](t, r, "PersistentVolumeClaim", v+"-pvc")
		pvName := "layering-detection-" + env.name + "-" + v
		eq(t, v+" access mode", fmt.Sprint(pvc.Spec.AccessModes), "[ReadWriteMany]")
		eq(t, v+" bound volume", pvc.Spec.VolumeName, pvName)
		pv := get[*corev1.PersistentVolume](t, r, "PersistentVolume", pvName)
		eq(t, v+" PV claimRef", pv.Spec.ClaimRef.Namespace+"/"+pv.Spec.ClaimRef.Name, ns+"/"+v+"-pvc")
		eq(t, v+" PV class = PVC class", pv.Spec.StorageClassName, *pvc.Spec.StorageClassName)
		eq(t, v+" PV reclaim", pv.Spec.PersistentVolumeReclaimPolicy, corev1.PersistentVolumeReclaimRetain)
		if env.eks {
			eq(t, v+" storage class", *pvc.Spec.StorageClassName, "efs-sc")
			eq(t, v+" EFS driver", pv.Spec.CSI.Driver, "efs.csi.aws.com")
			eq(t, v+" EFS access point", pv.Spec.CSI.VolumeHandle, "fs-0123456789abcdef0::"+env.accessPts[v])
		} else {
			eq(t, v+" host directory", pv.Spec.HostPath.Path, "/var/lib/kubectl-layering/local-volumes/"+v)
			eq(t, v+" host directory must pre-exist", *pv.Spec.HostPath.Type, corev1.HostPathDirectory)
		}
	}
	if env.eks {
		sc := get[*storagev1.StorageClass](t, r, "StorageClass", "efs-sc")
		eq(t, "efs-sc provisioner", sc.Provisioner, "efs.csi.aws.com")
		eq(t, "efs-sc file system", sc.Parameters["fileSystemId"], "fs-0123456789abcdef0")
		eq(t, "efs-sc uid", sc.Parameters["uid"], "1000")
		eq(t, "efs-sc gid", sc.Parameters["gid"], "1000")
		eq(t, "efs-sc perms", sc.Parameters["directoryPerms"], "755")
	}
}

func checkSecrets(t *testing.T, r rendered, env envExpectation) {
	if !env.eks {
		eq(t, "ESO objects on the local cluster", r.count("ExternalSecret")+r.count("SecretStore"), 0)
		for name, key := range map[string]string{"layering-detection-api-key": "API_KEY", "layering-detection-pseudonymization-salt": "PSEUDONYMIZATION_SALT"} {
			s := get[*corev1.Secret](t, r, "Secret", name)
			keys := make([]string, 0, len(s.Data)+len(s.StringData))
			for k := range s.Data {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			eq(t, name+" keys", fmt.Sprint(keys), "["+key+"]")
		}
		return
	}
	eq(t, "Secrets in git", r.count("Secret"), 0)
	store := get[*esv1.SecretStore](t, r, "SecretStore", "aws-secrets-manager")
	aws := store.Spec.Provider.AWS
	eq(t, "store service", aws.Service, esv1.AWSServiceSecretsManager)
	eq(t, "store region", aws.Region, "us-east-1")
	eq(t, "store IRSA service account", aws.Auth.JWTAuth.ServiceAccountRef.Name, "layering-detection-external-secrets")
	sa := get[*corev1.ServiceAccount](t, r, "ServiceAccount", "layering-detection-external-secrets")
	eq(t, "ESO IRSA role", sa.Annotations["eks.amazonaws.com/role-arn"], "arn:aws:iam::111122223333:role/layering-detection-"+env.name+"-external-secrets")
	for name, want := range map[string][3]string{
		"layering-detection-api-key":               {"API_KEY", "layering-detection/" + env.name + "/api-key", "api_key"},
		"layering-detection-pseudonymization-salt": {"PSEUDONYMIZATION_SALT", "layering-detection/" + env.name + "/pseudonymization-salt", "salt"},
	} {
		es := get[*esv1.ExternalSecret](t, r, "ExternalSecret", name)
		eq(t, name+" store", es.Spec.SecretStoreRef.Name, store.Name)
		eq(t, name+" target Secret", es.Spec.Target.Name, name)
		if len(es.Spec.Data) != 1 {
			t.Fatalf("%s maps %d keys, want 1", name, len(es.Spec.Data))
		}
		d := es.Spec.Data[0]
		eq(t, name+" key", [3]string{d.SecretKey, d.RemoteRef.Key, d.RemoteRef.Property}, want)
	}
}

func checkIngress(t *testing.T, r rendered, env envExpectation) {
	if !env.eks {
		eq(t, "Ingresses on the local cluster", r.count("Ingress"), 0)
		return
	}
	ing := get[*networkingv1.Ingress](t, r, "Ingress", "layering-detection")
	eq(t, "ingress class", *ing.Spec.IngressClassName, "alb")
	a := ing.Annotations
	listen := `[{"HTTP": 80}]`
	attrs := "routing.http2.enabled=true"
	if env.tls {
		listen = `[{"HTTP": 80}, {"HTTPS": 443}]`
	}
	if env.deletion {
		attrs += ",deletion_protection.enabled=true"
	}
	for k, want := range map[string]string{
		"load-balancer-name":           env.albName,
		"scheme":                       "internet-facing",
		"target-type":                  "ip",
		"healthcheck-path":             "/health",
		"success-codes":                "200",
		"healthcheck-interval-seconds": "30",
		"healthcheck-timeout-seconds":  "10",
		"healthy-threshold-count":      "2",
		"unhealthy-threshold-count":    "3",
		"target-group-attributes":      "deregistration_delay.timeout_seconds=30",
		"load-balancer-attributes":     attrs,
		"listen-ports":                 listen,
		"certificate-arn":              env.certARN,
		"ssl-redirect":                 map[bool]string{true: "443"}[env.tls],
		"ssl-policy":                   map[bool]string{true: "ELBSecurityPolicy-TLS13-1-2-2021-06"}[env.tls],
	} {
		eq(t, "ingress "+k, a["alb.ingress.kubernetes.io/"+k], want)
	}
	eq(t, "default backend", ing.Spec.DefaultBackend.Service.Name, "orchestrator-service")
	var routes []string
	for _, rule := range ing.Spec.Rules {
		for _, p := range rule.HTTP.Paths {
			routes = append(routes, fmt.Sprintf("%s%s(%s)->%s:%d", rule.Host, p.Path, *p.PathType, p.Backend.Service.Name, p.Backend.Service.Port.Number))
		}
	}
	want := []string{
		"/orchestrate*(ImplementationSpecific)->orchestrator-service:8000",
		"/health(Exact)->orchestrator-service:8000",
		"/(Exact)->orchestrator-service:8000",
		"layering.layering-detection.local/(Prefix)->layering-service:8001",
		"wash-trading.layering-detection.local/(Prefix)->wash-trading-service:8002",
		"aggregator.layering-detection.local/(Prefix)->aggregator-service:8003",
	}
	if !reflect.DeepEqual(routes, want) {
		t.Errorf("ingress routes (in ALB priority order) =\n%v\nwant\n%v", routes, want)
	}
}

// Requirement: the environments and their namespaces, as `envs` lists them.
func TestEnvsListsEveryOverlayWithItsNamespace(t *testing.T) {
	tree, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	got, err := tree.Envs()
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(got)
	want := `[{"name":"dev","namespace":"layering-detection-dev"},{"name":"local","namespace":"layering-detection-local"},` +
		`{"name":"prod","namespace":"layering-detection-prod"},{"name":"staging","namespace":"layering-detection-staging"}]`
	eq(t, "envs", string(data), want)

	_, err = tree.RenderEnv("qa")
	var unknown *UnknownEnvError
	if !asUnknown(err, &unknown) || !strings.Contains(err.Error(), "dev, local, prod, staging") {
		t.Errorf("rendering an unknown env: %v; want an UnknownEnvError listing the known ones", err)
	}
}

func asUnknown(err error, target **UnknownEnvError) bool {
	u, ok := err.(*UnknownEnvError)
	if ok {
		*target = u
	}
	return ok
}

// Requirement: Fluent Bit ships the containers' logs to the existing ECS log
// groups /ecs/layering-detection/<service> with 7-day retention, through IRSA.
func TestMonitoringShipsLogsToTheECSLogGroups(t *testing.T) {
	r := renderTyped(t, "monitoring")
	ds := get[*appsv1.DaemonSet](t, r, "DaemonSet", "fluent-bit")
	eq(t, "namespace", ds.Namespace, "amazon-cloudwatch")
	eq(t, "region", ds.Spec.Template.Spec.Containers[0].Env[0].Value, "us-east-1")
	sa := get[*corev1.ServiceAccount](t, r, "ServiceAccount", ds.Spec.Template.Spec.ServiceAccountName)
	eq(t, "IRSA role", sa.Annotations["eks.amazonaws.com/role-arn"], "arn:aws:iam::111122223333:role/layering-detection-fluent-bit")
	var conf string
	for _, v := range ds.Spec.Template.Spec.Volumes {
		if v.ConfigMap != nil {
			cm := get[*corev1.ConfigMap](t, r, "ConfigMap", v.ConfigMap.Name)
			conf = cm.Data["fluent-bit.conf"]
		}
	}
	for _, want := range []string{
		"Path              /var/log/containers/*_layering-detection-*_*.log",
		"log_group_template  /ecs/layering-detection/$kubernetes['labels']['app.kubernetes.io/name']",
		"log_stream_prefix   ecs/",
		"log_retention_days  7",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("fluent-bit.conf lacks %q", want)
		}
	}
}

// checkTargetGroupBindings: on EKS, each service's pods fill the target group
// the ECS load balancer forwards to by weight during the cutover
// (layering-detection-<service>-eks-tg, by name: AWS Load Balancer
// Controller v2.11+), through the Service's port; the local cluster has none.
func checkTargetGroupBindings(t *testing.T, r rendered, env envExpectation) {
	if !env.eks {
		eq(t, "TargetGroupBindings on the local cluster", r.count("TargetGroupBinding"), 0)
		return
	}
	eq(t, "TargetGroupBindings", r.count("TargetGroupBinding"), len(baseline))
	for _, svc := range baseline {
		b := get[*unstructured.Unstructured](t, r, "TargetGroupBinding", "layering-detection-"+svc.name)
		spec, _, _ := unstructured.NestedMap(b.Object, "spec")
		ref, _ := spec["serviceRef"].(map[string]any)
		eq(t, svc.name+" binding target group", spec["targetGroupName"], any("layering-detection-"+svc.name+"-eks-tg"))
		eq(t, svc.name+" binding target type", spec["targetType"], any("ip"))
		eq(t, svc.name+" binding service", ref["name"], any(svc.name+"-service"))
		eq(t, svc.name+" binding port", fmt.Sprint(ref["port"]), fmt.Sprint(svc.port))
	}
}
