package cutover

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Event is one line of a timeline, seconds after the command started.
type Event struct {
	At   float64 `json:"at"`
	What string  `json:"what"`
}

// Report is what a cutover did (or, with --dry-run, would do).
type Report struct {
	Env      string       `json:"env"`
	To       Side         `json:"to"`
	Steps    []int        `json:"steps"`
	Hold     string       `json:"hold"`
	DryRun   bool         `json:"dryRun,omitempty"`
	Start    Position     `json:"start"` // the receiving side's share when it began
	Plan     []int        `json:"plan"`  // the steps it took (or would take)
	Outcome  string       `json:"outcome"`
	Gates    []GateResult `json:"gates"`
	Rules    []Rule       `json:"rules"` // as the listener has them at the end
	ScaledIn []Restore    `json:"scaledIn,omitempty"`
	Timeline []Event      `json:"timeline"`
	Error    string       `json:"error,omitempty"`
}

func (r *Report) Header() []string { return []string{"LISTENER", "RULE", "SERVICE", "ECS", "EKS"} }

func (r *Report) Rows() [][]string { return ruleRows(r.Rules) }

func ruleRows(rules []Rule) [][]string {
	rows := make([][]string, len(rules))
	for i, x := range rules {
		rows[i] = []string{strconv.Itoa(int(x.Listener)), x.Priority, x.Service,
			fmt.Sprintf("%d (%d %%)", x.ECSWeight, x.Share(ECS)), fmt.Sprintf("%d (%d %%)", x.EKSWeight, x.Share(EKS))}
	}
	return rows
}

// timeline writes progress lines as they happen and keeps them.
type timeline struct {
	out    io.Writer
	start  time.Time
	now    func() time.Time
	events []Event
}

func (t *timeline) say(format string, args ...any) {
	at := t.now().Sub(t.start).Seconds()
	msg := fmt.Sprintf(format, args...)
	t.events = append(t.events, Event{At: float64(int(at*100)) / 100, What: msg})
	if t.out != nil {
		fmt.Fprintf(t.out, "%6.1fs  %s\n", at, msg)
	}
}

// detail writes indented lines that belong to the last event.
func (t *timeline) detail(lines []string) {
	if t.out == nil {
		return
	}
	for _, l := range lines {
		fmt.Fprintf(t.out, "         %s\n", l)
	}
}

// ruleLines are the rules' weights, one line each, for the live view.
func ruleLines(rules []Rule) []string {
	out := make([]string, len(rules))
	for i, r := range rules {
		out[i] = fmt.Sprintf("%-28s %-13s %s", r.Name(), r.Service, r.Weights())
	}
	return out
}

// gateLine is every gate's verdict on one line.
func gateLine(results []GateResult) string {
	parts := make([]string, len(results))
	for i, r := range results {
		mark := "✓"
		switch r.State {
		case Red:
			mark = "✗"
		case Skip:
			mark = "–"
		}
		parts[i] = mark + " " + r.Gate
	}
	return strings.Join(parts, "  ")
}
