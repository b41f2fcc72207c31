package cmd

import (
	"fmt"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"

	"github.com/layering-detection/kubectl-layering/pkg/kube"
)

// Factory gives commands their cluster clients; tests give them fakes.
type Factory interface {
	// Clients are built from the standard kubectl flags; nothing is sent yet.
	Clients() (kube.Clients, error)
	// Namespace is -n, or the kubeconfig context's namespace.
	Namespace() (string, error)
}

// kubectlFactory builds clients with kubectl's own factory from the standard flags.
type kubectlFactory struct {
	flags *genericclioptions.ConfigFlags
	f     cmdutil.Factory
}

// NewFactory returns the Factory of the standard kubectl flags.
func NewFactory(flags *genericclioptions.ConfigFlags) Factory {
	// Applies within a phase and the watches of the wait run concurrently:
	// client-go's default of 5 requests/s would queue them (kubectl raises it too).
	flags.WrapConfigFn = func(c *rest.Config) *rest.Config {
		c.QPS, c.Burst = 50, 100
		return c
	}
	return &kubectlFactory{flags: flags, f: cmdutil.NewFactory(cmdutil.NewMatchVersionFlags(flags))}
}

func (k *kubectlFactory) Clients() (kube.Clients, error) {
	cfg, err := k.f.ToRESTConfig()
	if err != nil {
		return kube.Clients{}, &KubeconfigError{err}
	}
	disc, err := k.f.ToDiscoveryClient()
	if err != nil {
		return kube.Clients{}, &KubeconfigError{err}
	}
	// Decisions rest on what the cluster serves now: the on-disk discovery
	// cache may describe another cluster that had the same address.
	disc.Invalidate()
	mapper, err := k.f.ToRESTMapper()
	if err != nil {
		return kube.Clients{}, &KubeconfigError{err}
	}
	kc, err := k.f.KubernetesClientSet()
	if err != nil {
		return kube.Clients{}, &KubeconfigError{err}
	}
	dyn, err := k.f.DynamicClient()
	if err != nil {
		return kube.Clients{}, &KubeconfigError{err}
	}
	return kube.Clients{Kube: kc, Dynamic: dyn, Discovery: disc, Mapper: mapper, Host: cfg.Host}, nil
}

func (k *kubectlFactory) Namespace() (string, error) {
	ns, _, err := k.f.ToRawKubeConfigLoader().Namespace()
	return ns, err
}

// KubeconfigError means no usable client configuration was found.
type KubeconfigError struct{ Err error }

func (e *KubeconfigError) Error() string {
	return fmt.Sprintf("kubeconfig: %v (check --kubeconfig, --context, or $KUBECONFIG)", e.Err)
}

func (e *KubeconfigError) Unwrap() error { return e.Err }
