// Package parity sets the live ECS deployment next to an environment's
// Kubernetes objects (rendered, or as they run), service by service and row
// by row: the check a migration team runs before every cutover step. Every
// comparison is pure: the ECS side comes from ecsstate, the Kubernetes side
// from objects.
package parity

import (
	"fmt"
	"strings"
)

// Row statuses.
const (
	Same     = "ok"        // the same value, or the same meaning (512 CPU units = 500m)
	Differs  = "differs"   // a difference nobody designed: fix one side
	ByDesign = "by design" // a deliberate difference; Reason says why
)

// Row is one compared item of one service.
type Row struct {
	Service    string `json:"service"`
	Item       string `json:"item"`
	ECS        string `json:"ecs"`
	Kubernetes string `json:"kubernetes"`
	Status     string `json:"status"`
	Reason     string `json:"reason,omitempty"`
}

// Report is the parity of one environment.
type Report struct {
	Env        string `json:"env"`
	Kubernetes string `json:"kubernetes"` // rendered or live
	ECSCluster string `json:"ecsCluster"`
	Items      []Row  `json:"rows"`
	Counts     Counts `json:"counts"`
}

// Counts are the rows by status.
type Counts struct {
	Same     int `json:"ok"`
	ByDesign int `json:"byDesign"`
	Differs  int `json:"differs"`
}

func (r *Report) count() {
	r.Counts = Counts{}
	for _, row := range r.Items {
		switch row.Status {
		case Same:
			r.Counts.Same++
		case ByDesign:
			r.Counts.ByDesign++
		default:
			r.Counts.Differs++
		}
	}
}

func (*Report) Header() []string { return []string{"", "SERVICE", "ITEM", "ECS", "KUBERNETES", "WHY"} }

func (r *Report) Rows() [][]string {
	mark := map[string]string{Same: "✓", Differs: "✗", ByDesign: "≈"}
	out := make([][]string, len(r.Items))
	for i, row := range r.Items {
		why := row.Reason
		if row.Status == ByDesign {
			why = "by design: " + why
		}
		out[i] = []string{mark[row.Status], row.Service, row.Item, row.ECS, row.Kubernetes, why}
	}
	return out
}

// Summary is the one line under the table.
func (r *Report) Summary() string {
	return fmt.Sprintf("parity %s (%s) against ECS cluster %s: %d ✓, %d differ by design (≈), %d ✗",
		r.Env, r.Kubernetes, r.ECSCluster, r.Counts.Same, r.Counts.ByDesign, r.Counts.Differs)
}

// DiffersError means some rows differ and nobody designed it.
type DiffersError struct{ Rows []Row }

func (e *DiffersError) Error() string {
	var items []string
	for _, r := range e.Rows {
		items = append(items, r.Service+" "+r.Item)
	}
	return fmt.Sprintf("%d differences between ECS and Kubernetes that are not by design: %s", len(e.Rows), strings.Join(items, ", "))
}

// Err is a *DiffersError when any row differs.
func (r *Report) Err() error {
	var rows []Row
	for _, row := range r.Items {
		if row.Status == Differs {
			rows = append(rows, row)
		}
	}
	if len(rows) == 0 {
		return nil
	}
	return &DiffersError{rows}
}
