package alarms

import (
	"reflect"
	"testing"
)

var services = []string{"orchestrator", "layering", "wash-trading", "aggregator"}

// Requirement: the three ECS alarms per service, number for number, re-expressed
// on Container Insights (ecs-baseline.md, "Alarms and dashboard").
func TestAlarmsReproduceTheECSAlarms(t *testing.T) {
	set, err := LoadAlarms()
	if err != nil {
		t.Fatal(err)
	}
	if set.Namespace != "ContainerInsights" {
		t.Errorf("namespace %q", set.Namespace)
	}
	if !reflect.DeepEqual(set.Services, services) {
		t.Errorf("services %v", set.Services)
	}
	if !reflect.DeepEqual(set.Dimensions, []string{"ClusterName", "Namespace", "Service"}) {
		t.Errorf("dimensions %v", set.Dimensions)
	}
	want := []Alarm{
		{"layering-detection-eks-{env}-{service}-high-cpu", "CPUUtilization", "pod_cpu_utilization_over_pod_limit", "Average", 300, 2, "GreaterThanThreshold", 80, "notBreaching"},
		{"layering-detection-eks-{env}-{service}-high-memory", "MemoryUtilization", "pod_memory_utilization_over_pod_limit", "Average", 300, 2, "GreaterThanThreshold", 85, "notBreaching"},
		{"layering-detection-eks-{env}-{service}-low-task-count", "RunningTaskCount", "service_number_of_running_pods", "Average", 60, 1, "LessThanThreshold", 1, "breaching"},
	}
	if !reflect.DeepEqual(set.Alarms, want) {
		t.Errorf("alarms =\n%+v\nwant\n%+v", set.Alarms, want)
	}
	if got := set.Alarms[0].ECSAlarmName("wash-trading"); got != "layering-detection-wash-trading-high-cpu" {
		t.Errorf("ECS alarm name %q", got)
	}
	if got := set.Alarms[0].AlarmName("prod", "wash-trading"); got != "layering-detection-eks-prod-wash-trading-high-cpu" {
		t.Errorf("alarm name %q", got)
	}
}

// Requirement: the dashboard layout of ECS: one widget per service, 12×6, two per row, CPU, memory, running count.
func TestDashboardReproducesTheECSDashboard(t *testing.T) {
	d, err := LoadDashboard()
	if err != nil {
		t.Fatal(err)
	}
	want := Dashboard{
		Name: "layering-detection-eks-{env}", Namespace: "ContainerInsights", Services: services,
		Widget: Widget{Width: 12, Height: 6, PerRow: 2, Title: "{service}", PeriodSeconds: 300,
			Metrics: []string{"pod_cpu_utilization_over_pod_limit", "pod_memory_utilization_over_pod_limit", "service_number_of_running_pods"}},
	}
	if !reflect.DeepEqual(*d, want) {
		t.Errorf("dashboard =\n%+v\nwant\n%+v", *d, want)
	}
}
