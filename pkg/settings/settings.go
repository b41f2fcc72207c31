// Package settings holds each environment's AWS identifiers outside the
// binary: the embedded overlays carry placeholders; the values operators
// and CI share live in a ConfigMap the plugin owns in the environment's
// namespace, and --settings FILE overrides them for one run.
package settings

import (
	"context"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"
)

// ConfigMapName is where an environment's settings live in its namespace.
const ConfigMapName = "kubectl-layering-settings"

// Key is one setting: what it is, its form, and where to find it.
type Key struct {
	Name, What, Where string
	Form              *regexp.Regexp
	Placeholder       *regexp.Regexp // the embedded overlays' stand-in value
}

// Keys are the settings of the AWS environments (components/eks).
var Keys = []Key{
	{"accountId", "the AWS account id", "aws sts get-caller-identity --query Account", regexp.MustCompile(`^\d{12}$`), regexp.MustCompile(`^111122223333$`)},
	{"region", "the AWS region", "the region of the EKS cluster", regexp.MustCompile(`^[a-z]{2}(-gov)?-[a-z]+-\d$`), nil},
	{"efsFileSystemId", "the EFS file system of the input, output and logs volumes", "the ECS task definitions' EFS volumes (aws efs describe-file-systems)", regexp.MustCompile(`^fs-[0-9a-f]{8,17}$`), regexp.MustCompile(`^fs-0123456789abcdef0$`)},
	{"inputAccessPointId", "the EFS access point of the input volume", "aws efs describe-access-points --file-system-id …", regexp.MustCompile(`^fsap-[0-9a-f]{17}$`), regexp.MustCompile(`^fsap-0{10,}`)},
	{"outputAccessPointId", "the EFS access point of the output volume", "aws efs describe-access-points --file-system-id …", regexp.MustCompile(`^fsap-[0-9a-f]{17}$`), regexp.MustCompile(`^fsap-0{10,}`)},
	{"logsAccessPointId", "the EFS access point of the logs volume", "aws efs describe-access-points --file-system-id …", regexp.MustCompile(`^fsap-[0-9a-f]{17}$`), regexp.MustCompile(`^fsap-0{10,}`)},
	{"albName", "the name of the environment's Ingress ALB", "your choice (unique in the account)", regexp.MustCompile(`^[A-Za-z0-9-]{1,32}$`), nil},
	{"clusterName", "the EKS cluster's name (Container Insights publishes under it)", "aws eks list-clusters", regexp.MustCompile(`^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$`), nil},
	{"alarmTopicArn", "the SNS topic the environment's alarms notify", "aws sns list-topics", regexp.MustCompile(`^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]+$`), nil},
	{"certificateArn", "the ACM certificate of the HTTPS listener", "aws acm list-certificates", regexp.MustCompile(`^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}$`), regexp.MustCompile(`/00000000-0000-0000-0000-`)},
}

func key(name string) (Key, bool) {
	for _, k := range Keys {
		if k.Name == name {
			return k, true
		}
	}
	return Key{}, false
}

// Settings are one environment's values, by key.
type Settings map[string]string

// Problem is a setting that keeps an environment from being deployed.
type Problem struct {
	Key     string `json:"key"`
	Problem string `json:"problem"`
	Fix     string `json:"fix"`
}

// PlaceholderError lists the settings still to fill; nothing was applied.
type PlaceholderError struct {
	Env      string
	What     string // what cannot be deployed with them, when not the environment itself
	Problems []Problem
}

func (e *PlaceholderError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = fmt.Sprintf("  - %s: %s\n    fix: %s", p.Key, p.Problem, p.Fix)
	}
	what := fmt.Sprintf("environment %s cannot be deployed, its settings are incomplete", e.Env)
	if e.What != "" {
		what = fmt.Sprintf("%s cannot be deployed, the settings of environment %s it takes are incomplete", e.What, e.Env)
	}
	return fmt.Sprintf("%s (nothing was applied):\n%s\n"+
		"  or store a whole file of them: kubectl layering settings import --env %s --settings FILE", what, strings.Join(lines, "\n"), e.Env)
}

// Check returns the settings of s (the keys the environment uses) that are
// still placeholders or malformed.
func Check(env string, s Settings) []Problem {
	var problems []Problem
	for _, name := range slices.Sorted(maps.Keys(s)) {
		k, known := key(name)
		v := s[name]
		fix := fmt.Sprintf("kubectl layering settings set --env %s %s=… (%s: %s)", env, name, k.What, k.Where)
		switch {
		case !known:
			continue // not an AWS setting (e.g. env)
		case k.Placeholder != nil && k.Placeholder.MatchString(v):
			problems = append(problems, Problem{name, fmt.Sprintf("still the placeholder %q", v), fix})
		case !k.Form.MatchString(v):
			problems = append(problems, Problem{name, fmt.Sprintf("%q is not of the form %s", v, k.Form), fix})
		}
	}
	return problems
}

// Require is Check of the named keys only, each of which must be set.
func Require(env string, s Settings, names ...string) []Problem {
	var problems []Problem
	subset := Settings{}
	for _, name := range names {
		v, ok := s[name]
		if !ok || v == "" {
			k, _ := key(name)
			problems = append(problems, Problem{name, "not set", fmt.Sprintf("kubectl layering settings set --env %s %s=… (%s: %s)", env, name, k.What, k.Where)})
			continue
		}
		subset[name] = v
	}
	return append(problems, Check(env, subset)...)
}

// Validate checks values given on the command line: known keys, right form.
func Validate(values Settings) error {
	for _, name := range slices.Sorted(maps.Keys(values)) {
		k, ok := key(name)
		if !ok {
			names := make([]string, len(Keys))
			for i, k := range Keys {
				names[i] = k.Name
			}
			return fmt.Errorf("unknown setting %q: settings are %s", name, strings.Join(names, ", "))
		}
		if !k.Form.MatchString(values[name]) {
			return fmt.Errorf("%s=%q: %s must match %s", name, values[name], k.What, k.Form)
		}
	}
	return nil
}

// ReadFile reads a settings file: a YAML map of key: value.
func ReadFile(path string) (Settings, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s Settings
	if err := yaml.UnmarshalStrict(data, &s); err != nil {
		return nil, fmt.Errorf("%s: want a YAML map of setting: value: %w", path, err)
	}
	return s, Validate(s)
}

// Store keeps an environment's settings in the cluster.
type Store struct {
	Kube      kubernetes.Interface
	Namespace string
}

// Get returns the stored settings; ok is false when none are stored.
func (st *Store) Get(ctx context.Context) (Settings, bool, error) {
	cm, err := st.Kube.CoreV1().ConfigMaps(st.Namespace).Get(ctx, ConfigMapName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading the settings (ConfigMap %s/%s): %w", st.Namespace, ConfigMapName, err)
	}
	return cm.Data, true, nil
}

// Merge stores values over what is stored, creating the namespace and the
// ConfigMap if needed. It returns whether anything changed.
func (st *Store) Merge(ctx context.Context, env string, values Settings) (bool, error) {
	current, _, err := st.Get(ctx)
	if err != nil {
		return false, err
	}
	merged := Settings{}
	for k, v := range current {
		merged[k] = v
	}
	changed := false
	for k, v := range values {
		changed = changed || merged[k] != v
		merged[k] = v
	}
	if !changed {
		return false, nil
	}
	if _, err := st.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: st.Namespace}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return false, err
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: ConfigMapName, Namespace: st.Namespace,
			Labels: map[string]string{"app.kubernetes.io/managed-by": "kubectl-layering", "layering-detection.io/environment": env}},
		Data: merged,
	}
	cms := st.Kube.CoreV1().ConfigMaps(st.Namespace)
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); apierrors.IsNotFound(err) {
		_, err = cms.Create(ctx, cm, metav1.CreateOptions{})
		return err == nil, err
	} else if err != nil {
		return false, err
	}
	return true, nil
}
