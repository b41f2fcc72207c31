package cmd

import (
	"context"
	"errors"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/layering-detection/kubectl-layering/pkg/alarms"
	"github.com/layering-detection/kubectl-layering/pkg/awsconfig"
	"github.com/layering-detection/kubectl-layering/pkg/deploy"
	"github.com/layering-detection/kubectl-layering/pkg/manifests"
	"github.com/layering-detection/kubectl-layering/pkg/output"
)

const alarmsLong = `The ECS deployment's CloudWatch alarms and dashboard, re-created on the
Container Insights metrics of the environment's pods: per service high CPU
(> 80 % avg 300 s × 2), high memory (> 85 % avg 300 s × 2) and low running
count (< 1 avg 60 s × 1), and one dashboard widget per service.

  sync    list the metrics that actually exist, then create, update or delete
          the environment's alarms (named layering-detection-eks-<env>-…,
          tagged ` + alarms.OwnerTag + `) and its dashboard; a repeated sync
          with nothing changed writes nothing; alarms of the same name made by
          someone else are never touched (refused, exit 1); services that
          publish no metrics are named instead of getting alarms that could
          never leave INSUFFICIENT_DATA (--allow-missing-metrics overrides)
  status  every alarm's state next to the ECS alarm it replaces; exit 1 when
          any is in ALARM (a gate for a cutover step)
  delete  remove what sync made, nothing else

AWS access: the standard configuration (AWS_PROFILE, AWS_REGION,
AWS_ENDPOINT_URL…); the environment's settings give its region, clusterName
and alarmTopicArn (kubectl layering settings). IAM: docs/iam/alarms-policy.json.`

// AlarmsOptions syncs, shows or deletes an environment's alarms.
type AlarmsOptions struct {
	EnvFlags
	OutputFlags
	DryRunFlags
	SettingsFlags
	Action       string
	AllowMissing bool

	env     manifests.Env
	tree    *manifests.Tree
	format  output.Format
	dryRun  deploy.DryRun
	factory Factory
	genericiooptions.IOStreams
}

func NewCmdAlarms(f Factory, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{Use: "alarms", Short: "CloudWatch alarms and dashboard from live Container Insights metrics", Long: alarmsLong, Args: cobra.NoArgs}
	for _, a := range []struct{ use, short, example string }{
		{"sync", "Create, update or delete the environment's alarms and dashboard", "  kubectl layering alarms sync --env prod --dry-run\n  kubectl layering alarms sync --env prod"},
		{"status", "Each alarm's state next to the ECS alarm it replaces", "  kubectl layering alarms status --env prod -o json"},
		{"delete", "Remove the alarms and dashboard sync made", "  kubectl layering alarms delete --env staging"},
	} {
		o := &AlarmsOptions{factory: f, IOStreams: streams, Action: a.use}
		sub := &cobra.Command{Use: a.use + " --env ENV", Short: a.short, Example: a.example, Args: cobra.NoArgs, RunE: runE(o)}
		o.EnvFlags.AddFlags(sub)
		o.OutputFlags.AddFlags(sub)
		o.SettingsFlags.AddFlags(sub)
		if a.use != "status" {
			o.DryRunFlags.AddFlags(sub)
		}
		if a.use == "sync" {
			sub.Flags().BoolVar(&o.AllowMissing, "allow-missing-metrics", false, "create alarms also for services that publish no metrics yet")
		}
		cmd.AddCommand(sub)
	}
	return cmd
}

func (o *AlarmsOptions) Complete(*cobra.Command, []string) (err error) {
	if o.format, err = o.Format(); err != nil {
		return err
	}
	if o.dryRun, err = o.Mode(); err != nil {
		return err
	}
	o.tree, err = manifests.Embedded()
	return err
}

func (o *AlarmsOptions) Validate() (err error) {
	o.env, err = o.Resolve(o.tree)
	return err
}

func (o *AlarmsOptions) Run(ctx context.Context) error {
	syncer, err := o.syncer(ctx)
	if err != nil {
		return err
	}
	switch o.Action {
	case "status":
		st, err := alarms.ReadStatus(ctx, syncer.CW, syncer.Set, o.env.Name)
		if err != nil {
			return err
		}
		if err := output.Print(o.Out, o.format, st); err != nil {
			return err
		}
		if st.Firing() {
			return errors.New("an alarm is in ALARM")
		}
		return nil
	case "delete":
		rep, err := syncer.Delete(ctx)
		return o.print(rep, err)
	}
	rep, err := syncer.Sync(ctx)
	return o.print(rep, err)
}

func (o *AlarmsOptions) print(rep *alarms.Report, err error) error {
	if rep != nil && rep.Changes != nil {
		if perr := output.Print(o.Out, o.format, rep); perr != nil {
			return perr
		}
	}
	return err
}

// syncer is the CloudWatch client and the alarms' target from the environment's settings.
func (o *AlarmsOptions) syncer(ctx context.Context) (*alarms.Syncer, error) {
	r, err := o.resolve(ctx, o.tree, o.env, reachable(ctx, o.factory)) // stored settings, when a cluster is at hand
	if err != nil {
		return nil, err
	}
	if r.values["clusterName"] == "" && o.Action != "status" { // status reads alarms by name only
		return nil, usage("environment %s has no clusterName setting (the EKS cluster Container Insights publishes under): kubectl layering settings set --env %s clusterName=… or --settings FILE", o.env.Name, o.env.Name)
	}
	cfg, err := awsconfig.Load(ctx, r.values["region"])
	if err != nil {
		return nil, err
	}
	set, err := alarms.LoadAlarms()
	if err != nil {
		return nil, err
	}
	dash, err := alarms.LoadDashboard()
	if err != nil {
		return nil, err
	}
	calls := &alarms.Calls{}
	t := alarms.Target{Env: o.env.Name, Namespace: o.env.Namespace, Cluster: r.values["clusterName"]}
	if topic := strings.TrimSpace(r.values["alarmTopicArn"]); topic != "" {
		t.Actions = []string{topic}
	}
	return &alarms.Syncer{CW: cloudwatch.NewFromConfig(cfg, alarms.Counting(calls)), Calls: calls, Set: set, Dashboard: dash,
		Target: t, Region: cfg.Region, DryRun: o.dryRun != deploy.DryRunNone, AllowMissing: o.AllowMissing}, nil
}
