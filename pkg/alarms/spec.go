// Package alarms holds the CloudWatch alarms and dashboard of the platform as
// data (embedded/manifests/monitoring/cloudwatch-*.yaml) and, later, syncs them.
package alarms

import (
	"fmt"
	"io/fs"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/layering-detection/kubectl-layering/embedded"
)

const (
	alarmsFile    = "manifests/monitoring/cloudwatch-alarms.yaml"
	dashboardFile = "manifests/monitoring/cloudwatch-dashboard.yaml"
)

// AlarmSet is the alarms every service gets.
type AlarmSet struct {
	Namespace  string   `json:"namespace"`
	Dimensions []string `json:"dimensions"`
	Services   []string `json:"services"`
	Alarms     []Alarm  `json:"alarms"`
}

// Alarm is one alarm template; Name holds {service}.
type Alarm struct {
	Name              string  `json:"name"`
	Replaces          string  `json:"replaces"`
	Metric            string  `json:"metric"`
	Statistic         string  `json:"statistic"`
	PeriodSeconds     int32   `json:"periodSeconds"`
	EvaluationPeriods int32   `json:"evaluationPeriods"`
	Comparison        string  `json:"comparison"`
	Threshold         float64 `json:"threshold"`
	TreatMissingData  string  `json:"treatMissingData"`
}

// Dashboard is the dashboard: one widget per service.
type Dashboard struct {
	Name      string   `json:"name"`
	Namespace string   `json:"namespace"`
	Services  []string `json:"services"`
	Widget    Widget   `json:"widget"`
}

// Widget is the per-service metric widget; Title holds {service}.
type Widget struct {
	Width         int      `json:"width"`
	Height        int      `json:"height"`
	PerRow        int      `json:"perRow"`
	Title         string   `json:"title"`
	PeriodSeconds int32    `json:"periodSeconds"`
	Metrics       []string `json:"metrics"`
}

// AlarmName is the alarm's name for one service of one environment.
func (a Alarm) AlarmName(env, service string) string {
	return strings.NewReplacer("{env}", env, "{service}", service).Replace(a.Name)
}

// ECSAlarmName is the name of the ECS alarm this one replaces, for one service.
func (a Alarm) ECSAlarmName(service string) string {
	return strings.NewReplacer("eks-{env}-", "", "{service}", service).Replace(a.Name)
}

// LoadAlarms reads the embedded alarm set; unknown fields are errors.
func LoadAlarms() (*AlarmSet, error) {
	var s AlarmSet
	return &s, load(embedded.Manifests, alarmsFile, &s)
}

// LoadDashboard reads the embedded dashboard; unknown fields are errors.
func LoadDashboard() (*Dashboard, error) {
	var d Dashboard
	return &d, load(embedded.Manifests, dashboardFile, &d)
}

func load(src fs.FS, name string, into any) error {
	data, err := fs.ReadFile(src, name)
	if err != nil {
		return err
	}
	if err := yaml.UnmarshalStrict(data, into); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
