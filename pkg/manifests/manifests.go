// Package manifests renders the embedded Kustomize tree in-process: one
// environment (an overlay) or another named kustomization (e.g. monitoring).
package manifests

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/layering-detection/kubectl-layering/embedded"
)

// root is where the tree sits inside the in-memory file system.
const root = "/manifests"

// Env is one deployable environment: an overlay and the namespace it deploys to.
type Env struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
}

// UnknownEnvError names an environment that has no overlay, with the known ones.
type UnknownEnvError struct {
	Name  string
	Known []string
}

func (e *UnknownEnvError) Error() string {
	return fmt.Sprintf("unknown environment %q: known environments are %s", e.Name, strings.Join(e.Known, ", "))
}

// Tree is a Kustomize tree held in memory; Embedded() is the plugin's own.
type Tree struct {
	src fs.FS // what the tree was loaded from, for copies
	dir string
	mu  sync.Mutex // guards fs: renders with overrides write a wrapper kustomization
	fs  filesys.FileSystem
}

var (
	embeddedOnce sync.Once
	embeddedTree *Tree
	embeddedErr  error
)

// Embedded returns the tree compiled into the binary (loaded once per process).
func Embedded() (*Tree, error) {
	embeddedOnce.Do(func() { embeddedTree, embeddedErr = FromFS(embedded.Manifests, "manifests") })
	return embeddedTree, embeddedErr
}

// FromFS copies dir of src into a new in-memory tree (tests build trees of their own).
func FromFS(src fs.FS, dir string) (*Tree, error) {
	mem := filesys.MakeFsInMemory()
	err := fs.WalkDir(src, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(src, p)
		if err != nil {
			return err
		}
		return mem.WriteFile(path.Join(root, strings.TrimPrefix(p, dir)), data)
	})
	if err != nil {
		return nil, fmt.Errorf("loading manifests: %w", err)
	}
	return &Tree{fs: mem, src: src, dir: dir}, nil
}

// settingsFile is where an overlay keeps its settings object.
func settingsFile(env string) string { return path.Join(root, "overlays", env, "settings.yaml") }

// Settings returns the data of an environment's settings object as the tree holds it.
func (t *Tree) Settings(env string) (map[string]string, error) {
	if _, err := t.Env(env); err != nil {
		return nil, err
	}
	t.mu.Lock()
	data, err := t.fs.ReadFile(settingsFile(env))
	t.mu.Unlock()
	if err != nil {
		return map[string]string{}, nil // an overlay without settings
	}
	var cm struct {
		Data map[string]string `json:"data"`
	}
	if err := yaml.Unmarshal(data, &cm); err != nil {
		return nil, fmt.Errorf("overlays/%s/settings.yaml: %w", env, err)
	}
	return cm.Data, nil
}

// WithSettings returns a copy of the tree whose environment env renders with
// values over its settings object's data (t itself is unchanged).
func (t *Tree) WithSettings(env string, values map[string]string) (*Tree, error) {
	return t.withSettingsAt(settingsFile(env), "environment "+env, values)
}

// MonitoringDir is the cluster-level log shipping's kustomization.
const MonitoringDir = "monitoring"

// Monitoring is the log shipping as a release sees it: an Env named
// "monitoring" whose namespace (the kustomization's) holds its lease,
// inventory and revisions.
func (t *Tree) Monitoring() (Env, error) {
	k, err := t.kustomization(path.Join(root, MonitoringDir))
	if err != nil {
		return Env{}, err
	}
	return Env{Name: MonitoringDir, Namespace: k.Namespace}, nil
}

// WithMonitoringSettings returns a copy of the tree whose log shipping renders
// with values (accountId, region) over its settings object's data.
func (t *Tree) WithMonitoringSettings(values map[string]string) (*Tree, error) {
	return t.withSettingsAt(path.Join(root, MonitoringDir, "settings.yaml"), "the monitoring bundle", values)
}

func (t *Tree) withSettingsAt(file, what string, values map[string]string) (*Tree, error) {
	if len(values) == 0 {
		return t, nil
	}
	c, err := FromFS(t.src, t.dir)
	if err != nil {
		return nil, err
	}
	data, err := c.fs.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%s has no settings to set", what)
	}
	var cm map[string]any
	if err := yaml.Unmarshal(data, &cm); err != nil {
		return nil, err
	}
	d, _ := cm["data"].(map[string]any)
	if d == nil {
		d = map[string]any{}
	}
	for k, v := range values {
		d[k] = v
	}
	cm["data"] = d
	if data, err = yaml.Marshal(cm); err != nil {
		return nil, err
	}
	return c, c.fs.WriteFile(file, data)
}

// Envs lists the environments, one per overlay, sorted by name.
func (t *Tree) Envs() ([]Env, error) {
	entries, err := t.fs.ReadDir(path.Join(root, "overlays"))
	if err != nil {
		return nil, fmt.Errorf("listing overlays: %w", err)
	}
	var envs []Env
	for _, name := range entries {
		k, err := t.kustomization(path.Join(root, "overlays", name))
		if err != nil {
			return nil, err
		}
		if k.Namespace == "" {
			return nil, fmt.Errorf("overlay %s sets no namespace", name)
		}
		envs = append(envs, Env{Name: name, Namespace: k.Namespace})
	}
	sort.Slice(envs, func(i, j int) bool { return envs[i].Name < envs[j].Name })
	return envs, nil
}

// Env returns the named environment, or an *UnknownEnvError.
func (t *Tree) Env(name string) (Env, error) {
	envs, err := t.Envs()
	if err != nil {
		return Env{}, err
	}
	known := make([]string, 0, len(envs))
	for _, e := range envs {
		if e.Name == name {
			return e, nil
		}
		known = append(known, e.Name)
	}
	return Env{}, &UnknownEnvError{Name: name, Known: known}
}

func (t *Tree) kustomization(dir string) (*types.Kustomization, error) {
	data, err := t.fs.ReadFile(path.Join(dir, "kustomization.yaml"))
	if err != nil {
		return nil, err
	}
	var k types.Kustomization
	if err := yaml.UnmarshalStrict(data, &k); err != nil {
		return nil, fmt.Errorf("%s/kustomization.yaml: %w", dir, err)
	}
	return &k, nil
}

// RenderEnv builds the overlay of one environment, with images replaced by
// Kustomize's images transformer (Image.Name is the image as the overlay renders it).
func (t *Tree) RenderEnv(env string, images ...types.Image) (resmap.ResMap, error) {
	if _, err := t.Env(env); err != nil {
		return nil, err
	}
	dir := path.Join("overlays", env)
	if len(images) == 0 {
		return t.Render(dir)
	}
	wrapper := types.Kustomization{
		TypeMeta:  types.TypeMeta{APIVersion: types.KustomizationVersion, Kind: types.KustomizationKind},
		Resources: []string{"../../" + dir},
		Images:    images,
	}
	data, err := yaml.Marshal(wrapper)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	wrapperDir := path.Join(root, "overrides", env)
	if err := t.fs.WriteFile(path.Join(wrapperDir, "kustomization.yaml"), data); err != nil {
		return nil, err
	}
	return t.build(wrapperDir, dir)
}

// Render builds the kustomization at dir, relative to the tree's root.
func (t *Tree) Render(dir string) (resmap.ResMap, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.build(path.Join(root, dir), dir)
}

func (t *Tree) build(abs, name string) (resmap.ResMap, error) {
	opts := krusty.MakeDefaultOptions()
	// As `kubectl kustomize` orders (legacy, unless a kustomization says
	// otherwise): what others depend on first, so `render | kubectl apply -f -`
	// creates ConfigMaps, Secrets and volumes before the pods that mount them.
	opts.Reorder = krusty.ReorderOptionUnspecified
	m, err := krusty.MakeKustomizer(opts).Run(t.fs, abs)
	if err != nil {
		return nil, fmt.Errorf("rendering %s: %w", name, err)
	}
	return m, nil
}

// Objects converts a rendered ResMap into unstructured objects, in build order.
// Through JSON: kustomize's own maps hold Go ints, which unstructured objects
// (DeepCopy, the dynamic client) do not accept.
func Objects(m resmap.ResMap) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	for _, r := range m.Resources() {
		data, err := r.MarshalJSON()
		if err != nil {
			return nil, err
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(data); err != nil {
			return nil, fmt.Errorf("%s: %w", r.CurId(), err)
		}
		objs = append(objs, u)
	}
	if len(objs) == 0 {
		return nil, errors.New("the build produced no objects")
	}
	return objs, nil
}

// ObjectsFromYAML parses a multi-document YAML stream (a recorded revision's
// manifests) into objects, in document order.
func ObjectsFromYAML(data []byte) ([]*unstructured.Unstructured, error) {
	r := k8syaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var objs []*unstructured.Unstructured
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		data, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(data)) == 0 || string(data) == "null" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(data); err != nil {
			return nil, err
		}
		objs = append(objs, u)
	}
	if len(objs) == 0 {
		return nil, errors.New("the manifests hold no objects")
	}
	return objs, nil
}

// EnvList is the `envs` report: a JSON array of {name, namespace}, or a table.
type EnvList []Env

func (EnvList) Header() []string { return []string{"NAME", "NAMESPACE"} }

func (l EnvList) Rows() [][]string {
	rows := make([][]string, len(l))
	for i, e := range l {
		rows[i] = []string{e.Name, e.Namespace}
	}
	return rows
}
