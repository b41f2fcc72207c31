package deploy

import (
	"github.com/layering-detection/kubectl-layering/pkg/kube"
)

// ObjectResult is what happened to one object.
type ObjectResult struct {
	Object string `json:"object"`
	Action Action `json:"action"`
	Error  string `json:"error,omitempty"`
}

// Result is the machine-readable outcome of a release (-o json|yaml). It is
// filled as far as the release got, also when it fails or is interrupted, so
// the caller can say what was and was not applied.
type Result struct {
	Env         string            `json:"env"`
	Namespace   string            `json:"namespace"`
	DryRun      string            `json:"dryRun,omitempty"`
	Description string            `json:"description,omitempty"`
	Revision    int               `json:"revision,omitempty"`
	Digest      string            `json:"digest"`
	Images      map[string]string `json:"images"`
	Objects     []ObjectResult    `json:"objects"`
	Pruned      []string          `json:"pruned,omitempty"`
	Reclaimed   []string          `json:"reclaimedVolumes,omitempty"`
	Healthy     bool              `json:"healthy"`
	Pending     []Failure         `json:"pending,omitempty"` // healthy, but still settling (autoscalers' first metrics)
	Failures    []Failure         `json:"failures,omitempty"`
	Error       string            `json:"error,omitempty"`
	Seconds     float64           `json:"seconds"`
	// Rollback is what deploy --atomic did after this release failed.
	Rollback *Result `json:"rollback,omitempty"`
}

func newResult(m *Manifest, dryRun DryRun, description string) *Result {
	res := &Result{Env: m.Env.Name, Namespace: m.Env.Namespace, DryRun: string(dryRun), Description: description, Digest: m.Digest, Images: m.Images}
	for _, o := range m.Objects {
		res.Objects = append(res.Objects, ObjectResult{Object: kube.Key(o), Action: NotApplied})
	}
	return res
}

// set records what applying did to the object with key.
func (r *Result) set(key string, a ApplyResult) {
	for i := range r.Objects {
		if r.Objects[i].Object == key {
			r.Objects[i].Action = a.Action
			if a.Err != nil && a.Action == Failed {
				r.Objects[i].Error = a.Err.Error()
			}
		}
	}
}

// Attempted tells whether the release got as far as writing to the cluster.
func (r *Result) Attempted() bool {
	for _, o := range r.Objects {
		if o.Action != NotApplied {
			return true
		}
	}
	return false
}

// redact removes Secret values from every message the result carries.
func (r *Result) redact(x *Redactor) {
	r.Error = x.String(r.Error)
	for i := range r.Objects {
		r.Objects[i].Error = x.String(r.Objects[i].Error)
	}
	for _, fs := range [][]Failure{r.Failures, r.Pending} {
		for i := range fs {
			fs[i].Reason = x.String(fs[i].Reason)
		}
	}
}

func (r *Result) Header() []string { return []string{"OBJECT", "ACTION"} }

func (r *Result) Rows() [][]string {
	rows := make([][]string, 0, len(r.Objects)+len(r.Pruned))
	for _, o := range r.Objects {
		action := string(o.Action)
		if o.Error != "" {
			action += ": " + o.Error
		}
		rows = append(rows, []string{o.Object, action})
	}
	for _, p := range r.Pruned {
		rows = append(rows, []string{p, "pruned"})
	}
	return rows
}
