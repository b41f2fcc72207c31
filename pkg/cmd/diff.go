package cmd

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/layering-detection/kubectl-layering/pkg/deploy"
	"github.com/layering-detection/kubectl-layering/pkg/kube"
	"github.com/layering-detection/kubectl-layering/pkg/manifests"
)

// DiffOptions shows what a deploy would change.
type DiffOptions struct {
	EnvFlags
	ImageFlags
	SettingsFlags
	Prune bool

	env     manifests.Env
	tree    *manifests.Tree
	images  deploy.ImageOverrides
	clients kube.Clients
	factory Factory
	genericiooptions.IOStreams
}

func NewCmdDiff(f Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &DiffOptions{factory: f, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "diff --env ENV",
		Short: "Show what a deploy would change",
		Long: `Show, as a unified diff, what a deploy of the environment would change
in the cluster, evaluated by the API server (server-side dry run), including
the objects it would prune. Secret values are masked as kubectl diff masks
them. Like kubectl diff, it runs "diff -u -N" or $KUBECTL_EXTERNAL_DIFF.
Exit codes: 0 no change, 1 changes, 2 it could not run.`,
		Example: "  kubectl layering diff --env prod --image-tag 1.4.2",
		Args:    cobra.NoArgs,
		RunE:    runE(o),
	}
	o.EnvFlags.AddFlags(cmd)
	o.ImageFlags.AddFlags(cmd)
	o.SettingsFlags.AddFlags(cmd)
	cmd.Flags().BoolVar(&o.Prune, "prune", true, "show the objects a deploy would prune (as deploy --prune)")
	return cmd
}

func (o *DiffOptions) Complete(*cobra.Command, []string) (err error) {
	if o.images, err = o.Overrides(); err != nil {
		return err
	}
	o.tree, err = manifests.Embedded()
	return err
}

func (o *DiffOptions) Validate() (err error) {
	if o.env, err = o.Resolve(o.tree); err != nil {
		return err
	}
	o.clients, err = o.factory.Clients()
	return err
}

func (o *DiffOptions) Run(ctx context.Context) error {
	if _, err := o.clients.ServerVersion(ctx); err != nil {
		return err
	}
	r, err := o.resolve(ctx, o.tree, o.env, &o.clients)
	if err != nil {
		return err
	}
	tree, err := r.tree(o.tree, o.env.Name)
	if err != nil {
		return err
	}
	m, err := deploy.Render(tree, o.env.Name, o.images)
	if err != nil {
		return err
	}
	redactor := deploy.NewRedactor(m.Objects...)
	diffs, err := o.diffs(ctx, m)
	if err != nil {
		return redactor.Error(err)
	}
	changed, err := externalDiff(o.IOStreams, diffs)
	if err != nil {
		return &UsageError{err}
	}
	if changed {
		return errSilent // diff's output says it all, as kubectl diff
	}
	return nil
}

func (o *DiffOptions) diffs(ctx context.Context, m *deploy.Manifest) ([]deploy.ObjectDiff, error) {
	if err := deploy.Preflight(ctx, o.clients, m.Objects); err != nil {
		return nil, err
	}
	a := &deploy.Applier{Clients: o.clients}
	var doomed []*unstructured.Unstructured
	if o.Prune {
		inventory, err := (&deploy.Inventory{Kube: o.clients.Kube, Env: m.Env.Name, Namespace: m.Env.Namespace}).Read(ctx)
		if err != nil {
			return nil, err
		}
		if doomed, err = a.Prunable(ctx, m.Env.Name, inventory, m.Objects); err != nil {
			return nil, err
		}
	}
	return a.Diff(ctx, m.Objects, doomed)
}

// externalDiff writes live and merged objects into two directories and runs diff over them.
func externalDiff(streams genericiooptions.IOStreams, diffs []deploy.ObjectDiff) (bool, error) {
	dir, err := os.MkdirTemp("", "kubectl-layering-diff")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(dir)
	live, merged := filepath.Join(dir, "live"), filepath.Join(dir, "merged")
	for _, d := range []string{live, merged} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return false, err
		}
	}
	for _, d := range diffs {
		name := strings.ReplaceAll(d.Key, "/", ".")
		if len(d.Live) > 0 {
			if err := os.WriteFile(filepath.Join(live, name), d.Live, 0o600); err != nil {
				return false, err
			}
		}
		if len(d.Merged) > 0 {
			if err := os.WriteFile(filepath.Join(merged, name), d.Merged, 0o600); err != nil {
				return false, err
			}
		}
	}
	program := []string{"diff", "-u", "-N", "-r"}
	if ext := os.Getenv("KUBECTL_EXTERNAL_DIFF"); ext != "" {
		program = strings.Fields(ext)
	}
	c := exec.Command(program[0], append(program[1:], live, merged)...)
	c.Stdout, c.Stderr = streams.Out, streams.ErrOut
	err = c.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 1 {
		return true, nil
	}
	return false, err
}
