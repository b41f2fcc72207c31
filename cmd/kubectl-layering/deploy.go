package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"

	"github.com/layering-detection/kubectl-layering/pkg/deploy"
	"github.com/layering-detection/kubectl-layering/pkg/manifests"
	"github.com/layering-detection/kubectl-layering/pkg/output"
)

// exitInterrupted is the shell's code for a command stopped by Ctrl-C.
const exitInterrupted = 130

// interrupted marks a command stopped by Ctrl-C after it reported what it did.
type interrupted struct{ error }

func (i interrupted) Unwrap() error { return i.error }

// newClients builds the cluster clients from the standard kubectl flags.
func newClients(flags *genericclioptions.ConfigFlags) (deploy.Clients, error) {
	cfg, err := flags.ToRESTConfig()
	if err != nil {
		return deploy.Clients{}, cannotRun{fmt.Errorf("kubeconfig: %w (check --kubeconfig, --context, or $KUBECONFIG)", err)}
	}
	// Applies within a phase and the watches of the wait run concurrently:
	// client-go's default of 5 requests/s would queue them (kubectl raises it too).
	cfg.QPS, cfg.Burst = 50, 100
	disc, err := flags.ToDiscoveryClient()
	if err != nil {
		return deploy.Clients{}, cannotRun{err}
	}
	// Decisions rest on what the cluster serves now: the on-disk discovery
	// cache may describe another cluster that had the same address.
	disc.Invalidate()
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(disc)
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return deploy.Clients{}, cannotRun{err}
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return deploy.Clients{}, cannotRun{err}
	}
	return deploy.Clients{Kube: kube, Dynamic: dyn, Discovery: disc, Mapper: mapper, Host: cfg.Host}, nil
}

// classify maps what went wrong to the exit codes of --help.
func classify(ctx context.Context, err error) error {
	var (
		unknown     *manifests.UnknownEnvError
		preflight   *deploy.PreflightError
		unreachable *deploy.UnreachableError
		locked      *deploy.LockedError
		input       *deploy.InputError
	)
	switch {
	case ctx.Err() != nil:
		return interrupted{fmt.Errorf("interrupted: %w", err)}
	case errors.As(err, &unknown), errors.As(err, &preflight), errors.As(err, &unreachable), errors.As(err, &locked), errors.As(err, &input):
		return cannotRun{err}
	}
	return err
}

const deployLong = `Render the environment's embedded manifests, check the cluster's
prerequisites, apply everything with server-side apply (field manager
"kubectl-layering"), prune what earlier deploys applied and the manifests no
longer contain, and wait until every Deployment has rolled out, every volume
claim is bound, every secret synced and every autoscaler reads metrics.
A successful deploy is recorded as a revision that rollback can return to.

One deploy per environment at a time: a second one fails at once and names
the holder. Ctrl-C stops cleanly and reports what was and was not applied;
re-running deploy finishes the job.`

const deployExample = `  # Deploy production at the images the manifests name
  kubectl layering deploy --env prod

  # A release: every service at one tag, one service at a digest
  kubectl layering deploy --env prod --image-tag 1.4.2 \
      --image aggregator=111122223333.dkr.ecr.us-east-1.amazonaws.com/layering-detection-aggregator@sha256:…

  # What would change, evaluated by the API server, nothing persisted
  kubectl layering deploy --env staging --dry-run=server`

func newDeployCommand(streams genericiooptions.IOStreams, kubeFlags *genericclioptions.ConfigFlags) *cobra.Command {
	var (
		opts      deploy.Options
		imageArgs []string
		format    string
	)
	cmd := &cobra.Command{
		Use:     "deploy --env ENV",
		Short:   "Apply one environment and wait until it is healthy",
		Long:    deployLong,
		Example: deployExample,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := output.ParseFormat(format)
			if err != nil {
				return cannotRun{err}
			}
			if opts.Env == "" {
				return cannotRun{errors.New("--env is required (see 'kubectl layering envs')")}
			}
			switch opts.DryRun {
			case "none":
				opts.DryRun = ""
			case "client", "server":
			default:
				return cannotRun{fmt.Errorf("--dry-run=%s: use none, client or server", opts.DryRun)}
			}
			if opts.Images.Services, err = deploy.ParseImageFlags(imageArgs); err != nil {
				return cannotRun{err}
			}
			tree, err := manifests.Embedded()
			if err != nil {
				return err
			}
			if _, err := tree.Env(opts.Env); err != nil {
				return cannotRun{err}
			}
			var clients deploy.Clients
			if opts.DryRun != "client" {
				if clients, err = newClients(kubeFlags); err != nil {
					return err
				}
			}
			ctx := cmd.Context()
			res, runErr := deploy.Run(ctx, clients, tree, opts, output.NewProgress(streams.ErrOut))
			if runErr != nil {
				runErr = classify(ctx, runErr)
				res.Error = runErr.Error()
			}
			// A table of untouched objects says nothing: show it once something was sent.
			if f != output.Table || res.Attempted() || (opts.DryRun == "client" && runErr == nil) {
				if err := output.Print(streams.Out, f, res); err != nil {
					return err
				}
			}
			if runErr != nil {
				return runErr
			}
			if f == output.Table {
				fmt.Fprintln(streams.ErrOut, summary(res))
			}
			return nil
		},
	}
	addEnvFlag(cmd, &opts.Env)
	addOutputFlag(cmd, &format)
	cmd.Flags().StringVar(&opts.Images.Tag, "image-tag", "", "deploy every service at this image tag")
	cmd.Flags().StringArrayVar(&imageArgs, "image", nil, "SERVICE=IMAGE: deploy one service at this image (repeatable)")
	cmd.Flags().StringVar(&opts.DryRun, "dry-run", "none", `"client": render and check only; "server": the API server evaluates everything, nothing is persisted`)
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 5*time.Minute, "how long to wait for the environment to become healthy")
	cmd.Flags().BoolVar(&opts.Prune, "prune", true, "delete objects earlier deploys applied that the manifests no longer contain")
	_ = cmd.RegisterFlagCompletionFunc("dry-run", cobra.FixedCompletions([]string{"none", "client", "server"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func summary(r *deploy.Result) string {
	switch {
	case r.DryRun != "":
		return fmt.Sprintf("%s: dry run (%s), nothing persisted", r.Env, r.DryRun)
	case r.Healthy:
		return fmt.Sprintf("%s deployed and healthy in %.1fs: revision %d, %s", r.Env, r.Seconds, r.Revision, r.Digest)
	}
	return ""
}

func newDiffCommand(streams genericiooptions.IOStreams, kubeFlags *genericclioptions.ConfigFlags) *cobra.Command {
	var (
		env       string
		images    deploy.ImageOverrides
		imageArgs []string
	)
	cmd := &cobra.Command{
		Use:   "diff --env ENV",
		Short: "Show what a deploy would change",
		Long: `Show, as a unified diff, what a deploy of the environment would change
in the cluster, evaluated by the API server (server-side dry run). Like
kubectl diff, it runs "diff -u -N" or $KUBECTL_EXTERNAL_DIFF.
Exit codes: 0 no change, 1 changes, 2 it could not run.`,
		Example: "  kubectl layering diff --env prod --image-tag 1.4.2",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if env == "" {
				return cannotRun{errors.New("--env is required (see 'kubectl layering envs')")}
			}
			var err error
			if images.Services, err = deploy.ParseImageFlags(imageArgs); err != nil {
				return cannotRun{err}
			}
			tree, err := manifests.Embedded()
			if err != nil {
				return err
			}
			objs, _, err := deploy.Render(tree, env, images)
			if err != nil {
				return classify(cmd.Context(), err)
			}
			clients, err := newClients(kubeFlags)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if err := deploy.Preflight(ctx, clients.Discovery, clients.Dynamic, clients.Mapper, clients.Host, objs); err != nil {
				return classify(ctx, err)
			}
			applier := &deploy.Applier{Client: clients.Dynamic, Mapper: clients.Mapper}
			diffs, err := applier.Diff(ctx, objs)
			if err != nil {
				return classify(ctx, err)
			}
			changed, err := externalDiff(streams, diffs)
			if err != nil {
				return cannotRun{err}
			}
			if changed {
				return errChanges
			}
			return nil
		},
	}
	addEnvFlag(cmd, &env)
	cmd.Flags().StringVar(&images.Tag, "image-tag", "", "as deploy --image-tag")
	cmd.Flags().StringArrayVar(&imageArgs, "image", nil, "as deploy --image SERVICE=IMAGE")
	return cmd
}

// errChanges makes diff exit 1 when there is a difference, as kubectl diff does.
var errChanges = errors.New("the cluster differs from the manifests")

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
