package cmd

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/layering-detection/kubectl-layering/pkg/kube"
	"github.com/layering-detection/kubectl-layering/pkg/manifests"
	"github.com/layering-detection/kubectl-layering/pkg/output"
	"github.com/layering-detection/kubectl-layering/pkg/settings"
)

// SettingsFlags is --settings FILE.
type SettingsFlags struct{ SettingsFile string }

func (f *SettingsFlags) AddFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.SettingsFile, "settings", "", "a YAML file of setting: value over the environment's stored settings, for this run only")
}

// resolved is an environment's settings and where each value came from.
type resolved struct {
	values  settings.Settings
	sources map[string]string // key -> embedded | cluster | file
}

// resolve layers the settings: the embedded overlay's, under those stored in
// the cluster (when c is not nil), under --settings FILE.
func (f *SettingsFlags) resolve(ctx context.Context, tree *manifests.Tree, env manifests.Env, c *kube.Clients) (*resolved, error) {
	base, err := tree.Settings(env.Name)
	if err != nil {
		return nil, err
	}
	r := &resolved{values: settings.Settings{}, sources: map[string]string{}}
	layer := func(values map[string]string, source string) {
		for k, v := range values {
			r.values[k], r.sources[k] = v, source
		}
	}
	layer(base, "embedded")
	if c != nil {
		stored, _, err := (&settings.Store{Kube: c.Kube, Namespace: env.Namespace}).Get(ctx)
		if err != nil {
			return nil, err
		}
		layer(stored, "cluster")
	}
	if f.SettingsFile != "" {
		fromFile, err := settings.ReadFile(f.SettingsFile)
		if err != nil {
			return nil, &UsageError{err}
		}
		layer(fromFile, "file")
	}
	return r, nil
}

// reachable is the cluster's clients when its API server answers, else nil:
// for commands that also work without a cluster (render, parity, alarms) and
// read the stored settings when they can.
func reachable(ctx context.Context, f Factory) *kube.Clients {
	c, err := f.Clients()
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := c.ServerVersion(ctx); err != nil {
		return nil
	}
	return &c
}

// tree is the tree that renders env with these settings.
func (r *resolved) tree(tree *manifests.Tree, env string) (*manifests.Tree, error) {
	over := map[string]string{}
	for k, v := range r.values {
		if r.sources[k] != "embedded" {
			over[k] = v
		}
	}
	return tree.WithSettings(env, over)
}

// check refuses an environment whose AWS settings are still placeholders.
func (r *resolved) check(env string) error {
	if problems := settings.Check(env, r.values); len(problems) > 0 {
		return &settings.PlaceholderError{Env: env, Problems: problems}
	}
	return nil
}

// settingsReport is `settings show`.
type settingsReport struct {
	Env      string              `json:"env"`
	Settings []settingsReportRow `json:"settings"`
}

type settingsReportRow struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Source string `json:"source"`
	Status string `json:"status"`
}

func (settingsReport) Header() []string { return []string{"KEY", "VALUE", "SOURCE", "STATUS"} }
func (s settingsReport) Rows() [][]string {
	rows := make([][]string, len(s.Settings))
	for i, r := range s.Settings {
		rows[i] = []string{r.Key, r.Value, r.Source, r.Status}
	}
	return rows
}

func newSettingsReport(env string, r *resolved) settingsReport {
	bad := map[string]string{}
	for _, p := range settings.Check(env, r.values) {
		bad[p.Key] = p.Problem
	}
	rep := settingsReport{Env: env}
	keys := make([]string, 0, len(r.values))
	for k := range r.values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		status := "ok"
		if p, ok := bad[k]; ok {
			status = p
		}
		rep.Settings = append(rep.Settings, settingsReportRow{k, r.values[k], r.sources[k], status})
	}
	return rep
}

// SettingsOptions shows or changes an environment's settings.
type SettingsOptions struct {
	EnvFlags
	OutputFlags
	SettingsFlags
	Action string // show, set or import
	Values settings.Settings

	env     manifests.Env
	tree    *manifests.Tree
	format  output.Format
	clients kube.Clients
	factory Factory
	genericiooptions.IOStreams
}

func NewCmdSettings(f Factory, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "settings",
		Short: "Show or change an environment's AWS settings (account, region, EFS, ALB, certificate)",
		Long: `Each AWS environment's identifiers live in the cluster, in the ConfigMap
kubectl-layering-settings of its namespace, where every operator and the CI
pipeline see the same values; render, diff and deploy use them, and
--settings FILE overrides them for one run. The plugin's embedded values are
placeholders: deploying an environment that still has one is refused before
anything is applied, naming each value and how to fill it. settings init
--from-ecs fills them from the running ECS deployment.`,
		Args: cobra.NoArgs,
	}
	for _, action := range []struct{ use, short, example string }{
		{"show", "Show the settings in effect and where each comes from", "  kubectl layering settings show --env prod -o yaml"},
		{"set KEY=VALUE...", "Store settings in the cluster", "  kubectl layering settings set --env prod efsFileSystemId=fs-0abc12345def67890 region=eu-west-1"},
		{"import", "Store every setting of a file (--settings FILE) in the cluster", "  kubectl layering settings import --env prod --settings prod-settings.yaml"},
	} {
		o := &SettingsOptions{factory: f, IOStreams: streams, Action: strings.Fields(action.use)[0]}
		sub := &cobra.Command{Use: action.use, Short: action.short, Example: action.example, RunE: runE(o)}
		if o.Action != "set" {
			sub.Args = cobra.NoArgs
		}
		o.EnvFlags.AddFlags(sub)
		o.OutputFlags.AddFlags(sub)
		o.SettingsFlags.AddFlags(sub)
		cmd.AddCommand(sub)
	}
	cmd.AddCommand(newCmdSettingsInit(f, streams))
	return cmd
}

func (o *SettingsOptions) Complete(_ *cobra.Command, args []string) (err error) {
	if o.format, err = o.Format(); err != nil {
		return err
	}
	o.Values = settings.Settings{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return usage("%q: want KEY=VALUE", a)
		}
		o.Values[k] = v
	}
	o.tree, err = manifests.Embedded()
	return err
}

func (o *SettingsOptions) Validate() (err error) {
	if o.env, err = o.Resolve(o.tree); err != nil {
		return err
	}
	switch {
	case o.Action == "set" && len(o.Values) == 0:
		return usage("settings set needs KEY=VALUE arguments")
	case o.Action == "import" && o.SettingsFile == "":
		return usage("settings import needs --settings FILE")
	}
	if err := settings.Validate(o.Values); err != nil {
		return &UsageError{err}
	}
	o.clients, err = o.factory.Clients()
	return err
}

func (o *SettingsOptions) Run(ctx context.Context) error {
	if _, err := o.clients.ServerVersion(ctx); err != nil {
		return err
	}
	store := &settings.Store{Kube: o.clients.Kube, Namespace: o.env.Namespace}
	values := o.Values
	if o.Action == "import" {
		fromFile, err := settings.ReadFile(o.SettingsFile)
		if err != nil {
			return &UsageError{err}
		}
		values, o.SettingsFile = fromFile, "" // stored, so shown as from the cluster
	}
	if len(values) > 0 {
		changed, err := store.Merge(ctx, o.env.Name, values)
		if err != nil {
			return err
		}
		if !changed {
			fmt.Fprintln(o.ErrOut, "settings unchanged")
		}
	}
	r, err := o.resolve(ctx, o.tree, o.env, &o.clients)
	if err != nil {
		return err
	}
	return output.Print(o.Out, o.format, newSettingsReport(o.env.Name, r))
}
