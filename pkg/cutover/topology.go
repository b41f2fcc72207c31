// Package cutover moves the platform's traffic between the ECS services and
// the Kubernetes environment on the ECS deployment's own load balancer: each
// listener rule (and default action) forwards, by weight, to the service's
// ECS target group and to its Kubernetes target group, which the AWS Load
// Balancer Controller fills from a TargetGroupBinding. No DNS change, so no
// TTL delay. The position is always read back from the listener itself.
//
// cutover.go is the gated, stepped cutover (Cutover.Run reads as its steps),
// rollback.go the fastest safe way back to ECS (ToECS.Run); decide.go holds
// the pure decisions, aws.go the SDK calls, gates.go the gates, record.go
// what the plugin keeps in the cluster between runs.
package cutover

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// The names the ECS deployment and the migration's target groups carry
// (shared/spec/ecs-baseline.md).
const app = "layering-detection"

// Services are the platform's four services, in the ALB's rule order.
var Services = []string{"orchestrator", "layering", "wash-trading", "aggregator"}

// ECSServiceName is the ECS service (and task family) of a service.
func ECSServiceName(svc string) string { return app + "-" + svc }

// ECSTargetGroupName is the ECS side's target group of a service.
func ECSTargetGroupName(svc string) string { return app + "-" + svc + "-tg" }

// EKSTargetGroupName is the Kubernetes side's target group of a service,
// filled from the environment's TargetGroupBinding.
func EKSTargetGroupName(svc string) string { return app + "-" + svc + "-eks-tg" }

// Side is where traffic goes: ECS or the Kubernetes environment.
type Side string

const (
	ECS Side = "ecs"
	EKS Side = "eks"
)

// ParseSide reads --to.
func ParseSide(s string) (Side, error) {
	switch Side(strings.ToLower(s)) {
	case ECS:
		return ECS, nil
	case EKS:
		return EKS, nil
	}
	return "", fmt.Errorf("--to %q: use eks or ecs", s)
}

// Other is the side traffic leaves.
func (s Side) Other() Side {
	if s == EKS {
		return ECS
	}
	return EKS
}

// Label is how a side is named to people.
func (s Side) Label() string { return strings.ToUpper(string(s)) }

// TargetGroup is one target group, by name and ARN.
type TargetGroup struct {
	Name string `json:"name"`
	ARN  string `json:"arn"`
}

// Pair is one service's two target groups.
type Pair struct {
	Service string      `json:"service"`
	ECS     TargetGroup `json:"ecs"`
	EKS     TargetGroup `json:"eks"`
}

// Group is the pair's target group on one side.
func (p Pair) Group(s Side) TargetGroup {
	if s == EKS {
		return p.EKS
	}
	return p.ECS
}

// Rule is one listener rule (or a listener's default action) that forwards
// to a service's pair, with the weights it forwards by.
type Rule struct {
	Listener    int32  `json:"listener"`
	ListenerARN string `json:"listenerArn"`
	ARN         string `json:"arn"`
	Priority    string `json:"priority"` // "100"…, or "default"
	Conditions  string `json:"conditions,omitempty"`
	Service     string `json:"service"`
	ECSWeight   int32  `json:"ecsWeight"`
	EKSWeight   int32  `json:"eksWeight"`

	actions []elbtypes.Action // as described, to rewrite only the forward
	forward int               // index of the forward action in actions
}

// Key names a rule across reads: listener port and priority.
func (r Rule) Key() string { return fmt.Sprintf("%d/%s", r.Listener, r.Priority) }

// Name is a rule as people read it.
func (r Rule) Name() string {
	if r.Priority == "default" {
		return fmt.Sprintf("listener %d default action", r.Listener)
	}
	return fmt.Sprintf("listener %d rule %s", r.Listener, r.Priority)
}

// Share is the percentage of the rule's traffic that goes to side s.
func (r Rule) Share(s Side) int {
	total := r.ECSWeight + r.EKSWeight
	if total == 0 {
		return 0
	}
	w := r.ECSWeight
	if s == EKS {
		w = r.EKSWeight
	}
	return int((200*w + total) / (2 * total)) // rounded
}

// Weights are the rule's weights as people read them.
func (r Rule) Weights() string { return fmt.Sprintf("ECS %d / EKS %d", r.ECSWeight, r.EKSWeight) }

// tgRef says which pair and side a target group ARN is.
type tgRef struct {
	service string
	side    Side
}

// index maps every pair's target group ARNs to their service and side.
func index(pairs []Pair) map[string]tgRef {
	out := map[string]tgRef{}
	for _, p := range pairs {
		out[p.ECS.ARN] = tgRef{p.Service, ECS}
		out[p.EKS.ARN] = tgRef{p.Service, EKS}
	}
	return out
}

// ParseRules picks, from one listener's rules as DescribeRules returns them,
// those that forward to the pairs' target groups, with their weights.
// Problems are rules that forward to a pair together with some other target
// group, or to two services: the cutover must not guess what they mean.
func ParseRules(port int32, listenerARN string, rules []elbtypes.Rule, pairs []Pair) (out []Rule, problems []string) {
	refs := index(pairs)
	for _, r := range rules {
		rule := Rule{Listener: port, ListenerARN: listenerARN, ARN: aws.ToString(r.RuleArn), Priority: aws.ToString(r.Priority),
			Conditions: conditions(r.Conditions), actions: r.Actions, forward: -1}
		if aws.ToBool(r.IsDefault) {
			rule.Priority = "default"
		}
		for i, a := range r.Actions {
			if a.Type == elbtypes.ActionTypeEnumForward {
				rule.forward = i
			}
		}
		if rule.forward < 0 {
			continue // a redirect or fixed response: not traffic to move
		}
		groups := forwardGroups(r.Actions[rule.forward])
		services, foreign := map[string]bool{}, []string{}
		for _, g := range groups {
			ref, ok := refs[g.arn]
			if !ok {
				foreign = append(foreign, g.arn)
				continue
			}
			services[ref.service] = true
			rule.Service = ref.service
			if ref.side == EKS {
				rule.EKSWeight = g.weight
			} else {
				rule.ECSWeight = g.weight
			}
		}
		switch {
		case len(services) == 0:
			continue // forwards elsewhere: someone else's rule
		case len(services) > 1:
			problems = append(problems, fmt.Sprintf("%s forwards to the target groups of %s: one rule per service is what the cutover moves", rule.Name(), strings.Join(slices.Sorted(maps.Keys(services)), " and ")))
		case len(foreign) > 0:
			problems = append(problems, fmt.Sprintf("%s forwards to %s's target groups and also to %s: the cutover moves only rules that forward to a service's ECS and EKS target groups", rule.Name(), rule.Service, strings.Join(foreign, ", ")))
		default:
			out = append(out, rule)
		}
	}
	return out, problems
}

type weighted struct {
	arn    string
	weight int32
}

// forwardGroups reads a forward action: a weighted ForwardConfig, or (as older
// clients write it) a single TargetGroupArn, which forwards with weight 1.
func forwardGroups(a elbtypes.Action) []weighted {
	if a.ForwardConfig != nil && len(a.ForwardConfig.TargetGroups) > 0 {
		out := make([]weighted, 0, len(a.ForwardConfig.TargetGroups))
		for _, t := range a.ForwardConfig.TargetGroups {
			w := int32(1)
			if t.Weight != nil {
				w = *t.Weight
			}
			out = append(out, weighted{aws.ToString(t.TargetGroupArn), w})
		}
		return out
	}
	if a.TargetGroupArn != nil {
		return []weighted{{aws.ToString(a.TargetGroupArn), 1}}
	}
	return nil
}

// conditions is a rule's conditions in one comparable line.
func conditions(cs []elbtypes.RuleCondition) string {
	var out []string
	for _, c := range cs {
		values := c.Values
		switch {
		case c.HostHeaderConfig != nil:
			values = c.HostHeaderConfig.Values
		case c.PathPatternConfig != nil:
			values = c.PathPatternConfig.Values
		case c.HttpRequestMethodConfig != nil:
			values = c.HttpRequestMethodConfig.Values
		case c.SourceIpConfig != nil:
			values = c.SourceIpConfig.Values
		case c.HttpHeaderConfig != nil:
			values = append([]string{aws.ToString(c.HttpHeaderConfig.HttpHeaderName) + ":"}, c.HttpHeaderConfig.Values...)
		case c.QueryStringConfig != nil:
			values = nil
			for _, kv := range c.QueryStringConfig.Values {
				values = append(values, aws.ToString(kv.Key)+"="+aws.ToString(kv.Value))
			}
		}
		out = append(out, aws.ToString(c.Field)+" "+strings.Join(values, ","))
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}

// withWeights is the rule's action list with its forward action sending
// ecs and eks to the pair; every other action, and the forward's stickiness,
// is kept as it was.
func (r Rule) withWeights(p Pair, ecs, eks int32) []elbtypes.Action {
	out := make([]elbtypes.Action, len(r.actions))
	copy(out, r.actions)
	f := out[r.forward]
	var stickiness *elbtypes.TargetGroupStickinessConfig
	if f.ForwardConfig != nil {
		stickiness = f.ForwardConfig.TargetGroupStickinessConfig
	}
	out[r.forward] = elbtypes.Action{Type: elbtypes.ActionTypeEnumForward, Order: f.Order, ForwardConfig: &elbtypes.ForwardActionConfig{
		TargetGroups: []elbtypes.TargetGroupTuple{
			{TargetGroupArn: aws.String(p.ECS.ARN), Weight: aws.Int32(ecs)},
			{TargetGroupArn: aws.String(p.EKS.ARN), Weight: aws.Int32(eks)},
		},
		TargetGroupStickinessConfig: stickiness,
	}}
	return out
}
