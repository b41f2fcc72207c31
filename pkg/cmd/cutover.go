package cmd

import (
	"context"
	"fmt"
	"net/http"
	"time"

	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/layering-detection/kubectl-layering/pkg/alarms"
	"github.com/layering-detection/kubectl-layering/pkg/awsconfig"
	"github.com/layering-detection/kubectl-layering/pkg/cutover"
	"github.com/layering-detection/kubectl-layering/pkg/deploy"
	"github.com/layering-detection/kubectl-layering/pkg/kube"
	"github.com/layering-detection/kubectl-layering/pkg/manifests"
	"github.com/layering-detection/kubectl-layering/pkg/output"
	"github.com/layering-detection/kubectl-layering/pkg/verify"
)

const cutoverLong = `Move the platform's traffic between the ECS services and the Kubernetes
environment in weighted steps, on the ECS deployment's own load balancer: each
listener rule (and default action) forwards to the service's ECS target group
and to its Kubernetes target group (layering-detection-<service>-eks-tg, filled
by the environment's TargetGroupBinding), by weight. No DNS change is involved.

Before the first step and through each --hold, the gates must stay green:
  verify   kubectl layering verify of the environment passes (every check
           before the first step and at the end of each hold; in between the
           checks that start nothing in the pods: probes, secrets, scaling)
  alarms   no alarm of either side is in ALARM (kubectl layering alarms status)
  targets  the receiving side's target groups have healthy targets, for every
           service: traffic is never shifted onto a group with none
  ecs      the ECS services are stable (one deployment, running = desired)
A gate red for --red-for (checked every --gate-interval: one lost metrics
sample does not move traffic back) puts the weights back at the last good step
and exits 1, naming the gate and why; before the first step it refuses. Before a cutover to EKS, each service must have its
TargetGroupBinding (the local environment has none: it runs no load balancer
controller, so that check is skipped there).

The position is read back from the listener itself, so a cutover can be
resumed or reversed after Ctrl-C, which stops at the current weights and says
how to go on or back. The rules as last written are kept in the ConfigMap
kubectl-layering-cutover; rules someone else changed since are refused with
the difference (--accept-live-rules starts from them instead).

ECS desired counts are never lowered unless asked: --scale-in-ecs, after the
last hold at 100 % on EKS, records each ECS service's capacity on its tag
` + cutover.CapacityTag + ` and sets it to 0;
'kubectl layering rollback --to-ecs' restores it.

AWS access: the standard configuration (AWS_PROFILE, AWS_REGION,
AWS_ENDPOINT_URL…); the environment's settings give its region.
IAM: docs/iam/cutover-policy.json. Exit codes: 0 done, 1 a gate was red (the
weights reverted) or the rules changed under it, 2 could not run (input,
missing target groups or bindings, access denied), 130 interrupted.`

// ECSFlags name the ECS deployment: its cluster and its load balancer.
type ECSFlags struct{ ALB, Cluster string }

func (f *ECSFlags) AddFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.ALB, "alb", "layering-detection-alb", "the ECS deployment's load balancer, whose rules move the traffic")
	cmd.Flags().StringVar(&f.Cluster, "ecs-cluster", "layering-detection-cluster", "the ECS cluster of the services")
}

// awsFor is the cutover's view of the ECS deployment, in region.
func (f *ECSFlags) awsFor(ctx context.Context, region string) (*cutover.AWS, awsClients, error) {
	cfg, err := awsconfig.Load(ctx, region)
	if err != nil {
		return nil, awsClients{}, err
	}
	return &cutover.AWS{ELB: elb.NewFromConfig(cfg), ECS: ecs.NewFromConfig(cfg), Scaling: aas.NewFromConfig(cfg), Cluster: f.Cluster, ALB: f.ALB},
		awsClients{cw: cloudwatch.NewFromConfig(cfg)}, nil
}

// awsClients are the clients beside the cutover's own.
type awsClients struct{ cw *cloudwatch.Client }

// CutoverOptions moves traffic between ECS and the environment.
type CutoverOptions struct {
	EnvFlags
	OutputFlags
	DryRunFlags
	SettingsFlags
	ECSFlags
	To         string
	Steps      []int
	Hold       time.Duration
	Interval   time.Duration
	RedFor     time.Duration
	ScaleInECS bool
	AcceptLive bool
	ProbeImage string

	env     manifests.Env
	tree    *manifests.Tree
	to      cutover.Side
	format  output.Format
	dryRun  deploy.DryRun
	clients kube.Clients
	factory Factory
	genericiooptions.IOStreams
}

func NewCmdCutover(f Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &CutoverOptions{factory: f, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "cutover --env ENV --to eks|ecs [--steps 10,25,50,100] [--hold 5m]",
		Short: "Move traffic between ECS and the environment in gated, weighted steps",
		Long:  cutoverLong,
		Example: `  # What would happen, with the gates evaluated now
  kubectl layering cutover --env prod --to eks --dry-run

  # ECS → EKS in four steps, each held 5 minutes with the gates green
  kubectl layering cutover --env prod --to eks --steps 10,25,50,100 --hold 5m

  # After Ctrl-C: go on from where the listener is, or back
  kubectl layering cutover --env prod --to eks
  kubectl layering cutover --env prod --to ecs --steps 50,100 --hold 1m`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	o.EnvFlags.AddFlags(cmd)
	o.OutputFlags.AddFlags(cmd)
	o.DryRunFlags.AddFlags(cmd)
	o.SettingsFlags.AddFlags(cmd)
	o.ECSFlags.AddFlags(cmd)
	cmd.Flags().StringVar(&o.To, "to", "", "where the traffic goes: eks or ecs (required)")
	cmd.Flags().IntSliceVar(&o.Steps, "steps", cutover.DefaultSteps, "the receiving side's share after each step, in %, rising")
	cmd.Flags().DurationVar(&o.Hold, "hold", 5*time.Minute, "how long each step is held, gates green, before the next")
	cmd.Flags().DurationVar(&o.Interval, "gate-interval", 10*time.Second, "how often the gates are checked during a hold")
	cmd.Flags().DurationVar(&o.RedFor, "red-for", 30*time.Second, "how long a gate must stay red to count (0: at once)")
	cmd.Flags().BoolVar(&o.ScaleInECS, "scale-in-ecs", false, "after the last hold at 100 % on EKS, record the ECS services' capacity and set it to 0")
	cmd.Flags().BoolVar(&o.AcceptLive, "accept-live-rules", false, "start from the listener rules as they are, even if they differ from what this plugin last wrote")
	cmd.Flags().StringVar(&o.ProbeImage, "probe-image", "", "image of verify's in-pod probe (default: beside the environment's service images)")
	_ = cmd.RegisterFlagCompletionFunc("to", cobra.FixedCompletions([]string{"eks", "ecs"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func (o *CutoverOptions) Complete(*cobra.Command, []string) (err error) {
	if o.format, err = o.Format(); err != nil {
		return err
	}
	if o.dryRun, err = o.Mode(); err != nil {
		return err
	}
	o.tree, err = manifests.Embedded()
	return err
}

func (o *CutoverOptions) Validate() (err error) {
	if o.env, err = o.Resolve(o.tree); err != nil {
		return err
	}
	if o.To == "" {
		return usage("--to is required: eks (move traffic to the Kubernetes environment) or ecs (back)")
	}
	if o.to, err = cutover.ParseSide(o.To); err != nil {
		return &UsageError{err}
	}
	if err := cutover.ValidateSteps(o.Steps); err != nil {
		return &UsageError{err}
	}
	switch {
	case o.Hold < 0:
		return usage("--hold must not be negative")
	case o.Interval <= 0:
		return usage("--gate-interval must be positive")
	case o.RedFor < 0:
		return usage("--red-for must not be negative")
	case o.ScaleInECS && (o.to != cutover.EKS || o.Steps[len(o.Steps)-1] != 100):
		return usage("--scale-in-ecs needs --to eks and a last step of 100")
	}
	o.clients, err = o.factory.Clients()
	return err
}

func (o *CutoverOptions) Run(ctx context.Context) error {
	if _, err := o.clients.ServerVersion(ctx); err != nil {
		return err
	}
	r, err := o.resolve(ctx, o.tree, o.env, &o.clients)
	if err != nil {
		return err
	}
	a, clients, err := o.awsFor(ctx, r.values["region"])
	if err != nil {
		return err
	}
	c := &cutover.Cutover{AWS: a, Env: o.env.Name, To: o.to, Steps: o.Steps, Hold: o.Hold, Interval: o.Interval, RedFor: o.RedFor,
		DryRun: o.dryRun != deploy.DryRunNone, ScaleInECS: o.ScaleInECS, AcceptLive: o.AcceptLive, Out: o.ErrOut,
		Record: &cutover.ConfigMapStore{Kube: o.clients.Kube, Namespace: o.env.Namespace, Env: o.env.Name}}
	if c.Gates, c.Bindings, err = o.gates(clients); err != nil {
		return err
	}
	rep, err := c.Run(ctx)
	if err != nil && rep != nil {
		rep.Error = err.Error()
	}
	if rep != nil && len(rep.Rules) > 0 {
		if perr := output.Print(o.Out, o.format, rep); perr != nil {
			return perr
		}
	}
	return err
}

// gates are the verify and alarms gates, and the bindings check.
func (o *CutoverOptions) gates(c awsClients) ([]cutover.Gate, *cutover.BindingsGate, error) {
	m, err := deploy.Render(o.tree, o.env.Name, deploy.ImageOverrides{})
	if err != nil {
		return nil, nil, err
	}
	probe := o.ProbeImage
	if probe == "" {
		probe = defaultProbeImage(m.Images)
	}
	v := &verify.Verifier{Kube: o.clients.Kube, Dynamic: o.clients.Dynamic, Env: o.env.Name, Namespace: o.env.Namespace,
		Objects: m.Objects, ProbeImage: probe, HTTP: &http.Client{Timeout: 5 * time.Second}}
	set, err := alarms.LoadAlarms()
	if err != nil {
		return nil, nil, err
	}
	b := &cutover.BindingsGate{Dynamic: o.clients.Dynamic, Namespace: o.env.Namespace}
	if !rendersBindings(m) {
		b.Without = fmt.Sprintf("skipped: environment %s has no TargetGroupBinding (no AWS Load Balancer Controller runs for it); its Kubernetes target groups are filled by hand", o.env.Name)
	}
	return []cutover.Gate{&cutover.VerifyGate{Verifier: v}, &cutover.AlarmsGate{CW: c.cw, Set: set, Env: o.env.Name}}, b, nil
}

func rendersBindings(m *deploy.Manifest) bool {
	for _, obj := range m.Objects {
		if obj.GroupVersionKind().Group == cutover.BindingGVR.Group && obj.GetKind() == "TargetGroupBinding" {
			return true
		}
	}
	return false
}
