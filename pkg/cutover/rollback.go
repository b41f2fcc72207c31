package cutover

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"golang.org/x/sync/errgroup"
)

// ToECS is the fastest safe way back to ECS: restore the ECS services'
// capacity, wait until they are stable and their targets healthy, then put
// every rule on ECS in one pass. It needs no Kubernetes cluster; with one,
// the record is updated and, if asked, the environment scaled down.
type ToECS struct {
	AWS     *AWS
	Record  RecordStore // nil: the cluster is not reachable
	DryRun  bool
	Timeout time.Duration // for stability and healthy targets
	// ScaleDown, when set, scales the Kubernetes environment down once no
	// traffic reaches it, and says what it did.
	ScaleDown func(context.Context) (string, error)
	Out       io.Writer
	Now       func() time.Time

	tl timeline
}

// RollbackReport is the rollback's timeline and outcome.
type RollbackReport struct {
	DryRun      bool      `json:"dryRun,omitempty"`
	Restored    []Restore `json:"restored"`
	Rules       []Rule    `json:"rules"`
	Outcome     string    `json:"outcome"`
	StableAt    float64   `json:"stableAt"`   // seconds after the start: ECS services stable
	HealthyAt   float64   `json:"healthyAt"`  // … and their targets healthy
	AllOnECSAt  float64   `json:"allOnEcsAt"` // … every rule on ECS
	ScaledDown  string    `json:"scaledDown,omitempty"`
	Timeline    []Event   `json:"timeline"`
	Error       string    `json:"error,omitempty"`
	RecordSaved bool      `json:"recordSaved"`
}

// The table is the rules as they end; the timeline is on stderr as it happens.
func (r *RollbackReport) Header() []string {
	return []string{"LISTENER", "RULE", "SERVICE", "ECS", "EKS"}
}

func (r *RollbackReport) Rows() [][]string { return ruleRows(r.Rules) }

// UnhealthyError means the ECS side cannot take the traffic: it stays where it is.
type UnhealthyError struct{ Groups []string }

func (e *UnhealthyError) Error() string {
	return "the ECS target groups are not healthy, so no traffic was moved (it stays where it is):\n  - " + strings.Join(e.Groups, "\n  - ") +
		"\n  Check the ECS services' events (aws ecs describe-services) and target health (aws elbv2 describe-target-health)"
}

// Run: read, restore capacity, wait stable, wait healthy, move every rule.
func (r *ToECS) Run(ctx context.Context) (*RollbackReport, error) {
	if r.Now == nil {
		r.Now = time.Now
	}
	r.tl = timeline{out: r.Out, start: r.Now(), now: r.Now}
	rep := &RollbackReport{DryRun: r.DryRun}
	defer func() { rep.Timeline = r.tl.events }()

	topo, rules, svcs, plan, err := r.read(ctx)
	if err != nil {
		return rep, err
	}
	rep.Rules, rep.Restored = rules, plan
	r.tl.say("read: %d rules at %s on ECS; %s", len(rules), PositionOf(rules, ECS), restoreLine(plan))
	if r.DryRun {
		rep.Outcome = "dry run"
		r.tl.say("dry run: would restore the capacities above, wait until ECS is stable and healthy, then put every rule on ECS")
		return rep, nil
	}
	if err := r.restore(ctx, plan); err != nil {
		return rep, err
	}
	if err := r.AWS.WaitStable(ctx, r.Timeout); err != nil {
		return rep, err
	}
	rep.StableAt = r.since()
	r.tl.say("ECS services stable")
	if err := r.waitHealthy(ctx, topo, svcs, plan); err != nil {
		return rep, err
	}
	rep.HealthyAt = r.since()
	r.tl.say("ECS targets healthy")
	if err := r.AWS.SetShare(ctx, topo, rules, 100, ECS); err != nil {
		return rep, err
	}
	rep.AllOnECSAt = r.since()
	r.tl.say("every rule sends 100 %% to ECS")
	return rep, r.finish(ctx, rep, topo, svcs)
}

// read discovers the topology, the rules, the ECS services and what to restore.
func (r *ToECS) read(ctx context.Context) (*Topology, []Rule, []ecstypes.Service, []Restore, error) {
	topo, err := r.AWS.Discover(ctx)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	rules, err := r.AWS.ReadRules(ctx, topo)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	svcs, err := r.AWS.ECSServices(ctx)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	current, recorded, has, err := r.AWS.Capacities(ctx, svcs)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	return topo, rules, svcs, RestorePlan(current, recorded, has), nil
}

func (r *ToECS) since() float64 { return float64(int(r.Now().Sub(r.tl.start).Seconds()*100)) / 100 }

// restore gives every service its capacity back, all at once.
func (r *ToECS) restore(ctx context.Context, plan []Restore) error {
	if len(plan) == 0 {
		return nil
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, p := range plan {
		g.Go(func() error { return r.AWS.SetCapacity(gctx, p.Service, p.To) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	r.tl.say("ECS capacity set; waiting until the services are stable")
	return nil
}

// waitHealthy polls the ECS target groups until each has as many healthy
// targets as its service's desired count.
func (r *ToECS) waitHealthy(ctx context.Context, topo *Topology, svcs []ecstypes.Service, plan []Restore) error {
	need := map[string]int{}
	for _, s := range svcs {
		svc := strings.TrimPrefix(aws.ToString(s.ServiceName), app+"-")
		need[ECSTargetGroupName(svc)] = int(s.DesiredCount)
	}
	for _, p := range plan {
		need[ECSTargetGroupName(p.Service)] = int(p.To.Desired)
	}
	groups := topo.Groups(ECS)
	deadline := r.Now().Add(r.Timeout)
	for {
		health, err := r.AWS.TargetHealth(ctx, groups)
		if err != nil {
			return err
		}
		bad := Unhealthy(groups, health, need)
		if len(bad) == 0 {
			return nil
		}
		if !r.Now().Before(deadline) {
			r.tl.say("ECS targets still unhealthy after %s: no traffic moved", r.Timeout)
			return &UnhealthyError{Groups: bad}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// finish reads the rules back, forgets the recorded capacities (restored
// now), records the rules and scales the environment down if asked.
func (r *ToECS) finish(ctx context.Context, rep *RollbackReport, topo *Topology, svcs []ecstypes.Service) error {
	live, err := r.AWS.ReadRules(ctx, topo)
	if err != nil {
		return err
	}
	rep.Rules = live
	if pos := PositionOf(live, ECS); pos.Min < 100 {
		return &DriftError{Diff: Diff(atShare(live, 100, ECS), live), Since: "this rollback put every rule on ECS"}
	}
	for _, s := range svcs {
		for _, t := range s.Tags {
			if aws.ToString(t.Key) == CapacityTag {
				if err := r.AWS.Forget(ctx, s); err != nil {
					return err
				}
			}
		}
	}
	rep.Outcome = "all traffic on ECS"
	r.tl.say("all traffic on ECS %.2f s after the start; the ECS services were stable at %.2f s", rep.AllOnECSAt, rep.StableAt)
	if r.Record != nil {
		if err := r.Record.Save(ctx, &Record{Rules: live, By: "rollback --to-ecs", At: r.Now().UTC()}); err != nil {
			r.tl.say("warning: %v (the next cutover will show the rules as changed: run it with --accept-live-rules)", err)
		} else {
			rep.RecordSaved = true
		}
	}
	if r.ScaleDown != nil {
		what, err := r.ScaleDown(ctx)
		if err != nil {
			return fmt.Errorf("all traffic is on ECS, but scaling the Kubernetes environment down failed: %w", err)
		}
		rep.ScaledDown = what
		r.tl.say("Kubernetes environment scaled down: %s", what)
	}
	return nil
}

func restoreLine(plan []Restore) string {
	if len(plan) == 0 {
		return "the ECS services run their capacity already"
	}
	parts := make([]string, len(plan))
	for i, p := range plan {
		parts[i] = fmt.Sprintf("%s %d → %d (%s)", p.Service, p.From.Desired, p.To.Desired, p.Source)
		if p.To.Min != p.From.Min || p.To.Max != p.From.Max {
			parts[i] = fmt.Sprintf("%s %d → %d, range %d–%d (%s)", p.Service, p.From.Desired, p.To.Desired, p.To.Min, p.To.Max, p.Source)
		}
	}
	return "restore " + strings.Join(parts, ", ")
}
