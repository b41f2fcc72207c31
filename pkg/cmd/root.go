// Package cmd holds the plugin's commands. Each is an Options struct with
// Complete, Validate and Run; its cobra RunE only chains them, and clients
// come from a Factory, so a command runs in-process in a test.
package cmd

import (
	"context"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

const rootLong = `Day-2 operation of the layering-detection platform on Kubernetes.

The plugin carries the platform's Kustomize manifests for every environment
(see "kubectl layering envs") and the commands to deploy, verify and roll them back.

Exit codes: 0 success, 1 the operation failed, 2 it could not run
(bad input, unreachable cluster, missing prerequisite, environment busy),
130 interrupted (Ctrl-C).`

const rootExample = `  # The environments and their namespaces
  kubectl layering envs

  # The complete manifests of production, as they would be applied
  kubectl layering render --env prod

  # Deploy production and wait until it is healthy
  kubectl layering deploy --env prod`

// Execute runs the plugin with args and returns its exit code; errors are
// printed to streams.ErrOut by ExitCode alone.
func Execute(ctx context.Context, streams genericiooptions.IOStreams, args []string) int {
	root, _ := NewRootCommand(streams, nil)
	root.SetArgs(args)
	return ExitCode(ctx, root.ExecuteContext(ctx), streams.ErrOut)
}

// NewRootCommand builds the command tree. A nil factory means the one of the
// standard kubectl flags (--kubeconfig, --context, -n, --as, ...).
func NewRootCommand(streams genericiooptions.IOStreams, f Factory) (*cobra.Command, Factory) {
	root := &cobra.Command{
		Use:           "kubectl-layering",
		Short:         "Deploy, verify and operate the layering-detection platform",
		Long:          rootLong,
		Example:       rootExample,
		SilenceUsage:  true,
		SilenceErrors: true,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl layering"},
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	kubeFlags := genericclioptions.NewConfigFlags(true)
	kubeFlags.AddFlags(root.PersistentFlags())
	if f == nil {
		f = NewFactory(kubeFlags)
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usage("%w\nSee '%s --help'.", err, c.CommandPath())
	})
	root.AddCommand(
		NewCmdEnvs(streams),
		NewCmdRender(f, streams),
		NewCmdDeploy(f, streams),
		NewCmdDiff(f, streams),
		NewCmdVerify(f, streams),
		NewCmdRollback(f, streams),
		NewCmdHistory(f, streams),
		NewCmdSettings(f, streams),
		NewCmdAlarms(f, streams),
		NewCmdLoadtest(f, streams),
		NewCmdParity(f, streams),
		NewCmdVersion(streams),
		NewCmdCutover(f, streams),
	)
	return root, f
}

// runE chains an Options' steps, as every command does.
func runE(o interface {
	Complete(*cobra.Command, []string) error
	Validate() error
	Run(context.Context) error
}) func(*cobra.Command, []string) error {
	return func(c *cobra.Command, args []string) error {
		if err := o.Complete(c, args); err != nil {
			return err
		}
		if err := o.Validate(); err != nil {
			return err
		}
		return o.Run(c.Context())
	}
}
