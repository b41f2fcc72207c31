package parity

import (
	"bufio"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// Kube is the Kubernetes side of one environment: rendered, or as it runs.
type Kube struct {
	Namespace       string
	Deployments     map[string]*appsv1.Deployment                     // by name
	HPAs            map[string]*autoscalingv2.HorizontalPodAutoscaler // by the Deployment they scale
	ConfigMaps      map[string]*corev1.ConfigMap
	Claims          map[string]*corev1.PersistentVolumeClaim
	Volumes         []*corev1.PersistentVolume
	Ingresses       []*networkingv1.Ingress
	ExternalSecrets map[string]map[string]RemoteRef // target Secret → secret key → where it comes from
	// LogGroupTemplate is Fluent Bit's log_group_template (empty: no log shipping found);
	// LogSource says where it was read.
	LogGroupTemplate, LogSource string
}

// RemoteRef is where External Secrets reads one key of a Secret.
type RemoteRef struct{ Key, Property string }

// FromObjects indexes the objects of an environment.
func FromObjects(namespace string, objs []*unstructured.Unstructured) (*Kube, error) {
	k := &Kube{Namespace: namespace, Deployments: map[string]*appsv1.Deployment{}, HPAs: map[string]*autoscalingv2.HorizontalPodAutoscaler{},
		ConfigMaps: map[string]*corev1.ConfigMap{}, Claims: map[string]*corev1.PersistentVolumeClaim{}, ExternalSecrets: map[string]map[string]RemoteRef{}}
	for _, o := range objs {
		if err := k.add(o); err != nil {
			return nil, fmt.Errorf("%s %s: %w", o.GetKind(), o.GetName(), err)
		}
	}
	return k, nil
}

func (k *Kube) add(o *unstructured.Unstructured) error {
	into := func(v any) error { return runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, v) }
	switch o.GetKind() {
	case "Deployment":
		d := &appsv1.Deployment{}
		k.Deployments[o.GetName()] = d
		return into(d)
	case "HorizontalPodAutoscaler":
		h := &autoscalingv2.HorizontalPodAutoscaler{}
		if err := into(h); err != nil {
			return err
		}
		k.HPAs[h.Spec.ScaleTargetRef.Name] = h
	case "ConfigMap":
		c := &corev1.ConfigMap{}
		k.ConfigMaps[o.GetName()] = c
		return into(c)
	case "PersistentVolumeClaim":
		c := &corev1.PersistentVolumeClaim{}
		k.Claims[o.GetName()] = c
		return into(c)
	case "PersistentVolume":
		v := &corev1.PersistentVolume{}
		k.Volumes = append(k.Volumes, v)
		return into(v)
	case "Ingress":
		i := &networkingv1.Ingress{}
		k.Ingresses = append(k.Ingresses, i)
		return into(i)
	case "ExternalSecret":
		target, _, _ := unstructured.NestedString(o.Object, "spec", "target", "name")
		if target == "" {
			target = o.GetName() // ESO's default
		}
		data, _, _ := unstructured.NestedSlice(o.Object, "spec", "data")
		refs := map[string]RemoteRef{}
		for _, item := range data {
			m, _ := item.(map[string]any)
			key, _, _ := unstructured.NestedString(m, "secretKey")
			rk, _, _ := unstructured.NestedString(m, "remoteRef", "key")
			prop, _, _ := unstructured.NestedString(m, "remoteRef", "property")
			refs[key] = RemoteRef{rk, prop}
		}
		k.ExternalSecrets[target] = refs
	}
	return nil
}

// claimVolume is the PersistentVolume bound (or pre-bound) to a claim.
func (k *Kube) claimVolume(claim string) *corev1.PersistentVolume {
	c := k.Claims[claim]
	for _, v := range k.Volumes {
		if c != nil && c.Spec.VolumeName != "" && v.Name == c.Spec.VolumeName {
			return v
		}
		if r := v.Spec.ClaimRef; r != nil && r.Name == claim && (r.Namespace == "" || r.Namespace == k.Namespace) {
			return v
		}
	}
	return nil
}

// LogGroupTemplate reads Fluent Bit's log_group_template from its configuration.
func LogGroupTemplate(conf string) string {
	sc := bufio.NewScanner(strings.NewReader(conf))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[0] == "log_group_template" {
			return f[1]
		}
	}
	return ""
}

// LogShipping finds Fluent Bit's configuration (ConfigMap fluent-bit-config…,
// key fluent-bit.conf) among objects and returns its log group template.
func LogShipping(objs []*unstructured.Unstructured) string {
	for _, o := range objs {
		if o.GetKind() != "ConfigMap" || !strings.HasPrefix(o.GetName(), "fluent-bit-config") {
			continue
		}
		conf, _, _ := unstructured.NestedString(o.Object, "data", "fluent-bit.conf")
		if t := LogGroupTemplate(conf); t != "" {
			return t
		}
	}
	return ""
}
