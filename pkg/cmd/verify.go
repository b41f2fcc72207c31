package cmd

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/kustomize/api/pkg/util"

	"github.com/layering-detection/kubectl-layering/pkg/awsconfig"
	"github.com/layering-detection/kubectl-layering/pkg/deploy"
	"github.com/layering-detection/kubectl-layering/pkg/kube"
	"github.com/layering-detection/kubectl-layering/pkg/manifests"
	"github.com/layering-detection/kubectl-layering/pkg/output"
	"github.com/layering-detection/kubectl-layering/pkg/verify"
)

const verifyLong = `Check a deployed environment from inside the cluster and report each check
as pass, warn, fail or skip, with the reason and a hint what to do:

  probes   Deployments available at their desired count, pods ready and not
           restarting, probes as specified, GET /health 200 through each Service
  dns      from the orchestrator's own network namespace, the service names
           resolve and accept connections
  volumes  claims Bound; input read-only inside the orchestrator; output and
           logs writable as uid 1000 inside the aggregator
  secrets  ExternalSecrets ready; the Secrets hold the keys the pods read
           (values are never read into output)
  scaling  each HPA reads CPU and memory and has the specified min/max/targets
  ingress  the Ingress has an address, and /health answers through it
           (skipped, with the reason, when it cannot be reached from here)
  logging  only when asked for (--check logging): the Fluent Bit DaemonSet
           (deploy --monitoring) is ready on every node and, when AWS can be
           reached (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL…; the env's
           region setting), each service's log group /ecs/layering-detection/
           <service> holds events of this environment's pods (streams
           ecs/<namespace>/…) from the last --log-window (FilterLogEvents)

--deep also proves that data written to the writable volumes survives a pod
restart: it restarts one aggregator pod (the Deployment replaces it).

dns and volumes run a small probe as an ephemeral container in the pods (it
exits at once; Kubernetes keeps it listed in the pod as terminated).
The environment comes from --env, or from -n/the context's namespace.
Exit codes: 0 every check passed, 1 something failed, 2 verify could not run.`

// VerifyOptions checks a deployed environment from inside the cluster.
type VerifyOptions struct {
	EnvFlags
	OutputFlags
	Checks     []string
	ProbeImage string
	Deep       bool
	Timeout    time.Duration
	LogWindow  time.Duration
	SettingsFlags

	env     manifests.Env
	tree    *manifests.Tree
	format  output.Format
	clients kube.Clients
	factory Factory
	genericiooptions.IOStreams
}

func NewCmdVerify(f Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &VerifyOptions{factory: f, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "verify [--env ENV]",
		Short: "Check volumes, DNS, probes, secrets, scaling and ingress from inside the cluster",
		Long:  verifyLong,
		Example: `  kubectl layering verify --env prod
  kubectl layering verify -n layering-detection-staging --check probes,dns -o json
  kubectl layering verify --env prod --check logging --log-window 15m`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	o.EnvFlags.AddFlags(cmd)
	o.OutputFlags.AddFlags(cmd)
	cmd.Flags().StringSliceVar(&o.Checks, "check", verify.DefaultChecks, "checks to run, comma-separated: "+strings.Join(verify.Checks, ","))
	cmd.Flags().StringVar(&o.ProbeImage, "probe-image", "", "image of the in-pod probe (default: layering-detection-verify-probe beside the environment's service images, same registry and tag)")
	cmd.Flags().BoolVar(&o.Deep, "deep", false, "volumes: also prove that data survives a pod restart (restarts one pod of each Deployment with writable volumes)")
	addTimeoutFlag(cmd, &o.Timeout, 2*time.Minute, "give up after this long")
	cmd.Flags().DurationVar(&o.LogWindow, "log-window", 10*time.Minute, "logging: how recent a log event must be")
	o.SettingsFlags.AddFlags(cmd)
	_ = cmd.RegisterFlagCompletionFunc("check", cobra.FixedCompletions(verify.Checks, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func (o *VerifyOptions) Complete(*cobra.Command, []string) (err error) {
	if o.format, err = o.Format(); err != nil {
		return err
	}
	o.tree, err = manifests.Embedded()
	return err
}

func (o *VerifyOptions) Validate() (err error) {
	for _, c := range o.Checks {
		if !slices.Contains(verify.Checks, c) {
			return usage("--check %s: checks are %s", c, strings.Join(verify.Checks, ","))
		}
	}
	if o.LogWindow <= 0 {
		return usage("--log-window must be positive")
	}
	if o.env, err = o.resolveEnv(); err != nil {
		return err
	}
	o.clients, err = o.factory.Clients()
	return err
}

// resolveEnv takes --env, or else the environment whose namespace -n (or the context) names.
func (o *VerifyOptions) resolveEnv() (manifests.Env, error) {
	if o.Env != "" {
		return o.tree.Env(o.Env)
	}
	envs, err := o.tree.Envs()
	if err != nil {
		return manifests.Env{}, err
	}
	ns, _ := o.factory.Namespace()
	var names []string
	for _, e := range envs {
		if e.Namespace == ns {
			return e, nil
		}
		names = append(names, e.Name)
	}
	return manifests.Env{}, usage("which environment? namespace %q is none of theirs: pass --env (%s) or -n layering-detection-<env>", ns, strings.Join(names, ", "))
}

func (o *VerifyOptions) Run(ctx context.Context) error {
	m, err := deploy.Render(o.tree, o.env.Name, deploy.ImageOverrides{})
	if err != nil {
		return err
	}
	if o.ProbeImage == "" {
		o.ProbeImage = defaultProbeImage(m.Images)
	}
	if _, err := o.clients.ServerVersion(ctx); err != nil {
		return err
	}
	v := &verify.Verifier{Kube: o.clients.Kube, Dynamic: o.clients.Dynamic, Env: o.env.Name, Namespace: o.env.Namespace,
		Objects: m.Objects, ProbeImage: o.ProbeImage, Deep: o.Deep, HTTP: &http.Client{Timeout: 5 * time.Second}}
	if slices.Contains(o.Checks, "logging") {
		if v.Logging, err = o.logging(ctx); err != nil {
			return err
		}
	}
	checkCtx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	report, err := v.Run(checkCtx, o.Checks)
	if err != nil {
		return err
	}
	if err := output.Print(o.Out, o.format, report); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: %w", ctx.Err())
	}
	if report.Failed() {
		return errors.New("verify found failures")
	}
	return nil
}

// defaultProbeImage is the verify probe published beside the services: same registry and tag.
func defaultProbeImage(services map[string]string) string {
	return imageBeside(services, "layering-detection-verify-probe")
}

// imageBeside is the project's image name published beside the services'
// images: the same registry and tag as the orchestrator's.
func imageBeside(services map[string]string, name string) string {
	repo, tag, _ := util.SplitImageName(services["orchestrator"])
	repo = strings.TrimSuffix(repo, "layering-detection-orchestrator") + name
	if tag == "" {
		return repo
	}
	return repo + ":" + tag
}

// logging is what the logging check reads: Fluent Bit's DaemonSet as the
// monitoring bundle names it, and CloudWatch Logs in the environment's region
// (or why AWS cannot be reached: that half is then skipped).
func (o *VerifyOptions) logging(ctx context.Context) (*verify.Logging, error) {
	m, err := deploy.RenderMonitoring(o.tree)
	if err != nil {
		return nil, err
	}
	l := &verify.Logging{Namespace: m.Env.Namespace, Window: o.LogWindow}
	for _, obj := range m.Objects {
		if obj.GetKind() == "DaemonSet" {
			l.DaemonSet = obj.GetName()
		}
	}
	r, err := o.resolve(ctx, o.tree, o.env, &o.clients)
	if err != nil {
		return nil, err
	}
	cfg, err := awsconfig.Load(ctx, r.values["region"])
	if err != nil {
		l.NoAWS = err.Error()
		return l, nil
	}
	// Backoffs of at most 2 s: throttling is still retried, a wrong endpoint is said within seconds.
	l.Logs = cloudwatchlogs.NewFromConfig(cfg, func(o *cloudwatchlogs.Options) {
		o.Retryer = retry.AddWithMaxBackoffDelay(o.Retryer, 2*time.Second)
	})
	return l, nil
}
