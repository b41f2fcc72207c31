package deploy

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/layering-detection/kubectl-layering/pkg/manifests"
	"github.com/layering-detection/kubectl-layering/pkg/revision"
)

// Manifest is one environment's complete set of objects, as a release applies it.
type Manifest struct {
	Env     manifests.Env
	Objects []*unstructured.Unstructured
	YAML    []byte            // exactly what is applied, recorded with the revision
	Digest  string            // of YAML
	Images  map[string]string // service -> image
}

// InputError is a deploy refused for what the user asked (images, services).
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// Render builds the environment with the image overrides applied and checks
// that prod names pinned images. It needs no cluster.
func Render(tree *manifests.Tree, env string, images ImageOverrides) (*Manifest, error) {
	e, err := tree.Env(env)
	if err != nil {
		return nil, err
	}
	m, err := tree.RenderEnv(env)
	if err != nil {
		return nil, err
	}
	objs, err := manifests.Objects(m)
	if err != nil {
		return nil, err
	}
	// Kustomize would keep the old tag for an untagged --image: judge what the user gave too.
	if err := CheckPinned(env, images.Services); err != nil {
		return nil, &InputError{err}
	}
	replacements, err := images.Resolve(ServiceImages(objs))
	if err != nil {
		return nil, &InputError{err}
	}
	if len(replacements) > 0 {
		if m, err = tree.RenderEnv(env, replacements...); err != nil {
			return nil, err
		}
		if objs, err = manifests.Objects(m); err != nil {
			return nil, err
		}
	}
	if err := CheckPinned(env, ServiceImages(objs)); err != nil {
		return nil, &InputError{err}
	}
	yaml, err := m.AsYaml()
	if err != nil {
		return nil, err
	}
	return &Manifest{Env: e, Objects: objs, YAML: yaml, Digest: revision.Digest(yaml), Images: ServiceImages(objs)}, nil
}

// FromYAML rebuilds a Manifest from what a revision recorded, for rollback.
func FromYAML(env manifests.Env, yaml []byte) (*Manifest, error) {
	objs, err := manifests.ObjectsFromYAML(yaml)
	if err != nil {
		return nil, err
	}
	return &Manifest{Env: env, Objects: objs, YAML: yaml, Digest: revision.Digest(yaml), Images: ServiceImages(objs)}, nil
}

// CheckBelongs refuses manifests that reach beyond the environment: every
// namespaced object in its namespace, every cluster-scoped one (namespace,
// volumes, storage class) labelled as the environment's.
func CheckBelongs(m *Manifest) error {
	for _, o := range m.Objects {
		inNamespace := o.GetNamespace() == m.Env.Namespace || o.GetKind() == "Namespace" && o.GetName() == m.Env.Namespace
		clusterScopedOfEnv := o.GetNamespace() == "" && o.GetKind() != "Namespace" && o.GetLabels()[revision.LabelEnvironment] == m.Env.Name
		if !inNamespace && !clusterScopedOfEnv {
			return fmt.Errorf("%s %s/%s does not belong to environment %s (namespace %s, label %s=%s)",
				o.GetKind(), o.GetNamespace(), o.GetName(), m.Env.Name, m.Env.Namespace, revision.LabelEnvironment, m.Env.Name)
		}
	}
	return nil
}

// RenderMonitoring builds the cluster-level log shipping from tree (whose
// monitoring settings the caller has filled), released like an environment
// named "monitoring" in its own namespace.
func RenderMonitoring(tree *manifests.Tree) (*Manifest, error) {
	env, err := tree.Monitoring()
	if err != nil {
		return nil, err
	}
	m, err := tree.Render(manifests.MonitoringDir)
	if err != nil {
		return nil, err
	}
	objs, err := manifests.Objects(m)
	if err != nil {
		return nil, err
	}
	yaml, err := m.AsYaml()
	if err != nil {
		return nil, err
	}
	return &Manifest{Env: env, Objects: objs, YAML: yaml, Digest: revision.Digest(yaml), Images: ServiceImages(objs)}, nil
}
