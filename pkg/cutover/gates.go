package cutover

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/layering-detection/kubectl-layering/pkg/alarms"
	"github.com/layering-detection/kubectl-layering/pkg/verify"
)

// GateState is a gate's verdict.
type GateState string

const (
	Green GateState = "green"
	Red   GateState = "red"
	Skip  GateState = "skipped"
)

// GateResult is one gate's verdict and why.
type GateResult struct {
	Gate   string    `json:"gate"`
	State  GateState `json:"state"`
	Detail string    `json:"detail"`
	Err    error     `json:"-"` // the gate could not be evaluated
}

// Gate is one condition every step must keep. full asks for the thorough
// form (before the first step and at the end of each hold).
type Gate interface {
	Name() string
	Check(ctx context.Context, full bool) GateResult
}

func green(name, detail string) GateResult {
	return GateResult{Gate: name, State: Green, Detail: detail}
}
func red(name, detail string) GateResult { return GateResult{Gate: name, State: Red, Detail: detail} }
func failed(name string, err error) GateResult {
	return GateResult{Gate: name, State: Red, Detail: "could not be evaluated: " + err.Error(), Err: err}
}

// FirstRed is the first red verdict, or nil.
func FirstRed(results []GateResult) *GateResult {
	for i := range results {
		if results[i].State == Red {
			return &results[i]
		}
	}
	return nil
}

// VerifyGate: `kubectl layering verify` of the environment passes. The full
// form runs every check; in between, the checks that start nothing in the
// pods (dns and volumes run an ephemeral container each time).
type VerifyGate struct{ Verifier *verify.Verifier }

var lightChecks = []string{"probes", "secrets", "scaling"}

func (g *VerifyGate) Name() string { return "verify" }

func (g *VerifyGate) Check(ctx context.Context, full bool) GateResult {
	checks := lightChecks
	if full {
		checks = verify.DefaultChecks // logging is asked for, not default (it needs the log shipping)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	rep, err := g.Verifier.Run(ctx, checks)
	if err != nil {
		return failed(g.Name(), err)
	}
	var bad []string
	for _, r := range rep.Results {
		if r.Status == verify.Fail {
			bad = append(bad, fmt.Sprintf("%s %s: %s", r.Check, r.Subject, r.Reason))
		}
	}
	if len(bad) > 0 {
		return red(g.Name(), strings.Join(bad, "; "))
	}
	return green(g.Name(), fmt.Sprintf("%d checks of %s pass", len(rep.Results), strings.Join(checks, ",")))
}

// AlarmsGate: no alarm of either side is in ALARM (`alarms status`).
type AlarmsGate struct {
	CW  *cloudwatch.Client
	Set *alarms.AlarmSet
	Env string
}

func (g *AlarmsGate) Name() string { return "alarms" }

func (g *AlarmsGate) Check(ctx context.Context, _ bool) GateResult {
	st, err := alarms.ReadStatus(ctx, g.CW, g.Set, g.Env)
	if err != nil {
		return failed(g.Name(), err)
	}
	var firing []string
	n := 0
	for _, r := range st.Alarms {
		for _, s := range []alarms.Side{r.EKS, r.ECS} {
			if s.State == "missing" {
				continue
			}
			n++
			if s.State == "ALARM" {
				firing = append(firing, s.Alarm+" ("+s.Reason+")")
			}
		}
	}
	if len(firing) > 0 {
		return red(g.Name(), "in ALARM: "+strings.Join(firing, "; "))
	}
	return green(g.Name(), fmt.Sprintf("none of %d alarms in ALARM", n))
}

// TargetsGate: the receiving side's target groups have healthy targets, for
// every service: traffic is never shifted onto a group with none.
type TargetsGate struct {
	AWS  *AWS
	Topo *Topology
	To   Side
}

func (g *TargetsGate) Name() string { return "targets" }

func (g *TargetsGate) Check(ctx context.Context, _ bool) GateResult {
	groups := g.Topo.Groups(g.To)
	health, err := g.AWS.TargetHealth(ctx, groups)
	if err != nil {
		return failed(g.Name(), err)
	}
	if bad := Unhealthy(groups, health, nil); len(bad) > 0 {
		detail := strings.Join(bad, "; ")
		if g.To == ECS {
			detail += " (ECS scaled in? kubectl layering rollback --to-ecs restores its capacity first)"
		}
		return red(g.Name(), detail)
	}
	total := 0
	for _, h := range health {
		total += h.Healthy
	}
	return green(g.Name(), fmt.Sprintf("%s: %d target groups, %d healthy targets", g.To.Label(), len(groups), total))
}

// ECSGate: the ECS services are stable.
type ECSGate struct{ AWS *AWS }

func (g *ECSGate) Name() string { return "ecs" }

func (g *ECSGate) Check(ctx context.Context, _ bool) GateResult {
	svcs, err := g.AWS.ECSServices(ctx)
	if err != nil {
		return failed(g.Name(), err)
	}
	if bad := Unstable(svcs); len(bad) > 0 {
		return red(g.Name(), strings.Join(bad, "; "))
	}
	return green(g.Name(), fmt.Sprintf("%d services stable", len(svcs)))
}

// BindingGVR is the AWS Load Balancer Controller's TargetGroupBinding.
var BindingGVR = schema.GroupVersionResource{Group: "elbv2.k8s.aws", Version: "v1beta1", Resource: "targetgroupbindings"}

// BindingsGate: every service's Kubernetes target group is filled by a
// TargetGroupBinding of its Service in the environment's namespace.
type BindingsGate struct {
	Dynamic   dynamic.Interface
	Namespace string
	Pairs     []Pair
	// Without is why the environment has no bindings (the local cluster
	// runs no load balancer controller); the gate is then skipped.
	Without string
}

func (g *BindingsGate) Name() string { return "bindings" }

func (g *BindingsGate) Check(ctx context.Context, _ bool) GateResult {
	if g.Without != "" {
		return GateResult{Gate: g.Name(), State: Skip, Detail: g.Without}
	}
	list, err := g.Dynamic.Resource(BindingGVR).Namespace(g.Namespace).List(ctx, metav1.ListOptions{})
	if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
		return red(g.Name(), "the cluster does not serve TargetGroupBinding (elbv2.k8s.aws/v1beta1): install the AWS Load Balancer Controller v2.11 or newer "+
			"(helm install aws-load-balancer-controller eks/aws-load-balancer-controller -n kube-system --set clusterName=<cluster>)")
	}
	if err != nil {
		return failed(g.Name(), err)
	}
	if missing := MissingBindings(list.Items, g.Pairs); len(missing) > 0 {
		return red(g.Name(), strings.Join(missing, "; ")+" in namespace "+g.Namespace+" (kubectl layering deploy creates them)")
	}
	return green(g.Name(), fmt.Sprintf("%d TargetGroupBindings in %s", len(g.Pairs), g.Namespace))
}

// MissingBindings names the services whose Kubernetes target group no
// binding in items fills (by target group name or ARN).
func MissingBindings(items []unstructured.Unstructured, pairs []Pair) []string {
	var out []string
	for _, p := range pairs {
		found := false
		for _, b := range items {
			svc, _, _ := unstructured.NestedString(b.Object, "spec", "serviceRef", "name")
			name, _, _ := unstructured.NestedString(b.Object, "spec", "targetGroupName")
			arn, _, _ := unstructured.NestedString(b.Object, "spec", "targetGroupARN")
			if svc == p.Service+"-service" && ((name != "" && name == p.EKS.Name) || (arn != "" && arn == p.EKS.ARN)) {
				found = true
			}
		}
		if !found {
			out = append(out, fmt.Sprintf("no TargetGroupBinding binds %s-service to %s", p.Service, p.EKS.Name))
		}
	}
	return out
}

// evalError is the first gate that could not be evaluated at all (access
// denied, not deployed, no credentials): before the first step that means the
// cutover cannot run, and the error says why in its own terms.
func evalError(results []GateResult) error {
	for _, r := range results {
		if r.Err != nil {
			return r.Err
		}
	}
	return nil
}
