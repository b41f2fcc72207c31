package alarms

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

func target() Target {
	return Target{Env: "prod", Namespace: "layering-detection-prod", Cluster: "eks-prod"}
}

// live is what CloudWatch returns for an alarm created from d.
func live(d Spec) cwtypes.MetricAlarm {
	in := putInput(&d, "prod")
	return cwtypes.MetricAlarm{AlarmName: in.AlarmName, MetricName: in.MetricName, Namespace: in.Namespace, Statistic: in.Statistic,
		Period: in.Period, EvaluationPeriods: in.EvaluationPeriods, Threshold: in.Threshold, ComparisonOperator: in.ComparisonOperator,
		TreatMissingData: in.TreatMissingData, Dimensions: in.Dimensions, AlarmActions: in.AlarmActions, OKActions: in.OKActions}
}

// Requirement (issue 12): 12 alarms with the ECS numbers on the service's Container Insights dimensions.
func TestDesired(t *testing.T) {
	set, err := LoadAlarms()
	if err != nil {
		t.Fatal(err)
	}
	d := Desired(set, target())
	if len(d) != 12 {
		t.Fatalf("%d alarms, want 12", len(d))
	}
	cpu := d[0]
	if cpu.Name != "layering-detection-eks-prod-orchestrator-high-cpu" || cpu.Threshold != 80 || cpu.Period != 300 || cpu.EvaluationPeriods != 2 ||
		cpu.Dimensions["Service"] != "orchestrator-service" || cpu.Dimensions["ClusterName"] != "eks-prod" || cpu.Dimensions["Namespace"] != "layering-detection-prod" {
		t.Errorf("first alarm %+v", cpu)
	}
}

// Requirement (issue 12): idempotent — nothing to write when live matches; a
// changed field is an update naming it; ours but unwanted is deleted; a
// look-alike someone else made is refused, never touched.
func TestPlan(t *testing.T) {
	set, _ := LoadAlarms()
	desired := Desired(set, target())
	liveAlarms, owned := map[string]cwtypes.MetricAlarm{}, map[string]bool{}
	for _, d := range desired {
		liveAlarms[d.Name], owned[d.Name] = live(d), true
	}
	for _, c := range Plan(desired, liveAlarms, owned) {
		if c.Action != "unchanged" {
			t.Fatalf("%s: %s %v on an exact match", c.Alarm, c.Action, c.Fields)
		}
	}
	changed := liveAlarms[desired[0].Name]
	changed.Threshold = aws.Float64(90)
	liveAlarms[desired[0].Name] = changed
	delete(liveAlarms, desired[1].Name)
	delete(owned, desired[1].Name)
	foreign := desired[2].Name
	owned[foreign] = false
	owned["layering-detection-eks-prod-old-alarm"] = true
	got := map[string]string{}
	for _, c := range Plan(desired, liveAlarms, owned) {
		got[c.Alarm] = c.Action + " " + strings.Join(c.Fields, ",")
	}
	for name, want := range map[string]string{
		desired[0].Name:                         "update threshold",
		desired[1].Name:                         "create ",
		foreign:                                 "refused ",
		"layering-detection-eks-prod-old-alarm": "delete ",
		desired[3].Name:                         "unchanged ",
	} {
		if got[name] != want {
			t.Errorf("%s: %q, want %q", name, got[name], want)
		}
	}
}

// Requirement (issue 12): a service that publishes nothing is named, with the likely reason.
func TestSilent(t *testing.T) {
	set, _ := LoadAlarms()
	metric := func(cluster, ns, svc string) cwtypes.Metric {
		return cwtypes.Metric{MetricName: aws.String("pod_cpu_utilization_over_pod_limit"), Dimensions: []cwtypes.Dimension{
			{Name: aws.String("ClusterName"), Value: aws.String(cluster)}, {Name: aws.String("Namespace"), Value: aws.String(ns)}, {Name: aws.String("Service"), Value: aws.String(svc)}}}
	}
	if s := Silent(set, target(), nil); !strings.Contains(s["layering"], "Container Insights enabled") {
		t.Errorf("no metrics at all: %v", s)
	}
	if s := Silent(set, target(), []cwtypes.Metric{metric("other", "layering-detection-prod", "layering-service")}); !strings.Contains(s["layering"], `cluster "eks-prod"`) {
		t.Errorf("wrong cluster name: %v", s)
	}
	s := Silent(set, target(), []cwtypes.Metric{metric("eks-prod", "layering-detection-prod", "layering-service")})
	if _, ok := s["layering"]; ok || !strings.Contains(s["aggregator"], "no metrics for service aggregator-service") {
		t.Errorf("one service publishing: %v", s)
	}
}
