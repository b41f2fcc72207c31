package parity

// The rows that compare AWS resources: target group health check, alarms, the load balancer.

import (
	"fmt"
	"strings"

	"github.com/layering-detection/kubectl-layering/pkg/ecsstate"
)

// targetGroup compares the ECS target group's health check with the one the
// AWS Load Balancer Controller gives the Ingress's (its annotations).
func (in Input) targetGroup(svc string, s ecsstate.Service) Row {
	r := Row{Service: svc, Item: "load balancer health check", ECS: "(no target group)", Kubernetes: "(no Ingress)"}
	if len(s.TargetGroups) > 0 {
		if tg, ok := in.ECS.TargetGroup(s.TargetGroups[0]); ok {
			r.ECS = fmt.Sprintf("%s %s every %ds, timeout %ds, %d healthy / %d unhealthy", tg.HealthCheckPath, tg.Matcher, tg.HealthCheckSeconds, tg.TimeoutSeconds, tg.Healthy, tg.Unhealthy)
		}
	}
	if len(in.Kube.Ingresses) > 0 {
		a := in.Kube.Ingresses[0].Annotations
		get := func(k, def string) string {
			if v, ok := a["alb.ingress.kubernetes.io/"+k]; ok {
				return v
			}
			return def // the AWS Load Balancer Controller's defaults
		}
		r.Kubernetes = fmt.Sprintf("%s %s every %ss, timeout %ss, %s healthy / %s unhealthy", get("healthcheck-path", "/"), get("success-codes", "200"),
			get("healthcheck-interval-seconds", "15"), get("healthcheck-timeout-seconds", "5"), get("healthy-threshold-count", "2"), get("unhealthy-threshold-count", "2"))
	}
	r.Status = Same
	if r.ECS != r.Kubernetes {
		r.Status = Differs
	}
	return r
}

// alarmRows compares each ECS alarm with the EKS alarm that replaces it: the
// same condition on the Container Insights metric of the same signal.
func (in Input) alarmRows(svc string) []Row {
	if in.Alarms == nil {
		return nil
	}
	var rows []Row
	for _, a := range in.Alarms.Alarms {
		ecsName, eksName := a.ECSAlarmName(svc), a.AlarmName(in.Env, svc)
		r := Row{Service: svc, Item: "alarm " + strings.TrimPrefix(ecsName, appPrefix+svc+"-"), ECS: "(no alarm " + ecsName + ")", Kubernetes: "(no alarm " + eksName + ")"}
		var e, k string
		for _, x := range in.ECS.Alarms {
			if x.Name == ecsName {
				e = condition(x)
				r.ECS = x.Metric + " " + e
			}
		}
		if x, ok := in.EKSAlarms[eksName]; ok {
			k = condition(x)
			r.Kubernetes = x.Metric + " " + k
		}
		switch {
		case e == "" || k == "":
			r.Status, r.Reason = Differs, "an alarm is missing"
			if k == "" && in.Live {
				r.Reason = "not created yet: kubectl layering alarms sync --env " + in.Env
			}
		case e != k:
			r.Status = Differs
		default:
			r.Status, r.Reason = ByDesign, fmt.Sprintf("the same condition on Container Insights' %s, which replaces AWS/ECS %s", a.Metric, a.Replaces)
		}
		rows = append(rows, r)
	}
	return rows
}

func condition(a ecsstate.Alarm) string {
	op := map[string]string{"GreaterThanThreshold": ">", "LessThanThreshold": "<", "GreaterThanOrEqualToThreshold": ">=", "LessThanOrEqualToThreshold": "<="}[a.Comparison]
	if op == "" {
		op = a.Comparison
	}
	return fmt.Sprintf("%s %s %g, %ds × %d, missing data %s", a.Statistic, op, a.Threshold, a.PeriodSeconds, a.EvaluationPeriods, a.TreatMissingData)
}

// loadBalancer compares the ECS ALB's HTTPS listener with the Ingress's.
func (in Input) loadBalancer() []Row {
	var https *ecsstate.Listener
	var http *ecsstate.Listener
	for _, lb := range in.ECS.LoadBalancers {
		for i, l := range lb.Listeners {
			switch l.Protocol {
			case "HTTPS":
				https = &lb.Listeners[i]
			case "HTTP":
				http = &lb.Listeners[i]
			}
		}
	}
	var a map[string]string
	if len(in.Kube.Ingresses) > 0 {
		a = in.Kube.Ingresses[0].Annotations
	}
	const p = "alb.ingress.kubernetes.io/"
	e, k := "(no HTTPS listener)", "(no certificate)"
	if https != nil && len(https.Certificates) > 0 {
		e = https.Certificates[0]
	}
	if c := a[p+"certificate-arn"]; c != "" {
		k = c
	}
	rows := []Row{same("load balancer", "HTTPS", e, k)}
	if https != nil && a[p+"ssl-policy"] != "" {
		r := same("load balancer", "TLS policy", https.SSLPolicy, a[p+"ssl-policy"])
		if r.Status == Differs && tls12(https.SSLPolicy) && tls12(a[p+"ssl-policy"]) {
			r.Status, r.Reason = ByDesign, "both require TLS 1.2 at least; the Ingress's policy adds TLS 1.3"
		}
		rows = append(rows, r)
	}
	if http != nil && a[p+"ssl-redirect"] != "" {
		rows = append(rows, Row{"load balancer", "HTTP listener", fmt.Sprintf("%d forwards", http.Port), "redirects to " + a[p+"ssl-redirect"], ByDesign,
			"plain HTTP is redirected to HTTPS on Kubernetes"})
	}
	return rows
}

func tls12(policy string) bool {
	return strings.Contains(policy, "TLS-1-2") || strings.Contains(policy, "TLS13-1-2")
}
