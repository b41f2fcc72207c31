package cutover

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// Cutover moves traffic to one side in gated, weighted steps.
type Cutover struct {
	AWS *AWS
	// Gates are kept green before the first step and through every hold,
	// beside the two every cutover has: the receiving target groups have
	// healthy targets, and the ECS services are stable.
	Gates []Gate
	// Bindings is checked once before a cutover to EKS: the target groups it
	// moves traffic onto are filled from the environment's TargetGroupBindings.
	Bindings *BindingsGate
	Record   RecordStore
	Env      string
	To       Side
	Steps    []int
	Hold     time.Duration
	Interval time.Duration // between gate checks
	RedFor   time.Duration // how long a gate must stay red to count
	DryRun   bool
	// ScaleInECS sets the ECS services' desired counts (and autoscaling
	// ranges) to 0 after the last hold at 100 % on EKS, recorded first.
	ScaleInECS bool
	// AcceptLive starts from the live rules even if they differ from the record.
	AcceptLive bool
	Out        io.Writer // progress lines
	Now        func() time.Time

	tl   timeline
	topo *Topology
}

// GateError means a gate was red: before the first step nothing was changed;
// during a hold the weights went back to the last good step.
type GateError struct {
	Gate       GateResult
	Before     bool
	At         int
	RevertedTo int
	To         Side
}

func (e *GateError) Error() string {
	if e.Before {
		return fmt.Sprintf("gate %s is red: %s; nothing was changed", e.Gate.Gate, e.Gate.Detail)
	}
	return fmt.Sprintf("gate %s turned red at %d %% on %s: %s; the weights are back at %d %% on %s, the last good step",
		e.Gate.Gate, e.At, e.To.Label(), e.Gate.Detail, e.RevertedTo, e.To.Label())
}

// DriftError means the rules are not as this plugin last wrote them.
type DriftError struct {
	Diff  []string
	Since string
}

func (e *DriftError) Error() string {
	return fmt.Sprintf("the listener rules changed since %s, not by this cutover; nothing more was changed:\n  - %s\n"+
		"  If the changes are meant, re-run with --accept-live-rules to start from the rules as they are.", e.Since, strings.Join(e.Diff, "\n  - "))
}

// InterruptedError says where a cutover stopped and how to go on or back.
type InterruptedError struct {
	Env string
	To  Side
	At  Position
}

func (e *InterruptedError) Error() string {
	return fmt.Sprintf("interrupted: the rules stay at %s on %s. Continue with: kubectl layering cutover --env %s --to %s; "+
		"go back with: kubectl layering cutover --env %s --to %s (gated steps) or kubectl layering rollback --to-ecs --env %s (at once)",
		e.At, e.To.Label(), e.Env, e.To, e.Env, e.To.Other(), e.Env)
}

// Run: discover, compare with the record, preflight, then step by step:
// shift, read back, hold with the gates green; a red gate reverts.
func (c *Cutover) Run(ctx context.Context) (*Report, error) {
	if c.Now == nil {
		c.Now = time.Now
	}
	c.tl = timeline{out: c.Out, start: c.Now(), now: c.Now}
	rep := &Report{Env: c.Env, To: c.To, Steps: c.Steps, Hold: c.Hold.String(), DryRun: c.DryRun}
	defer func() { rep.Timeline = c.tl.events }()

	live, err := c.discover(ctx)
	if err != nil {
		return rep, err
	}
	rep.Rules, rep.Start = live, PositionOf(live, c.To)
	rep.Plan = RemainingSteps(c.Steps, rep.Start)
	if err := c.compareWithRecord(ctx, live); err != nil {
		rep.Outcome = "refused"
		return rep, err
	}
	c.tl.say("%s: %d rules on %s at %s on %s; steps to take %v, each held %s", c.Env, len(live), c.AWS.ALB, rep.Start, c.To.Label(), rep.Plan, c.Hold)
	c.tl.detail(ruleLines(live))

	if err := c.checkBindings(ctx); err != nil {
		rep.Outcome = "refused"
		return rep, err
	}
	var red *GateResult
	if rep.Gates, red, err = c.settle(ctx, true); err != nil {
		return rep, c.stopped(ctx, rep, err)
	}
	if err := evalError(rep.Gates); err != nil {
		return rep, err
	}
	if red != nil {
		rep.Outcome = "refused"
		return rep, &GateError{Gate: *red, Before: true, To: c.To}
	}
	if c.DryRun {
		rep.Outcome = "dry run"
		c.tl.say("dry run: the gates are green; nothing was changed")
		return rep, nil
	}
	lastGood := rep.Start.Min
	for i, share := range rep.Plan {
		c.tl.say("step %d/%d: %d %% to %s", i+1, len(rep.Plan), share, c.To.Label())
		expected, err := c.shift(ctx, rep, share)
		if err != nil {
			return rep, c.stopped(ctx, rep, err)
		}
		c.tl.detail(ruleLines(expected))
		var red *GateResult
		rep.Gates, red, err = c.hold(ctx, expected, share)
		if err != nil {
			return rep, c.stopped(ctx, rep, err)
		}
		if red != nil {
			return rep, c.revert(ctx, rep, *red, share, lastGood)
		}
		lastGood = share
	}
	if c.ScaleInECS {
		if err := c.scaleIn(ctx, rep); err != nil {
			return rep, c.stopped(ctx, rep, err)
		}
	}
	rep.Outcome = "completed"
	if len(rep.Plan) == 0 && len(rep.ScaledIn) == 0 {
		rep.Outcome = "nothing to do"
	}
	c.tl.say("done: %s on %s", PositionOf(rep.Rules, c.To), c.To.Label())
	return rep, nil
}

// discover finds the load balancer and target groups and reads the rules.
func (c *Cutover) discover(ctx context.Context) ([]Rule, error) {
	topo, err := c.AWS.Discover(ctx)
	if err != nil {
		return nil, err
	}
	c.topo = topo
	c.Gates = append(c.Gates, &TargetsGate{AWS: c.AWS, Topo: topo, To: c.To}, &ECSGate{AWS: c.AWS})
	return c.AWS.ReadRules(ctx, topo)
}

// checkBindings refuses a cutover to EKS whose target groups no
// TargetGroupBinding fills: a missing prerequisite, not a red gate.
func (c *Cutover) checkBindings(ctx context.Context) error {
	if c.Bindings == nil || c.To != EKS {
		return nil
	}
	c.Bindings.Pairs = c.topo.Pairs
	res := c.Bindings.Check(ctx, true)
	c.tl.say("bindings: %s", res.Detail)
	switch {
	case res.Err != nil:
		return res.Err
	case res.State == Red:
		return &MissingError{What: []string{res.Detail}}
	}
	return nil
}

// compareWithRecord refuses live rules that differ from what this plugin
// last wrote, unless told to accept them.
func (c *Cutover) compareWithRecord(ctx context.Context, live []Rule) error {
	if c.Record == nil || c.AcceptLive {
		return nil
	}
	rec, err := c.Record.Load(ctx)
	if err != nil || rec == nil {
		return err
	}
	if diff := Diff(rec.Rules, live); len(diff) > 0 {
		return &DriftError{Diff: diff, Since: fmt.Sprintf("%s wrote them (%s)", rec.By, rec.At.Format(time.RFC3339))}
	}
	return nil
}

// check runs the gates concurrently.
func (c *Cutover) check(ctx context.Context, full bool) []GateResult {
	results := make([]GateResult, len(c.Gates))
	var wg sync.WaitGroup
	for i, g := range c.Gates {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = g.Check(ctx, full)
		}()
	}
	wg.Wait()
	c.tl.say("gates: %s", gateLine(results))
	var lines []string
	for _, r := range results {
		if r.State != Green {
			lines = append(lines, fmt.Sprintf("%s: %s", r.Gate, r.Detail))
		}
	}
	c.tl.detail(lines)
	return results
}

// shift writes one step and reads it back: the rules must now be exactly
// what was written, and that is recorded.
func (c *Cutover) shift(ctx context.Context, rep *Report, share int) ([]Rule, error) {
	if err := c.AWS.SetShare(ctx, c.topo, rep.Rules, share, c.To); err != nil {
		return nil, err
	}
	live, err := c.AWS.ReadRules(ctx, c.topo)
	if err != nil {
		return nil, err
	}
	expected := atShare(rep.Rules, share, c.To)
	rep.Rules = live
	if diff := Diff(expected, live); len(diff) > 0 {
		return nil, &DriftError{Diff: diff, Since: fmt.Sprintf("this step wrote them (%d %% on %s)", share, c.To.Label())}
	}
	return live, c.save(ctx, live, fmt.Sprintf("cutover --to %s: %d %%", c.To, share))
}

// atShare is what the rules look like once they send share % to side to.
func atShare(rules []Rule, share int, to Side) []Rule {
	out := make([]Rule, len(rules))
	for i, r := range rules {
		r.ECSWeight, r.EKSWeight = WeightsFor(share, to)
		out[i] = r
	}
	return out
}

// hold keeps checking the gates, and that the rules stay as written, until
// the hold is over; the last check is the full one.
func (c *Cutover) hold(ctx context.Context, expected []Rule, share int) ([]GateResult, *GateResult, error) {
	deadline := c.Now().Add(c.Hold)
	if c.Hold > 0 {
		c.tl.say("holding %s at %d %% on %s", c.Hold, share, c.To.Label())
	}
	for {
		full := !c.Now().Before(deadline)
		live, err := c.AWS.ReadRules(ctx, c.topo)
		if err != nil {
			return nil, nil, err
		}
		if diff := Diff(expected, live); len(diff) > 0 {
			return nil, nil, &DriftError{Diff: diff, Since: fmt.Sprintf("this cutover set %d %% on %s", share, c.To.Label())}
		}
		results, red, err := c.settle(ctx, full)
		if err != nil {
			return nil, nil, err
		}
		if red != nil || full {
			return results, red, nil
		}
		if err := sleep(ctx, min(c.Interval, deadline.Sub(c.Now()))); err != nil {
			return nil, nil, err
		}
	}
}

// settle checks the gates; a red gate counts only once it has stayed red for
// RedFor, checked every Interval: a lost metrics sample or an autoscaler's
// status between two syncs does not move traffic back (Flagger's threshold,
// in time). It returns the last results and the gate that counts, if any: the
// one red the longest. A gate that could not be evaluated before the first
// step is not waited on.
func (c *Cutover) settle(ctx context.Context, full bool) ([]GateResult, *GateResult, error) {
	results := c.check(ctx, full)
	if red := FirstRed(results); red == nil || c.RedFor <= 0 || (full && evalError(results) != nil) {
		return results, red, ctx.Err()
	}
	redSince := map[string]time.Time{}
	for {
		now := c.Now()
		var counted *GateResult
		for i, r := range results {
			if r.State != Red {
				delete(redSince, r.Gate)
				continue
			}
			if _, ok := redSince[r.Gate]; !ok {
				redSince[r.Gate] = now
				c.tl.say("gate %s is red: it counts once red for %s (checked every %s)", r.Gate, c.RedFor, c.Interval)
			}
			if now.Sub(redSince[r.Gate]) >= c.RedFor && (counted == nil || redSince[r.Gate].Before(redSince[counted.Gate])) {
				counted = &results[i]
			}
		}
		if counted != nil || len(redSince) == 0 {
			return results, counted, ctx.Err()
		}
		wait := c.RedFor
		for _, since := range redSince {
			wait = min(wait, c.RedFor-now.Sub(since))
		}
		if err := sleep(ctx, min(c.Interval, wait)); err != nil {
			return nil, nil, err
		}
		results = c.check(ctx, full)
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(max(d, 0)):
		return nil
	}
}

// revert puts the weights back at the last good step after a red gate.
func (c *Cutover) revert(ctx context.Context, rep *Report, red GateResult, at, lastGood int) error {
	c.tl.say("gate %s is red at %d %%: back to %d %% on %s", red.Gate, at, lastGood, c.To.Label())
	if err := c.AWS.SetShare(ctx, c.topo, rep.Rules, lastGood, c.To); err != nil {
		return c.stopped(ctx, rep, fmt.Errorf("gate %s turned red at %d %% (%s), and reverting to %d %% failed: %w", red.Gate, at, red.Detail, lastGood, err))
	}
	live, err := c.AWS.ReadRules(ctx, c.topo)
	if err != nil {
		return err
	}
	rep.Rules, rep.Outcome = live, "reverted"
	c.tl.detail(ruleLines(live))
	if err := c.save(ctx, live, fmt.Sprintf("cutover --to %s: reverted to %d %% (gate %s)", c.To, lastGood, red.Gate)); err != nil {
		return err
	}
	return &GateError{Gate: red, At: at, RevertedTo: lastGood, To: c.To}
}

// stopped ends a cutover that could not go on: the rules are read back (and
// recorded) as they are, with a context Ctrl-C has not cancelled.
func (c *Cutover) stopped(ctx context.Context, rep *Report, cause error) error {
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if live, err := c.AWS.ReadRules(bg, c.topo); err == nil {
		rep.Rules = live
		_ = c.save(bg, live, fmt.Sprintf("cutover --to %s: stopped at %s", c.To, PositionOf(live, c.To)))
	}
	rep.Outcome = "stopped"
	if _, drift := cause.(*DriftError); drift {
		rep.Outcome = "refused"
	}
	if ctx.Err() != nil {
		rep.Outcome = "interrupted"
		pos := PositionOf(rep.Rules, c.To)
		c.tl.say("interrupted at %s on %s", pos, c.To.Label())
		return &InterruptedError{Env: c.Env, To: c.To, At: pos}
	}
	return cause
}

func (c *Cutover) save(ctx context.Context, rules []Rule, by string) error {
	if c.Record == nil {
		return nil
	}
	return c.Record.Save(ctx, &Record{Rules: rules, By: by, At: c.Now().UTC()})
}

// scaleIn records each ECS service's capacity on the service, then sets it
// to zero, once every rule sends everything to EKS.
func (c *Cutover) scaleIn(ctx context.Context, rep *Report) error {
	if pos := PositionOf(rep.Rules, EKS); pos.Min < 100 {
		return fmt.Errorf("--scale-in-ecs: not every rule sends all traffic to EKS (%s); the ECS services keep running", pos)
	}
	svcs, err := c.AWS.ECSServices(ctx)
	if err != nil {
		return err
	}
	current, _, recorded, err := c.AWS.Capacities(ctx, svcs)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, s := range svcs {
		svc := strings.TrimPrefix(*s.ServiceName, app+"-")
		cur := current[svc]
		if cur.Desired == 0 && cur.Max == 0 {
			continue
		}
		rep.ScaledIn = append(rep.ScaledIn, Restore{Service: svc, From: cur, Source: "scaled in after the cutover"})
		g.Go(func() error {
			if !recorded[svc] { // a second scale-in keeps the first record
				if err := c.AWS.Record(gctx, s, cur); err != nil {
					return err
				}
			}
			return c.AWS.SetCapacity(gctx, svc, Capacity{})
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	c.tl.say("ECS scaled in: %s (recorded on each service's tag %s; rollback --to-ecs restores them)", scaledInLine(rep.ScaledIn), CapacityTag)
	return nil
}

func scaledInLine(rs []Restore) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf("%s %d → 0", r.Service, r.From.Desired)
	}
	return strings.Join(parts, ", ")
}
