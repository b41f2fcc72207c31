package parity

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/layering-detection/kubectl-layering/pkg/alarms"
	"github.com/layering-detection/kubectl-layering/pkg/ecsstate"
)

// Input is what Compare sets side by side.
type Input struct {
	Env       string
	Live      bool // Kube is the running environment (else rendered)
	ECS       *ecsstate.Deployment
	Kube      *Kube
	Alarms    *alarms.AlarmSet
	EKSAlarms map[string]ecsstate.Alarm // by name: the alarm set's (rendered) or CloudWatch's (live)
}

// appPrefix names the ECS services, task families and Deployments alike.
const appPrefix = "layering-detection-"

// overlayDesign are an environment's deliberate departures from the ECS
// deployment, as its overlay makes them (the item's difference is by design).
var overlayDesign = map[string]map[string]string{
	"dev": {
		"cpu":           "dev runs half the ECS size (overlays/dev)",
		"memory":        "dev runs half the ECS size (overlays/dev)",
		"desired count": "dev runs 1 replica (overlays/dev)",
		"min/max":       "dev scales to 2 replicas at most (overlays/dev)",
		"HTTPS":         "dev is plain HTTP (overlays/dev)",
	},
}

// Compare makes every row: per ECS service, then the load balancer.
func Compare(in Input) *Report {
	rep := &Report{Env: in.Env, ECSCluster: in.ECS.Cluster, Kubernetes: "rendered"}
	if in.Live {
		rep.Kubernetes = "live"
	}
	for _, s := range ordered(in.ECS.Services) {
		svc := strings.TrimPrefix(s.Name, appPrefix)
		d := in.Kube.Deployments[s.Name]
		if d == nil {
			rep.Items = append(rep.Items, Row{svc, "service", s.Name + " (" + s.TaskDefinition.Ref() + ")", "no Deployment " + s.Name, Differs, "not deployed on Kubernetes"})
			continue
		}
		rep.Items = append(rep.Items, in.service(svc, s, d)...)
	}
	for _, name := range sortedKeys(in.Kube.Deployments) {
		if _, ok := in.ECS.Service(name); !ok {
			rep.Items = append(rep.Items, Row{strings.TrimPrefix(name, appPrefix), "service", "no ECS service " + name, "Deployment " + name, Differs, "runs only on Kubernetes"})
		}
	}
	rep.Items = append(rep.Items, in.loadBalancer()...)
	for i := range rep.Items {
		r := &rep.Items[i]
		if why, ok := overlayDesign[in.Env][r.Item]; ok && r.Status == Differs {
			r.Status, r.Reason = ByDesign, why
		}
	}
	rep.count()
	return rep
}

// platform is the services' order in the report: as the pipeline calls them.
var platform = []string{"orchestrator", "layering", "wash-trading", "aggregator"}

func ordered(services []ecsstate.Service) []ecsstate.Service {
	out := slices.Clone(services)
	rank := func(s ecsstate.Service) int {
		if i := slices.Index(platform, strings.TrimPrefix(s.Name, appPrefix)); i >= 0 {
			return i
		}
		return len(platform)
	}
	sort.SliceStable(out, func(i, j int) bool { return rank(out[i]) < rank(out[j]) })
	return out
}

func (in Input) service(svc string, s ecsstate.Service, d *appsv1.Deployment) []Row {
	if len(s.TaskDefinition.Containers) == 0 || len(d.Spec.Template.Spec.Containers) == 0 {
		return []Row{{svc, "container", s.TaskDefinition.Ref(), d.Name, Differs, "a side has no container"}}
	}
	ec, kc := s.TaskDefinition.Containers[0], d.Spec.Template.Spec.Containers[0]
	rows := []Row{
		same(svc, "container", ec.Name, kc.Name),
	}
	rows = append(rows, image(svc, ec.Image, kc.Image)...)
	rows = append(rows, port(svc, ec, kc), user(svc, ec.User, d.Spec.Template.Spec))
	env, secrets := kubeEnv(in.Kube, kc)
	rows = append(rows, environment(svc, ec.Environment, env)...)
	rows = append(rows, secretRows(svc, in.ECS, in.Kube, ec.Secrets, secrets)...)
	rows = append(rows, cpu(svc, s.TaskDefinition.CPU, kc.Resources), memory(svc, s.TaskDefinition.Memory, kc.Resources))
	rows = append(rows, liveness(svc, ec.HealthCheck, kc), readiness(svc, kc.ReadinessProbe))
	rows = append(rows, in.targetGroup(svc, s))
	hpa := in.Kube.HPAs[d.Name]
	rows = append(rows, replicas(svc, s, d, hpa, in.Live), minMax(svc, s.Scaling, hpa))
	rows = append(rows, scaling(svc, s.Scaling, hpa)...)
	rows = append(rows, volumes(svc, s.TaskDefinition, ec, in.Kube, d.Spec.Template.Spec, kc)...)
	rows = append(rows, logGroup(svc, ec, in.Kube, d))
	rows = append(rows, in.alarmRows(svc)...)
	return rows
}

// same is a row that is ✓ when both sides say the same.
func same(svc, item, ecs, kube string) Row {
	r := Row{Service: svc, Item: item, ECS: ecs, Kubernetes: kube, Status: Same}
	if ecs != kube {
		r.Status = Differs
	}
	return r
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

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
	for _, n := range sortedKeys(names) {
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
	for _, n := range sortedKeys(names) {
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

// targetGroup compares the ECS target group's health check with the one the
// AWS Load Balancer Controller gives the Ingress's (its annotations).
func (in Input) targetGroup(svc string, s ecsstate.Service) Row {
	r := Row{Service: svc, Item: "load balancer health check", ECS: "(no target group)", Kubernetes: "(no Ingress)"}
	if len(s.TargetGroups) > 0 {
		if tg, ok := in.ECS.TargetGroup(s.TargetGroups[0]); ok {
			r.ECS = fmt.Sprintf("%s %s every %ds, timeout %ds, %d healthy / %d unhealthy", tg.HealthCheckPath, tg.Matcher, tg.HealthCheckSeconds, tg.TimeoutSeconds, tg.Healthy, tg.Unhealthy)
		}
	}
	if len(in.Kube.Ingresses) > 0 {
		a := in.Kube.Ingresses[0].Annotations
		get := func(k, def string) string {
			if v, ok := a["alb.ingress.kubernetes.io/"+k]; ok {
				return v
			}
			return def // the AWS Load Balancer Controller's defaults
		}
		r.Kubernetes = fmt.Sprintf("%s %s every %ss, timeout %ss, %s healthy / %s unhealthy", get("healthcheck-path", "/"), get("success-codes", "200"),
			get("healthcheck-interval-seconds", "15"), get("healthcheck-timeout-seconds", "5"), get("healthy-threshold-count", "2"), get("unhealthy-threshold-count", "2"))
	}
	r.Status = Same
	if r.ECS != r.Kubernetes {
		r.Status = Differs
	}
	return r
}

// replicas compares the desired count with the Deployment's replicas; live,
// both sides follow their own autoscalers, so a count within min..max on
// both is by design.
func replicas(svc string, s ecsstate.Service, d *appsv1.Deployment, hpa *autoscalingv2.HorizontalPodAutoscaler, live bool) Row {
	k := 1
	if d.Spec.Replicas != nil {
		k = int(*d.Spec.Replicas)
	}
	r := same(svc, "desired count", strconv.Itoa(s.DesiredCount), strconv.Itoa(k))
	if live && r.Status == Differs && s.Scaling != nil && hpa != nil && inRange(s.DesiredCount, s.Scaling.Min, s.Scaling.Max) &&
		inRange(k, int(minReplicas(hpa)), int(hpa.Spec.MaxReplicas)) {
		r.Status, r.Reason = ByDesign, "each side's autoscaler sets the count for its own load"
	}
	return r
}

func inRange(n, lo, hi int) bool { return n >= lo && n <= hi }

func minReplicas(h *autoscalingv2.HorizontalPodAutoscaler) int32 {
	if h.Spec.MinReplicas == nil {
		return 1
	}
	return *h.Spec.MinReplicas
}

func minMax(svc string, sc *ecsstate.Scaling, hpa *autoscalingv2.HorizontalPodAutoscaler) Row {
	e, k := "(no scalable target)", "(no HorizontalPodAutoscaler)"
	if sc != nil {
		e = fmt.Sprintf("%d..%d", sc.Min, sc.Max)
	}
	if hpa != nil {
		k = fmt.Sprintf("%d..%d", minReplicas(hpa), hpa.Spec.MaxReplicas)
	}
	return same(svc, "min/max", e, k)
}

// scaling compares the target-tracking policies with the HPA's metrics, and
// the cooldowns with its stabilization windows (the HPA has no cooldowns: a
// window of the same length holds back the same flapping).
func scaling(svc string, sc *ecsstate.Scaling, hpa *autoscalingv2.HorizontalPodAutoscaler) []Row {
	var policies []ecsstate.Policy
	if sc != nil {
		policies = sc.Policies
	}
	policy := func(metric string) *ecsstate.Policy {
		for i := range policies {
			if policies[i].Metric == metric {
				return &policies[i]
			}
		}
		return nil
	}
	target := func(name corev1.ResourceName) string {
		if hpa == nil {
			return "(none)"
		}
		for _, m := range hpa.Spec.Metrics {
			if m.Resource != nil && m.Resource.Name == name && m.Resource.Target.AverageUtilization != nil {
				return fmt.Sprintf("%d %%", *m.Resource.Target.AverageUtilization)
			}
		}
		return "(none)"
	}
	ecsTarget := func(p *ecsstate.Policy) string {
		if p == nil {
			return "(none)"
		}
		return strconv.FormatFloat(p.Target, 'f', -1, 64) + " %"
	}
	cpuP, memP := policy("ECSServiceAverageCPUUtilization"), policy("ECSServiceAverageMemoryUtilization")
	rows := []Row{same(svc, "scaling CPU target", ecsTarget(cpuP), target(corev1.ResourceCPU)),
		same(svc, "scaling memory target", ecsTarget(memP), target(corev1.ResourceMemory))}
	out, in := "(none)", "(none)"
	if p := cmpOr(cpuP, memP); p != nil {
		out, in = fmt.Sprintf("%d s", p.ScaleOutCooldown), fmt.Sprintf("%d s", p.ScaleInCooldown)
	}
	up, down := "(none)", "(none)"
	if hpa != nil {
		up, down = window(hpa.Spec.Behavior, true), window(hpa.Spec.Behavior, false)
	}
	for _, r := range []Row{same(svc, "scale-out cooldown ↔ scale-up window", out, up), same(svc, "scale-in cooldown ↔ scale-down window", in, down)} {
		if r.Status == Same {
			r.Reason = "the HPA has no cooldown; a stabilization window of the same length holds back the same flapping"
		}
		rows = append(rows, r)
	}
	return rows
}

func cmpOr(ps ...*ecsstate.Policy) *ecsstate.Policy {
	for _, p := range ps {
		if p != nil {
			return p
		}
	}
	return nil
}

// window is the HPA's stabilization window, with Kubernetes' defaults (0 s up, 300 s down).
func window(b *autoscalingv2.HorizontalPodAutoscalerBehavior, up bool) string {
	s := int32(300)
	if up {
		s = 0
	}
	if b != nil {
		r := b.ScaleDown
		if up {
			r = b.ScaleUp
		}
		if r != nil && r.StabilizationWindowSeconds != nil {
			s = *r.StabilizationWindowSeconds
		}
	}
	return fmt.Sprintf("%d s", s)
}

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
		r.Kubernetes = regexp.MustCompile(`\$kubernetes\['labels'\]\['([^']+)'\]`).ReplaceAllStringFunc(k.LogGroupTemplate, func(m string) string {
			return labels[regexp.MustCompile(`\['labels'\]\['([^']+)'\]`).FindStringSubmatch(m)[1]]
		})
	}
	r.Status = Same
	if r.ECS != r.Kubernetes {
		r.Status = Differs
	}
	return r
}

// alarmRows compares each ECS alarm with the EKS alarm that replaces it: the
// same condition on the Container Insights metric of the same signal.
func (in Input) alarmRows(svc string) []Row {
	if in.Alarms == nil {
		return nil
	}
	var rows []Row
	for _, a := range in.Alarms.Alarms {
		ecsName, eksName := a.ECSAlarmName(svc), a.AlarmName(in.Env, svc)
		r := Row{Service: svc, Item: "alarm " + strings.TrimPrefix(ecsName, appPrefix+svc+"-"), ECS: "(no alarm " + ecsName + ")", Kubernetes: "(no alarm " + eksName + ")"}
		var e, k string
		for _, x := range in.ECS.Alarms {
			if x.Name == ecsName {
				e = condition(x)
				r.ECS = x.Metric + " " + e
			}
		}
		if x, ok := in.EKSAlarms[eksName]; ok {
			k = condition(x)
			r.Kubernetes = x.Metric + " " + k
		}
		switch {
		case e == "" || k == "":
			r.Status, r.Reason = Differs, "an alarm is missing"
			if k == "" && in.Live {
				r.Reason = "not created yet: kubectl layering alarms sync --env " + in.Env
			}
		case e != k:
			r.Status = Differs
		default:
			r.Status, r.Reason = ByDesign, fmt.Sprintf("the same condition on Container Insights' %s, which replaces AWS/ECS %s", a.Metric, a.Replaces)
		}
		rows = append(rows, r)
	}
	return rows
}

func condition(a ecsstate.Alarm) string {
	op := map[string]string{"GreaterThanThreshold": ">", "LessThanThreshold": "<", "GreaterThanOrEqualToThreshold": ">=", "LessThanOrEqualToThreshold": "<="}[a.Comparison]
	if op == "" {
		op = a.Comparison
	}
	return fmt.Sprintf("%s %s %g, %ds × %d, missing data %s", a.Statistic, op, a.Threshold, a.PeriodSeconds, a.EvaluationPeriods, a.TreatMissingData)
}

// loadBalancer compares the ECS ALB's HTTPS listener with the Ingress's.
func (in Input) loadBalancer() []Row {
	var https *ecsstate.Listener
	var http *ecsstate.Listener
	for _, lb := range in.ECS.LoadBalancers {
		for i, l := range lb.Listeners {
			switch l.Protocol {
			case "HTTPS":
				https = &lb.Listeners[i]
			case "HTTP":
				http = &lb.Listeners[i]
			}
		}
	}
	var a map[string]string
	if len(in.Kube.Ingresses) > 0 {
		a = in.Kube.Ingresses[0].Annotations
	}
	const p = "alb.ingress.kubernetes.io/"
	e, k := "(no HTTPS listener)", "(no certificate)"
	if https != nil && len(https.Certificates) > 0 {
		e = https.Certificates[0]
	}
	if c := a[p+"certificate-arn"]; c != "" {
		k = c
	}
	rows := []Row{same("load balancer", "HTTPS", e, k)}
	if https != nil && a[p+"ssl-policy"] != "" {
		r := same("load balancer", "TLS policy", https.SSLPolicy, a[p+"ssl-policy"])
		if r.Status == Differs && tls12(https.SSLPolicy) && tls12(a[p+"ssl-policy"]) {
			r.Status, r.Reason = ByDesign, "both require TLS 1.2 at least; the Ingress's policy adds TLS 1.3"
		}
		rows = append(rows, r)
	}
	if http != nil && a[p+"ssl-redirect"] != "" {
		rows = append(rows, Row{"load balancer", "HTTP listener", fmt.Sprintf("%d forwards", http.Port), "redirects to " + a[p+"ssl-redirect"], ByDesign,
			"plain HTTP is redirected to HTTPS on Kubernetes"})
	}
	return rows
}

func tls12(policy string) bool {
	return strings.Contains(policy, "TLS-1-2") || strings.Contains(policy, "TLS13-1-2")
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
