package parity

// The rows of storage and logs: volumes, the log group.

import (
	"path"
	"regexp"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/layering-detection/kubectl-layering/pkg/ecsstate"
)

// volumes compares every ECS mount (EFS file system and access point,
// read-only) with the Kubernetes mount at the same path.
func volumes(svc string, td ecsstate.TaskDefinition, ec ecsstate.Container, k *Kube, pod corev1.PodSpec, kc corev1.Container) []Row {
	var rows []Row
	seen := map[string]bool{}
	for _, m := range ec.Mounts {
		seen[m.Path] = true
		r := Row{Service: svc, Item: "volume " + m.Path, ECS: "volume " + m.Volume, Kubernetes: "(not mounted)"}
		for _, v := range td.Volumes {
			if v.Name == m.Volume && v.FileSystemID != "" {
				r.ECS = efsHandle(v.FileSystemID, v.AccessPointID) + readOnly(m.ReadOnly)
			}
		}
		if km, ok := mountAt(kc, m.Path); ok {
			r.Kubernetes = kubeVolume(k, pod, km)
		}
		r.Status = Same
		if r.ECS != r.Kubernetes {
			r.Status = Differs
		}
		rows = append(rows, r)
	}
	for _, km := range kc.VolumeMounts {
		if seen[km.MountPath] {
			continue
		}
		r := Row{Service: svc, Item: "volume " + km.MountPath, ECS: "(not mounted)", Kubernetes: kubeVolume(k, pod, km), Status: Differs, Reason: "mounted only on Kubernetes"}
		if v := podVolume(pod, km.Name); v != nil && v.EmptyDir != nil && km.MountPath == "/tmp" && readOnlyRoot(kc) {
			r.Status, r.Reason = ByDesign, "the root filesystem is read-only on Kubernetes, so /tmp is a scratch emptyDir (an ECS task's root is writable)"
		}
		rows = append(rows, r)
	}
	return rows
}

func efsHandle(fs, ap string) string {
	if ap == "" {
		return "EFS " + fs
	}
	return "EFS " + fs + " access point " + ap
}

func readOnly(ro bool) string {
	if ro {
		return ", read-only"
	}
	return ", read-write"
}

func readOnlyRoot(c corev1.Container) bool {
	return c.SecurityContext != nil && c.SecurityContext.ReadOnlyRootFilesystem != nil && *c.SecurityContext.ReadOnlyRootFilesystem
}

func mountAt(c corev1.Container, p string) (corev1.VolumeMount, bool) {
	for _, m := range c.VolumeMounts {
		if path.Clean(m.MountPath) == path.Clean(p) {
			return m, true
		}
	}
	return corev1.VolumeMount{}, false
}

func podVolume(pod corev1.PodSpec, name string) *corev1.Volume {
	for i := range pod.Volumes {
		if pod.Volumes[i].Name == name {
			return &pod.Volumes[i]
		}
	}
	return nil
}

// kubeVolume says what a mount reaches: for a claim, the EFS file system and
// access point of its PersistentVolume (volumeHandle fs::ap).
func kubeVolume(k *Kube, pod corev1.PodSpec, m corev1.VolumeMount) string {
	v := podVolume(pod, m.Name)
	switch {
	case v == nil:
		return "volume " + m.Name + " (undefined)"
	case v.PersistentVolumeClaim != nil:
		ro := m.ReadOnly || v.PersistentVolumeClaim.ReadOnly
		pv := k.claimVolume(v.PersistentVolumeClaim.ClaimName)
		switch {
		case pv == nil:
			return "claim " + v.PersistentVolumeClaim.ClaimName + " (no volume)" + readOnly(ro)
		case pv.Spec.CSI != nil && pv.Spec.CSI.Driver == "efs.csi.aws.com":
			fs, ap, _ := strings.Cut(pv.Spec.CSI.VolumeHandle, "::")
			return efsHandle(fs, ap) + readOnly(ro)
		case pv.Spec.HostPath != nil:
			return "host path " + pv.Spec.HostPath.Path + readOnly(ro)
		}
		return "volume " + pv.Name + readOnly(ro)
	case v.EmptyDir != nil:
		return "emptyDir" + readOnly(m.ReadOnly)
	}
	return "volume " + m.Name + readOnly(m.ReadOnly)
}

// labelRef is a pod label in a Fluent Bit record accessor: $kubernetes['labels']['NAME'].
var labelRef = regexp.MustCompile(`\$kubernetes\['labels'\]\['([^']+)'\]`)

// logGroup compares the awslogs group with the one Fluent Bit's template
// gives the Deployment's pods.
func logGroup(svc string, ec ecsstate.Container, k *Kube, d *appsv1.Deployment) Row {
	e := ec.LogOptions["awslogs-group"]
	if ec.LogDriver != "awslogs" {
		e = "(log driver " + orNone(ec.LogDriver) + ")"
	}
	r := Row{Service: svc, Item: "log group", ECS: e, Kubernetes: "(no log shipping: " + k.LogSource + ")"}
	if k.LogGroupTemplate != "" {
		labels := d.Spec.Template.Labels
		r.Kubernetes = labelRef.ReplaceAllStringFunc(k.LogGroupTemplate, func(m string) string {
			return labels[labelRef.FindStringSubmatch(m)[1]]
		})
	}
	r.Status = Same
	if r.ECS != r.Kubernetes {
		r.Status = Differs
	}
	return r
}
