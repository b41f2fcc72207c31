package cutover

import (
	"context"
	"testing"
	"time"
)

// gateScript is a gate whose verdicts are given in turn (the last one repeats).
type gateScript struct {
	name   string
	states []GateState
	calls  int
}

func (g *gateScript) Name() string { return g.name }

func (g *gateScript) Check(context.Context, bool) GateResult {
	s := g.states[min(g.calls, len(g.states)-1)]
	g.calls++
	return GateResult{Gate: g.Name(), State: s}
}

// Requirement: a gate counts as red only once it has stayed red for
// --red-for: a blip (one lost metrics sample) does not move traffic back; a
// gate that stays red does, after that time; --red-for 0 acts at once.
func TestSettle(t *testing.T) {
	tests := []struct {
		name   string
		states []GateState
		redFor time.Duration
		red    bool
		checks int
	}{
		{"green", []GateState{Green}, 50 * time.Millisecond, false, 1},
		{"a blip", []GateState{Red, Red, Green}, time.Second, false, 3},
		{"stays red", []GateState{Red}, 50 * time.Millisecond, true, 3},
		{"at once", []GateState{Red}, 0, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &gateScript{name: "scripted", states: tt.states}
			c := &Cutover{Gates: []Gate{g}, Interval: 10 * time.Millisecond, RedFor: tt.redFor, Now: time.Now}
			c.tl = timeline{start: time.Now(), now: time.Now}
			_, red, err := c.settle(context.Background(), false)
			if err != nil {
				t.Fatal(err)
			}
			if (red != nil) != tt.red {
				t.Errorf("red = %v, want %v", red, tt.red)
			}
			if g.calls < tt.checks || (!tt.red && g.calls != tt.checks) {
				t.Errorf("%d checks, want %d", g.calls, tt.checks)
			}
		})
	}
}

// Requirement: the gate named is the one that stayed red for --red-for, not
// one that blinked red at the end of the window.
func TestSettleNamesTheGateRedTheLongest(t *testing.T) {
	targets := &gateScript{name: "targets", states: []GateState{Red}}
	verify := &gateScript{name: "verify", states: []GateState{Green, Green, Green, Red}}
	c := &Cutover{Gates: []Gate{verify, targets}, Interval: 10 * time.Millisecond, RedFor: 40 * time.Millisecond, Now: time.Now}
	c.tl = timeline{start: time.Now(), now: time.Now}
	_, red, err := c.settle(context.Background(), false)
	if err != nil || red == nil || red.Gate != "targets" {
		t.Fatalf("counted %+v, %v; want targets", red, err)
	}
}
