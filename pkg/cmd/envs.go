package cmd

import (
	"context"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/layering-detection/kubectl-layering/pkg/manifests"
	"github.com/layering-detection/kubectl-layering/pkg/output"
	"github.com/layering-detection/kubectl-layering/pkg/version"
)

// EnvsOptions lists the environments.
type EnvsOptions struct {
	OutputFlags
	format output.Format
	genericiooptions.IOStreams
}

func NewCmdEnvs(streams genericiooptions.IOStreams) *cobra.Command {
	o := &EnvsOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "envs",
		Short: "List the environments and their namespaces",
		Example: `  kubectl layering envs
  kubectl layering envs -o json`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	o.OutputFlags.AddFlags(cmd)
	return cmd
}

func (o *EnvsOptions) Complete(*cobra.Command, []string) (err error) {
	o.format, err = o.Format()
	return err
}

func (o *EnvsOptions) Validate() error { return nil }

func (o *EnvsOptions) Run(context.Context) error {
	tree, err := manifests.Embedded()
	if err != nil {
		return err
	}
	envs, err := tree.Envs()
	if err != nil {
		return err
	}
	return output.Print(o.Out, o.format, manifests.EnvList(envs))
}

// VersionOptions prints the plugin's version.
type VersionOptions struct {
	OutputFlags
	format output.Format
	genericiooptions.IOStreams
}

type versionInfo struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
}

func (v versionInfo) Header() []string { return []string{"VERSION", "COMMIT"} }
func (v versionInfo) Rows() [][]string { return [][]string{{v.Version, v.Commit}} }

func NewCmdVersion(streams genericiooptions.IOStreams) *cobra.Command {
	o := &VersionOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:     "version",
		Short:   "Print the plugin's version",
		Example: "  kubectl layering version -o json",
		Args:    cobra.NoArgs,
		RunE:    runE(o),
	}
	o.OutputFlags.AddFlags(cmd)
	return cmd
}

func (o *VersionOptions) Complete(*cobra.Command, []string) (err error) {
	o.format, err = o.Format()
	return err
}

func (o *VersionOptions) Validate() error { return nil }

func (o *VersionOptions) Run(context.Context) error {
	return output.Print(o.Out, o.format, versionInfo{Version: version.Version, Commit: version.Commit})
}
