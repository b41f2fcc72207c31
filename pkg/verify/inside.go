package verify

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/layering-detection/kubectl-layering/pkg/verify/probeapi"
)

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
	configMaps := rendered[corev1.ConfigMap](v, "ConfigMap")
	for _, d := range rendered[appsv1.Deployment](v, "Deployment") {
		req, err := probeRequest(d, configMaps, dns, volumes)
		switch {
		case err != nil:
			out = append(out, failedRows(d.Name, checksOf(dns, volumes), err, "")...)
		case !req.Empty():
			out = append(out, v.lookInside(ctx, d.Name, req)...)
		}
	}
	return out
}

// lookInside runs the probe in a ready pod of the Deployment, and with --deep
// proves that its writable volumes outlive that pod.
func (v *Verifier) lookInside(ctx context.Context, deployment string, req probeapi.Request) []Result {
	checks := checksOf(len(req.DNS) > 0, len(req.Writable)+len(req.ReadOnly) > 0)
	live, err := v.Kube.AppsV1().Deployments(v.Namespace).Get(ctx, deployment, metav1.GetOptions{})
	if err != nil {
		return failedRows(deployment, checks, err, "kubectl layering deploy --env "+v.Env)
	}
	pod, err := readyPod(ctx, v.Kube, live)
	if err != nil {
		return failedRows(deployment, checks, err, "kubectl -n "+v.Namespace+" get pods")
	}
	results, err := v.runProbe(ctx, pod, req)
	if err != nil {
		return failedRows(deployment, checks, err, "see --probe-image")
	}
	if v.Deep && len(req.Writable) > 0 {
		results = append(results, v.persistence(ctx, live, pod, req.Writable)...)
	}
	return probeRows(deployment, results)
}

// probeRequest is what the probe checks in a pod of the manifests' Deployment:
// the host:port of every service URL its ConfigMaps give it (dns), and its
// claim mounts, writable or read-only as mounted (volumes).
func probeRequest(d *appsv1.Deployment, configMaps []*corev1.ConfigMap, dns, volumes bool) (probeapi.Request, error) {
	var req probeapi.Request
	containers := d.Spec.Template.Spec.Containers
	if len(containers) == 0 {
		return req, errors.New("the manifests give the Deployment no containers to look inside")
	}
	// The probe joins the first container, the service's own.
	if dns {
		req.DNS = serviceTargets(containers[0], configMaps)
	}
	if volumes {
		req.Writable, req.ReadOnly = claimMounts(d.Spec.Template.Spec.Volumes, containers[0].VolumeMounts)
	}
	return req, nil
}

// serviceTargets are the host:port of every *_URL value in the ConfigMaps the container reads.
func serviceTargets(c corev1.Container, configMaps []*corev1.ConfigMap) []string {
	var targets []string
	for _, cm := range configMaps {
		if !slices.ContainsFunc(c.EnvFrom, func(e corev1.EnvFromSource) bool { return e.ConfigMapRef != nil && e.ConfigMapRef.Name == cm.Name }) {
			continue
		}
		for key, value := range cm.Data {
			if u, err := url.Parse(value); err == nil && strings.HasSuffix(key, "_URL") && u.Host != "" {
				targets = append(targets, u.Host)
			}
		}
	}
	slices.Sort(targets)
	return slices.Compact(targets)
}

// claimMounts are the mount paths of the container's PersistentVolumeClaim volumes.
func claimMounts(volumes []corev1.Volume, mounts []corev1.VolumeMount) (writable, readOnly []string) {
	for _, m := range mounts {
		isClaim := slices.ContainsFunc(volumes, func(v corev1.Volume) bool { return v.Name == m.Name && v.PersistentVolumeClaim != nil })
		switch {
		case !isClaim:
		case m.ReadOnly:
			readOnly = append(readOnly, m.MountPath)
		default:
			writable = append(writable, m.MountPath)
		}
	}
	return writable, readOnly
}

func checksOf(dns, volumes bool) []string {
	var checks []string
	if dns {
		checks = append(checks, "dns")
	}
	if volumes {
		checks = append(checks, "volumes")
	}
	return checks
}

// failedRows report that a Deployment could not be looked inside, once per check that needed to.
func failedRows(deployment string, checks []string, err error, hint string) []Result {
	var out []Result
	for _, c := range checks {
		out = append(out, Result{c, "deployment/" + deployment, Fail, err.Error(), hint})
	}
	return out
}

// probeHints say what to do when a probe check fails.
var probeHints = map[string]string{
	probeapi.CheckDNS:      "is CoreDNS running? kubectl -n kube-system get pods -l k8s-app=kube-dns",
	probeapi.CheckWritable: "the volume must be writable by uid/gid 1000 (EFS access point owner 1000, or the local host directory)",
	probeapi.CheckReadOnly: "mount the input volume readOnly in the Deployment and its claim",
	probeapi.CheckPersists: "the volume must be a persistent volume, not the pod's own storage",
	probeapi.CheckKeep:     "the volume must be writable by uid/gid 1000",
}

// probeRows turn the probe's results into report rows: dns results under dns,
// everything else under volumes.
func probeRows(deployment string, results []probeapi.Result) []Result {
	out := make([]Result, len(results))
	for i, r := range results {
		row := Result{Check: "volumes", Subject: "deployment/" + deployment + " " + r.Check + " " + r.Target, Status: Pass, Reason: r.Detail}
		if r.Check == probeapi.CheckDNS {
			row.Check = "dns"
		}
		if !r.OK {
			row.Status, row.Hint = Fail, probeHints[r.Check]
		}
		out[i] = row
	}
	return out
}
