package parity

import (
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"

	"github.com/layering-detection/kubectl-layering/pkg/alarms"
	"github.com/layering-detection/kubectl-layering/pkg/deploy"
	"github.com/layering-detection/kubectl-layering/pkg/ecsstate"
	"github.com/layering-detection/kubectl-layering/pkg/ecsstate/ecsstatetest"
	"github.com/layering-detection/kubectl-layering/pkg/manifests"
)

// seedSettings are what `settings init --from-ecs` stores for prod from the seed.
var seedSettings = map[string]string{"accountId": ecsstatetest.Account, "region": ecsstatetest.Region, "efsFileSystemId": ecsstatetest.FileSystem,
	"inputAccessPointId": ecsstatetest.Input, "outputAccessPointId": ecsstatetest.Output, "logsAccessPointId": ecsstatetest.Logs,
	"certificateArn": ecsstatetest.Certificate, "albName": "layering-detection-prod-alb"}

var rendered = struct {
	sync.Once
	objs, monitoring []*unstructured.Unstructured
	err              error
}{}

// renderedProd is the prod environment rendered with the seed's settings at
// the image tag ECS runs, and the monitoring bundle (rendered once).
func renderedProd(t *testing.T) *Kube {
	t.Helper()
	rendered.Do(func() {
		tree, err := manifests.Embedded()
		if err == nil {
			tree, err = tree.WithSettings("prod", seedSettings)
		}
		var m *deploy.Manifest
		if err == nil {
			m, err = deploy.Render(tree, "prod", deploy.ImageOverrides{Tag: "1.1.0"})
		}
		if err != nil {
			rendered.err = err
			return
		}
		rendered.objs = m.Objects
		mon, err := tree.Render("monitoring")
		if err == nil {
			rendered.monitoring, err = manifests.Objects(mon)
		}
		rendered.err = err
	})
	if rendered.err != nil {
		t.Fatal(rendered.err)
	}
	var objs []*unstructured.Unstructured
	for _, o := range rendered.objs {
		objs = append(objs, o.DeepCopy())
	}
	k, err := FromObjects("layering-detection-prod", objs)
	if err != nil {
		t.Fatal(err)
	}
	k.LogGroupTemplate, k.LogSource = LogShipping(rendered.monitoring), "rendered"
	return k
}

func input(t *testing.T, d *ecsstate.Deployment, k *Kube) Input {
	t.Helper()
	set, err := alarms.LoadAlarms()
	if err != nil {
		t.Fatal(err)
	}
	return Input{Env: "prod", ECS: d, Kube: k, Alarms: set, EKSAlarms: SpecAlarms(set, "prod")}
}

func differing(rep *Report) []string {
	var out []string
	for _, r := range rep.Items {
		if r.Status == Differs {
			out = append(out, r.Service+" "+r.Item+": "+r.ECS+" | "+r.Kubernetes)
		}
	}
	return out
}

func find(t *testing.T, rep *Report, svc, item string) Row {
	t.Helper()
	for _, r := range rep.Items {
		if r.Service == svc && r.Item == item {
			return r
		}
	}
	t.Fatalf("no row %s %s", svc, item)
	return Row{}
}

// Requirement (issue 13): the ECS baseline and prod rendered with the
// settings init found are at parity: every row ✓ or by design, with the
// reasons; the comparisons are by meaning (CPU units, service URLs).
func TestBaselineAtParity(t *testing.T) {
	rep := Compare(input(t, ecsstatetest.Baseline(), renderedProd(t)))
	if d := differing(rep); len(d) > 0 {
		t.Errorf("rows that differ on the baseline:\n  %s", strings.Join(d, "\n  "))
	}
	if err := rep.Err(); err != nil {
		t.Errorf("Err() = %v", err)
	}
	for _, w := range []struct{ svc, item, status, ecs, kube string }{
		{"orchestrator", "cpu", Same, "512 CPU units = 500m", "request 500m, limit 500m"},
		{"orchestrator", "memory", Same, "1024 MiB", "request 1Gi, limit 1Gi"},
		{"orchestrator", "env LAYERING_SERVICE_URL", Same, "http://layering-service:8001", "http://layering-service:8001"},
		{"aggregator", "secret PSEUDONYMIZATION_SALT", Same, "layering-detection/prod/pseudonymization-salt .salt", "layering-detection/prod/pseudonymization-salt .salt"},
		{"orchestrator", "volume /app/input", Same, "EFS " + ecsstatetest.FileSystem + " access point " + ecsstatetest.Input + ", read-only", ""},
		{"aggregator", "volume /app/logs", Same, "EFS " + ecsstatetest.FileSystem + " access point " + ecsstatetest.Logs + ", read-write", ""},
		{"layering", "volume /tmp", ByDesign, "(not mounted)", "emptyDir, read-write"},
		{"layering", "health check ↔ liveness probe", Same, "GET 8001/health every 30s, timeout 10s, 3 retries, start 5s", ""},
		{"layering", "readiness probe", ByDesign, "", ""},
		{"layering", "load balancer health check", Same, "/health 200 every 30s, timeout 10s, 2 healthy / 3 unhealthy", ""},
		{"layering", "min/max", Same, "1..10", "1..10"},
		{"layering", "desired count", Same, "2", "2"},
		{"layering", "scaling CPU target", Same, "70 %", "70 %"},
		{"layering", "scale-in cooldown ↔ scale-down window", Same, "300 s", "300 s"},
		{"wash-trading", "log group", Same, "/ecs/layering-detection/wash-trading", "/ecs/layering-detection/wash-trading"},
		{"wash-trading", "alarm high-memory", ByDesign, "MemoryUtilization Average > 85, 300s × 2, missing data notBreaching", "pod_memory_utilization_over_pod_limit Average > 85, 300s × 2, missing data notBreaching"},
		{"orchestrator", "image repository", Same, ecsstatetest.Account + ".dkr.ecr.us-east-1.amazonaws.com/layering-detection-orchestrator", ""},
		{"load balancer", "HTTPS", Same, ecsstatetest.Certificate, ecsstatetest.Certificate},
		{"load balancer", "TLS policy", ByDesign, "ELBSecurityPolicy-TLS-1-2-2017-01", ""},
	} {
		r := find(t, rep, w.svc, w.item)
		if r.Status != w.status || (w.ecs != "" && r.ECS != w.ecs) || (w.kube != "" && r.Kubernetes != w.kube) {
			t.Errorf("%s %s = %s %q | %q; want %s %q | %q", w.svc, w.item, r.Status, r.ECS, r.Kubernetes, w.status, w.ecs, w.kube)
		}
		if r.Status == ByDesign && r.Reason == "" {
			t.Errorf("%s %s is by design without a reason", w.svc, w.item)
		}
	}
	if rep.Counts.Differs != 0 || rep.Counts.Same == 0 || rep.Counts.ByDesign == 0 {
		t.Errorf("counts %+v", rep.Counts)
	}
}

// Requirement: a change on the ECS side turns exactly its row ✗ (what the
// e2e does to the local AWS: a task definition's MAX_RETRIES, a max capacity).
func TestOneChangeOneRow(t *testing.T) {
	k := renderedProd(t)
	for _, tc := range []struct {
		name   string
		change func(*ecsstate.Deployment)
		want   string
	}{
		{"MAX_RETRIES", func(d *ecsstate.Deployment) {
			d.Services[0].TaskDefinition.Containers[0].Environment["MAX_RETRIES"] = "5"
		}, "orchestrator env MAX_RETRIES: 5 | 3"},
		{"max capacity", func(d *ecsstate.Deployment) { d.Services[1].Scaling.Max = 12 }, "layering min/max: 1..12 | 1..10"},
		{"image tag", func(d *ecsstate.Deployment) {
			d.Services[2].TaskDefinition.Containers[0].Image = strings.Replace(d.Services[2].TaskDefinition.Containers[0].Image, ":1.1.0", ":1.2.0", 1)
		}, "wash-trading image tag: 1.2.0 | 1.1.0"},
		{"a secret's JSON key", func(d *ecsstate.Deployment) {
			d.Services[3].TaskDefinition.Containers[0].Secrets["API_KEY"] = ecsstatetest.SecretARN("api-key") + ":key::"
		}, "aggregator secret API_KEY: layering-detection/prod/api-key .key | layering-detection/prod/api-key .api_key"},
		{"a health check interval", func(d *ecsstate.Deployment) { d.Services[1].TaskDefinition.Containers[0].HealthCheck.Interval = 15 },
			"layering health check ↔ liveness probe: GET 8001/health every 15s, timeout 10s, 3 retries, start 5s | GET 8001/health every 30s, timeout 10s, 3 retries, start 5s"},
		{"an input mounted read-write", func(d *ecsstate.Deployment) { d.Services[0].TaskDefinition.Containers[0].Mounts[0].ReadOnly = false },
			"orchestrator volume /app/input: EFS " + ecsstatetest.FileSystem + " access point " + ecsstatetest.Input + ", read-write | EFS " + ecsstatetest.FileSystem + " access point " + ecsstatetest.Input + ", read-only"},
		{"an alarm threshold", func(d *ecsstate.Deployment) { d.Alarms[0].Threshold = 90 },
			"orchestrator alarm high-cpu: CPUUtilization Average > 90, 300s × 2, missing data notBreaching | pod_cpu_utilization_over_pod_limit Average > 80, 300s × 2, missing data notBreaching"},
		{"a scale-in cooldown", func(d *ecsstate.Deployment) {
			for i := range d.Services[3].Scaling.Policies {
				d.Services[3].Scaling.Policies[i].ScaleInCooldown = 600
			}
		}, "aggregator scale-in cooldown ↔ scale-down window: 600 s | 300 s"},
		{"the log group", func(d *ecsstate.Deployment) {
			d.Services[1].TaskDefinition.Containers[0].LogOptions["awslogs-group"] = "/ecs/other"
		}, "layering log group: /ecs/other | /ecs/layering-detection/layering"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := baselineInOrder()
			tc.change(d)
			got := differing(Compare(input(t, d, k)))
			if len(got) != 1 || got[0] != tc.want {
				t.Errorf("rows that differ: %q\nwant exactly %q", got, tc.want)
			}
		})
	}
}

// baselineInOrder is the baseline with services orchestrator, layering,
// wash-trading, aggregator at indexes 0..3.
func baselineInOrder() *ecsstate.Deployment {
	d := ecsstatetest.Baseline()
	for i, want := range []string{"orchestrator", "layering", "wash-trading", "aggregator"} {
		if d.Services[i].Name != "layering-detection-"+want {
			panic("the baseline's order changed")
		}
	}
	return d
}

// Requirement: service URLs are compared by meaning.
func TestSameService(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"http://layering-service:8001", "http://layering-service:8001", true},
		{"http://layering-service:8001", "http://layering-service.layering-detection-prod.svc.cluster.local:8001", true},
		{"http://layering-service:8001/", "http://layering-service:8001", true},
		{"http://layering-service", "http://layering-service:80", true},
		{"http://layering-service:8001", "http://layering-service:8002", false},
		{"http://layering-service:8001", "https://layering-service:8001", false},
		{"http://layering-service:8001", "http://wash-trading-service:8001", false},
		{"/app/input", "/app/input/", false}, // not URLs: compared as they are
	} {
		if got := sameService(tc.a, tc.b); got != tc.want {
			t.Errorf("sameService(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
	rows := environment("orchestrator", map[string]string{"LAYERING_SERVICE_URL": "http://layering-service:8001", "ONLY_ECS": "1"},
		map[string]string{"LAYERING_SERVICE_URL": "http://layering-service.layering-detection-prod.svc.cluster.local:8001", "ONLY_KUBE": "1"})
	got := map[string]string{}
	for _, r := range rows {
		got[r.Item] = r.Status + " " + r.Reason
	}
	if got["env LAYERING_SERVICE_URL"] != Same+" the same service by name and port" || got["env ONLY_ECS"] != Differs+" set only on ECS" || got["env ONLY_KUBE"] != Differs+" set only on Kubernetes" {
		t.Errorf("environment rows: %v", got)
	}
}

// Requirement: CPU units are compared with millicores, memory MiB with bytes;
// the request and the limit must both be the task size.
func TestSizes(t *testing.T) {
	res := func(req, lim string) corev1.ResourceRequirements {
		r := corev1.ResourceRequirements{Requests: corev1.ResourceList{}, Limits: corev1.ResourceList{}}
		if req != "" {
			r.Requests[corev1.ResourceCPU], r.Requests[corev1.ResourceMemory] = resource.MustParse(req), resource.MustParse(req)
		}
		if lim != "" {
			r.Limits[corev1.ResourceCPU], r.Limits[corev1.ResourceMemory] = resource.MustParse(lim), resource.MustParse(lim)
		}
		return r
	}
	for _, tc := range []struct {
		units, req, lim, want, reason string
	}{
		{"512", "500m", "500m", Same, ""},
		{"1024", "1", "1", Same, ""},
		{"256", "250m", "250m", Same, ""},
		{"512", "250m", "250m", Differs, "the request is not the task size"},
		{"512", "500m", "", Differs, "the limit is not the task size"},
		{"", "500m", "500m", Differs, "no task-level CPU"},
	} {
		r := cpu("x", tc.units, res(tc.req, tc.lim))
		if r.Status != tc.want || !strings.Contains(r.Reason, tc.reason) {
			t.Errorf("cpu %s vs %s/%s = %s (%s)", tc.units, tc.req, tc.lim, r.Status, r.Reason)
		}
	}
	if r := memory("x", "512", res("512Mi", "512Mi")); r.Status != Same {
		t.Errorf("memory 512 MiB vs 512Mi: %+v", r)
	}
	if r := memory("x", "512", res("500M", "500M")); r.Status != Differs {
		t.Errorf("memory 512 MiB vs 500M: %+v", r)
	}
}

// Requirement: live, the replica counts follow each side's autoscaler; a
// rendered Deployment starts at the desired count.
func TestReplicas(t *testing.T) {
	s := ecsstatetest.Baseline().Services[1] // layering: desired 2, 1..10
	d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](4)}}
	hpa := &autoscalingv2.HorizontalPodAutoscaler{Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MinReplicas: ptr.To[int32](1), MaxReplicas: 10}}
	if r := replicas("layering", s, d, hpa, false); r.Status != Differs {
		t.Errorf("rendered 4 vs desired 2: %+v", r)
	}
	if r := replicas("layering", s, d, hpa, true); r.Status != ByDesign {
		t.Errorf("live 4 vs desired 2, both in range: %+v", r)
	}
	d.Spec.Replicas = ptr.To[int32](11)
	if r := replicas("layering", s, d, hpa, true); r.Status != Differs {
		t.Errorf("live 11 beyond max 10: %+v", r)
	}
}

// Requirement: the dev overlay's smaller sizes are by design, named as such.
func TestDevOverlayByDesign(t *testing.T) {
	in := input(t, baselineInOrder(), renderedProd(t))
	in.Env = "dev"
	d := in.Kube.Deployments["layering-detection-layering"]
	d.Spec.Template.Spec.Containers[0].Resources = corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("256Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("256Mi")}}
	in.EKSAlarms = SpecAlarms(in.Alarms, "dev")
	rep := Compare(in)
	if r := find(t, rep, "layering", "cpu"); r.Status != ByDesign || !strings.Contains(r.Reason, "overlays/dev") {
		t.Errorf("dev cpu: %+v", r)
	}
	if r := find(t, rep, "layering", "memory"); r.Status != ByDesign {
		t.Errorf("dev memory: %+v", r)
	}
}

// Requirement: a Secret that External Secrets does not fill differs, and says so.
func TestSecretNotFromSecretsManager(t *testing.T) {
	k := renderedProd(t)
	delete(k.ExternalSecrets, "layering-detection-api-key")
	got := differing(Compare(input(t, baselineInOrder(), k)))
	if len(got) != 4 || !strings.Contains(got[0], "secret API_KEY: layering-detection/prod/api-key .api_key | Secret layering-detection-api-key key API_KEY, not from Secrets Manager") {
		t.Errorf("rows that differ: %q", got)
	}
}
