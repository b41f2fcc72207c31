package parity

// The rows of the container: image, port, user, environment, secrets, sizes, probes.

import (
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/layering-detection/kubectl-layering/pkg/ecsstate"
)

func image(svc, ecs, kube string) []Row {
	e, k := ecsstate.ParseImage(ecs), ecsstate.ParseImage(kube)
	tag := same(svc, "image tag", orNone(e.Tag+atDigest(e.Digest)), orNone(k.Tag+atDigest(k.Digest)))
	if tag.Status == Differs {
		tag.Reason = "deploy another tag (--image-tag), or compare against the one you will deploy: parity --image-tag"
	}
	return []Row{same(svc, "image repository", e.Repository, k.Repository), tag}
}

func atDigest(d string) string {
	if d == "" {
		return ""
	}
	return "@" + d
}

func port(svc string, ec ecsstate.Container, kc corev1.Container) Row {
	var e, k []string
	for _, p := range ec.Ports {
		e = append(e, strconv.Itoa(p))
	}
	for _, p := range kc.Ports {
		k = append(k, strconv.Itoa(int(p.ContainerPort)))
	}
	return same(svc, "port", strings.Join(e, ","), strings.Join(k, ","))
}

// user compares ECS's user (uid[:gid]) with the pod's (or container's) runAsUser/runAsGroup.
func user(svc, ecs string, pod corev1.PodSpec) Row {
	uid, gid := "", ""
	if sc := pod.SecurityContext; sc != nil {
		uid, gid = int64s(sc.RunAsUser), int64s(sc.RunAsGroup)
	}
	if sc := pod.Containers[0].SecurityContext; sc != nil {
		if u := int64s(sc.RunAsUser); u != "" {
			uid = u
		}
		if g := int64s(sc.RunAsGroup); g != "" {
			gid = g
		}
	}
	kube := uid
	if gid != "" {
		kube += ":" + gid
	}
	if !strings.Contains(ecs, ":") && gid != "" {
		kube = uid // ECS names no group: compare the user alone
	}
	return same(svc, "user", orNone(ecs), orNone(kube))
}

func int64s(p *int64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatInt(*p, 10)
}

// kubeEnv is the container's environment: plain values (its own, and every
// key of the ConfigMaps it takes whole) and secret references.
func kubeEnv(k *Kube, c corev1.Container) (map[string]string, map[string]corev1.SecretKeySelector) {
	env, secrets := map[string]string{}, map[string]corev1.SecretKeySelector{}
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef != nil {
			if cm := k.ConfigMaps[from.ConfigMapRef.Name]; cm != nil {
				for key, v := range cm.Data {
					env[from.Prefix+key] = v
				}
			}
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			secrets[e.Name] = *e.ValueFrom.SecretKeyRef
		case e.ValueFrom.ConfigMapKeyRef != nil:
			if cm := k.ConfigMaps[e.ValueFrom.ConfigMapKeyRef.Name]; cm != nil {
				env[e.Name] = cm.Data[e.ValueFrom.ConfigMapKeyRef.Key]
			}
		}
	}
	return env, secrets
}

// environment is a row per variable either side sets.
func environment(svc string, ecs, kube map[string]string) []Row {
	names := map[string]bool{}
	for n := range ecs {
		names[n] = true
	}
	for n := range kube {
		names[n] = true
	}
	var rows []Row
	for _, n := range slices.Sorted(maps.Keys(names)) {
		e, inECS := ecs[n]
		k, inKube := kube[n]
		r := same(svc, "env "+n, e, k)
		switch {
		case !inECS:
			r.ECS, r.Status, r.Reason = "(unset)", Differs, "set only on Kubernetes"
		case !inKube:
			r.Kubernetes, r.Status, r.Reason = "(unset)", Differs, "set only on ECS"
		case e != k && sameService(e, k):
			r.Status, r.Reason = Same, "the same service by name and port"
		}
		rows = append(rows, r)
	}
	return rows
}

// sameService tells whether two URLs reach the same service: scheme, port
// and path equal, and the host's first label (ECS Service Connect's
// layering-service, Kubernetes' layering-service.<namespace>.svc.cluster.local).
func sameService(a, b string) bool {
	ua, errA := url.Parse(a)
	ub, errB := url.Parse(b)
	if errA != nil || errB != nil || ua.Host == "" || ub.Host == "" {
		return false
	}
	first := func(u *url.URL) string { h, _, _ := strings.Cut(u.Hostname(), "."); return h }
	port := func(u *url.URL) string {
		if p := u.Port(); p != "" {
			return p
		}
		return map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return ua.Scheme == ub.Scheme && first(ua) == first(ub) && port(ua) == port(ub) && strings.TrimSuffix(ua.Path, "/") == strings.TrimSuffix(ub.Path, "/")
}

// secretRows compares each secret: ECS's Secrets Manager secret and JSON key
// against the ExternalSecret that fills the Secret key the pod reads.
func secretRows(svc string, d *ecsstate.Deployment, k *Kube, ecs map[string]string, kube map[string]corev1.SecretKeySelector) []Row {
	names := map[string]bool{}
	for n := range ecs {
		names[n] = true
	}
	for n := range kube {
		names[n] = true
	}
	var rows []Row
	for _, n := range slices.Sorted(maps.Keys(names)) {
		r := Row{Service: svc, Item: "secret " + n, ECS: "(none)", Kubernetes: "(none)"}
		if from, ok := ecs[n]; ok {
			arn, key := ecsstate.SecretRef(from)
			name := "unknown secret " + arn
			if m, ok := d.Secrets[arn]; ok {
				name = m.Name
			}
			r.ECS = secretName(name, key)
		}
		if sel, ok := kube[n]; ok {
			r.Kubernetes = fmt.Sprintf("Secret %s key %s, not from Secrets Manager", sel.Name, sel.Key)
			if ref, ok := k.ExternalSecrets[sel.Name][sel.Key]; ok {
				r.Kubernetes = secretName(ref.Key, ref.Property)
			}
		}
		r.Status = Same
		if r.ECS != r.Kubernetes {
			r.Status = Differs
		}
		rows = append(rows, r)
	}
	return rows
}

func secretName(name, key string) string {
	if key == "" {
		return name
	}
	return name + " ." + key
}

// cpu compares the task's CPU units (1024 = 1 vCPU) with the request and the
// limit: Fargate reserves and caps a task at its size.
func cpu(svc, units string, res corev1.ResourceRequirements) Row {
	u, err := strconv.Atoi(units)
	r := Row{Service: svc, Item: "cpu", ECS: units + " CPU units", Kubernetes: requestLimit(res, corev1.ResourceCPU)}
	if err != nil {
		r.Status, r.Reason = Differs, "the task definition sets no task-level CPU"
		return r
	}
	milli := int64(u) * 1000 / 1024
	r.ECS = fmt.Sprintf("%d CPU units = %dm", u, milli)
	return sized(r, res, corev1.ResourceCPU, func(q resource.Quantity) bool { return q.MilliValue() == milli })
}

func memory(svc, mib string, res corev1.ResourceRequirements) Row {
	m, err := strconv.Atoi(mib)
	r := Row{Service: svc, Item: "memory", ECS: mib + " MiB", Kubernetes: requestLimit(res, corev1.ResourceMemory)}
	if err != nil {
		r.Status, r.Reason = Differs, "the task definition sets no task-level memory"
		return r
	}
	return sized(r, res, corev1.ResourceMemory, func(q resource.Quantity) bool { return q.Value() == int64(m)<<20 })
}

func sized(r Row, res corev1.ResourceRequirements, name corev1.ResourceName, equal func(resource.Quantity) bool) Row {
	req, hasReq := res.Requests[name]
	lim, hasLim := res.Limits[name]
	switch {
	case hasReq && hasLim && equal(req) && equal(lim):
		r.Status = Same
	case hasReq && equal(req):
		r.Status, r.Reason = Differs, "the limit is not the task size (Fargate caps a task at its size)"
	default:
		r.Status, r.Reason = Differs, "the request is not the task size"
	}
	return r
}

func requestLimit(res corev1.ResourceRequirements, name corev1.ResourceName) string {
	show := func(l corev1.ResourceList) string {
		if q, ok := l[name]; ok {
			return q.String()
		}
		return "-"
	}
	return "request " + show(res.Requests) + ", limit " + show(res.Limits)
}

var healthURL = regexp.MustCompile(`https?://[^\s'"]+`)

// liveness compares the container health check (ECS restarts a task that
// fails it) with the liveness probe (Kubernetes restarts the container).
func liveness(svc string, hc *ecsstate.HealthCheck, c corev1.Container) Row {
	r := Row{Service: svc, Item: "health check ↔ liveness probe", ECS: "(none)", Kubernetes: "(none)"}
	var e, k string
	if hc != nil {
		target := strings.Join(hc.Command, " ")
		if u, err := url.Parse(healthURL.FindString(target)); err == nil && u.Host != "" {
			target = "GET " + u.Port() + u.Path
		}
		e = fmt.Sprintf("%s every %ds, timeout %ds, %d retries, start %ds", target, hc.Interval, hc.Timeout, hc.Retries, hc.StartPeriod)
		r.ECS = e
	}
	if p := c.LivenessProbe; p != nil {
		target := "exec"
		if p.HTTPGet != nil {
			target = "GET " + probePort(p.HTTPGet.Port, c) + p.HTTPGet.Path
		}
		k = fmt.Sprintf("%s every %ds, timeout %ds, %d retries, start %ds", target, p.PeriodSeconds, p.TimeoutSeconds, p.FailureThreshold, p.InitialDelaySeconds)
		r.Kubernetes = k
	}
	r.Status = Same
	if e != k {
		r.Status = Differs
	}
	return r
}

// probePort resolves a named port to its number.
func probePort(p intstr.IntOrString, c corev1.Container) string {
	if p.Type == intstr.Int {
		return p.String()
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return strconv.Itoa(int(cp.ContainerPort))
		}
	}
	return p.StrVal
}

func readiness(svc string, p *corev1.Probe) Row {
	r := Row{Service: svc, Item: "readiness probe", ECS: "(none: the ALB health check gates traffic)", Kubernetes: "(none)"}
	if p == nil {
		r.Status, r.Reason = Differs, "nothing keeps a pod that cannot serve out of the Service"
		return r
	}
	target := "exec"
	if p.HTTPGet != nil {
		target = "GET " + p.HTTPGet.Path
	}
	r.Kubernetes = fmt.Sprintf("%s every %ds, timeout %ds, %d failures", target, p.PeriodSeconds, p.TimeoutSeconds, p.FailureThreshold)
	r.Status, r.Reason = ByDesign, "ECS has no readiness check; Kubernetes takes a pod out of the Service's endpoints when it fails, sooner than the ALB would"
	return r
}
