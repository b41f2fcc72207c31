package cmd

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/layering-detection/kubectl-layering/pkg/alarms"
	"github.com/layering-detection/kubectl-layering/pkg/deploy"
	"github.com/layering-detection/kubectl-layering/pkg/kube"
	"github.com/layering-detection/kubectl-layering/pkg/manifests"
	"github.com/layering-detection/kubectl-layering/pkg/output"
	"github.com/layering-detection/kubectl-layering/pkg/parity"
	"github.com/layering-detection/kubectl-layering/pkg/settings"
	"github.com/layering-detection/kubectl-layering/pkg/verify"
)

const parityLong = `The live ECS services next to the environment's Kubernetes objects, service
by service, row by row: image repository and tag, every environment variable
(service URLs compared by meaning), every secret reference (Secrets Manager
secret and JSON key against the ExternalSecret), CPU units and memory against
requests and limits, the health check against the liveness probe, the target
group's health check against the Ingress's, desired/min/max against replicas
and the HPA, scaling targets and cooldowns, volumes (EFS file system, access
point, read-only), the log group, the alarms, the HTTPS listener.

Each row is ✓ (the same, or the same meaning), ✗ (a difference nobody
designed) or ≈ (differs by design, with the reason). Exit 1 when any row is ✗:
the check to run before every cutover step.

By default the Kubernetes side is what deploy would apply now (rendered with
the environment's settings from the cluster, --settings FILE and the image
flags, as deploy takes them); --live reads the running objects instead, and
the EKS alarms from CloudWatch. AWS access as for settings init
(docs/iam/settings-policy.json).`

// ParityOptions compares ECS and Kubernetes.
type ParityOptions struct {
	EnvFlags
	OutputFlags
	ImageFlags
	SettingsFlags
	Live    bool
	Cluster string

	env     manifests.Env
	tree    *manifests.Tree
	format  output.Format
	images  deploy.ImageOverrides
	factory Factory
	genericiooptions.IOStreams
}

func NewCmdParity(f Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ParityOptions{factory: f, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "parity --env ENV",
		Short: "The live ECS services next to the Kubernetes environment, row by row: ✓, ✗ or differs by design",
		Long:  parityLong,
		Example: `  kubectl layering parity --env prod --image-tag 1.4.2
  kubectl layering parity --env prod --live -o json`,
		Args: cobra.NoArgs,
		RunE: runE(o),
	}
	o.EnvFlags.AddFlags(cmd)
	o.OutputFlags.AddFlags(cmd)
	o.ImageFlags.AddFlags(cmd)
	o.SettingsFlags.AddFlags(cmd)
	cmd.Flags().BoolVar(&o.Live, "live", false, "compare the running Kubernetes objects (and EKS alarms) instead of the rendered ones")
	cmd.Flags().StringVar(&o.Cluster, "cluster", DefaultECSCluster, "the ECS cluster the platform runs in")
	return cmd
}

func (o *ParityOptions) Complete(*cobra.Command, []string) (err error) {
	if o.format, err = o.Format(); err != nil {
		return err
	}
	if o.images, err = o.Overrides(); err != nil {
		return err
	}
	o.tree, err = manifests.Embedded()
	return err
}

func (o *ParityOptions) Validate() (err error) {
	if o.env, err = o.Resolve(o.tree); err != nil {
		return err
	}
	if o.Live && (o.images.Tag != "" || len(o.images.Services) > 0 || o.SettingsFile != "") {
		return usage("--live compares what runs: --image-tag, --image and --settings apply to the rendered side only")
	}
	if o.Cluster == "" {
		return usage("--cluster must name the ECS cluster")
	}
	return nil
}

func (o *ParityOptions) Run(ctx context.Context) error {
	k, region, err := o.kubernetes(ctx)
	if err != nil {
		return err
	}
	eksEnv := ""
	if o.Live {
		eksEnv = o.env.Name
	}
	d, _, err := readECS(ctx, o.Cluster, region, eksEnv)
	if err != nil {
		return err
	}
	set, err := alarms.LoadAlarms()
	if err != nil {
		return err
	}
	eks := parity.SpecAlarms(set, o.env.Name)
	if o.Live {
		eks = parity.LiveAlarms(d)
	}
	rep := parity.Compare(parity.Input{Env: o.env.Name, Live: o.Live, ECS: d, Kube: k, Alarms: set, EKSAlarms: eks})
	if err := output.Print(o.Out, o.format, rep); err != nil {
		return err
	}
	fmt.Fprintln(o.ErrOut, rep.Summary())
	return rep.Err()
}

// kubernetes is the Kubernetes side, and the region its settings name (for
// AWS, when neither AWS_REGION nor the profile does).
func (o *ParityOptions) kubernetes(ctx context.Context) (*parity.Kube, string, error) {
	if o.Live {
		c, err := o.factory.Clients()
		if err != nil {
			return nil, "", err
		}
		if _, err := c.ServerVersion(ctx); err != nil {
			return nil, "", err
		}
		r, err := o.resolve(ctx, o.tree, o.env, &c)
		if err != nil {
			return nil, "", err
		}
		k, err := liveKube(ctx, c, o.env)
		return k, r.values["region"], err
	}
	clients := reachable(ctx, o.factory)
	r, err := o.resolve(ctx, o.tree, o.env, clients)
	if err != nil {
		return nil, "", err
	}
	if clients == nil {
		fmt.Fprintf(o.ErrOut, "no cluster reachable: %s renders with its embedded settings (and --settings FILE)\n", o.env.Name)
	}
	if problems := settings.Check(o.env.Name, r.values); len(problems) > 0 {
		var keys []string
		for _, p := range problems {
			keys = append(keys, p.Key)
		}
		fmt.Fprintf(o.ErrOut, "note: settings of %s still hold placeholders (%s): the rows that use them differ; kubectl layering settings init --env %s --from-ecs fills them\n",
			o.env.Name, strings.Join(keys, ", "), o.env.Name)
	}
	tree, err := r.tree(o.tree, o.env.Name)
	if err != nil {
		return nil, "", err
	}
	m, err := deploy.Render(tree, o.env.Name, o.images)
	if err != nil {
		return nil, "", err
	}
	k, err := parity.FromObjects(o.env.Namespace, m.Objects)
	if err != nil {
		return nil, "", err
	}
	mon, err := tree.Render("monitoring")
	if err != nil {
		return nil, "", err
	}
	monObjs, err := manifests.Objects(mon)
	if err != nil {
		return nil, "", err
	}
	k.LogGroupTemplate, k.LogSource = parity.LogShipping(monObjs), "rendered"
	return k, r.values["region"], nil
}

// monitoringNamespace is where the cluster's log shipping runs (render --monitoring).
const monitoringNamespace = "amazon-cloudwatch"

// liveKube reads the environment's objects as they run, and the cluster's Fluent Bit configuration.
func liveKube(ctx context.Context, c kube.Clients, env manifests.Env) (*parity.Kube, error) {
	var objs []*unstructured.Unstructured
	list := func(gvk schema.GroupVersionKind, namespace string, optional bool) error {
		ri, err := c.ResourceFor(gvk, namespace)
		if err != nil {
			if optional {
				return nil // a kind the cluster does not serve (ExternalSecret without ESO): the rows say what is missing
			}
			return err
		}
		l, err := ri.List(ctx, metav1.ListOptions{})
		if err != nil {
			return fmt.Errorf("listing %s in %s: %w", gvk.Kind, namespace, err)
		}
		for i := range l.Items {
			u := &l.Items[i]
			u.SetKind(gvk.Kind) // lists carry the kind on the list only
			if gvk.Kind == "PersistentVolume" {
				ns, _, _ := unstructured.NestedString(u.Object, "spec", "claimRef", "namespace")
				if ns != env.Namespace {
					continue
				}
			}
			objs = append(objs, u)
		}
		return nil
	}
	for _, k := range []struct {
		gvk      schema.GroupVersionKind
		optional bool
	}{
		{schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, false},
		{schema.GroupVersionKind{Group: "autoscaling", Version: "v2", Kind: "HorizontalPodAutoscaler"}, false},
		{schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, false},
		{schema.GroupVersionKind{Version: "v1", Kind: "PersistentVolumeClaim"}, false},
		{schema.GroupVersionKind{Version: "v1", Kind: "PersistentVolume"}, false},
		{schema.GroupVersionKind{Group: "networking.k8s.io", Version: "v1", Kind: "Ingress"}, false},
		{schema.GroupVersionKind{Group: "external-secrets.io", Version: "v1", Kind: "ExternalSecret"}, true},
	} {
		if err := list(k.gvk, env.Namespace, k.optional); err != nil {
			return nil, err
		}
	}
	k, err := parity.FromObjects(env.Namespace, objs)
	if err != nil {
		return nil, err
	}
	if len(k.Deployments) == 0 {
		return nil, &verify.NotDeployedError{Env: env.Name, Namespace: env.Namespace}
	}
	cms, err := c.Kube.CoreV1().ConfigMaps(monitoringNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("reading Fluent Bit's configuration in %s: %w", monitoringNamespace, err)
	}
	for _, cm := range cms.Items {
		if strings.HasPrefix(cm.Name, "fluent-bit-config") {
			k.LogGroupTemplate = parity.LogGroupTemplate(cm.Data["fluent-bit.conf"])
		}
	}
	k.LogSource = "Fluent Bit is not deployed in " + monitoringNamespace
	if k.LogGroupTemplate != "" {
		k.LogSource = "live"
	}
	return k, nil
}
