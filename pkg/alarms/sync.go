package alarms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/layering-detection/kubectl-layering/pkg/awsconfig"
)

// Calls counts the CloudWatch requests a command made, reads and writes apart.
type Calls struct{ Reads, Writes atomic.Int64 }

// Counting returns the client option that counts every operation into c.
func Counting(c *Calls) func(*cloudwatch.Options) {
	return func(o *cloudwatch.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("kubectl-layering-count",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					op := awsmiddleware.GetOperationName(ctx)
					if strings.HasPrefix(op, "Put") || strings.HasPrefix(op, "Delete") || strings.HasPrefix(op, "Tag") {
						c.Writes.Add(1)
					} else {
						c.Reads.Add(1)
					}
					return next.HandleInitialize(ctx, in)
				}), middleware.Before)
		})
	}
}

// Syncer makes the environment's alarms and dashboard as specified.
type Syncer struct {
	CW           *cloudwatch.Client
	Calls        *Calls
	Set          *AlarmSet
	Dashboard    *Dashboard
	Target       Target
	Region       string
	DryRun       bool
	AllowMissing bool
}

// Report is what sync did (or, with --dry-run, would do).
type Report struct {
	Env       string            `json:"env"`
	DryRun    bool              `json:"dryRun,omitempty"`
	Changes   []Change          `json:"changes"`
	Dashboard string            `json:"dashboard"` // create, update, unchanged
	Silent    map[string]string `json:"silentServices,omitempty"`
	Reads     int64             `json:"apiReads"`
	Writes    int64             `json:"apiWrites"`
}

func (r *Report) Header() []string { return []string{"ALARM", "ACTION", "DETAIL"} }
func (r *Report) Rows() [][]string {
	var rows [][]string
	for _, c := range r.Changes {
		rows = append(rows, []string{c.Alarm, c.Action, strings.Join(append(c.Fields, c.Reason), " ")})
	}
	rows = append(rows, []string{"dashboard " + r.Target(), r.Dashboard, ""})
	for _, svc := range keys(boolKeys(r.Silent)) {
		rows = append(rows, []string{svc, "no metrics", r.Silent[svc]})
	}
	return rows
}

// Target names the dashboard in the table.
func (r *Report) Target() string { return "layering-detection-eks-" + r.Env }

// SilentError means services publish no metrics: alarms on them would never leave INSUFFICIENT_DATA.
type SilentError struct{ Silent map[string]string }

func (e *SilentError) Error() string {
	lines := []string{}
	for _, svc := range keys(boolKeys(e.Silent)) {
		lines = append(lines, "  - "+svc+": "+e.Silent[svc])
	}
	return "no Container Insights metrics for some services, so their alarms could never leave INSUFFICIENT_DATA; nothing was changed:\n" +
		strings.Join(lines, "\n") + "\n  (--allow-missing-metrics creates them anyway)"
}

// RefusedError means alarms with the plugin's names belong to someone else.
type RefusedError struct{ Alarms []string }

func (e *RefusedError) Error() string {
	return "left alone, because kubectl-layering did not make them: " + strings.Join(e.Alarms, ", ")
}

// Sync lists the published metrics, plans, and applies the plan.
func (s *Syncer) Sync(ctx context.Context) (*Report, error) {
	rep := &Report{Env: s.Target.Env, DryRun: s.DryRun}
	defer func() { rep.Reads, rep.Writes = s.Calls.Reads.Load(), s.Calls.Writes.Load() }()
	published, err := s.published(ctx)
	if err != nil {
		return rep, err
	}
	rep.Silent = Silent(s.Set, s.Target, published)
	live, owned, err := s.liveAlarms(ctx)
	if err != nil {
		return rep, err
	}
	rep.Changes = Plan(Desired(s.Set, s.Target), live, owned)
	body, err := s.dashboardBody()
	if err != nil {
		return rep, err
	}
	if rep.Dashboard, err = s.dashboardAction(ctx, body); err != nil {
		return rep, err
	}
	if len(rep.Silent) > 0 && !s.AllowMissing {
		return rep, &SilentError{rep.Silent}
	}
	if s.DryRun {
		return rep, refused(rep.Changes)
	}
	if err := s.apply(ctx, rep.Changes); err != nil {
		return rep, err
	}
	if rep.Dashboard != "unchanged" {
		if _, err := s.CW.PutDashboard(ctx, &cloudwatch.PutDashboardInput{DashboardName: aws.String(s.dashboardName()), DashboardBody: aws.String(body)}); err != nil {
			return rep, awsconfig.Explain(err)
		}
	}
	return rep, refused(rep.Changes)
}

func refused(changes []Change) error {
	var names []string
	for _, c := range changes {
		if c.Action == "refused" {
			names = append(names, c.Alarm)
		}
	}
	if len(names) > 0 {
		return &RefusedError{names}
	}
	return nil
}

// published lists the ContainerInsights metrics of the target's cluster.
func (s *Syncer) published(ctx context.Context) ([]cwtypes.Metric, error) {
	var out []cwtypes.Metric
	p := cloudwatch.NewListMetricsPaginator(s.CW, &cloudwatch.ListMetricsInput{Namespace: aws.String(s.Set.Namespace)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, awsconfig.Explain(err)
		}
		out = append(out, page.Metrics...)
	}
	return out, nil
}

func (s *Syncer) prefix() string { return "layering-detection-eks-" + s.Target.Env + "-" }

// liveAlarms are the alarms of the environment's naming, and the ones among them this plugin owns.
func (s *Syncer) liveAlarms(ctx context.Context) (map[string]cwtypes.MetricAlarm, map[string]bool, error) {
	live, owned := map[string]cwtypes.MetricAlarm{}, map[string]bool{}
	p := cloudwatch.NewDescribeAlarmsPaginator(s.CW, &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String(s.prefix()), AlarmTypes: []cwtypes.AlarmType{cwtypes.AlarmTypeMetricAlarm}})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, nil, awsconfig.Explain(err)
		}
		for _, a := range page.MetricAlarms {
			live[aws.ToString(a.AlarmName)] = a
			tags, err := s.CW.ListTagsForResource(ctx, &cloudwatch.ListTagsForResourceInput{ResourceARN: a.AlarmArn})
			if err != nil {
				return nil, nil, awsconfig.Explain(err)
			}
			for _, t := range tags.Tags {
				if aws.ToString(t.Key) == OwnerTag && aws.ToString(t.Value) == s.Target.Env {
					owned[aws.ToString(a.AlarmName)] = true
				}
			}
		}
	}
	return live, owned, nil
}

// apply makes the planned creates, updates and deletes.
func (s *Syncer) apply(ctx context.Context, changes []Change) error {
	var doomed []string
	for _, c := range changes {
		switch c.Action {
		case "create", "update":
			if _, err := s.CW.PutMetricAlarm(ctx, putInput(c.spec, s.Target.Env)); err != nil {
				return awsconfig.Explain(err)
			}
		case "delete":
			doomed = append(doomed, c.Alarm)
		}
	}
	for len(doomed) > 0 {
		n := min(100, len(doomed)) // DeleteAlarms takes up to 100 names
		if _, err := s.CW.DeleteAlarms(ctx, &cloudwatch.DeleteAlarmsInput{AlarmNames: doomed[:n]}); err != nil {
			return awsconfig.Explain(err)
		}
		doomed = doomed[n:]
	}
	return nil
}

func putInput(d *Spec, env string) *cloudwatch.PutMetricAlarmInput {
	var dimensions []cwtypes.Dimension
	for _, k := range keys(boolKeys(d.Dimensions)) {
		dimensions = append(dimensions, cwtypes.Dimension{Name: aws.String(k), Value: aws.String(d.Dimensions[k])})
	}
	return &cloudwatch.PutMetricAlarmInput{
		AlarmName:          aws.String(d.Name),
		AlarmDescription:   aws.String(fmt.Sprintf("%s of %s-service in environment %s (replaces the ECS alarm on %s); made by kubectl layering alarms sync", d.Metric, d.Service, env, d.Metric)),
		Namespace:          aws.String("ContainerInsights"),
		MetricName:         aws.String(d.Metric),
		Statistic:          cwtypes.Statistic(d.Statistic),
		Period:             aws.Int32(d.Period),
		EvaluationPeriods:  aws.Int32(d.EvaluationPeriods),
		Threshold:          aws.Float64(d.Threshold),
		ComparisonOperator: cwtypes.ComparisonOperator(d.Comparison),
		TreatMissingData:   aws.String(d.TreatMissingData),
		Dimensions:         dimensions,
		AlarmActions:       d.Actions,
		OKActions:          d.Actions,
		Tags:               []cwtypes.Tag{{Key: aws.String(OwnerTag), Value: aws.String(env)}},
	}
}

func (s *Syncer) dashboardName() string {
	return strings.ReplaceAll(s.Dashboard.Name, "{env}", s.Target.Env)
}

// dashboardBody is the dashboard: one metric widget per service.
func (s *Syncer) dashboardBody() (string, error) {
	type widget struct {
		Type       string         `json:"type"`
		X          int            `json:"x"`
		Y          int            `json:"y"`
		Width      int            `json:"width"`
		Height     int            `json:"height"`
		Properties map[string]any `json:"properties"`
	}
	d, w := s.Dashboard, s.Dashboard.Widget
	var widgets []widget
	for i, svc := range d.Services {
		var metrics [][]string
		for _, m := range w.Metrics {
			metrics = append(metrics, []string{d.Namespace, m, "ClusterName", s.Target.Cluster, "Namespace", s.Target.Namespace, "Service", svc + "-service"})
		}
		widgets = append(widgets, widget{Type: "metric", X: (i % w.PerRow) * w.Width, Y: (i / w.PerRow) * w.Height, Width: w.Width, Height: w.Height,
			Properties: map[string]any{"title": strings.ReplaceAll(w.Title, "{service}", svc), "region": s.Region, "period": w.PeriodSeconds, "stat": "Average", "view": "timeSeries", "metrics": metrics}})
	}
	data, err := json.Marshal(map[string]any{"widgets": widgets})
	return string(data), err
}

// dashboardAction compares the live dashboard's body with body, as JSON.
func (s *Syncer) dashboardAction(ctx context.Context, body string) (string, error) {
	out, err := s.CW.GetDashboard(ctx, &cloudwatch.GetDashboardInput{DashboardName: aws.String(s.dashboardName())})
	var nf *cwtypes.ResourceNotFound
	var nf2 *cwtypes.DashboardNotFoundError
	switch {
	case errors.As(err, &nf) || errors.As(err, &nf2):
		return "create", nil
	case err != nil:
		return "", awsconfig.Explain(err)
	}
	var live, want any
	_ = json.Unmarshal([]byte(aws.ToString(out.DashboardBody)), &live)
	_ = json.Unmarshal([]byte(body), &want)
	if reflect.DeepEqual(live, want) {
		return "unchanged", nil
	}
	return "update", nil
}

func boolKeys(m map[string]string) map[string]bool {
	out := map[string]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}
