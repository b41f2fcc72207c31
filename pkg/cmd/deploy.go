package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/layering-detection/kubectl-layering/pkg/deploy"
	"github.com/layering-detection/kubectl-layering/pkg/kube"
	"github.com/layering-detection/kubectl-layering/pkg/manifests"
	"github.com/layering-detection/kubectl-layering/pkg/output"
	"github.com/layering-detection/kubectl-layering/pkg/revision"
	"github.com/layering-detection/kubectl-layering/pkg/rollback"
)

const deployLong = `Render the environment's embedded manifests, check the cluster's
prerequisites, apply everything with server-side apply (field manager
"kubectl-layering"), prune what earlier deploys applied and the manifests no
longer contain, and wait until every workload has rolled out, every volume
claim is bound and every secret synced. Autoscalers that are only waiting for
the first metrics of new pods are reported as pending and do not hold the
deploy (--wait-for-metrics waits for them too); an autoscaler that cannot work
(e.g. a container without the resource request its target is measured
against) fails the deploy at once. A successful deploy is recorded as a
revision that rollback can return to.

--monitoring releases the cluster-level log shipping through the same
pipeline (namespace amazon-cloudwatch holds its lease, inventory and
revisions): Fluent Bit's namespace, RBAC, ServiceAccount and configuration,
then its DaemonSet, waited on until ready on every node. It takes accountId
(the account of its IRSA role, layering-detection-fluent-bit) and region from
--env's settings and refuses placeholders before anything is applied.

One deploy or rollback per environment at a time: a second one fails at once
and names the holder; a deploy that loses its lease stops. Ctrl-C stops
cleanly and reports what was and was not applied; re-running deploy finishes
the job.

Exit codes: 0 healthy, 1 failed, 2 could not run (input, kubeconfig,
unreachable, preflight, busy), 130 interrupted.`

const deployExample = `  # Deploy production at the images the manifests name
  kubectl layering deploy --env prod

  # A release: every service at one tag, one service at a digest
  kubectl layering deploy --env prod --image-tag 1.4.2 \
      --image aggregator=111122223333.dkr.ecr.us-east-1.amazonaws.com/layering-detection-aggregator@sha256:…

  # What would change, evaluated by the API server, nothing persisted
  kubectl layering deploy --env staging --dry-run=server

  # The cluster's log shipping (Fluent Bit to CloudWatch Logs), with prod's accountId and region
  kubectl layering deploy --monitoring --env prod`

// DeployOptions deploys one environment.
type DeployOptions struct {
	EnvFlags
	ImageFlags
	ReleaseFlags
	SettingsFlags
	Prune          bool
	WaitForMetrics bool
	Atomic         bool
	Filename       string
	Monitoring     bool

	env     manifests.Env
	tree    *manifests.Tree
	images  deploy.ImageOverrides
	clients kube.Clients
	factory Factory
	genericiooptions.IOStreams
}

func NewCmdDeploy(f Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &DeployOptions{factory: f, IOStreams: streams}
	cmd := &cobra.Command{
		Use:     "deploy --env ENV",
		Short:   "Apply one environment and wait until it is healthy",
		Long:    deployLong,
		Example: deployExample,
		Args:    cobra.NoArgs,
		RunE:    runE(o),
	}
	o.EnvFlags.AddFlags(cmd)
	o.ImageFlags.AddFlags(cmd)
	o.ReleaseFlags.AddFlags(cmd)
	o.SettingsFlags.AddFlags(cmd)
	cmd.Flags().BoolVar(&o.Prune, "prune", true, "delete objects earlier deploys applied that the manifests no longer contain")
	cmd.Flags().BoolVar(&o.WaitForMetrics, "wait-for-metrics", false, "also wait until every autoscaler has read its first metrics")
	cmd.Flags().BoolVar(&o.Atomic, "atomic", false, "if the environment does not become healthy, roll back to the last recorded revision (with none, the objects stay for inspection)")
	cmd.Flags().StringVarP(&o.Filename, "filename", "f", "", "deploy exactly these manifests (e.g. from 'render', reviewed) instead of rendering; they must all belong to --env")
	cmd.Flags().BoolVar(&o.Monitoring, "monitoring", false, "deploy the cluster-level log shipping (Fluent Bit, namespace amazon-cloudwatch) instead, with --env's accountId and region settings")
	return cmd
}

func (o *DeployOptions) Complete(*cobra.Command, []string) (err error) {
	if err = o.complete(); err != nil {
		return err
	}
	if o.images, err = o.Overrides(); err != nil {
		return err
	}
	o.tree, err = manifests.Embedded()
	return err
}

func (o *DeployOptions) Validate() (err error) {
	if o.env, err = o.Resolve(o.tree); err != nil {
		return err
	}
	if o.Monitoring && (o.images.Tag != "" || len(o.images.Services) > 0) {
		return usage("--monitoring deploys Fluent Bit: --image-tag and --image name the services' images and do not apply")
	}
	if o.dryRun != deploy.DryRunClient {
		o.clients, err = o.factory.Clients()
	}
	return err
}

func (o *DeployOptions) Run(ctx context.Context) error {
	m, err := o.manifest(ctx)
	if err != nil {
		return err
	}
	release := newRelease(o.clients, o.dryRun, o.Timeout, o.Prune, o.WaitForMetrics, o.IOStreams)
	release.Description = "deploy"
	res, err := release.Run(ctx, m)
	if err != nil && o.Atomic && o.dryRun == deploy.DryRunNone && rollback.IsUnhealthy(err) && ctx.Err() == nil {
		return o.rollBackAtomically(ctx, m, res, err)
	}
	return o.report(res, err)
}

// manifest is what to deploy: rendered with the environment's settings
// (refused while any is a placeholder), or read from -f.
func (o *DeployOptions) manifest(ctx context.Context) (*deploy.Manifest, error) {
	if o.Filename == "" {
		var c *kube.Clients
		if o.dryRun != deploy.DryRunClient {
			if _, err := o.clients.ServerVersion(ctx); err != nil {
				return nil, err // unreachable: say so before anything else
			}
			c = &o.clients
		}
		r, err := o.resolve(ctx, o.tree, o.env, c)
		if err != nil {
			return nil, err
		}
		if o.Monitoring {
			return monitoringManifest(o.tree, o.env.Name, r, true)
		}
		if o.dryRun != deploy.DryRunClient {
			if err := r.check(o.env.Name); err != nil {
				return nil, err
			}
		}
		tree, err := r.tree(o.tree, o.env.Name)
		if err != nil {
			return nil, err
		}
		return deploy.Render(tree, o.env.Name, o.images)
	}
	if o.images.Tag != "" || len(o.images.Services) > 0 {
		return nil, usage("-f deploys the file as it is: --image-tag and --image do not apply (render with them instead)")
	}
	data, err := os.ReadFile(o.Filename)
	if err != nil {
		return nil, &UsageError{err}
	}
	into := o.env
	if o.Monitoring {
		if into, err = o.tree.Monitoring(); err != nil {
			return nil, err
		}
	}
	m, err := deploy.FromYAML(into, data)
	if err != nil {
		return nil, &UsageError{fmt.Errorf("%s: %w", o.Filename, err)}
	}
	if err := deploy.CheckBelongs(m); err != nil {
		return nil, &UsageError{fmt.Errorf("%s: %w", o.Filename, err)}
	}
	if err := deploy.CheckPinned(into.Name, m.Images); err != nil {
		return nil, &deploy.InputError{Err: err}
	}
	return m, nil
}

// rollBackAtomically returns to the last recorded revision after a release
// that did not become healthy, reports both outcomes in one result, and fails
// either way: the deploy did not happen.
func (o *DeployOptions) rollBackAtomically(ctx context.Context, failed *deploy.Manifest, res *deploy.Result, deployErr error) error {
	fmt.Fprintf(o.ErrOut, "deploy failed: %v\n--atomic: rolling back to the last recorded revision\n", deployErr)
	release := newRelease(o.clients, deploy.DryRunNone, o.Timeout, o.Prune, false, o.IOStreams)
	store := &revision.Store{Kube: o.clients.Kube, Namespace: failed.Env.Namespace}
	rb, err := rollback.Atomic(ctx, release, store, failed.Env, failed)
	if rb != nil {
		res.Rollback = rb.Result
	}
	if perr := o.report(res, nil); perr != nil {
		return perr
	}
	if o.format == output.Table && rb != nil {
		_ = output.Print(o.Out, o.format, rb.Result)
	}
	var none *rollback.NoEarlierRevisionError
	switch {
	case errors.As(err, &none):
		return fmt.Errorf("%w; --atomic had no earlier revision to return to: the failed deploy's objects stay for inspection (kubectl layering verify --env %s)", deployErr, o.env.Name)
	case err != nil:
		return fmt.Errorf("%w; and the atomic rollback failed too: %w", deployErr, err)
	}
	return fmt.Errorf("%w; rolled back to revision %d, which is healthy (recorded as revision %d)", deployErr, rb.To, rb.Revision)
}

// newRelease is the release pipeline as deploy and rollback configure it.
func newRelease(c kube.Clients, dryRun deploy.DryRun, timeout time.Duration, prune, waitForMetrics bool, streams genericiooptions.IOStreams) *deploy.Release {
	return &deploy.Release{
		Clients: c, DryRun: dryRun, Timeout: timeout, Prune: prune, WaitForMetrics: waitForMetrics,
		Progress: output.NewProgress(streams.ErrOut), Warnings: streams.ErrOut,
	}
}

// report prints the result (a table only once something was sent) and the summary.
func (o *DeployOptions) report(res *deploy.Result, runErr error) error {
	if o.format != output.Table || res.Attempted() || (o.dryRun == deploy.DryRunClient && runErr == nil) {
		if err := output.Print(o.Out, o.format, res); err != nil {
			return err
		}
	}
	if runErr != nil {
		return runErr
	}
	if o.format == output.Table {
		fmt.Fprintln(o.ErrOut, summary(res))
	}
	return nil
}

func summary(r *deploy.Result) string {
	switch {
	case r.DryRun != "":
		return fmt.Sprintf("%s: dry run (%s), nothing persisted", r.Env, r.DryRun)
	case !r.Healthy:
		return ""
	}
	s := fmt.Sprintf("%s deployed and healthy in %.1fs: revision %d, %s", r.Env, r.Seconds, r.Revision, r.Digest)
	for _, p := range r.Pending {
		s += fmt.Sprintf("\n  %s: %s", p.Object, p.Reason)
	}
	return s
}
