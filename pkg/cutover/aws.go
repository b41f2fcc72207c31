package cutover

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"golang.org/x/sync/errgroup"

	"github.com/layering-detection/kubectl-layering/pkg/awsconfig"
)

// AWS is the ECS deployment the cutover works on: its ECS cluster, its load
// balancer, and the clients to reach them. Each method is one small use of
// the SDK; errors come back through awsconfig.Explain.
type AWS struct {
	ELB     *elb.Client
	ECS     *ecs.Client
	Scaling *aas.Client
	Cluster string // the ECS cluster, e.g. layering-detection-cluster
	ALB     string // the ECS deployment's load balancer, e.g. layering-detection-alb
}

// Topology is the load balancer's listeners and every service's target groups.
type Topology struct {
	LoadBalancerARN string
	Listeners       []elbtypes.Listener
	Pairs           []Pair
}

// Pair is the named service's pair.
func (t *Topology) Pair(svc string) Pair {
	for _, p := range t.Pairs {
		if p.Service == svc {
			return p
		}
	}
	return Pair{}
}

// Groups are the target groups of one side, in service order.
func (t *Topology) Groups(s Side) []TargetGroup {
	out := make([]TargetGroup, len(t.Pairs))
	for i, p := range t.Pairs {
		out[i] = p.Group(s)
	}
	return out
}

// MissingError names what the cutover needs on AWS and did not find.
type MissingError struct{ What []string }

func (e *MissingError) Error() string {
	return "the ECS deployment lacks what the cutover needs:\n  - " + strings.Join(e.What, "\n  - ")
}

// Discover finds the load balancer, its listeners and the eight target groups.
func (a *AWS) Discover(ctx context.Context) (*Topology, error) {
	lbs, err := a.ELB.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{Names: []string{a.ALB}})
	var notFound *elbtypes.LoadBalancerNotFoundException
	if errors.As(err, &notFound) || (err == nil && len(lbs.LoadBalancers) == 0) {
		return nil, &MissingError{[]string{fmt.Sprintf("load balancer %s (the ECS deployment's ALB; --alb names another)", a.ALB)}}
	}
	if err != nil {
		return nil, awsconfig.Explain(err)
	}
	t := &Topology{LoadBalancerARN: aws.ToString(lbs.LoadBalancers[0].LoadBalancerArn)}
	byName := map[string]string{}
	p := elb.NewDescribeTargetGroupsPaginator(a.ELB, &elb.DescribeTargetGroupsInput{PageSize: aws.Int32(400)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, awsconfig.Explain(err)
		}
		for _, g := range page.TargetGroups {
			byName[aws.ToString(g.TargetGroupName)] = aws.ToString(g.TargetGroupArn)
		}
	}
	var missing []string
	group := func(name, what string) TargetGroup {
		arn, ok := byName[name]
		if !ok {
			missing = append(missing, fmt.Sprintf("target group %s (%s)", name, what))
		}
		return TargetGroup{Name: name, ARN: arn}
	}
	for _, svc := range Services {
		t.Pairs = append(t.Pairs, Pair{Service: svc,
			ECS: group(ECSTargetGroupName(svc), "the ECS service's"),
			EKS: group(EKSTargetGroupName(svc), "the Kubernetes side's, filled by the TargetGroupBinding; create it beside the ECS one, target type ip")})
	}
	if len(missing) > 0 {
		return nil, &MissingError{missing}
	}
	lp := elb.NewDescribeListenersPaginator(a.ELB, &elb.DescribeListenersInput{LoadBalancerArn: aws.String(t.LoadBalancerARN)})
	for lp.HasMorePages() {
		page, err := lp.NextPage(ctx)
		if err != nil {
			return nil, awsconfig.Explain(err)
		}
		t.Listeners = append(t.Listeners, page.Listeners...)
	}
	sort.Slice(t.Listeners, func(i, j int) bool { return aws.ToInt32(t.Listeners[i].Port) < aws.ToInt32(t.Listeners[j].Port) })
	return t, nil
}

// RulesProblemError means rules forward in ways the cutover must not guess about.
type RulesProblemError struct{ Problems []string }

func (e *RulesProblemError) Error() string {
	return "listener rules the cutover cannot move (change them, then re-run):\n  - " + strings.Join(e.Problems, "\n  - ")
}

// ReadRules reads every listener's rules and keeps those of the pairs.
func (a *AWS) ReadRules(ctx context.Context, t *Topology) ([]Rule, error) {
	var out []Rule
	var problems []string
	for _, l := range t.Listeners {
		var rules []elbtypes.Rule
		p := elb.NewDescribeRulesPaginator(a.ELB, &elb.DescribeRulesInput{ListenerArn: l.ListenerArn, PageSize: aws.Int32(400)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, awsconfig.Explain(err)
			}
			rules = append(rules, page.Rules...)
		}
		got, bad := ParseRules(aws.ToInt32(l.Port), aws.ToString(l.ListenerArn), rules, t.Pairs)
		out, problems = append(out, got...), append(problems, bad...)
	}
	if len(problems) > 0 {
		return nil, &RulesProblemError{problems}
	}
	if len(out) == 0 {
		return nil, &MissingError{[]string{fmt.Sprintf("a listener rule of %s forwarding to a service's target groups (%s, …)", a.ALB, ECSTargetGroupName(Services[0]))}}
	}
	return out, nil
}

// SetShare writes every rule not yet there to send share % to side to, all
// at once; the default actions through ModifyListener, as ELBv2 documents.
func (a *AWS) SetShare(ctx context.Context, t *Topology, rules []Rule, share int, to Side) error {
	ecsW, eksW := WeightsFor(share, to)
	g, gctx := errgroup.WithContext(ctx)
	for _, r := range rules {
		if AtShare(r, share, to) {
			continue
		}
		actions := r.withWeights(t.Pair(r.Service), ecsW, eksW)
		g.Go(func() error {
			var err error
			if r.Priority == "default" {
				_, err = a.ELB.ModifyListener(gctx, &elb.ModifyListenerInput{ListenerArn: aws.String(r.ListenerARN), DefaultActions: actions})
			} else {
				_, err = a.ELB.ModifyRule(gctx, &elb.ModifyRuleInput{RuleArn: aws.String(r.ARN), Actions: actions})
			}
			if err != nil {
				return fmt.Errorf("%s: %w", r.Name(), awsconfig.Explain(err))
			}
			return nil
		})
	}
	return g.Wait()
}

// TargetHealth reads the targets of each group by state.
func (a *AWS) TargetHealth(ctx context.Context, groups []TargetGroup) (map[string]Health, error) {
	out := map[string]Health{}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	for _, tg := range groups {
		g.Go(func() error {
			res, err := a.ELB.DescribeTargetHealth(gctx, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(tg.ARN)})
			if err != nil {
				return awsconfig.Explain(err)
			}
			h := Health{Other: map[string]int{}}
			for _, d := range res.TargetHealthDescriptions {
				h.Total++
				if d.TargetHealth == nil {
					continue
				}
				if d.TargetHealth.State == elbtypes.TargetHealthStateEnumHealthy {
					h.Healthy++
					continue
				}
				k := string(d.TargetHealth.State)
				if d.TargetHealth.Reason != "" {
					k += " " + string(d.TargetHealth.Reason)
				}
				h.Other[k]++
			}
			mu.Lock()
			out[tg.Name] = h
			mu.Unlock()
			return nil
		})
	}
	return out, g.Wait()
}

// ECSServices describes the four ECS services with their tags.
func (a *AWS) ECSServices(ctx context.Context) ([]ecstypes.Service, error) {
	names := make([]string, len(Services))
	for i, s := range Services {
		names[i] = ECSServiceName(s)
	}
	out, err := a.ECS.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(a.Cluster), Services: names, Include: []ecstypes.ServiceField{ecstypes.ServiceFieldTags}})
	if err != nil {
		var nf *ecstypes.ClusterNotFoundException
		if errors.As(err, &nf) {
			return nil, &MissingError{[]string{fmt.Sprintf("ECS cluster %s (--ecs-cluster names another)", a.Cluster)}}
		}
		return nil, awsconfig.Explain(err)
	}
	if len(out.Failures) > 0 {
		var missing []string
		for _, f := range out.Failures {
			missing = append(missing, fmt.Sprintf("ECS service %s in cluster %s (%s)", aws.ToString(f.Arn), a.Cluster, aws.ToString(f.Reason)))
		}
		return nil, &MissingError{missing}
	}
	return out.Services, nil
}

func resourceID(cluster, svc string) string { return "service/" + cluster + "/" + ECSServiceName(svc) }

// Capacities reads each service's desired count and autoscaling range, and
// the capacity recorded before a scale-in (hasRecord) from its tag.
func (a *AWS) Capacities(ctx context.Context, services []ecstypes.Service) (current, recorded map[string]Capacity, hasRecord map[string]bool, err error) {
	current, recorded, hasRecord = map[string]Capacity{}, map[string]Capacity{}, map[string]bool{}
	ids := make([]string, len(Services))
	for i, s := range Services {
		ids[i] = resourceID(a.Cluster, s)
	}
	ranges := map[string][2]int32{}
	p := aas.NewDescribeScalableTargetsPaginator(a.Scaling, &aas.DescribeScalableTargetsInput{ServiceNamespace: aastypes.ServiceNamespaceEcs,
		ResourceIds: ids, ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, nil, nil, awsconfig.Explain(err)
		}
		for _, t := range page.ScalableTargets {
			ranges[aws.ToString(t.ResourceId)] = [2]int32{aws.ToInt32(t.MinCapacity), aws.ToInt32(t.MaxCapacity)}
		}
	}
	for _, s := range services {
		svc := strings.TrimPrefix(aws.ToString(s.ServiceName), app+"-")
		r, scaled := ranges[resourceID(a.Cluster, svc)]
		if !scaled { // no autoscaling: the range is the desired count
			r = [2]int32{s.DesiredCount, s.DesiredCount}
		}
		current[svc] = Capacity{Desired: s.DesiredCount, Min: r[0], Max: r[1]}
		for _, t := range s.Tags {
			if aws.ToString(t.Key) == CapacityTag {
				recorded[svc], hasRecord[svc] = ParseCapacity(aws.ToString(t.Value))
			}
		}
	}
	return current, recorded, hasRecord, nil
}

// SetCapacity gives one ECS service a range and a desired count: the range
// first, so autoscaling does not pull the desired count back.
func (a *AWS) SetCapacity(ctx context.Context, svc string, c Capacity) error {
	if _, err := a.Scaling.RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{ServiceNamespace: aastypes.ServiceNamespaceEcs,
		ResourceId: aws.String(resourceID(a.Cluster, svc)), ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount,
		MinCapacity: aws.Int32(c.Min), MaxCapacity: aws.Int32(c.Max)}); err != nil {
		return fmt.Errorf("%s: %w", ECSServiceName(svc), awsconfig.Explain(err))
	}
	if _, err := a.ECS.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String(a.Cluster), Service: aws.String(ECSServiceName(svc)), DesiredCount: aws.Int32(c.Desired)}); err != nil {
		return fmt.Errorf("%s: %w", ECSServiceName(svc), awsconfig.Explain(err))
	}
	return nil
}

// Record tags a service with its capacity before a scale-in; Forget removes it.
func (a *AWS) Record(ctx context.Context, s ecstypes.Service, c Capacity) error {
	_, err := a.ECS.TagResource(ctx, &ecs.TagResourceInput{ResourceArn: s.ServiceArn, Tags: []ecstypes.Tag{{Key: aws.String(CapacityTag), Value: aws.String(c.Tag())}}})
	return awsconfig.Explain(err)
}

func (a *AWS) Forget(ctx context.Context, s ecstypes.Service) error {
	_, err := a.ECS.UntagResource(ctx, &ecs.UntagResourceInput{ResourceArn: s.ServiceArn, TagKeys: []string{CapacityTag}})
	return awsconfig.Explain(err)
}

// WaitStable waits, with the SDK's ServicesStable waiter polling every
// second, until every ECS service runs its desired count in one deployment.
func (a *AWS) WaitStable(ctx context.Context, timeout time.Duration) error {
	names := make([]string, len(Services))
	for i, s := range Services {
		names[i] = ECSServiceName(s)
	}
	w := ecs.NewServicesStableWaiter(a.ECS, func(o *ecs.ServicesStableWaiterOptions) { o.MinDelay, o.MaxDelay = time.Second, time.Second })
	if err := w.Wait(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(a.Cluster), Services: names}, timeout); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("the ECS services did not become stable within %s: %w", timeout, awsconfig.Explain(err))
	}
	return nil
}
