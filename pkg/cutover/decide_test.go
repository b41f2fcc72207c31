package cutover

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

var testPairs = func() []Pair {
	var out []Pair
	for _, s := range Services {
		out = append(out, Pair{Service: s, ECS: TargetGroup{ECSTargetGroupName(s), "arn:tg/" + s}, EKS: TargetGroup{EKSTargetGroupName(s), "arn:tg/" + s + "-eks"}})
	}
	return out
}()

func forwardTo(weights ...any) elbtypes.Action {
	var tgs []elbtypes.TargetGroupTuple
	for i := 0; i < len(weights); i += 2 {
		tgs = append(tgs, elbtypes.TargetGroupTuple{TargetGroupArn: aws.String(weights[i].(string)), Weight: aws.Int32(int32(weights[i+1].(int)))})
	}
	return elbtypes.Action{Type: elbtypes.ActionTypeEnumForward, ForwardConfig: &elbtypes.ForwardActionConfig{TargetGroups: tgs,
		TargetGroupStickinessConfig: &elbtypes.TargetGroupStickinessConfig{Enabled: aws.Bool(true), DurationSeconds: aws.Int32(60)}}}
}

func elbRule(priority string, host string, actions ...elbtypes.Action) elbtypes.Rule {
	r := elbtypes.Rule{RuleArn: aws.String("arn:rule/" + priority), Priority: aws.String(priority), Actions: actions, IsDefault: aws.Bool(priority == "default")}
	if host != "" {
		r.Conditions = []elbtypes.RuleCondition{{Field: aws.String("host-header"), HostHeaderConfig: &elbtypes.HostHeaderConditionConfig{Values: []string{host}}}}
	}
	return r
}

// Requirement: the position is read from the listener itself: a rule as
// Terraform left it (one target group) is 0 % on EKS, a weighted one its
// weights; rules that forward elsewhere or redirect are not the cutover's;
// rules mixing a service's groups with others are refused, not guessed.
func TestParseRules(t *testing.T) {
	single := elbtypes.Action{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String("arn:tg/layering")}
	redirect := elbtypes.Action{Type: elbtypes.ActionTypeEnumRedirect}
	tests := []struct {
		name        string
		rule        elbtypes.Rule
		want        string // service ecs/eks, or "" when not the cutover's
		wantProblem string
	}{
		{"as Terraform left it", elbRule("200", "l", single), "layering 1/0", ""},
		{"weighted", elbRule("200", "l", forwardTo("arn:tg/layering", 75, "arn:tg/layering-eks", 25)), "layering 75/25", ""},
		{"default action", elbRule("default", "", forwardTo("arn:tg/orchestrator", 0, "arn:tg/orchestrator-eks", 100)), "orchestrator 0/100", ""},
		{"redirect", elbRule("50", "x", redirect), "", ""},
		{"someone else's group", elbRule("500", "x", forwardTo("arn:tg/other", 1)), "", ""},
		{"a service's group and a foreign one", elbRule("200", "l", forwardTo("arn:tg/layering", 50, "arn:tg/other", 50)), "", "also to arn:tg/other"},
		{"two services", elbRule("200", "l", forwardTo("arn:tg/layering", 50, "arn:tg/aggregator", 50)), "", "aggregator and layering"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules, problems := ParseRules(80, "arn:listener", []elbtypes.Rule{tt.rule}, testPairs)
			got := ""
			if len(rules) == 1 {
				got = fmt.Sprintf("%s %d/%d", rules[0].Service, rules[0].ECSWeight, rules[0].EKSWeight)
			}
			if got != tt.want {
				t.Errorf("rule = %q, want %q", got, tt.want)
			}
			if (tt.wantProblem == "") != (len(problems) == 0) || (tt.wantProblem != "" && !strings.Contains(problems[0], tt.wantProblem)) {
				t.Errorf("problems = %v, want one with %q", problems, tt.wantProblem)
			}
		})
	}
}

// Requirement: a step rewrites only the forward action's weights: other
// actions (e.g. authentication before the forward), their order and the
// forward's stickiness stay as they were.
func TestWithWeightsKeepsTheRest(t *testing.T) {
	auth := elbtypes.Action{Type: elbtypes.ActionTypeEnumAuthenticateOidc, Order: aws.Int32(1)}
	fwd := forwardTo("arn:tg/layering", 1)
	fwd.Order = aws.Int32(2)
	rules, _ := ParseRules(443, "arn:l", []elbtypes.Rule{elbRule("200", "l", auth, fwd)}, testPairs)
	got := rules[0].withWeights(testPairs[1], 90, 10)
	if len(got) != 2 || got[0].Type != elbtypes.ActionTypeEnumAuthenticateOidc || aws.ToInt32(got[1].Order) != 2 ||
		!aws.ToBool(got[1].ForwardConfig.TargetGroupStickinessConfig.Enabled) {
		t.Fatalf("actions = %+v", got)
	}
	tgs := got[1].ForwardConfig.TargetGroups
	if aws.ToString(tgs[0].TargetGroupArn) != "arn:tg/layering" || aws.ToInt32(tgs[0].Weight) != 90 ||
		aws.ToString(tgs[1].TargetGroupArn) != "arn:tg/layering-eks" || aws.ToInt32(tgs[1].Weight) != 10 {
		t.Fatalf("forward = %+v", tgs)
	}
	if fwd.ForwardConfig.TargetGroups[0].Weight == nil || *fwd.ForwardConfig.TargetGroups[0].Weight != 1 {
		t.Fatal("the described action was changed in place")
	}
}

func rule(key, svc string, ecs, eks int32) Rule {
	port, prio, _ := strings.Cut(key, "/")
	p := int32(80)
	if port == "443" {
		p = 443
	}
	return Rule{Listener: p, Priority: prio, ARN: "arn:" + key, Service: svc, ECSWeight: ecs, EKSWeight: eks}
}

// Requirement: where a cutover stands, and what it does next, come from the
// rules' weights alone: resume after Ctrl-C finishes a half-written step
// first; --to ecs counts ECS's share.
func TestPositionAndRemainingSteps(t *testing.T) {
	tests := []struct {
		name  string
		rules []Rule
		to    Side
		pos   Position
		next  []int
	}{
		{"fresh", []Rule{rule("80/100", "orchestrator", 1, 0), rule("80/200", "layering", 1, 0)}, EKS, Position{0, 0}, []int{10, 25, 50, 100}},
		{"at 25", []Rule{rule("80/100", "orchestrator", 75, 25), rule("80/200", "layering", 75, 25)}, EKS, Position{25, 25}, []int{50, 100}},
		{"interrupted between 10 and 25", []Rule{rule("80/100", "orchestrator", 75, 25), rule("80/200", "layering", 90, 10)}, EKS, Position{10, 25}, []int{25, 50, 100}},
		{"all on EKS", []Rule{rule("80/100", "orchestrator", 0, 100)}, EKS, Position{100, 100}, nil},
		{"back to ECS from all on EKS", []Rule{rule("80/100", "orchestrator", 0, 100)}, ECS, Position{0, 0}, []int{10, 25, 50, 100}},
		{"back to ECS from 75 on EKS", []Rule{rule("80/100", "orchestrator", 25, 75)}, ECS, Position{25, 25}, []int{50, 100}},
		{"rounded shares", []Rule{rule("80/100", "orchestrator", 2, 1)}, EKS, Position{33, 33}, []int{50, 100}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pos := PositionOf(tt.rules, tt.to)
			if pos != tt.pos {
				t.Errorf("position = %+v, want %+v", pos, tt.pos)
			}
			if next := RemainingSteps(DefaultSteps, pos); !reflect.DeepEqual(next, tt.next) {
				t.Errorf("next steps = %v, want %v", next, tt.next)
			}
		})
	}
	if e, k := WeightsFor(25, EKS); e != 75 || k != 25 {
		t.Errorf("25 %% to EKS = ECS %d / EKS %d", e, k)
	}
	if e, k := WeightsFor(25, ECS); e != 25 || k != 75 {
		t.Errorf("25 %% to ECS = ECS %d / EKS %d", e, k)
	}
}

// Requirement: bad --steps are refused with what is wrong.
func TestValidateSteps(t *testing.T) {
	for steps, want := range map[string]string{"": "empty", "10,0": "from 1 to 100", "10,101": "from 1 to 100", "50,25": "must rise", "10,10": "must rise"} {
		var s []int
		for _, f := range strings.Split(steps, ",") {
			if n, err := strconv.Atoi(f); err == nil {
				s = append(s, n)
			}
		}
		if err := ValidateSteps(s); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("steps %q: %v, want %q", steps, err, want)
		}
	}
	if err := ValidateSteps([]int{5, 100}); err != nil {
		t.Error(err)
	}
}

// Requirement: listener rules changed by someone else are shown as the
// difference from what the plugin last wrote.
func TestDiff(t *testing.T) {
	want := []Rule{rule("80/100", "orchestrator", 90, 10), rule("80/200", "layering", 90, 10), rule("80/default", "orchestrator", 90, 10), rule("443/300", "wash-trading", 90, 10)}
	live := []Rule{rule("80/100", "orchestrator", 90, 10), rule("80/200", "layering", 50, 50), rule("80/default", "orchestrator", 90, 10), rule("80/500", "aggregator", 1, 0)}
	live[0].Conditions = "path-pattern /x"
	got := Diff(want, live)
	wantLines := []string{
		`listener 80 rule 100: conditions "path-pattern /x", expected ""`,
		`listener 80 rule 200 (layering): weights ECS 50 / EKS 50, expected ECS 90 / EKS 10`,
		`listener 80 rule 500 (aggregator): new, forwarding ECS 1 / EKS 0`,
		`listener 443 rule 300 (wash-trading): gone (was ECS 90 / EKS 10)`,
	}
	if !reflect.DeepEqual(got, wantLines) {
		t.Errorf("diff:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantLines, "\n"))
	}
	if d := Diff(want, want); len(d) != 0 {
		t.Errorf("no change: %v", d)
	}
}

// Requirement: "stable" is the ServicesStable waiter's own test.
func TestUnstable(t *testing.T) {
	svc := func(name string, deployments int, running, desired int32) ecstypes.Service {
		return ecstypes.Service{ServiceName: aws.String(name), Status: aws.String("ACTIVE"), Deployments: make([]ecstypes.Deployment, deployments), RunningCount: running, DesiredCount: desired}
	}
	got := Unstable([]ecstypes.Service{svc("a", 1, 2, 2), svc("b", 2, 2, 2), svc("c", 1, 1, 2), svc("d", 1, 0, 0)})
	want := []string{"b has 2 deployments (a rollout is in progress)", "c runs 1 of 2 tasks"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("unstable = %v", got)
	}
}

// Requirement: a target group with no healthy targets is never shifted onto;
// the rollback waits for as many healthy targets as the service's desired count.
func TestUnhealthy(t *testing.T) {
	groups := []TargetGroup{{Name: "a"}, {Name: "b"}, {Name: "c"}}
	health := map[string]Health{"a": {Healthy: 2, Total: 2}, "b": {Healthy: 0, Total: 1, Other: map[string]int{"unhealthy Target.FailedHealthChecks": 1}}}
	got := Unhealthy(groups, health, map[string]int{"a": 3})
	want := []string{"a: 2 of 2 targets healthy, need 3", "b: 0 of 1 targets healthy (1 unhealthy Target.FailedHealthChecks), need 1", "c has no registered targets"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("unhealthy:\n%s", strings.Join(got, "\n"))
	}
}

// Requirement: rollback --to-ecs restores the recorded capacity, or the ECS
// baseline's for a service scaled in without a record; never lowers what runs.
func TestRestorePlan(t *testing.T) {
	c, ok := ParseCapacity(Capacity{Desired: 3, Min: 1, Max: 10}.Tag())
	if !ok || c != (Capacity{3, 1, 10}) {
		t.Fatalf("tag round trip: %+v %v", c, ok)
	}
	for _, bad := range []string{"", "desired=x", "desired=1,min=2,max=1"} {
		if _, ok := ParseCapacity(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
	current := map[string]Capacity{"orchestrator": {0, 0, 0}, "layering": {0, 0, 0}, "wash-trading": {2, 1, 10}, "aggregator": {4, 1, 5}}
	recorded := map[string]Capacity{"layering": {3, 2, 8}, "aggregator": {2, 1, 5}}
	has := map[string]bool{"layering": true, "aggregator": true}
	got := RestorePlan(current, recorded, has)
	want := []Restore{
		{Service: "orchestrator", From: Capacity{}, To: Capacity{1, 1, 5}, Source: "baseline"},
		{Service: "layering", From: Capacity{}, To: Capacity{3, 2, 8}, Source: "recorded"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("plan = %+v", got)
	}
}

// Requirement: the preflight names each service whose Kubernetes target group
// no TargetGroupBinding fills (by name, or by ARN as older controllers need).
func TestMissingBindings(t *testing.T) {
	binding := func(svc, field, value string) unstructured.Unstructured {
		return unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"serviceRef": map[string]any{"name": svc, "port": int64(8000)}, field: value}}}
	}
	items := []unstructured.Unstructured{
		binding("orchestrator-service", "targetGroupName", "layering-detection-orchestrator-eks-tg"),
		binding("layering-service", "targetGroupARN", "arn:tg/layering-eks"),
		binding("wash-trading-service", "targetGroupName", "layering-detection-wash-trading-tg"), // the ECS one: wrong
	}
	got := MissingBindings(items, testPairs)
	want := []string{"no TargetGroupBinding binds wash-trading-service to layering-detection-wash-trading-eks-tg",
		"no TargetGroupBinding binds aggregator-service to layering-detection-aggregator-eks-tg"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("missing = %v", got)
	}
}

// Requirement: the first red gate is the one reported.
func TestFirstRed(t *testing.T) {
	if FirstRed([]GateResult{{Gate: "a", State: Green}, {Gate: "b", State: Skip}}) != nil {
		t.Error("no red gate")
	}
	if r := FirstRed([]GateResult{{Gate: "a", State: Green}, {Gate: "b", State: Red}, {Gate: "c", State: Red}}); r == nil || r.Gate != "b" {
		t.Errorf("first red = %+v", r)
	}
}
