package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/layering-detection/kubectl-layering/pkg/deploy"
	"github.com/layering-detection/kubectl-layering/pkg/manifests"
	"github.com/layering-detection/kubectl-layering/pkg/output"
	"github.com/layering-detection/kubectl-layering/pkg/version"
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

func newRootCommand(streams genericiooptions.IOStreams) *cobra.Command {
	// The standard kubectl flags (--kubeconfig, --context, -n, --as, ...), from cli-runtime.
	kubeFlags := genericclioptions.NewConfigFlags(true)
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
	kubeFlags.AddFlags(root.PersistentFlags())
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return cannotRun{fmt.Errorf("%w\nSee '%s --help'.", err, c.CommandPath())}
	})
	root.AddCommand(
		newEnvsCommand(streams),
		newRenderCommand(streams),
		newDeployCommand(streams, kubeFlags),
		newDiffCommand(streams, kubeFlags),
		newVerifyCommand(streams, kubeFlags),
		newVersionCommand(streams),
	)
	return root
}

// addOutputFlag registers -o/--output with completion of its values.
func addOutputFlag(cmd *cobra.Command, value *string) {
	cmd.Flags().StringVarP(value, "output", "o", "", "output format: json or yaml (default: a table)")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(output.Formats, cobra.ShellCompDirectiveNoFileComp))
}

// addEnvFlag registers --env with completion of the known environments.
func addEnvFlag(cmd *cobra.Command, value *string) {
	cmd.Flags().StringVar(value, "env", "", "environment: dev, staging, prod or local (see 'kubectl layering envs')")
	_ = cmd.RegisterFlagCompletionFunc("env", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		tree, err := manifests.Embedded()
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		envs, err := tree.Envs()
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		names := make([]string, len(envs))
		for i, e := range envs {
			names[i] = e.Name
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	})
}

func newEnvsCommand(streams genericiooptions.IOStreams) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "envs",
		Short: "List the environments and their namespaces",
		Example: `  kubectl layering envs
  kubectl layering envs -o json`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			f, err := output.ParseFormat(format)
			if err != nil {
				return cannotRun{err}
			}
			tree, err := manifests.Embedded()
			if err != nil {
				return err
			}
			envs, err := tree.Envs()
			if err != nil {
				return err
			}
			return output.Print(streams.Out, f, manifests.EnvList(envs))
		},
	}
	addOutputFlag(cmd, &format)
	return cmd
}

func newRenderCommand(streams genericiooptions.IOStreams) *cobra.Command {
	var (
		env        string
		monitoring bool
		images     deploy.ImageOverrides
		imageArgs  []string
	)
	cmd := &cobra.Command{
		Use:   "render --env ENV",
		Short: "Print the fully built manifests of one environment",
		Long: `Print the fully built manifests of one environment as YAML, exactly as
deploy would apply them (with the same --image-tag and --image overrides).
Nothing is sent to the cluster.

--monitoring prints the cluster-level log shipping (Fluent Bit to CloudWatch)
instead, which is shared by all environments of a cluster.`,
		Example: `  kubectl layering render --env prod
  kubectl layering render --env prod --image-tag 1.4.2 | kubectl apply --dry-run=server -f -
  kubectl layering render --monitoring`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tree, err := manifests.Embedded()
			if err != nil {
				return err
			}
			var data []byte
			switch {
			case monitoring && env != "":
				return cannotRun{errors.New("--env and --monitoring are exclusive")}
			case monitoring:
				m, err := tree.Render("monitoring")
				if err != nil {
					return err
				}
				if data, err = m.AsYaml(); err != nil {
					return err
				}
			case env == "":
				return cannotRun{errors.New("--env is required (see 'kubectl layering envs')")}
			default:
				if images.Services, err = deploy.ParseImageFlags(imageArgs); err != nil {
					return cannotRun{err}
				}
				if _, data, err = deploy.Render(tree, env, images); err != nil {
					return classify(cmd.Context(), err)
				}
			}
			_, err = streams.Out.Write(data)
			return err
		},
	}
	addEnvFlag(cmd, &env)
	cmd.Flags().BoolVar(&monitoring, "monitoring", false, "render the cluster-level log shipping instead of an environment")
	cmd.Flags().StringVar(&images.Tag, "image-tag", "", "as deploy --image-tag")
	cmd.Flags().StringArrayVar(&imageArgs, "image", nil, "as deploy --image SERVICE=IMAGE")
	return cmd
}

type versionInfo struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
}

func (v versionInfo) Header() []string { return []string{"VERSION", "COMMIT"} }
func (v versionInfo) Rows() [][]string { return [][]string{{v.Version, v.Commit}} }

func newVersionCommand(streams genericiooptions.IOStreams) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:     "version",
		Short:   "Print the plugin's version",
		Example: "  kubectl layering version -o json",
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			f, err := output.ParseFormat(format)
			if err != nil {
				return cannotRun{err}
			}
			return output.Print(streams.Out, f, versionInfo{Version: version.Version, Commit: version.Commit})
		},
	}
	addOutputFlag(cmd, &format)
	return cmd
}
