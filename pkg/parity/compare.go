package parity

import (
	"maps"
	"slices"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/layering-detection/kubectl-layering/pkg/alarms"
	"github.com/layering-detection/kubectl-layering/pkg/ecsstate"
)

// Input is what Compare sets side by side.
type Input struct {
	Env       string
	Live      bool // Kube is the running environment (else rendered)
	ECS       *ecsstate.Deployment
	Kube      *Kube
	Alarms    *alarms.AlarmSet
	EKSAlarms map[string]ecsstate.Alarm // by name: the alarm set's (rendered) or CloudWatch's (live)
}

// appPrefix names the ECS services, task families and Deployments alike.
const appPrefix = "layering-detection-"

// overlayDesign are an environment's deliberate departures from the ECS
// deployment, as its overlay makes them (the item's difference is by design).
var overlayDesign = map[string]map[string]string{
	"dev": {
		"cpu":           "dev runs half the ECS size (overlays/dev)",
		"memory":        "dev runs half the ECS size (overlays/dev)",
		"desired count": "dev runs 1 replica (overlays/dev)",
		"min/max":       "dev scales to 2 replicas at most (overlays/dev)",
		"HTTPS":         "dev is plain HTTP (overlays/dev)",
	},
}

// Compare makes every row: per ECS service, then the load balancer.
func Compare(in Input) *Report {
	rep := &Report{Env: in.Env, ECSCluster: in.ECS.Cluster, Kubernetes: "rendered"}
	if in.Live {
		rep.Kubernetes = "live"
	}
	for _, s := range ordered(in.ECS.Services) {
		svc := strings.TrimPrefix(s.Name, appPrefix)
		d := in.Kube.Deployments[s.Name]
		if d == nil {
			rep.Items = append(rep.Items, Row{svc, "service", s.Name + " (" + s.TaskDefinition.Ref() + ")", "no Deployment " + s.Name, Differs, "not deployed on Kubernetes"})
			continue
		}
		rep.Items = append(rep.Items, in.service(svc, s, d)...)
	}
	for _, name := range slices.Sorted(maps.Keys(in.Kube.Deployments)) {
		if _, ok := in.ECS.Service(name); !ok {
			rep.Items = append(rep.Items, Row{strings.TrimPrefix(name, appPrefix), "service", "no ECS service " + name, "Deployment " + name, Differs, "runs only on Kubernetes"})
		}
	}
	rep.Items = append(rep.Items, in.loadBalancer()...)
	for i := range rep.Items {
		r := &rep.Items[i]
		if why, ok := overlayDesign[in.Env][r.Item]; ok && r.Status == Differs {
			r.Status, r.Reason = ByDesign, why
		}
	}
	rep.count()
	return rep
}

// platform is the services' order in the report: as the pipeline calls them.
var platform = []string{"orchestrator", "layering", "wash-trading", "aggregator"}

func ordered(services []ecsstate.Service) []ecsstate.Service {
	out := slices.Clone(services)
	rank := func(s ecsstate.Service) int {
		if i := slices.Index(platform, strings.TrimPrefix(s.Name, appPrefix)); i >= 0 {
			return i
		}
		return len(platform)
	}
	sort.SliceStable(out, func(i, j int) bool { return rank(out[i]) < rank(out[j]) })
	return out
}

func (in Input) service(svc string, s ecsstate.Service, d *appsv1.Deployment) []Row {
	if len(s.TaskDefinition.Containers) == 0 || len(d.Spec.Template.Spec.Containers) == 0 {
		return []Row{{svc, "container", s.TaskDefinition.Ref(), d.Name, Differs, "a side has no container"}}
	}
	ec, kc := s.TaskDefinition.Containers[0], d.Spec.Template.Spec.Containers[0]
	rows := []Row{
		same(svc, "container", ec.Name, kc.Name),
	}
	rows = append(rows, image(svc, ec.Image, kc.Image)...)
	rows = append(rows, port(svc, ec, kc), user(svc, ec.User, d.Spec.Template.Spec))
	env, secrets := kubeEnv(in.Kube, kc)
	rows = append(rows, environment(svc, ec.Environment, env)...)
	rows = append(rows, secretRows(svc, in.ECS, in.Kube, ec.Secrets, secrets)...)
	rows = append(rows, cpu(svc, s.TaskDefinition.CPU, kc.Resources), memory(svc, s.TaskDefinition.Memory, kc.Resources))
	rows = append(rows, liveness(svc, ec.HealthCheck, kc), readiness(svc, kc.ReadinessProbe))
	rows = append(rows, in.targetGroup(svc, s))
	hpa := in.Kube.HPAs[d.Name]
	rows = append(rows, replicas(svc, s, d, hpa, in.Live), minMax(svc, s.Scaling, hpa))
	rows = append(rows, scaling(svc, s.Scaling, hpa)...)
	rows = append(rows, volumes(svc, s.TaskDefinition, ec, in.Kube, d.Spec.Template.Spec, kc)...)
	rows = append(rows, logGroup(svc, ec, in.Kube, d))
	rows = append(rows, in.alarmRows(svc)...)
	return rows
}

// same is a row that is ✓ when both sides say the same.
func same(svc, item, ecs, kube string) Row {
	r := Row{Service: svc, Item: item, ECS: ecs, Kubernetes: kube, Status: Same}
	if ecs != kube {
		r.Status = Differs
	}
	return r
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
