package cmd

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/layering-detection/kubectl-layering/pkg/alarms"
	"github.com/layering-detection/kubectl-layering/pkg/awsconfig"
	"github.com/layering-detection/kubectl-layering/pkg/ecsstate"
	"github.com/layering-detection/kubectl-layering/pkg/kube"
	"github.com/layering-detection/kubectl-layering/pkg/manifests"
	"github.com/layering-detection/kubectl-layering/pkg/output"
	"github.com/layering-detection/kubectl-layering/pkg/settings"
)

// DefaultECSCluster is the ECS cluster of the platform (shared/spec/ecs-baseline.md).
const DefaultECSCluster = "layering-detection-cluster"

const settingsInitLong = `Fill an environment's settings from the running ECS deployment and store
them in the cluster (ConfigMap kubectl-layering-settings of its namespace).

Read-only calls (docs/iam/settings-policy.json): sts:GetCallerIdentity (the
account), ECS services and task definitions (the EFS file system and access
points of their volumes), EFS (that they exist), ELBv2 (the certificate of the
ALB's HTTPS listener), Secrets Manager DescribeSecret (names only, never a
value), Application Auto Scaling and CloudWatch alarms (the alarms' SNS topic).

Each value is printed with where it came from; what ECS cannot tell is kept
when the value in effect is usable, and listed as missing otherwise, with how
to fill it. A re-run with nothing changed writes nothing. Exit 1 when a value
the environment's manifests need is missing (what was found is still stored).`

// SettingsInitOptions fills an environment's settings from ECS.
type SettingsInitOptions struct {
	EnvFlags
	OutputFlags
	FromECS bool
	Cluster string
	DryRun  bool

	env     manifests.Env
	keys    []string // the settings the environment uses
	tree    *manifests.Tree
	format  output.Format
	clients kube.Clients
	factory Factory
	genericiooptions.IOStreams
}

func newCmdSettingsInit(f Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &SettingsInitOptions{factory: f, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "init --env ENV --from-ecs",
		Short: "Fill the settings from the running ECS deployment, printing where each value came from",
		Long:  settingsInitLong,
		Example: `  kubectl layering settings init --env prod --from-ecs --dry-run
  kubectl layering settings init --env prod --from-ecs --cluster layering-detection-cluster -o yaml`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	o.EnvFlags.AddFlags(cmd)
	o.OutputFlags.AddFlags(cmd)
	cmd.Flags().BoolVar(&o.FromECS, "from-ecs", false, "read the values from the ECS deployment (the one source so far)")
	cmd.Flags().StringVar(&o.Cluster, "cluster", DefaultECSCluster, "the ECS cluster the platform runs in")
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "print what would be stored, store nothing")
	return cmd
}

func (o *SettingsInitOptions) Complete(*cobra.Command, []string) (err error) {
	if o.format, err = o.Format(); err != nil {
		return err
	}
	o.tree, err = manifests.Embedded()
	return err
}

func (o *SettingsInitOptions) Validate() (err error) {
	if o.env, err = o.Resolve(o.tree); err != nil {
		return err
	}
	if !o.FromECS {
		return usage("settings init needs --from-ecs (the running ECS deployment is where the values come from)")
	}
	if o.Cluster == "" {
		return usage("--cluster must name the ECS cluster")
	}
	if o.keys, err = o.uses(); err != nil {
		return err
	}
	o.clients, err = o.factory.Clients()
	return err
}

func (o *SettingsInitOptions) Run(ctx context.Context) error {
	if _, err := o.clients.ServerVersion(ctx); err != nil {
		return err
	}
	store := &settings.Store{Kube: o.clients.Kube, Namespace: o.env.Namespace}
	stored, _, err := store.Get(ctx)
	if err != nil {
		return err
	}
	effective, sources, err := o.effective(stored)
	if err != nil {
		return err
	}
	d, reader, err := readECS(ctx, o.Cluster, effective["region"], "")
	if err != nil {
		return err
	}
	rep := &settingsInitReport{Env: o.env.Name, Cluster: o.Cluster, Account: d.Account, Region: d.Region, DryRun: o.DryRun,
		Findings: settings.FromECS(o.env.Name, d, o.keys, stored, effective, sources), AWSCalls: reader.Calls.Load(), IAMActions: reader.Actions()}
	values := settings.Settings{}
	for _, f := range rep.Findings {
		if f.Action == settings.ActionSet {
			values[f.Key] = f.Value
		}
	}
	if len(values) > 0 && !o.DryRun {
		if rep.Written, err = store.Merge(ctx, o.env.Name, values); err != nil {
			return err
		}
	}
	if err := output.Print(o.Out, o.format, rep); err != nil {
		return err
	}
	fmt.Fprintln(o.ErrOut, rep.summary(o.env.Namespace))
	return rep.incomplete()
}

// uses are the settings the environment's manifests read; the local
// environment has none (no AWS).
func (o *SettingsInitOptions) uses() ([]string, error) {
	embedded, err := o.tree.Settings(o.env.Name)
	if err != nil {
		return nil, err
	}
	var uses []string
	for k := range embedded {
		if k != "env" {
			uses = append(uses, k)
		}
	}
	if len(uses) == 0 {
		return nil, usage("environment %s uses no AWS settings: there is nothing to fill from ECS", o.env.Name)
	}
	sort.Strings(uses)
	return uses, nil
}

// effective is what render and deploy would use: stored over embedded.
func (o *SettingsInitOptions) effective(stored settings.Settings) (settings.Settings, map[string]string, error) {
	embedded, err := o.tree.Settings(o.env.Name)
	if err != nil {
		return nil, nil, err
	}
	values, sources := settings.Settings{}, map[string]string{}
	for k, v := range embedded {
		values[k], sources[k] = v, "embedded"
	}
	for k, v := range stored {
		values[k], sources[k] = v, "cluster"
	}
	return values, sources, nil
}

// readECS loads the AWS configuration and reads the ECS deployment, with the
// ECS alarms (and environment eksEnv's EKS alarms, when it is not empty).
func readECS(ctx context.Context, cluster, region, eksEnv string) (*ecsstate.Deployment, *ecsstate.Reader, error) {
	cfg, err := awsconfig.Load(ctx, region)
	if err != nil {
		return nil, nil, err
	}
	set, err := alarms.LoadAlarms()
	if err != nil {
		return nil, nil, err
	}
	r := ecsstate.NewReader(cfg, cluster)
	for _, svc := range set.Services {
		for _, a := range set.Alarms {
			r.AlarmNames = append(r.AlarmNames, a.ECSAlarmName(svc))
			if eksEnv != "" {
				r.AlarmNames = append(r.AlarmNames, a.AlarmName(eksEnv, svc))
			}
		}
	}
	d, err := r.Read(ctx, cfg.Region)
	return d, r, err
}

// settingsInitReport is what init found, and what it stored.
type settingsInitReport struct {
	Env        string             `json:"env"`
	Cluster    string             `json:"ecsCluster"`
	Account    string             `json:"account"`
	Region     string             `json:"region"`
	DryRun     bool               `json:"dryRun,omitempty"`
	Findings   []settings.Finding `json:"settings"`
	Written    bool               `json:"written"`
	AWSCalls   int64              `json:"awsCalls"`
	IAMActions []string           `json:"iamActions"` // what the read needed (docs/iam/settings-policy.json)
}

func (settingsInitReport) Header() []string { return []string{"KEY", "VALUE", "ACTION", "FROM"} }

func (r *settingsInitReport) Rows() [][]string {
	rows := make([][]string, len(r.Findings))
	for i, f := range r.Findings {
		value, from := f.Value, f.From
		if value == "" {
			value = "-"
		}
		if f.Was != "" {
			from += " (was " + f.Was + ")"
		}
		if f.Action == settings.ActionKept {
			from += "; the " + f.Source + " value stays"
		}
		if f.Action == settings.ActionMissing && !f.Needed {
			from += " (not needed by deploy)"
		}
		rows[i] = []string{f.Key, value, f.Action, from}
	}
	return rows
}

func (r *settingsInitReport) count(action string) int {
	n := 0
	for _, f := range r.Findings {
		if f.Action == action {
			n++
		}
	}
	return n
}

func (r *settingsInitReport) summary(namespace string) string {
	head := fmt.Sprintf("settings init %s from ECS cluster %s (account %s, %s, %d AWS calls): %d set, %d unchanged, %d kept, %d missing",
		r.Env, r.Cluster, r.Account, r.Region, r.AWSCalls, r.count(settings.ActionSet), r.count(settings.ActionUnchanged),
		r.count(settings.ActionKept), r.count(settings.ActionMissing))
	switch {
	case r.DryRun:
		return head + " — dry run, nothing stored"
	case r.Written:
		return head + fmt.Sprintf(" — stored in ConfigMap %s/%s", namespace, settings.ConfigMapName)
	}
	return head + " — nothing changed, nothing written"
}

// IncompleteError names the settings the environment needs that ECS did not give.
type IncompleteError struct {
	Env     string
	Missing []settings.Finding
}

func (e *IncompleteError) Error() string {
	lines := make([]string, len(e.Missing))
	for i, f := range e.Missing {
		lines[i] = fmt.Sprintf("  - %s: %s\n    fix: %s", f.Key, f.From, f.Fix)
	}
	return fmt.Sprintf("%d settings environment %s needs were not found in ECS (deploy refuses until they are filled):\n%s",
		len(e.Missing), e.Env, strings.Join(lines, "\n"))
}

func (r *settingsInitReport) incomplete() error {
	var missing []settings.Finding
	for _, f := range r.Findings {
		if f.Action == settings.ActionMissing && f.Needed {
			missing = append(missing, f)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return &IncompleteError{r.Env, missing}
}
