package cmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/layering-detection/kubectl-layering/pkg/deploy"
	"github.com/layering-detection/kubectl-layering/pkg/manifests"
	"github.com/layering-detection/kubectl-layering/pkg/settings"
)

// RenderOptions prints an environment's manifests, or the monitoring bundle.
type RenderOptions struct {
	EnvFlags
	ImageFlags
	SettingsFlags
	Monitoring bool

	tree    *manifests.Tree
	images  deploy.ImageOverrides
	factory Factory
	genericiooptions.IOStreams
}

func NewCmdRender(f Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &RenderOptions{IOStreams: streams, factory: f}
	cmd := &cobra.Command{
		Use:   "render --env ENV",
		Short: "Print the fully built manifests of one environment",
		Long: `Print the fully built manifests of one environment as YAML, exactly as
deploy would apply them (with the same --image-tag and --image overrides,
and the environment's settings stored in the cluster when it answers; else
the embedded ones, as stderr says), in the order kubectl kustomize prints
them: what others depend on first. Nothing is changed in the cluster.

--monitoring prints the cluster-level log shipping (Fluent Bit to CloudWatch)
instead, which is shared by all environments of a cluster, with --env's
accountId and region (embedded and --settings FILE; deploy also reads the
cluster's) or, without --env, the placeholders.`,
		Example: `  kubectl layering render --env prod
  kubectl layering render --env prod --image-tag 1.4.2 | kubectl apply --dry-run=server -f -
  kubectl layering render --monitoring --env prod --settings prod.yaml`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	o.EnvFlags.AddFlags(cmd)
	o.ImageFlags.AddFlags(cmd)
	o.SettingsFlags.AddFlags(cmd)
	cmd.Flags().BoolVar(&o.Monitoring, "monitoring", false, "render the cluster-level log shipping instead of an environment")
	return cmd
}

func (o *RenderOptions) Complete(*cobra.Command, []string) (err error) {
	if o.images, err = o.Overrides(); err != nil {
		return err
	}
	o.tree, err = manifests.Embedded()
	return err
}

func (o *RenderOptions) Validate() error {
	if o.Monitoring {
		if o.Tag != "" || len(o.Images) > 0 {
			return usage("--monitoring renders Fluent Bit: --image-tag and --image name the services' images and do not apply")
		}
		if o.Env == "" {
			return nil
		}
	}
	_, err := o.Resolve(o.tree)
	return err
}

func (o *RenderOptions) Run(ctx context.Context) error {
	if o.Monitoring {
		r := &resolved{values: settings.Settings{}}
		if o.Env == "" && o.SettingsFile != "" {
			fromFile, err := settings.ReadFile(o.SettingsFile)
			if err != nil {
				return &UsageError{err}
			}
			r.values = fromFile
		}
		if o.Env != "" {
			env, err := o.Resolve(o.tree)
			if err != nil {
				return err
			}
			if r, err = o.resolve(context.Background(), o.tree, env, nil); err != nil {
				return err
			}
		}
		m, err := monitoringManifest(o.tree, o.Env, r, false)
		if err != nil {
			return err
		}
		_, err = o.Out.Write(m.YAML)
		return err
	}
	// The settings deploy would use: the cluster's when it answers, under --settings FILE.
	env, err := o.Resolve(o.tree)
	if err != nil {
		return err
	}
	clients := reachable(ctx, o.factory)
	r, err := o.resolve(ctx, o.tree, env, clients)
	if err != nil {
		return err
	}
	if clients == nil && len(settings.Check(env.Name, r.values)) > 0 {
		fmt.Fprintf(o.ErrOut, "no cluster reachable: %s renders with its embedded settings, placeholders among them (kubectl layering settings show)\n", env.Name)
	}
	tree, err := r.tree(o.tree, o.Env)
	if err != nil {
		return err
	}
	m, err := deploy.Render(tree, o.Env, o.images)
	if err != nil {
		return err
	}
	_, err = o.Out.Write(m.YAML)
	return err
}
