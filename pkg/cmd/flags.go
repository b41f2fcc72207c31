package cmd

import (
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/layering-detection/kubectl-layering/pkg/deploy"
	"github.com/layering-detection/kubectl-layering/pkg/manifests"
	"github.com/layering-detection/kubectl-layering/pkg/output"
)

// The flag groups commands share, each registered in one place.

// EnvFlags is --env.
type EnvFlags struct{ Env string }

func (f *EnvFlags) AddFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.Env, "env", "", "environment: dev, staging, prod or local (see 'kubectl layering envs')")
	_ = cmd.RegisterFlagCompletionFunc("env", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		names, err := envNames()
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	})
}

// Resolve returns the environment --env names; it is required.
func (f *EnvFlags) Resolve(tree *manifests.Tree) (manifests.Env, error) {
	if f.Env == "" {
		return manifests.Env{}, usage("--env is required (see 'kubectl layering envs')")
	}
	return tree.Env(f.Env)
}

func envNames() ([]string, error) {
	tree, err := manifests.Embedded()
	if err != nil {
		return nil, err
	}
	envs, err := tree.Envs()
	if err != nil {
		return nil, err
	}
	names := make([]string, len(envs))
	for i, e := range envs {
		names[i] = e.Name
	}
	return names, nil
}

// ImageFlags are --image-tag and --image SERVICE=IMAGE.
type ImageFlags struct {
	Tag    string
	Images []string
}

func (f *ImageFlags) AddFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.Tag, "image-tag", "", "every service at this image tag")
	cmd.Flags().StringArrayVar(&f.Images, "image", nil, "SERVICE=IMAGE: one service at this image (repeatable)")
}

func (f *ImageFlags) Overrides() (deploy.ImageOverrides, error) {
	services, err := deploy.ParseImageFlags(f.Images)
	if err != nil {
		return deploy.ImageOverrides{}, &UsageError{err}
	}
	return deploy.ImageOverrides{Tag: f.Tag, Services: services}, nil
}

// OutputFlags is -o/--output.
type OutputFlags struct{ Output string }

func (f *OutputFlags) AddFlags(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.Output, "output", "o", "", "output format: json or yaml (default: a table)")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(output.Formats, cobra.ShellCompDirectiveNoFileComp))
}

func (f *OutputFlags) Format() (output.Format, error) {
	format, err := output.ParseFormat(f.Output)
	if err != nil {
		return "", &UsageError{err}
	}
	return format, nil
}

// DryRunFlags is --dry-run=none|client|server, as kubectl has it.
type DryRunFlags struct{ DryRun string }

func (f *DryRunFlags) AddFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.DryRun, "dry-run", "none", `"client": render and check only; "server": the API server evaluates everything, nothing is persisted`)
	cmd.Flags().Lookup("dry-run").NoOptDefVal = "client"
	_ = cmd.RegisterFlagCompletionFunc("dry-run", cobra.FixedCompletions([]string{"none", "client", "server"}, cobra.ShellCompDirectiveNoFileComp))
}

func (f *DryRunFlags) Mode() (deploy.DryRun, error) {
	switch strings.ToLower(f.DryRun) {
	case "none", "":
		return deploy.DryRunNone, nil
	case "client":
		return deploy.DryRunClient, nil
	case "server":
		return deploy.DryRunServer, nil
	}
	return "", usage("--dry-run=%s: use none, client or server", f.DryRun)
}

// addTimeoutFlag is --timeout.
func addTimeoutFlag(cmd *cobra.Command, d *time.Duration, def time.Duration, what string) {
	cmd.Flags().DurationVar(d, "timeout", def, what)
}

// ReleaseFlags are what every command that releases an environment takes:
// -o, --dry-run and --timeout of the wait.
type ReleaseFlags struct {
	OutputFlags
	DryRunFlags
	Timeout time.Duration

	format output.Format
	dryRun deploy.DryRun
}

func (f *ReleaseFlags) AddFlags(cmd *cobra.Command) {
	f.OutputFlags.AddFlags(cmd)
	f.DryRunFlags.AddFlags(cmd)
	addTimeoutFlag(cmd, &f.Timeout, 5*time.Minute, "how long to wait for the environment to become healthy")
}

// complete parses the flags' values.
func (f *ReleaseFlags) complete() (err error) {
	if f.format, err = f.Format(); err != nil {
		return err
	}
	if f.dryRun, err = f.Mode(); err != nil {
		return err
	}
	if f.Timeout <= 0 {
		return usage("--timeout must be positive")
	}
	return nil
}
