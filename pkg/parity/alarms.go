package parity

import (
	"github.com/layering-detection/kubectl-layering/pkg/alarms"
	"github.com/layering-detection/kubectl-layering/pkg/ecsstate"
)

// SpecAlarms are the EKS alarms `alarms sync` makes for env, by name, as
// CloudWatch would describe them: the rendered side of the alarm rows.
func SpecAlarms(set *alarms.AlarmSet, env string) map[string]ecsstate.Alarm {
	out := map[string]ecsstate.Alarm{}
	for _, svc := range set.Services {
		for _, a := range set.Alarms {
			name := a.AlarmName(env, svc)
			out[name] = ecsstate.Alarm{Name: name, Namespace: set.Namespace, Metric: a.Metric, Statistic: a.Statistic,
				PeriodSeconds: int(a.PeriodSeconds), EvaluationPeriods: int(a.EvaluationPeriods), Threshold: a.Threshold,
				Comparison: a.Comparison, TreatMissingData: a.TreatMissingData}
		}
	}
	return out
}

// LiveAlarms are the alarms of d that are not ECS's (parity --live reads the
// EKS ones with them), by name.
func LiveAlarms(d *ecsstate.Deployment) map[string]ecsstate.Alarm {
	out := map[string]ecsstate.Alarm{}
	for _, a := range d.Alarms {
		if a.Namespace != "AWS/ECS" {
			out[a.Name] = a
		}
	}
	return out
}
