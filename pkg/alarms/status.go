package alarms

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/layering-detection/kubectl-layering/pkg/awsconfig"
)

// Side is one alarm as CloudWatch has it, or absent.
type Side struct {
	Alarm     string  `json:"alarm"`
	State     string  `json:"state"` // OK, ALARM, INSUFFICIENT_DATA, or "missing"
	Reason    string  `json:"reason,omitempty"`
	Threshold float64 `json:"threshold,omitempty"`
	Period    int32   `json:"period,omitempty"`
}

// StatusRow is one alarm of one service on EKS next to the ECS alarm it replaces.
type StatusRow struct {
	Service string `json:"service"`
	Signal  string `json:"signal"` // what the ECS alarm watched: CPUUtilization, …
	EKS     Side   `json:"eks"`
	ECS     Side   `json:"ecs"`
}

// Status is the parity view operators need during the migration.
type Status struct {
	Env    string      `json:"env"`
	Alarms []StatusRow `json:"alarms"`
}

// Firing tells whether any alarm, on either side, is in ALARM.
func (s *Status) Firing() bool {
	for _, r := range s.Alarms {
		if r.EKS.State == "ALARM" || r.ECS.State == "ALARM" {
			return true
		}
	}
	return false
}

func (s *Status) Header() []string {
	return []string{"SERVICE", "SIGNAL", "EKS STATE", "EKS THRESHOLD/PERIOD", "ECS STATE", "ECS THRESHOLD/PERIOD", "EKS REASON"}
}

func (s *Status) Rows() [][]string {
	out := make([][]string, len(s.Alarms))
	side := func(x Side) string {
		if x.State == "missing" {
			return "-"
		}
		return fmt.Sprintf("%g / %ds", x.Threshold, x.Period)
	}
	for i, r := range s.Alarms {
		out[i] = []string{r.Service, r.Signal, r.EKS.State, side(r.EKS), r.ECS.State, side(r.ECS), r.EKS.Reason}
	}
	return out
}

// ReadStatus reads both sets of alarms of target.
func ReadStatus(ctx context.Context, cw *cloudwatch.Client, set *AlarmSet, env string) (*Status, error) {
	var names []string
	for _, svc := range set.Services {
		for _, a := range set.Alarms {
			names = append(names, a.AlarmName(env, svc), a.ECSAlarmName(svc))
		}
	}
	found := map[string]cwtypes.MetricAlarm{}
	for len(names) > 0 {
		n := min(100, len(names))
		p := cloudwatch.NewDescribeAlarmsPaginator(cw, &cloudwatch.DescribeAlarmsInput{AlarmNames: names[:n], AlarmTypes: []cwtypes.AlarmType{cwtypes.AlarmTypeMetricAlarm}})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, awsconfig.Explain(err)
			}
			for _, a := range page.MetricAlarms {
				found[aws.ToString(a.AlarmName)] = a
			}
		}
		names = names[n:]
	}
	side := func(name string) Side {
		a, ok := found[name]
		if !ok {
			return Side{Alarm: name, State: "missing"}
		}
		return Side{Alarm: name, State: string(a.StateValue), Reason: aws.ToString(a.StateReason), Threshold: aws.ToFloat64(a.Threshold), Period: aws.ToInt32(a.Period)}
	}
	st := &Status{Env: env}
	for _, svc := range set.Services {
		for _, a := range set.Alarms {
			st.Alarms = append(st.Alarms, StatusRow{Service: svc, Signal: a.Replaces, EKS: side(a.AlarmName(env, svc)), ECS: side(a.ECSAlarmName(svc))})
		}
	}
	return st, nil
}

// Delete removes the environment's alarms this plugin made, and its dashboard.
func (s *Syncer) Delete(ctx context.Context) (*Report, error) {
	rep := &Report{Env: s.Target.Env, DryRun: s.DryRun, Dashboard: "delete"}
	defer func() { rep.Reads, rep.Writes = s.Calls.Reads.Load(), s.Calls.Writes.Load() }()
	_, owned, err := s.liveAlarms(ctx)
	if err != nil {
		return rep, err
	}
	rep.Changes = Plan(nil, nil, owned)
	if s.DryRun {
		return rep, nil
	}
	if err := s.apply(ctx, rep.Changes); err != nil {
		return rep, err
	}
	if action, err := s.dashboardAction(ctx, ""); err != nil || action == "create" {
		rep.Dashboard = "absent"
		return rep, err
	}
	_, err = s.CW.DeleteDashboards(ctx, &cloudwatch.DeleteDashboardsInput{DashboardNames: []string{s.dashboardName()}})
	return rep, awsconfig.Explain(err)
}
