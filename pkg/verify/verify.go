// Package verify checks a deployed environment from inside the cluster and
// says, check by check, what holds and what does not, with a hint what to do.
//
// Each check lives in a file named for it (probes.go, secrets.go, scaling.go,
// ingress.go; dns and volumes in inside.go, which runs the in-pod probe of
// probe.go). Every check fetches the live objects, then hands them to a pure
// judge* function that turns them into Results.
package verify

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

// Status of one check.
type Status string

const (
	Pass Status = "pass"
	Warn Status = "warn"
	Fail Status = "fail"
	Skip Status = "skip"
)

// Checks are the check names, in report order.
var Checks = []string{"probes", "dns", "volumes", "secrets", "scaling", "ingress", "logging"}

// DefaultChecks run without --check: logging needs the cluster's log shipping
// and AWS, so it runs when asked for.
var DefaultChecks = slices.Clip(Checks[:len(Checks)-1])

// Result is one finding.
type Result struct {
	Check   string `json:"check"`
	Subject string `json:"subject"`
	Status  Status `json:"status"`
	Reason  string `json:"reason"`
	Hint    string `json:"hint,omitempty"`
}

// Report is what verify prints (-o json|yaml, or a table).
type Report struct {
	Env       string   `json:"env"`
	Namespace string   `json:"namespace"`
	Results   []Result `json:"results"`
	Seconds   float64  `json:"seconds"`
}

func (r *Report) Header() []string { return []string{"CHECK", "SUBJECT", "STATUS", "REASON"} }

func (r *Report) Rows() [][]string {
	rows := make([][]string, len(r.Results))
	for i, x := range r.Results {
		reason := x.Reason
		if x.Hint != "" && x.Status != Pass {
			reason += " (" + x.Hint + ")"
		}
		rows[i] = []string{x.Check, x.Subject, string(x.Status), reason}
	}
	return rows
}

// Failed tells whether any check failed.
func (r *Report) Failed() bool {
	for _, x := range r.Results {
		if x.Status == Fail {
			return true
		}
	}
	return false
}

// NotDeployedError means there is nothing to verify.
type NotDeployedError struct{ Env, Namespace string }

func (e *NotDeployedError) Error() string {
	return fmt.Sprintf("environment %s is not deployed: no Deployments in namespace %s (run kubectl layering deploy --env %s)", e.Env, e.Namespace, e.Env)
}

// Verifier holds the clients and what the environment's manifests say.
type Verifier struct {
	Kube       kubernetes.Interface
	Dynamic    dynamic.Interface
	Env        string
	Namespace  string
	Objects    []*unstructured.Unstructured // the rendered environment
	ProbeImage string                       // runs inside pods for dns and volumes
	Deep       bool                         // also prove that data survives a pod restart
	HTTP       *http.Client                 // for the Ingress address; nil: a client with a 5 s timeout
	Logging    *Logging                     // for the logging check
}

// Run runs the selected checks concurrently and returns their findings.
func (v *Verifier) Run(ctx context.Context, checks []string) (*Report, error) {
	start := time.Now()
	runs, err := v.checkRuns(checks)
	if err != nil {
		return nil, err
	}
	deployments, err := v.Kube.AppsV1().Deployments(v.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	if len(deployments.Items) == 0 {
		return nil, &NotDeployedError{v.Env, v.Namespace}
	}
	results := runConcurrently(ctx, runs)
	sortResults(results)
	return &Report{Env: v.Env, Namespace: v.Namespace, Results: results, Seconds: time.Since(start).Seconds()}, nil
}

type checkRun func(context.Context) []Result

// checkRuns maps the selected checks to what runs them; dns and volumes share
// one probe run per pod.
func (v *Verifier) checkRuns(checks []string) ([]checkRun, error) {
	var runs []checkRun
	for _, c := range checks {
		switch c {
		case "probes":
			runs = append(runs, v.probes)
		case "secrets":
			runs = append(runs, v.secrets)
		case "scaling":
			runs = append(runs, v.scaling)
		case "ingress":
			runs = append(runs, v.ingress)
		case "logging":
			runs = append(runs, v.logging)
		case "dns", "volumes":
		default:
			return nil, fmt.Errorf("unknown check %q: checks are %s", c, strings.Join(Checks, ","))
		}
	}
	dns, volumes := slices.Contains(checks, "dns"), slices.Contains(checks, "volumes")
	if dns || volumes {
		runs = append(runs, func(ctx context.Context) []Result { return v.fromInside(ctx, dns, volumes) })
	}
	return runs, nil
}

func runConcurrently(ctx context.Context, runs []checkRun) []Result {
	found := make([][]Result, len(runs))
	var wg sync.WaitGroup
	for i, run := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			found[i] = run(ctx)
		}()
	}
	wg.Wait()
	return slices.Concat(found...)
}

// sortResults puts results in report order: by check, then by subject.
func sortResults(results []Result) {
	order := map[string]int{}
	for i, c := range Checks {
		order[c] = i
	}
	sort.SliceStable(results, func(i, j int) bool {
		if results[i].Check != results[j].Check {
			return order[results[i].Check] < order[results[j].Check]
		}
		return results[i].Subject < results[j].Subject
	})
}

// rendered returns the environment's objects of one kind as typed objects.
func rendered[T any](v *Verifier, kind string) []*T {
	var out []*T
	for _, o := range v.Objects {
		if o.GetKind() != kind {
			continue
		}
		t := new(T)
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, t); err == nil {
			out = append(out, t)
		}
	}
	return out
}
