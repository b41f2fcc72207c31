package cmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/layering-detection/kubectl-layering/pkg/cutover"
	"github.com/layering-detection/kubectl-layering/pkg/deploy"
	"github.com/layering-detection/kubectl-layering/pkg/kube"
	"github.com/layering-detection/kubectl-layering/pkg/manifests"
	"github.com/layering-detection/kubectl-layering/pkg/output"
	"github.com/layering-detection/kubectl-layering/pkg/revision"
	"github.com/layering-detection/kubectl-layering/pkg/rollback"
)

const rollbackLong = `Return all four services and their configuration to a recorded revision
together: the revision's manifests are re-applied exactly, through the same
preflight, lease, server-side apply, wait and prune as deploy. Objects the
newer revision added are pruned, objects deleted by hand are re-created, and
the autoscalers' replica counts are kept. The rollback is recorded as a new
revision ("rollback to N").

Default target: rollback walks back. It returns to the newest revision older
than the one the live state came from — for a live state that is itself a
rollback to N, older than N — whose manifests differ from the live ones. So
two rollbacks in a row go two steps back; they never flip between two
revisions. --to-revision N returns to N exactly (see 'kubectl layering history').

--to-ecs is the fastest safe way back from a cutover (kubectl layering
cutover): restore the ECS services' capacity (as recorded before
--scale-in-ecs, else the ECS baseline's), wait until they are stable and
their targets healthy, then put every listener rule 100 % on ECS in one pass,
and print a timeline. It needs AWS only: without a reachable cluster it still
runs (the cutover record is then not updated). The Kubernetes environment
keeps running with no traffic unless --scale-down is given. --timeout bounds
the wait for stable, healthy ECS services; if they are not, no traffic moves.
IAM: docs/iam/cutover-policy.json.

Exit codes: 0 healthy at the target, 1 failed (the error says which objects
are at which revision), 2 could not run (no such revision, nothing to roll
back to, preflight, busy), 130 interrupted.`

// RollbackOptions returns an environment to a recorded revision, or its
// traffic to ECS (--to-ecs).
type RollbackOptions struct {
	EnvFlags
	ReleaseFlags
	ToRevision int
	ToECS      bool
	ScaleDown  bool
	ECSFlags

	env     manifests.Env
	clients kube.Clients
	factory Factory
	genericiooptions.IOStreams
}

func NewCmdRollback(f Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &RollbackOptions{factory: f, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "rollback --env ENV [--to-revision N | --to-ecs]",
		Short: "Return an environment to a recorded revision",
		Long:  rollbackLong,
		Example: `  # Back one step (see the rule above)
  kubectl layering rollback --env prod

  # To a given revision, evaluated by the API server first
  kubectl layering history --env prod
  kubectl layering rollback --env prod --to-revision 3 --dry-run=server

  # All traffic back on ECS, now
  kubectl layering rollback --to-ecs --env prod`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	o.EnvFlags.AddFlags(cmd)
	o.ReleaseFlags.AddFlags(cmd)
	cmd.Flags().IntVar(&o.ToRevision, "to-revision", 0, "the revision to return to (default: walk back one step)")
	cmd.Flags().BoolVar(&o.ToECS, "to-ecs", false, "put all traffic back on the ECS services (after a cutover), restoring their capacity first")
	cmd.Flags().BoolVar(&o.ScaleDown, "scale-down", false, "with --to-ecs: then scale the environment's Deployments to 0")
	o.ECSFlags.AddFlags(cmd)
	return cmd
}

func (o *RollbackOptions) Complete(*cobra.Command, []string) error { return o.complete() }

func (o *RollbackOptions) Validate() error {
	tree, err := manifests.Embedded()
	if err != nil {
		return err
	}
	if o.env, err = o.Resolve(tree); err != nil {
		return err
	}
	if o.ToRevision < 0 {
		return usage("--to-revision must be positive")
	}
	if o.ToECS && o.ToRevision != 0 {
		return usage("--to-ecs and --to-revision: one or the other (the traffic back to ECS, or the environment back to a revision)")
	}
	if o.ScaleDown && !o.ToECS {
		return usage("--scale-down goes with --to-ecs")
	}
	if o.ToECS { // the way back to ECS must not depend on the cluster: Run asks it
		return nil
	}
	o.clients, err = o.factory.Clients()
	return err
}

func (o *RollbackOptions) Run(ctx context.Context) error {
	if o.ToECS {
		return o.runToECS(ctx)
	}
	if _, err := o.clients.ServerVersion(ctx); err != nil {
		return err
	}
	release := newRelease(o.clients, o.dryRun, o.Timeout, true, false, o.IOStreams)
	rb := &rollback.Rollback{Release: release, Store: &revision.Store{Kube: o.clients.Kube, Namespace: o.env.Namespace}, Env: o.env, ToRevision: o.ToRevision}
	res, err := rb.Run(ctx)
	if res == nil {
		return err
	}
	if o.format != output.Table || res.Attempted() || (o.dryRun == deploy.DryRunClient && err == nil) {
		if perr := output.Print(o.Out, o.format, res); perr != nil {
			return perr
		}
	}
	if err == nil && o.format == output.Table {
		fmt.Fprintf(o.ErrOut, "%s rolled back from revision %d to %d: %s\n", o.env.Name, res.From, res.To, summary(res.Result))
	}
	return err
}

// HistoryOptions lists an environment's revisions.
type HistoryOptions struct {
	EnvFlags
	OutputFlags

	env     manifests.Env
	format  output.Format
	clients kube.Clients
	factory Factory
	genericiooptions.IOStreams
}

func NewCmdHistory(f Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &HistoryOptions{factory: f, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "history --env ENV",
		Short: "List an environment's recorded revisions, newest first",
		Long: `List the revisions recorded by deploy and rollback, newest first: when, by
whom, what made them ("deploy", "rollback to 3", "atomic rollback after failed
deploy of …"), which one is live, and what changed against the one before
(the services whose image changed; whether anything else did). The last 10 are kept.`,
		Example: `  kubectl layering history --env prod
  kubectl layering history --env prod -o json`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	o.EnvFlags.AddFlags(cmd)
	o.OutputFlags.AddFlags(cmd)
	return cmd
}

func (o *HistoryOptions) Complete(*cobra.Command, []string) (err error) {
	o.format, err = o.Format()
	return err
}

func (o *HistoryOptions) Validate() error {
	tree, err := manifests.Embedded()
	if err != nil {
		return err
	}
	if o.env, err = o.Resolve(tree); err != nil {
		return err
	}
	o.clients, err = o.factory.Clients()
	return err
}

func (o *HistoryOptions) Run(ctx context.Context) error {
	if _, err := o.clients.ServerVersion(ctx); err != nil {
		return err
	}
	revs, err := (&revision.Store{Kube: o.clients.Kube, Namespace: o.env.Namespace}).List(ctx, o.env.Name, true)
	if err != nil {
		return err
	}
	return output.Print(o.Out, o.format, rollback.NewHistory(revs))
}

// runToECS puts all traffic back on ECS; the cluster, when reachable, gets
// the cutover record and (--scale-down) the scale-down.
func (o *RollbackOptions) runToECS(ctx context.Context) error {
	clients := reachable(ctx, o.factory) // the way back to ECS does not wait for a cluster that is down
	if clients == nil {
		if o.ScaleDown {
			return usage("--scale-down needs the cluster, which is not reachable (check --kubeconfig, --context)")
		}
		fmt.Fprintln(o.ErrOut, "warning: the cluster is not reachable: rolling back to ECS without it; the cutover record is not updated")
	}
	tree, err := manifests.Embedded()
	if err != nil {
		return err
	}
	settings := &SettingsFlags{}
	r, err := settings.resolve(ctx, tree, o.env, clients)
	if err != nil {
		return err
	}
	a, _, err := o.awsFor(ctx, r.values["region"])
	if err != nil {
		return err
	}
	back := &cutover.ToECS{AWS: a, DryRun: o.dryRun != deploy.DryRunNone, Timeout: o.Timeout, Out: o.ErrOut}
	if clients != nil {
		back.Record = &cutover.ConfigMapStore{Kube: clients.Kube, Namespace: o.env.Namespace, Env: o.env.Name}
		if o.ScaleDown {
			back.ScaleDown = cutover.ScaleDown(clients.Kube, o.env.Namespace)
		}
	}
	rep, err := back.Run(ctx)
	if err != nil && rep != nil {
		rep.Error = err.Error()
	}
	if rep != nil && len(rep.Timeline) > 0 {
		if perr := output.Print(o.Out, o.format, rep); perr != nil {
			return perr
		}
	}
	return err
}
