package verify

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// probeResult is one line of the probe's output (cmd/layering-verify-probe).
type probeResult struct {
	Check  string `json:"check"`
	Target string `json:"target"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// fromInside runs the dns and volumes checks inside the pods themselves: an
// ephemeral container joins a ready pod's network namespace and mounts the
// pod's volumes exactly as its service container does, as uid 1000.
// Ephemeral containers cannot be removed from a pod; the probe exits at once
// and stays listed as terminated until the pod is replaced.
func (v *Verifier) fromInside(ctx context.Context, dns, volumes bool) []Result {
	var out []Result
	if volumes {
		out = append(out, v.claimsBound(ctx)...)
	}
	for _, d := range rendered[appsv1.Deployment](v, "Deployment") {
		c := d.Spec.Template.Spec.Containers[0]
		var args []string
		if dns {
			if targets := v.serviceTargets(c); len(targets) > 0 {
				args = append(append(args, "dns"), targets...)
			}
		}
		if volumes {
			claims := map[string]bool{}
			for _, vol := range d.Spec.Template.Spec.Volumes {
				if vol.PersistentVolumeClaim != nil {
					claims[vol.Name] = true
				}
			}
			var rw, ro []string
			for _, m := range c.VolumeMounts {
				if claims[m.Name] {
					if m.ReadOnly {
						ro = append(ro, m.MountPath)
					} else {
						rw = append(rw, m.MountPath)
					}
				}
			}
			if len(rw) > 0 {
				args = append(append(args, "writable"), rw...)
			}
			if len(ro) > 0 {
				args = append(append(args, "readonly"), ro...)
			}
		}
		if len(args) == 0 {
			continue
		}
		results, err := v.probe(ctx, d, args)
		if err != nil {
			for _, check := range checksIn(args) {
				out = append(out, Result{check, "deployment/" + d.Name, Fail, err.Error(), "see --probe-image"})
			}
			continue
		}
		if v.Deep && volumes {
			if persisted := v.persistence(ctx, d, args); persisted != nil {
				results = append(results, persisted...)
			}
		}
		for _, r := range results {
			check := "volumes"
			if r.Check == "dns" {
				check = "dns"
			}
			status, hint := Pass, ""
			if !r.OK {
				status = Fail
				hint = map[string]string{
					"dns":      "is CoreDNS running? kubectl -n kube-system get pods -l k8s-app=kube-dns",
					"writable": "the volume must be writable by uid/gid 1000 (EFS access point owner 1000, or the local host directory)",
					"readonly": "mount the input volume readOnly in the Deployment and its claim",
					"persists": "the volume must be a persistent volume, not the pod's own storage",
					"keep":     "the volume must be writable by uid/gid 1000",
				}[r.Check]
			}
			out = append(out, Result{check, fmt.Sprintf("deployment/%s %s %s", d.Name, r.Check, r.Target), status, r.Detail, hint})
		}
	}
	return out
}

// persistence (--deep) leaves a marker in each writable volume of d, restarts
// the pod that wrote it, and looks for the marker from the replacement pod.
func (v *Verifier) persistence(ctx context.Context, d *appsv1.Deployment, args []string) []probeResult {
	var dirs []string
	for i, a := range args {
		if a != "writable" {
			continue
		}
		for _, dir := range args[i+1:] {
			if dir == "dns" || dir == "readonly" {
				break
			}
			dirs = append(dirs, dir)
		}
	}
	if len(dirs) == 0 {
		return nil
	}
	marker := fmt.Sprint(time.Now().UnixNano())
	kept, err := v.probe(ctx, d, append([]string{"keep", marker}, dirs...))
	if err != nil {
		return []probeResult{{Check: "persists", Target: strings.Join(dirs, ","), Detail: err.Error()}}
	}
	for _, k := range kept {
		if !k.OK {
			return kept
		}
	}
	old, err := readyPod(ctx, v.Kube, v.Namespace, d)
	if err != nil {
		return []probeResult{{Check: "persists", Target: strings.Join(dirs, ","), Detail: err.Error()}}
	}
	if err := v.Kube.CoreV1().Pods(v.Namespace).Delete(ctx, old.Name, metav1.DeleteOptions{}); err != nil {
		return []probeResult{{Check: "persists", Target: strings.Join(dirs, ","), Detail: "restarting the pod: " + err.Error()}}
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		p, err := readyPod(ctx, v.Kube, v.Namespace, d)
		if err == nil && p.Name != old.Name {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return []probeResult{{Check: "persists", Target: strings.Join(dirs, ","), Detail: "no replacement pod became ready within 2m"}}
		}
		time.Sleep(time.Second)
	}
	found, err := v.probe(ctx, d, append([]string{"expect", marker}, dirs...))
	if err != nil {
		return []probeResult{{Check: "persists", Target: strings.Join(dirs, ","), Detail: err.Error()}}
	}
	return found
}

func checksIn(args []string) []string {
	var out []string
	for _, a := range args {
		switch a {
		case "dns":
			out = append(out, "dns")
		case "writable", "readonly":
			if len(out) == 0 || out[len(out)-1] != "volumes" {
				out = append(out, "volumes")
			}
		}
	}
	return out
}

// serviceTargets are the host:port of every service URL in the container's configuration.
func (v *Verifier) serviceTargets(c corev1.Container) []string {
	config := map[string]bool{}
	for _, e := range c.EnvFrom {
		if e.ConfigMapRef != nil {
			config[e.ConfigMapRef.Name] = true
		}
	}
	var targets []string
	for _, cm := range rendered[corev1.ConfigMap](v, "ConfigMap") {
		if !config[cm.Name] {
			continue
		}
		for key, value := range cm.Data {
			if u, err := url.Parse(value); err == nil && strings.HasSuffix(key, "_URL") && u.Host != "" {
				targets = append(targets, u.Host)
			}
		}
	}
	sort.Strings(targets)
	return targets
}

func (v *Verifier) claimsBound(ctx context.Context) []Result {
	var out []Result
	for _, want := range rendered[corev1.PersistentVolumeClaim](v, "PersistentVolumeClaim") {
		subject := "pvc/" + want.Name
		pvc, err := v.Kube.CoreV1().PersistentVolumeClaims(v.Namespace).Get(ctx, want.Name, metav1.GetOptions{})
		switch {
		case err != nil:
			out = append(out, Result{"volumes", subject, Fail, err.Error(), "kubectl layering deploy --env " + v.Env + " recreates it"})
		case pvc.DeletionTimestamp != nil:
			out = append(out, Result{"volumes", subject, Fail, "being deleted (kept only while pods still use it)", "kubectl layering deploy --env " + v.Env + " recreates it once the pods let go"})
		case pvc.Status.Phase != corev1.ClaimBound:
			out = append(out, Result{"volumes", subject, Fail, fmt.Sprintf("%s, not Bound", pvc.Status.Phase), "kubectl -n " + v.Namespace + " describe pvc " + want.Name})
		default:
			out = append(out, Result{"volumes", subject, Pass, "Bound to " + pvc.Spec.VolumeName, ""})
		}
	}
	return out
}

// probe runs the probe in a ready pod of d and returns its findings.
func (v *Verifier) probe(ctx context.Context, d *appsv1.Deployment, args []string) ([]probeResult, error) {
	live, err := v.Kube.AppsV1().Deployments(v.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	pod, err := readyPod(ctx, v.Kube, v.Namespace, live)
	if err != nil {
		return nil, fmt.Errorf("cannot look inside: %w", err)
	}
	target := pod.Spec.Containers[0]
	name := fmt.Sprintf("layering-verify-%d", time.Now().UnixNano()%1_000_000_000)
	ec := corev1.EphemeralContainer{
		TargetContainerName: target.Name,
		EphemeralContainerCommon: corev1.EphemeralContainerCommon{
			Name: name, Image: v.ProbeImage, ImagePullPolicy: corev1.PullIfNotPresent,
			Args:         args,
			VolumeMounts: target.VolumeMounts, // exactly the service's own mounts
			SecurityContext: &corev1.SecurityContext{
				RunAsNonRoot:             ptr.To(true),
				AllowPrivilegeEscalation: ptr.To(false),
				ReadOnlyRootFilesystem:   ptr.To(true),
				Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
		},
	}
	pod.Spec.EphemeralContainers = append(pod.Spec.EphemeralContainers, ec)
	if _, err := v.Kube.CoreV1().Pods(v.Namespace).UpdateEphemeralContainers(ctx, pod.Name, pod, metav1.UpdateOptions{}); err != nil {
		return nil, fmt.Errorf("adding the probe to pod %s: %w", pod.Name, err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		p, err := v.Kube.CoreV1().Pods(v.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		var state *corev1.ContainerState
		for i := range p.Status.EphemeralContainerStatuses {
			if p.Status.EphemeralContainerStatuses[i].Name == name {
				state = &p.Status.EphemeralContainerStatuses[i].State
			}
		}
		if state != nil && state.Terminated != nil {
			break
		}
		if state != nil && state.Waiting != nil && (strings.Contains(state.Waiting.Reason, "Image") || strings.Contains(state.Waiting.Reason, "Err")) {
			return nil, fmt.Errorf("the probe image %s does not start in pod %s: %s: %s", v.ProbeImage, pod.Name, state.Waiting.Reason, state.Waiting.Message)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("the probe in pod %s did not finish within 60s", pod.Name)
		}
		time.Sleep(300 * time.Millisecond)
	}
	logs, err := v.Kube.CoreV1().Pods(v.Namespace).GetLogs(pod.Name, &corev1.PodLogOptions{Container: name}).DoRaw(ctx)
	if err != nil {
		return nil, err
	}
	var results []probeResult
	sc := bufio.NewScanner(bytes.NewReader(logs))
	for sc.Scan() {
		var r probeResult
		if err := json.Unmarshal(sc.Bytes(), &r); err == nil {
			results = append(results, r)
		}
	}
	if len(results) == 0 {
		return nil, fmt.Errorf("the probe in pod %s reported nothing: %s", pod.Name, strings.TrimSpace(string(logs)))
	}
	return results, nil
}
