package server

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

func seededListeners(t *testing.T, c *elb.Client) (lb elbtypes.LoadBalancer, http80, https443 elbtypes.Listener) {
	t.Helper()
	lbs, err := c.DescribeLoadBalancers(ctx(t), &elb.DescribeLoadBalancersInput{Names: []string{"layering-detection-alb"}})
	if err != nil || len(lbs.LoadBalancers) != 1 {
		t.Fatalf("load balancer: %v", err)
	}
	ls, err := c.DescribeListeners(ctx(t), &elb.DescribeListenersInput{LoadBalancerArn: lbs.LoadBalancers[0].LoadBalancerArn})
	if err != nil || len(ls.Listeners) != 2 {
		t.Fatalf("listeners: %v %+v", err, ls)
	}
	return lbs.LoadBalancers[0], ls.Listeners[0], ls.Listeners[1]
}

// Requirement: the ALB is seeded as Terraform left it: listeners 80 and 443
// (certificate, TLS 1.2 policy), rules 100–400 forwarding to the services'
// target groups, which DescribeTargetGroups knows.
func TestELBSeededLoadBalancer(t *testing.T) {
	ts := startServer(t)
	c := elb.NewFromConfig(ts.cfg)
	lb, h, s := seededListeners(t, c)
	if lb.Scheme != elbtypes.LoadBalancerSchemeEnumInternetFacing || lb.State.Code != elbtypes.LoadBalancerStateEnumActive || lb.CreatedTime == nil {
		t.Fatalf("load balancer %+v", lb)
	}
	if aws.ToInt32(h.Port) != 80 || aws.ToInt32(s.Port) != 443 || aws.ToString(s.SslPolicy) != "ELBSecurityPolicy-TLS-1-2-2017-01" ||
		aws.ToString(s.Certificates[0].CertificateArn) != "arn:aws:acm:us-east-1:210987654321:certificate/3f6b2a1c-8d4e-4f7a-9b0c-5e1d2c3b4a69" {
		t.Fatalf("listeners %+v %+v", h, s)
	}
	rules, err := c.DescribeRules(ctx(t), &elb.DescribeRulesInput{ListenerArn: h.ListenerArn})
	if err != nil || len(rules.Rules) != 5 {
		t.Fatalf("rules: %v %+v", err, rules)
	}
	var got []string
	for _, r := range rules.Rules {
		cond := "-"
		if len(r.Conditions) > 0 {
			cond = aws.ToString(r.Conditions[0].Field) + "=" + strings.Join(r.Conditions[0].Values, ",")
		}
		tgs, err := c.DescribeTargetGroups(ctx(t), &elb.DescribeTargetGroupsInput{TargetGroupArns: []string{aws.ToString(r.Actions[0].TargetGroupArn)}})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, aws.ToString(r.Priority)+" "+cond+" "+aws.ToString(tgs.TargetGroups[0].TargetGroupName))
	}
	want := "100 path-pattern=/orchestrate*,/health,/ layering-detection-orchestrator-tg|" +
		"200 host-header=layering.layering-detection.local layering-detection-layering-tg|" +
		"300 host-header=wash-trading.layering-detection.local layering-detection-wash-trading-tg|" +
		"400 host-header=aggregator.layering-detection.local layering-detection-aggregator-tg|" +
		"default - layering-detection-orchestrator-tg"
	if strings.Join(got, "|") != want {
		t.Fatalf("rules:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.ReplaceAll(want, "|", "\n"))
	}
}

// Requirement: DescribeTargetGroups pages with Marker/NextMarker; a bad marker
// is ValidationError.
func TestELBTargetGroupsPagination(t *testing.T) {
	ts := startServer(t)
	c := elb.NewFromConfig(ts.noRetry())
	var names []string
	pages := 0
	p := elb.NewDescribeTargetGroupsPaginator(c, &elb.DescribeTargetGroupsInput{PageSize: aws.Int32(3)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, tg := range out.TargetGroups {
			names = append(names, aws.ToString(tg.TargetGroupName))
			if aws.ToString(tg.HealthCheckPath) != "/health" || tg.TargetType != elbtypes.TargetTypeEnumIp {
				t.Errorf("%s: %+v", aws.ToString(tg.TargetGroupName), tg)
			}
		}
	}
	if pages != 3 || len(names) != 8 || !strings.Contains(strings.Join(names, ","), "layering-detection-wash-trading-eks-tg") {
		t.Fatalf("%d pages: %v", pages, names)
	}
	_, err := c.DescribeTargetGroups(ctx(t), &elb.DescribeTargetGroupsInput{Marker: aws.String("nope")})
	assertAPIError(t, err, "ValidationError", http.StatusBadRequest)
	_, err = c.DescribeTargetGroups(ctx(t), &elb.DescribeTargetGroupsInput{Names: []string{"nope"}})
	assertAPIError(t, err, "TargetGroupNotFound", http.StatusBadRequest)
	var nf *elbtypes.TargetGroupNotFoundException
	if !errorsAs(err, &nf) {
		t.Fatalf("not the modeled TargetGroupNotFoundException: %T", err)
	}
}

// Requirement: the weighted cutover: ModifyRule and ModifyListener forward to
// the ECS and Kubernetes target groups by weight, and DescribeRules shows it.
func TestELBWeightedCutover(t *testing.T) {
	ts := startServer(t)
	c := elb.NewFromConfig(ts.noRetry())
	_, h, _ := seededListeners(t, c)
	rules, _ := c.DescribeRules(ctx(t), &elb.DescribeRulesInput{ListenerArn: h.ListenerArn})
	ecsTG := aws.ToString(rules.Rules[1].Actions[0].TargetGroupArn)
	eksTG := ts.st.targetGroupArn("layering-eks-tg")
	weighted := []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, ForwardConfig: &elbtypes.ForwardActionConfig{TargetGroups: []elbtypes.TargetGroupTuple{
		{TargetGroupArn: aws.String(ecsTG), Weight: aws.Int32(90)}, {TargetGroupArn: aws.String(eksTG), Weight: aws.Int32(10)}}}}}
	out, err := c.ModifyRule(ctx(t), &elb.ModifyRuleInput{RuleArn: rules.Rules[1].RuleArn, Actions: weighted})
	if err != nil {
		t.Fatal(err)
	}
	if tgs := out.Rules[0].Actions[0].ForwardConfig.TargetGroups; len(tgs) != 2 || aws.ToInt32(tgs[1].Weight) != 10 || out.Rules[0].Actions[0].TargetGroupArn != nil {
		t.Fatalf("modified rule %+v", out.Rules[0].Actions[0])
	}
	again, _ := c.DescribeRules(ctx(t), &elb.DescribeRulesInput{RuleArns: []string{aws.ToString(rules.Rules[1].RuleArn)}})
	if w := again.Rules[0].Actions[0].ForwardConfig.TargetGroups[0].Weight; aws.ToInt32(w) != 90 {
		t.Fatalf("described weight %v", w)
	}
	tgs, _ := c.DescribeTargetGroups(ctx(t), &elb.DescribeTargetGroupsInput{TargetGroupArns: []string{eksTG}})
	if len(tgs.TargetGroups[0].LoadBalancerArns) != 1 {
		t.Fatalf("the Kubernetes target group is now behind the ALB: %+v", tgs.TargetGroups[0])
	}
	if _, err := c.ModifyListener(ctx(t), &elb.ModifyListenerInput{ListenerArn: h.ListenerArn, DefaultActions: weighted}); err != nil {
		t.Fatal(err)
	}
	_, err = c.ModifyRule(ctx(t), &elb.ModifyRuleInput{RuleArn: rules.Rules[1].RuleArn, Actions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward,
		TargetGroupArn: aws.String(ecsTG + "x")}}})
	assertAPIError(t, err, "TargetGroupNotFound", http.StatusBadRequest)
	_, err = c.ModifyRule(ctx(t), &elb.ModifyRuleInput{RuleArn: aws.String(aws.ToString(rules.Rules[1].RuleArn) + "x"), Actions: weighted})
	assertAPIError(t, err, "RuleNotFound", http.StatusBadRequest)
	_, err = c.DescribeRules(ctx(t), &elb.DescribeRulesInput{})
	assertAPIError(t, err, "ValidationError", http.StatusBadRequest)
}

// Requirement: target health follows the ECS service's running tasks.
func TestELBTargetHealthFollowsECS(t *testing.T) {
	ts := startServer(t)
	c := elb.NewFromConfig(ts.cfg)
	tg := ts.st.targetGroupArn("layering-tg")
	health := func() (healthy, other int) {
		out, err := c.DescribeTargetHealth(ctx(t), &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(tg)})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range out.TargetHealthDescriptions {
			if d.TargetHealth.State == elbtypes.TargetHealthStateEnumHealthy {
				healthy++
			} else {
				other++
			}
			if aws.ToInt32(d.Target.Port) != 8001 || !strings.HasPrefix(aws.ToString(d.Target.Id), "10.0.") {
				t.Fatalf("target %+v", d.Target)
			}
		}
		return
	}
	if h, o := health(); h != 2 || o != 0 {
		t.Fatalf("seeded: %d healthy, %d other", h, o)
	}
	e := ecs.NewFromConfig(ts.cfg)
	if _, err := e.UpdateService(ctx(t), &ecs.UpdateServiceInput{Cluster: aws.String(cluster), Service: aws.String("layering-detection-layering"), DesiredCount: aws.Int32(4)}); err != nil {
		t.Fatal(err)
	}
	if err := ecs.NewServicesStableWaiter(e, func(o *ecs.ServicesStableWaiterOptions) { o.MinDelay = 100 * time.Millisecond }).Wait(ctx(t),
		&ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: []string{"layering-detection-layering"}}, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if h, o := health(); h != 4 || o != 0 {
		t.Fatalf("scaled to 4: %d healthy, %d other", h, o)
	}
	empty, err := c.DescribeTargetHealth(ctx(t), &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(ts.st.targetGroupArn("layering-eks-tg"))})
	if err != nil || len(empty.TargetHealthDescriptions) != 0 {
		t.Fatalf("the Kubernetes target group starts empty: %v %+v", err, empty)
	}
}
