package deploy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/layering-detection/kubectl-layering/pkg/manifests"
	"github.com/layering-detection/kubectl-layering/pkg/revision"
)

// Clients are what a deploy talks to the cluster with.
type Clients struct {
	Kube      kubernetes.Interface
	Dynamic   dynamic.Interface
	Discovery discovery.DiscoveryInterface
	Mapper    meta.RESTMapper
	Host      string // the API server, for messages
}

// Options of one deploy.
type Options struct {
	Env     string
	Images  ImageOverrides
	DryRun  string // "", "client" or "server"
	Timeout time.Duration
	Prune   bool
}

// ObjectResult is what happened to one object.
type ObjectResult struct {
	Object string `json:"object"`
	Action Action `json:"action"`
	Error  string `json:"error,omitempty"`
}

// Attempted tells whether the deploy got as far as writing to the cluster.
func (r *Result) Attempted() bool {
	for _, o := range r.Objects {
		if o.Action != NotApplied {
			return true
		}
	}
	return false
}

// Result is the machine-readable outcome of a deploy (-o json|yaml).
type Result struct {
	Env       string            `json:"env"`
	Namespace string            `json:"namespace"`
	DryRun    string            `json:"dryRun,omitempty"`
	Revision  int               `json:"revision,omitempty"`
	Digest    string            `json:"digest"`
	Images    map[string]string `json:"images"`
	Objects   []ObjectResult    `json:"objects"`
	Pruned    []string          `json:"pruned,omitempty"`
	Reclaimed []string          `json:"reclaimedVolumes,omitempty"`
	Healthy   bool              `json:"healthy"`
	Failures  []Failure         `json:"failures,omitempty"`
	Error     string            `json:"error,omitempty"`
	Seconds   float64           `json:"seconds"`
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

// InputError is a deploy refused for what the user asked (images, services).
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// Render builds the environment with the image overrides applied and checks
// that prod names pinned images. It needs no cluster.
func Render(tree *manifests.Tree, env string, images ImageOverrides) ([]*unstructured.Unstructured, []byte, error) {
	m, err := tree.RenderEnv(env)
	if err != nil {
		return nil, nil, err
	}
	objs, err := manifests.Objects(m)
	if err != nil {
		return nil, nil, err
	}
	// Kustomize would keep the old tag for an untagged --image: judge what the user gave too.
	if err := CheckPinned(env, images.Services); err != nil {
		return nil, nil, &InputError{err}
	}
	replacements, err := images.Resolve(ServiceImages(objs))
	if err != nil {
		return nil, nil, &InputError{err}
	}
	if len(replacements) > 0 {
		if m, err = tree.RenderEnv(env, replacements...); err != nil {
			return nil, nil, err
		}
		if objs, err = manifests.Objects(m); err != nil {
			return nil, nil, err
		}
	}
	if err := CheckPinned(env, ServiceImages(objs)); err != nil {
		return nil, nil, &InputError{err}
	}
	manifest, err := m.AsYaml()
	return objs, manifest, err
}

// Run deploys one environment: render, preflight, apply, prune, wait, record.
// The result is filled as far as the deploy got, also when it fails or is
// interrupted, so the caller can say what was and was not applied.
func Run(ctx context.Context, c Clients, tree *manifests.Tree, opts Options, progress Progress) (*Result, error) {
	start := time.Now()
	res := &Result{Env: opts.Env, DryRun: opts.DryRun}
	defer func() { res.Seconds = time.Since(start).Seconds() }()
	env, err := tree.Env(opts.Env)
	if err != nil {
		return res, err
	}
	res.Namespace = env.Namespace
	objs, manifest, err := Render(tree, opts.Env, opts.Images)
	if err != nil {
		return res, err
	}
	res.Digest = revision.Digest(manifest)
	res.Images = ServiceImages(objs)
	for _, o := range objs {
		res.Objects = append(res.Objects, ObjectResult{Object: Key(o), Action: NotApplied})
	}
	if opts.DryRun == "client" {
		return res, nil
	}
	if err := Preflight(ctx, c.Discovery, c.Dynamic, c.Mapper, c.Host, objs); err != nil {
		return res, err
	}

	who := holderIdentity(ctx, c.Kube)
	applier := &Applier{Client: c.Dynamic, Mapper: c.Mapper}
	record := func(indexes []int, results []ApplyResult) {
		for j, r := range results {
			res.Objects[indexes[j]].Action = r.Action
			if r.Err != nil && r.Action == Failed {
				res.Objects[indexes[j]].Error = r.Err.Error()
			}
		}
	}
	// The deploy lease lives in the environment's namespace: that comes first.
	var nsIdx, restIdx []int
	var nsObjs, rest []*unstructured.Unstructured
	for i, o := range objs {
		if o.GetKind() == "Namespace" {
			nsIdx, nsObjs = append(nsIdx, i), append(nsObjs, o)
		} else {
			restIdx, rest = append(restIdx, i), append(rest, o)
		}
	}
	if opts.DryRun == "server" {
		applier.DryRun = DryRunServer
		rest, restIdx = objs, allIndexes(len(objs))
	} else {
		results, err := applier.Apply(ctx, nsObjs)
		record(nsIdx, results)
		if err != nil {
			return res, err
		}
		lock, err := Acquire(ctx, c.Kube, env.Namespace, who)
		if err != nil {
			return res, err
		}
		defer func() {
			if err := lock.Release(); err != nil {
				fmt.Fprintf(os.Stderr, "warning: releasing the deploy lease: %v\n", err)
			}
		}()
	}

	if res.Reclaimed, err = applier.ReclaimVolumes(ctx, rest); err != nil {
		return res, err
	}
	if err := applier.HandOverReplicas(ctx, rest); err != nil {
		return res, err
	}
	results, applyErr := applier.Apply(ctx, rest)
	record(restIdx, results)
	if applyErr != nil {
		return res, applyErr
	}
	// Deployments created just now were applied with their initial replicas:
	// hand the field over at once, so that the next deploy is a true no-op.
	var created []*unstructured.Unstructured
	for j, r := range results {
		if r.Action == Created && (rest[j].GetKind() == "Deployment" || rest[j].GetKind() == "HorizontalPodAutoscaler") {
			created = append(created, rest[j])
		}
	}
	if len(created) > 0 && applier.DryRun == DryRunNone {
		if err := applier.HandOverReplicas(ctx, created); err != nil {
			return res, err
		}
		if _, err := applier.Apply(ctx, created); err != nil {
			return res, err
		}
	}
	if opts.Prune {
		res.Pruned, err = applier.Prune(ctx, opts.Env, env.Namespace, objs, managedKinds(tree, objs))
		if err != nil {
			return res, err
		}
	}
	if applier.DryRun == DryRunServer {
		return res, nil
	}

	waitCtx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	waiter := &Waiter{Dynamic: c.Dynamic, Kube: c.Kube, Mapper: c.Mapper, Progress: progress}
	if err := waiter.Wait(waitCtx, objs); err != nil {
		var werr *WaitError
		if errors.As(err, &werr) {
			res.Failures = werr.Failures
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
		}
		return res, err
	}
	res.Healthy = true

	rev, err := (&revision.Store{Kube: c.Kube, Namespace: env.Namespace}).Record(ctx, revision.Revision{
		Env: opts.Env, Digest: res.Digest, Images: res.Images, Time: time.Now().UTC(),
		User: who, Manifest: manifest,
	})
	if err != nil {
		return res, err
	}
	res.Revision = rev.Number
	return res, nil
}

func allIndexes(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// managedKinds are every kind any environment of the embedded tree (or this
// render) contains: prune looks for leftovers among them.
func managedKinds(tree *manifests.Tree, objs []*unstructured.Unstructured) []schema.GroupVersionKind {
	kinds := map[schema.GroupVersionKind]bool{}
	for _, o := range objs {
		kinds[o.GroupVersionKind()] = true
	}
	if envs, err := tree.Envs(); err == nil {
		for _, e := range envs {
			if m, err := tree.RenderEnv(e.Name); err == nil {
				for _, r := range m.Resources() {
					kinds[schema.FromAPIVersionAndKind(r.GetApiVersion(), r.GetKind())] = true
				}
			}
		}
	}
	delete(kinds, schema.GroupVersionKind{Version: "v1", Kind: "Namespace"})
	out := make([]schema.GroupVersionKind, 0, len(kinds))
	for k := range kinds {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// holderIdentity is who is deploying, as the API server authenticates them.
func holderIdentity(ctx context.Context, kube kubernetes.Interface) string {
	host, _ := os.Hostname()
	user := "unknown user"
	if r, err := kube.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{}); err == nil {
		user = r.Status.UserInfo.Username
	}
	return fmt.Sprintf("%s on %s (pid %d)", user, host, os.Getpid())
}
