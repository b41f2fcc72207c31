package cutover

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// The pure decisions of the cutover and the rollback, table-tested.

// DefaultSteps are the receiving side's shares a cutover moves through.
var DefaultSteps = []int{10, 25, 50, 100}

// ValidateSteps accepts strictly rising percentages from 1 to 100.
func ValidateSteps(steps []int) error {
	if len(steps) == 0 {
		return fmt.Errorf("--steps is empty: give the percentages to move through, e.g. 10,25,50,100")
	}
	for i, s := range steps {
		if s < 1 || s > 100 {
			return fmt.Errorf("--steps %d: each step is a percentage from 1 to 100", s)
		}
		if i > 0 && s <= steps[i-1] {
			return fmt.Errorf("--steps %v: the steps must rise (%d after %d)", steps, s, steps[i-1])
		}
	}
	return nil
}

// Position is where the rules stand: the lowest and highest share any rule
// sends to the receiving side. They differ only when a step was interrupted
// halfway (or someone moved one rule by hand).
type Position struct {
	Min int `json:"min"`
	Max int `json:"max"`
}

func (p Position) String() string {
	if p.Min == p.Max {
		return fmt.Sprintf("%d %%", p.Min)
	}
	return fmt.Sprintf("%d–%d %%", p.Min, p.Max)
}

// PositionOf reads the position toward side to from the rules' weights.
func PositionOf(rules []Rule, to Side) Position {
	if len(rules) == 0 {
		return Position{}
	}
	p := Position{Min: 100, Max: 0}
	for _, r := range rules {
		s := r.Share(to)
		p.Min, p.Max = min(p.Min, s), max(p.Max, s)
	}
	return p
}

// RemainingSteps are the steps still to take from pos: every step above the
// least-moved rule, so a step interrupted halfway is finished first.
func RemainingSteps(steps []int, pos Position) []int {
	var out []int
	for _, s := range steps {
		if s > pos.Min {
			out = append(out, s)
		}
	}
	return out
}

// WeightsFor are the ECS and EKS weights that send share % to side to.
func WeightsFor(share int, to Side) (ecs, eks int32) {
	if to == EKS {
		return int32(100 - share), int32(share)
	}
	return int32(share), int32(100 - share)
}

// AtShare tells whether rule r already sends exactly share % to side to, with
// the weights this plugin writes.
func AtShare(r Rule, share int, to Side) bool {
	ecs, eks := WeightsFor(share, to)
	return r.ECSWeight == ecs && r.EKSWeight == eks
}

// Diff lists how the live rules differ from the expected ones (what this
// plugin wrote last): weights, conditions, rules replaced, added or gone.
func Diff(want, live []Rule) []string {
	byKey := func(rules []Rule) map[string]Rule {
		m := map[string]Rule{}
		for _, r := range rules {
			m[r.Key()] = r
		}
		return m
	}
	w, l := byKey(want), byKey(live)
	keys := map[string]bool{}
	for k := range w {
		keys[k] = true
	}
	for k := range l {
		keys[k] = true
	}
	var out []string
	for _, k := range sortedRuleKeys(keys) {
		a, inWant := w[k]
		b, inLive := l[k]
		switch {
		case !inLive:
			out = append(out, fmt.Sprintf("%s (%s): gone (was %s)", a.Name(), a.Service, a.Weights()))
		case !inWant:
			out = append(out, fmt.Sprintf("%s (%s): new, forwarding %s", b.Name(), b.Service, b.Weights()))
		default:
			if a.ARN != b.ARN {
				out = append(out, fmt.Sprintf("%s: replaced by another rule (%s, was %s)", b.Name(), b.ARN, a.ARN))
			}
			if a.Service != b.Service {
				out = append(out, fmt.Sprintf("%s: forwards to %s's target groups, was %s's", b.Name(), b.Service, a.Service))
			}
			if a.ECSWeight != b.ECSWeight || a.EKSWeight != b.EKSWeight {
				out = append(out, fmt.Sprintf("%s (%s): weights %s, expected %s", b.Name(), b.Service, b.Weights(), a.Weights()))
			}
			if a.Conditions != b.Conditions {
				out = append(out, fmt.Sprintf("%s: conditions %q, expected %q", b.Name(), b.Conditions, a.Conditions))
			}
		}
	}
	return out
}

// sortedRuleKeys orders listener/priority keys by port, then priority, the
// default action last, as the ALB evaluates them.
func sortedRuleKeys(keys map[string]bool) []string {
	out := slices.Sorted(maps.Keys(keys))
	sort.SliceStable(out, func(i, j int) bool {
		pi, ri, _ := strings.Cut(out[i], "/")
		pj, rj, _ := strings.Cut(out[j], "/")
		if pi != pj {
			a, _ := strconv.Atoi(pi)
			b, _ := strconv.Atoi(pj)
			return a < b
		}
		a, errA := strconv.Atoi(ri)
		b, errB := strconv.Atoi(rj)
		if errA != nil || errB != nil {
			return errB != nil && errA == nil // numbers before "default"
		}
		return a < b
	})
	return out
}

// Unstable lists the ECS services that are not steady, by the ServicesStable
// waiter's own test: one deployment, running as many tasks as desired.
func Unstable(services []ecstypes.Service) []string {
	var out []string
	for _, s := range services {
		name := aws.ToString(s.ServiceName)
		switch {
		case aws.ToString(s.Status) != "ACTIVE":
			out = append(out, fmt.Sprintf("%s is %s", name, aws.ToString(s.Status)))
		case len(s.Deployments) != 1:
			out = append(out, fmt.Sprintf("%s has %d deployments (a rollout is in progress)", name, len(s.Deployments)))
		case s.RunningCount != s.DesiredCount:
			out = append(out, fmt.Sprintf("%s runs %d of %d tasks", name, s.RunningCount, s.DesiredCount))
		}
	}
	return out
}

// Health is one target group's targets by state.
type Health struct {
	Healthy int            `json:"healthy"`
	Total   int            `json:"total"`
	Other   map[string]int `json:"other,omitempty"` // state (reason) → targets
}

func (h Health) String() string {
	s := fmt.Sprintf("%d of %d targets healthy", h.Healthy, h.Total)
	var others []string
	for k, n := range h.Other {
		others = append(others, fmt.Sprintf("%d %s", n, k))
	}
	sort.Strings(others)
	if len(others) > 0 {
		s += " (" + strings.Join(others, ", ") + ")"
	}
	return s
}

// Unhealthy lists the target groups with fewer healthy targets than needed
// (at least one each; need raises it per group name).
func Unhealthy(groups []TargetGroup, health map[string]Health, need map[string]int) []string {
	var out []string
	for _, g := range groups {
		h := health[g.Name]
		want := max(1, need[g.Name])
		if h.Healthy < want {
			if h.Total == 0 {
				out = append(out, fmt.Sprintf("%s has no registered targets", g.Name))
				continue
			}
			out = append(out, fmt.Sprintf("%s: %s, need %d", g.Name, h, want))
		}
	}
	return out
}

// Capacity is an ECS service's desired count and its autoscaling range.
type Capacity struct {
	Desired int32 `json:"desired"`
	Min     int32 `json:"min"`
	Max     int32 `json:"max"`
}

func (c Capacity) String() string {
	return fmt.Sprintf("desired %d (min %d, max %d)", c.Desired, c.Min, c.Max)
}

// CapacityTag is the ECS service tag that records a service's capacity
// before the cutover scaled it in, so the rollback can restore it.
const CapacityTag = "kubectl-layering/capacity-before-scale-in"

// Tag is the capacity as the tag's value.
func (c Capacity) Tag() string {
	return fmt.Sprintf("desired=%d,min=%d,max=%d", c.Desired, c.Min, c.Max)
}

// ParseCapacity reads a CapacityTag value.
func ParseCapacity(v string) (Capacity, bool) {
	var c Capacity
	n, err := fmt.Sscanf(v, "desired=%d,min=%d,max=%d", &c.Desired, &c.Min, &c.Max)
	if err != nil || n != 3 || c.Desired < 0 || c.Min < 0 || c.Max < c.Min {
		return Capacity{}, false
	}
	return c, true
}

// Baseline is the ECS deployment's capacity as Terraform set it
// (shared/spec/ecs-baseline.md): what a rollback restores when nothing was recorded.
var Baseline = map[string]Capacity{
	"orchestrator": {Desired: 1, Min: 1, Max: 5},
	"layering":     {Desired: 2, Min: 1, Max: 10},
	"wash-trading": {Desired: 2, Min: 1, Max: 10},
	"aggregator":   {Desired: 1, Min: 1, Max: 5},
}

// Restore is what a rollback does to one ECS service's capacity.
type Restore struct {
	Service string   `json:"service"`
	From    Capacity `json:"from"`
	To      Capacity `json:"to"`
	Source  string   `json:"source"` // recorded (the tag), baseline (nothing recorded: the ECS baseline's)
}

// RestorePlan decides, per service, the capacity to give back: the recorded
// one, else the baseline's for a service scaled in to nothing. Services that
// run at least that already are left alone.
func RestorePlan(current, recorded map[string]Capacity, hasRecord map[string]bool) []Restore {
	var out []Restore
	for _, svc := range Services {
		cur := current[svc]
		to, source := recorded[svc], "recorded"
		if !hasRecord[svc] {
			if cur.Desired > 0 {
				continue
			}
			to, source = Baseline[svc], "baseline"
		}
		if cur.Desired >= to.Desired && cur.Min == to.Min && cur.Max == to.Max {
			continue
		}
		if cur.Desired > to.Desired {
			to.Desired = cur.Desired // never lower what runs now
		}
		out = append(out, Restore{Service: svc, From: cur, To: to, Source: source})
	}
	return out
}
