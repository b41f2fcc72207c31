package cmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

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

Exit codes: 0 healthy at the target, 1 failed (the error says which objects
are at which revision), 2 could not run (no such revision, nothing to roll
back to, preflight, busy), 130 interrupted.`

// RollbackOptions returns an environment to a recorded revision.
type RollbackOptions struct {
	EnvFlags
	ReleaseFlags
	ToRevision int

	env     manifests.Env
	clients kube.Clients
	factory Factory
	genericiooptions.IOStreams
}

func NewCmdRollback(f Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &RollbackOptions{factory: f, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "rollback --env ENV [--to-revision N]",
		Short: "Return an environment to a recorded revision",
		Long:  rollbackLong,
		Example: `  # Back one step (see the rule above)
  kubectl layering rollback --env prod

  # To a given revision, evaluated by the API server first
  kubectl layering history --env prod
  kubectl layering rollback --env prod --to-revision 3 --dry-run=server`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	o.EnvFlags.AddFlags(cmd)
	o.ReleaseFlags.AddFlags(cmd)
	cmd.Flags().IntVar(&o.ToRevision, "to-revision", 0, "the revision to return to (default: walk back one step)")
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
	o.clients, err = o.factory.Clients()
	return err
}

func (o *RollbackOptions) Run(ctx context.Context) error {
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
