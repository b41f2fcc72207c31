// Package deploy applies a rendered environment to a cluster.
package deploy

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/layering-detection/kubectl-layering/pkg/kube"
)

// FieldManager owns every field the plugin applies, so re-applies are
// idempotent and conflicts with other writers are visible.
const FieldManager = "kubectl-layering"

// Phase orders objects so that what others depend on exists first.
type Phase int

const (
	PhaseNamespace Phase = iota // namespaces
	PhaseVolumes                // storage classes and volumes: a claim created after its volume binds at once
	PhaseConfig                 // accounts, config, secrets and secret sync, claims
	PhaseWorkload               // deployments, services, disruption budgets
	PhaseScaling                // autoscalers, once their targets exist
	PhaseNetwork                // ingress and network policies, once backends exist
)

var phaseNames = map[Phase]string{PhaseNamespace: "namespace", PhaseVolumes: "volumes", PhaseConfig: "config and claims", PhaseWorkload: "workloads", PhaseScaling: "autoscalers", PhaseNetwork: "ingress and network policies"}

func (p Phase) String() string { return phaseNames[p] }

// PhaseOf places a kind in its phase.
func PhaseOf(kind string) Phase {
	switch kind {
	case "Namespace", "CustomResourceDefinition":
		return PhaseNamespace
	case "StorageClass", "PersistentVolume":
		return PhaseVolumes
	case "Deployment", "StatefulSet", "DaemonSet", "Service", "PodDisruptionBudget":
		return PhaseWorkload
	case "HorizontalPodAutoscaler":
		return PhaseScaling
	case "Ingress", "NetworkPolicy", "TargetGroupBinding":
		return PhaseNetwork
	}
	return PhaseConfig
}

// DryRun selects where an apply is evaluated.
type DryRun string

const (
	DryRunNone   DryRun = ""
	DryRunClient DryRun = "client" // rendered and checked here only
	DryRunServer DryRun = "server" // validated and admitted by the API server, persisted nowhere
)

// Applier server-side applies objects through the dynamic client.
type Applier struct {
	Clients kube.Clients
	DryRun  DryRun
}

func (a *Applier) applyOptions() metav1.ApplyOptions {
	opts := metav1.ApplyOptions{FieldManager: FieldManager, Force: true}
	if a.DryRun == DryRunServer {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	return opts
}

// Action is what applying did to one object.
type Action string

const (
	Created    Action = "created"
	Configured Action = "configured"
	Unchanged  Action = "unchanged"
	Failed     Action = "failed"
	NotApplied Action = "not applied" // a phase before it failed, or the deploy was interrupted
)

// ApplyResult is the outcome of applying one object.
type ApplyResult struct {
	Object *unstructured.Unstructured // as the server returned it
	Action Action
	Err    error
}

// Apply applies objs phase by phase, concurrently within a phase, and stops
// after the first phase with a failure (later phases depend on earlier ones).
// Claims wait for new volumes to be taken in by the volume controller (volumes.go).
// Results keep the order of objs; objects of phases never reached have none.
func (a *Applier) Apply(ctx context.Context, objs []*unstructured.Unstructured) ([]ApplyResult, error) {
	results := make([]ApplyResult, len(objs))
	for i := range results {
		results[i].Action = NotApplied
	}
	byPhase := map[Phase][]int{}
	for i, o := range objs {
		p := PhaseOf(o.GetKind())
		byPhase[p] = append(byPhase[p], i)
	}
	phases := make([]Phase, 0, len(byPhase))
	for p := range byPhase {
		phases = append(phases, p)
	}
	sort.Slice(phases, func(i, j int) bool { return phases[i] < phases[j] })
	for _, p := range phases {
		var wg sync.WaitGroup
		for _, i := range byPhase[p] {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				live, action, err := a.applyOne(ctx, objs[i])
				results[i] = ApplyResult{Object: live, Action: action, Err: err}
			}(i)
		}
		wg.Wait()
		var errs []error
		for _, i := range byPhase[p] {
			if err := results[i].Err; err != nil {
				errs = append(errs, fmt.Errorf("%s %s: %w", objs[i].GetKind(), objs[i].GetName(), err))
			}
		}
		if len(errs) > 0 {
			return results, fmt.Errorf("applying %s: %w", p, errors.Join(errs...))
		}
		if p == PhaseVolumes && a.DryRun == DryRunNone {
			a.awaitVolumes(ctx, volumesToAwait(results))
		}
	}
	return results, nil
}

func (a *Applier) applyOne(ctx context.Context, obj *unstructured.Unstructured) (*unstructured.Unstructured, Action, error) {
	if err := ctx.Err(); err != nil {
		return nil, NotApplied, err
	}
	client, err := a.Clients.ResourceFor(obj.GroupVersionKind(), obj.GetNamespace())
	if err != nil {
		return nil, Failed, err
	}
	before, err := client.Get(ctx, obj.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		before = nil
	} else if err != nil {
		return nil, Failed, err
	}
	live, err := client.Apply(ctx, obj.GetName(), obj, a.applyOptions())
	switch {
	case err != nil:
		return nil, Failed, err
	case before == nil:
		return live, Created, nil
	case a.DryRun == DryRunNone && live.GetResourceVersion() == before.GetResourceVersion():
		return live, Unchanged, nil
	case a.DryRun != DryRunNone && equality.Semantic.DeepEqual(kube.Normalize(before).Object, kube.Normalize(live).Object):
		// A dry run persists nothing, so the resourceVersion cannot tell.
		return live, Unchanged, nil
	}
	return live, Configured, nil
}
