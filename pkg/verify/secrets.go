package verify

import (
	"context"
	"maps"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/layering-detection/kubectl-layering/pkg/kube"
)

var externalSecrets = schema.GroupVersionResource{Group: "external-secrets.io", Version: "v1", Resource: "externalsecrets"}

// secrets: ExternalSecrets ready, and every Secret the pods read holds the keys
// they read. Values are never read into output or logs.
func (v *Verifier) secrets(ctx context.Context) []Result {
	var out []Result
	for _, o := range v.Objects {
		if o.GetKind() == "ExternalSecret" {
			live, err := v.Dynamic.Resource(externalSecrets).Namespace(v.Namespace).Get(ctx, o.GetName(), metav1.GetOptions{})
			out = append(out, judgeExternalSecret(o.GetName(), live, err, v.Namespace))
		}
	}
	read := secretKeysRead(rendered[appsv1.Deployment](v, "Deployment"))
	for _, name := range slices.Sorted(maps.Keys(read)) {
		out = append(out, v.secretHolds(ctx, name, read[name]))
	}
	return out
}

func judgeExternalSecret(name string, live *unstructured.Unstructured, err error, namespace string) Result {
	subject := "externalsecret/" + name
	if err != nil {
		return Result{"secrets", subject, Fail, err.Error(), "is External Secrets Operator installed?"}
	}
	status, reason, message := kube.Condition(live, "Ready")
	if status != "True" {
		return Result{"secrets", subject, Fail, "not ready: " + message, "kubectl -n " + namespace + " describe externalsecret " + name}
	}
	return Result{"secrets", subject, Pass, "ready: " + reason, ""}
}

// secretKeysRead are the keys of each Secret that the Deployments' containers read into their environment.
func secretKeysRead(deployments []*appsv1.Deployment) map[string][]string {
	read := map[string][]string{}
	for _, d := range deployments {
		for _, c := range d.Spec.Template.Spec.Containers {
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					ref := e.ValueFrom.SecretKeyRef
					if !slices.Contains(read[ref.Name], ref.Key) {
						read[ref.Name] = append(read[ref.Name], ref.Key)
					}
				}
			}
		}
	}
	return read
}

func (v *Verifier) secretHolds(ctx context.Context, name string, keys []string) Result {
	s, err := v.Kube.CoreV1().Secrets(v.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return Result{"secrets", "secret/" + name, Fail, err.Error(), "check the ExternalSecret that should create it"}
	}
	return judgeSecretKeys(name, s.Data, keys)
}

// judgeSecretKeys looks only at whether each key holds something; the values never leave this function.
func judgeSecretKeys(name string, data map[string][]byte, keys []string) Result {
	var missing, present []string
	for _, k := range keys {
		if len(data[k]) == 0 {
			missing = append(missing, k)
		} else {
			present = append(present, k)
		}
	}
	slices.Sort(missing)
	slices.Sort(present)
	if len(missing) > 0 {
		return Result{"secrets", "secret/" + name, Fail, "missing or empty key " + strings.Join(missing, ", "), "check the secret in AWS Secrets Manager and its ExternalSecret"}
	}
	return Result{"secrets", "secret/" + name, Pass, "holds " + strings.Join(present, ", "), ""}
}
