package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/kustomize/api/pkg/util"

	"github.com/layering-detection/kubectl-layering/pkg/deploy"
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

--deep also proves that data written to the writable volumes survives a pod
restart: it restarts one aggregator pod (the Deployment replaces it).

dns and volumes run a small probe as an ephemeral container in the pods (it
exits at once; Kubernetes keeps it listed in the pod as terminated).
The environment comes from --env, or from -n/the context's namespace.
Exit codes: 0 every check passed, 1 something failed, 2 verify could not run.`

func newVerifyCommand(streams genericiooptions.IOStreams, kubeFlags *genericclioptions.ConfigFlags) *cobra.Command {
	var (
		env, format, probeImage string
		checks                  []string
		deep                    bool
		timeout                 time.Duration
	)
	cmd := &cobra.Command{
		Use:   "verify [--env ENV]",
		Short: "Check volumes, DNS, probes, secrets, scaling and ingress from inside the cluster",
		Long:  verifyLong,
		Example: `  kubectl layering verify --env prod
  kubectl layering verify -n layering-detection-staging --check probes,dns -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := output.ParseFormat(format)
			if err != nil {
				return cannotRun{err}
			}
			for _, c := range checks {
				if !slices.Contains(verify.Checks, c) {
					return cannotRun{fmt.Errorf("--check %s: checks are %s", c, strings.Join(verify.Checks, ","))}
				}
			}
			tree, err := manifests.Embedded()
			if err != nil {
				return err
			}
			e, err := resolveEnv(tree, env, kubeFlags)
			if err != nil {
				return cannotRun{err}
			}
			objs, _, err := deploy.Render(tree, e.Name, deploy.ImageOverrides{})
			if err != nil {
				return err
			}
			if probeImage == "" {
				probeImage = defaultProbeImage(deploy.ServiceImages(objs))
			}
			clients, err := newClients(kubeFlags)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if _, err := deploy.ServerVersion(ctx, clients.Discovery, clients.Host); err != nil {
				return cannotRun{err}
			}
			v := &verify.Verifier{Kube: clients.Kube, Dynamic: clients.Dynamic, Env: e.Name, Namespace: e.Namespace,
				Objects: objs, ProbeImage: probeImage, Deep: deep, HTTP: &http.Client{Timeout: 5 * time.Second}}
			if timeout > 0 {
				var cancel func()
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			report, err := v.Run(ctx, checks)
			var notDeployed *verify.NotDeployedError
			if errors.As(err, &notDeployed) {
				return cannotRun{err}
			}
			if err != nil {
				return classify(cmd.Context(), err)
			}
			if err := output.Print(streams.Out, f, report); err != nil {
				return err
			}
			if cmd.Context().Err() != nil {
				return interrupted{cmd.Context().Err()}
			}
			if report.Failed() {
				return errors.New("verify found failures")
			}
			return nil
		},
	}
	addEnvFlag(cmd, &env)
	addOutputFlag(cmd, &format)
	cmd.Flags().StringSliceVar(&checks, "check", verify.Checks, "checks to run, comma-separated: "+strings.Join(verify.Checks, ","))
	cmd.Flags().StringVar(&probeImage, "probe-image", "", "image of the in-pod probe (default: layering-detection-verify-probe beside the environment's service images, same registry and tag)")
	cmd.Flags().BoolVar(&deep, "deep", false, "volumes: also prove that data survives a pod restart (restarts one pod of each Deployment with writable volumes)")
	cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "give up after this long")
	_ = cmd.RegisterFlagCompletionFunc("check", cobra.FixedCompletions(verify.Checks, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// resolveEnv takes --env, or else the environment whose namespace -n (or the context) names.
func resolveEnv(tree *manifests.Tree, env string, kubeFlags *genericclioptions.ConfigFlags) (manifests.Env, error) {
	if env != "" {
		return tree.Env(env)
	}
	envs, err := tree.Envs()
	if err != nil {
		return manifests.Env{}, err
	}
	ns, _, _ := kubeFlags.ToRawKubeConfigLoader().Namespace()
	var names []string
	for _, e := range envs {
		if e.Namespace == ns {
			return e, nil
		}
		names = append(names, e.Name)
	}
	return manifests.Env{}, fmt.Errorf("which environment? namespace %q is none of theirs: pass --env (%s) or -n layering-detection-<env>", ns, strings.Join(names, ", "))
}

// defaultProbeImage is the verify probe published beside the services: same registry and tag.
func defaultProbeImage(services map[string]string) string {
	name, tag, _ := util.SplitImageName(services["orchestrator"])
	name = strings.TrimSuffix(name, "layering-detection-orchestrator") + "layering-detection-verify-probe"
	if tag == "" {
		return name
	}
	return name + ":" + tag
}
