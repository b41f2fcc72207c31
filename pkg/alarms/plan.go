package alarms

import (
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// OwnerTag marks the alarms this plugin made; its value is the environment.
const OwnerTag = "kubectl-layering/environment"

// Target is where the alarms watch: one environment on one EKS cluster.
type Target struct {
	Env, Namespace, Cluster string
	Actions                 []string // SNS topic ARNs notified on ALARM and OK
}

// Spec is one alarm as it should be.
type Spec struct {
	Name, Service, Metric, Statistic, Comparison, TreatMissingData string
	Period, EvaluationPeriods                                      int32
	Threshold                                                      float64
	Dimensions                                                     map[string]string
	Actions                                                        []string
}

// Desired is every alarm of the set for target.
func Desired(set *AlarmSet, t Target) []Spec {
	var out []Spec
	for _, svc := range set.Services {
		for _, a := range set.Alarms {
			out = append(out, Spec{
				Name: a.AlarmName(t.Env, svc), Service: svc, Metric: a.Metric, Statistic: a.Statistic,
				Comparison: a.Comparison, TreatMissingData: a.TreatMissingData, Period: a.PeriodSeconds,
				EvaluationPeriods: a.EvaluationPeriods, Threshold: a.Threshold,
				Dimensions: map[string]string{"ClusterName": t.Cluster, "Namespace": t.Namespace, "Service": svc + "-service"},
				Actions:    t.Actions,
			})
		}
	}
	return out
}

// Silent names the services of target that publish none of the metrics the
// alarms need, with the likely reason; an alarm on them could never leave
// INSUFFICIENT_DATA.
func Silent(set *AlarmSet, t Target, published []cwtypes.Metric) map[string]string {
	clusters, byService := map[string]bool{}, map[string]bool{}
	for _, m := range published {
		d := dims(m.Dimensions)
		clusters[d["ClusterName"]] = true
		if d["ClusterName"] == t.Cluster && d["Namespace"] == t.Namespace {
			byService[strings.TrimSuffix(d["Service"], "-service")] = true
		}
	}
	silent := map[string]string{}
	for _, svc := range set.Services {
		switch {
		case byService[svc]:
		case len(published) == 0:
			silent[svc] = "no ContainerInsights metrics at all in this account and region: is Container Insights enabled on the cluster (the CloudWatch agent add-on)?"
		case !clusters[t.Cluster]:
			silent[svc] = fmt.Sprintf("no metrics for cluster %q (metrics exist for %s): check the clusterName setting", t.Cluster, strings.Join(keys(clusters), ", "))
		default:
			silent[svc] = fmt.Sprintf("no metrics for service %s-service in namespace %s: is it deployed with running pods?", svc, t.Namespace)
		}
	}
	return silent
}

// Change is one alarm's fate in a sync.
type Change struct {
	Alarm  string   `json:"alarm"`
	Action string   `json:"action"` // create, update, delete, unchanged, refused
	Fields []string `json:"fields,omitempty"`
	Reason string   `json:"reason,omitempty"`
	spec   *Spec
}

// Plan compares desired with the live alarms of the environment's naming
// (live, by name) and the ones this plugin owns (owned, by name): create what
// is missing, update what differs (naming the fields), delete what is ours and
// no longer wanted, refuse what has our name but someone else's ownership.
func Plan(desired []Spec, live map[string]cwtypes.MetricAlarm, owned map[string]bool) []Change {
	var out []Change
	wanted := map[string]bool{}
	for i := range desired {
		d := &desired[i]
		wanted[d.Name] = true
		l, exists := live[d.Name]
		switch {
		case !exists:
			out = append(out, Change{Alarm: d.Name, Action: "create", spec: d})
		case !owned[d.Name]:
			out = append(out, Change{Alarm: d.Name, Action: "refused", Reason: "an alarm of this name exists and was not made by kubectl-layering (no " + OwnerTag + " tag): rename or delete it yourself"})
		default:
			if fields := differs(d, l); len(fields) > 0 {
				out = append(out, Change{Alarm: d.Name, Action: "update", Fields: fields, spec: d})
			} else {
				out = append(out, Change{Alarm: d.Name, Action: "unchanged"})
			}
		}
	}
	for name := range owned {
		if !wanted[name] {
			out = append(out, Change{Alarm: name, Action: "delete"})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Alarm < out[j].Alarm })
	return out
}

// differs names the fields of a live alarm that are not as specified.
func differs(d *Spec, l cwtypes.MetricAlarm) []string {
	var f []string
	check := func(name string, same bool) {
		if !same {
			f = append(f, name)
		}
	}
	check("metric", aws.ToString(l.MetricName) == d.Metric && aws.ToString(l.Namespace) == "ContainerInsights")
	check("statistic", string(l.Statistic) == d.Statistic)
	check("period", aws.ToInt32(l.Period) == d.Period)
	check("evaluationPeriods", aws.ToInt32(l.EvaluationPeriods) == d.EvaluationPeriods)
	check("threshold", aws.ToFloat64(l.Threshold) == d.Threshold)
	check("comparison", string(l.ComparisonOperator) == d.Comparison)
	check("treatMissingData", aws.ToString(l.TreatMissingData) == d.TreatMissingData)
	check("dimensions", fmt.Sprint(dims(l.Dimensions)) == fmt.Sprint(d.Dimensions))
	check("actions", fmt.Sprint(sorted(l.AlarmActions)) == fmt.Sprint(sorted(d.Actions)) && fmt.Sprint(sorted(l.OKActions)) == fmt.Sprint(sorted(d.Actions)))
	return f
}

func dims(ds []cwtypes.Dimension) map[string]string {
	m := map[string]string{}
	for _, d := range ds {
		m[aws.ToString(d.Name)] = aws.ToString(d.Value)
	}
	return m
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sorted(s []string) []string {
	c := append([]string{}, s...)
	sort.Strings(c)
	return c
}
