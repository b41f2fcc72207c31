//go:build e2e

// Smoke tests of the local cluster that `make cluster` (local-cluster/cluster.sh up)
// brings up. They prove the harness requirements of issue 4 against the running
// cluster: a Ready v1.32.4 node, Service names resolved by CoreDNS from inside a
// pod, metrics-server serving node metrics (what HPAs read), Pod Security
// `restricted` enforced, static local/hostPath volumes usable by restricted pods,
// and the guards that keep cluster traffic on the machine.
//
// Kubeconfig: $KUBECONFIG_LOCAL, else <repo>/.local-cluster/kubeconfig.
package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

const (
	// Names fixed by local-cluster/cluster.sh.
	clusterK8sVersion = "v1.32.4"
	clusterNodeName   = "local-node"
	clusterProbeImage = "kubectl-layering.local/probe:v1"
	clusterDNSIP      = "10.96.0.10"
	// A pod UID of the probe image; restricted pods must run as non-root.
	clusterProbeUID = 65532
	// The fixed path of the local overlay's hostPath PVs: a symlink to
	// <repo>/.local-cluster/volumes made by the harness.
	clusterHostVolumes = "/var/lib/kubectl-layering/local-volumes"
)

// clusterRepoRoot walks up from the test's directory to the directory holding go.mod.
func clusterRepoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

func clusterKubeconfigPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("KUBECONFIG_LOCAL"); p != "" {
		return p
	}
	return filepath.Join(clusterRepoRoot(t), ".local-cluster", "kubeconfig")
}

func clusterClient(t *testing.T) *kubernetes.Clientset {
	t.Helper()
	path := clusterKubeconfigPath(t)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no kubeconfig at %s: bring the cluster up first with `make cluster` (%v)", path, err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatalf("kubeconfig %s: %v", path, err)
	}
	cfg.Timeout = 30 * time.Second
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func clusterCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func clusterSuffix() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// clusterRestrictedNamespace creates a namespace that enforces Pod Security
// `restricted`, like the project's namespaces, and deletes it after the test.
func clusterRestrictedNamespace(ctx context.Context, t *testing.T, cs *kubernetes.Clientset, prefix string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: prefix + "-" + clusterSuffix(),
		Labels: map[string]string{
			"pod-security.kubernetes.io/enforce": "restricted",
			"pod-security.kubernetes.io/warn":    "restricted",
		},
	}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	t.Cleanup(func() {
		_ = cs.CoreV1().Namespaces().Delete(context.Background(), ns.Name, metav1.DeleteOptions{})
	})
	// Pods cannot be created before the namespace's default ServiceAccount exists.
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := cs.CoreV1().ServiceAccounts(ns.Name).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("default ServiceAccount in %s: %v", ns.Name, err)
	}
	return ns.Name
}

// clusterRestrictedPod is a pod of the probe image that satisfies Pod Security `restricted`.
func clusterRestrictedPod(name string, args ...string) *corev1.Pod {
	uid := int64(clusterProbeUID)
	yes, no := true, false
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   &yes,
				RunAsUser:      &uid,
				RunAsGroup:     &uid,
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name:            "probe",
				Image:           clusterProbeImage,
				ImagePullPolicy: corev1.PullNever, // nothing can be pulled: the image is imported
				Args:            args,
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: &no,
					ReadOnlyRootFilesystem:   &yes,
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
			}},
		},
	}
}

// clusterRunPod creates the pod, waits for it to finish and returns its log; the
// test fails if the pod does not succeed.
func clusterRunPod(ctx context.Context, t *testing.T, cs *kubernetes.Clientset, ns string, pod *corev1.Pod) string {
	t.Helper()
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod %s/%s: %v", ns, pod.Name, err)
	}
	var phase corev1.PodPhase
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		phase = p.Status.Phase
		return phase == corev1.PodSucceeded || phase == corev1.PodFailed, nil
	})
	logs, logErr := cs.CoreV1().Pods(ns).GetLogs(pod.Name, &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil || phase != corev1.PodSucceeded {
		p, _ := cs.CoreV1().Pods(ns).Get(context.Background(), pod.Name, metav1.GetOptions{})
		status, _ := json.MarshalIndent(p.Status, "", "  ")
		t.Fatalf("pod %s/%s: phase %q (wait: %v)\nlog (%v):\n%s\nstatus: %s", ns, pod.Name, phase, err, logErr, logs, status)
	}
	return string(logs)
}

// Requirement (issue 4, harness): `make cluster` brings up a single-node cluster whose
// server components are Kubernetes v1.32.4, and the node is Ready.
func TestClusterNodeReady(t *testing.T) {
	cs := clusterClient(t)
	ctx := clusterCtx(t, time.Minute)

	v, err := cs.Discovery().ServerVersion()
	if err != nil {
		t.Fatalf("server version: %v", err)
	}
	if v.GitVersion != clusterK8sVersion {
		t.Errorf("API server version %s, want %s", v.GitVersion, clusterK8sVersion)
	}
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list nodes: %v", err)
	}
	if len(nodes.Items) != 1 {
		t.Fatalf("%d nodes, want exactly 1 (single-node cluster)", len(nodes.Items))
	}
	n := nodes.Items[0]
	if n.Name != clusterNodeName {
		t.Errorf("node %q, want %q", n.Name, clusterNodeName)
	}
	ready := false
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			ready = c.Status == corev1.ConditionTrue
		}
	}
	if !ready {
		t.Errorf("node %s is not Ready: %+v", n.Name, n.Status.Conditions)
	}
	if got := n.Status.NodeInfo.KubeletVersion; got != clusterK8sVersion {
		t.Errorf("kubelet version %s, want %s", got, clusterK8sVersion)
	}
	t.Logf("node %s Ready, kubelet %s, runtime %s", n.Name, n.Status.NodeInfo.KubeletVersion, n.Status.NodeInfo.ContainerRuntimeVersion)
}

// Requirement (issue 4): services reach each other by their Service DNS names —
// CoreDNS resolves a Service name from inside a pod (short name through the search
// path and the fully qualified name), and pods get the cluster DNS as resolver.
func TestClusterDNSResolvesServiceName(t *testing.T) {
	cs := clusterClient(t)
	ctx := clusterCtx(t, 4*time.Minute)
	ns := clusterRestrictedNamespace(ctx, t, cs, "e2e-dns")

	svc, err := cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "dns-target"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "dns-target"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create service: %v", err)
	}
	fqdn := "dns-target." + ns + ".svc.cluster.local"
	// The probe retries: the first lookups right after CoreDNS turns Ready can time
	// out until kube-proxy has synced the kube-dns Service rules.
	out := clusterRunPod(ctx, t, cs, ns, clusterRestrictedPod("resolve-short", "resolve", "dns-target", "60s"))
	if !strings.Contains(out, svc.Spec.ClusterIP) {
		t.Errorf("short name dns-target: want ClusterIP %s in output:\n%s", svc.Spec.ClusterIP, out)
	}
	out = clusterRunPod(ctx, t, cs, ns, clusterRestrictedPod("resolve-fqdn", "resolve", fqdn, "60s"))
	if !strings.Contains(out, svc.Spec.ClusterIP) {
		t.Errorf("%s: want ClusterIP %s in output:\n%s", fqdn, svc.Spec.ClusterIP, out)
	}
	out = clusterRunPod(ctx, t, cs, ns, clusterRestrictedPod("resolve-api", "resolve", "kubernetes.default", "60s"))
	kube, err := cs.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, kube.Spec.ClusterIP) {
		t.Errorf("kubernetes.default: want %s in output:\n%s", kube.Spec.ClusterIP, out)
	}
	dns, err := cs.CoreV1().Services("kube-system").Get(ctx, "kube-dns", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("kube-dns Service: %v", err)
	}
	if dns.Spec.ClusterIP != clusterDNSIP {
		t.Errorf("kube-dns ClusterIP %s, want %s (the kubelet's clusterDNS)", dns.Spec.ClusterIP, clusterDNSIP)
	}
}

type clusterAPIService struct {
	Status struct {
		Conditions []struct {
			Type, Status, Reason, Message string
		} `json:"conditions"`
	} `json:"status"`
}

type clusterNodeMetrics struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Usage map[string]string `json:"usage"`
}

// Requirement (issue 4): HPAs read metrics from metrics-server — the APIService
// v1beta1.metrics.k8s.io is Available and node CPU/memory metrics are readable.
func TestClusterMetricsServer(t *testing.T) {
	cs := clusterClient(t)
	ctx := clusterCtx(t, 3*time.Minute)
	rc := cs.Discovery().RESTClient()

	var last string
	err := wait.PollUntilContextTimeout(ctx, time.Second, time.Minute, true, func(ctx context.Context) (bool, error) {
		raw, err := rc.Get().AbsPath("/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.metrics.k8s.io").DoRaw(ctx)
		if err != nil {
			last = err.Error()
			return false, nil
		}
		var as clusterAPIService
		if err := json.Unmarshal(raw, &as); err != nil {
			return false, err
		}
		for _, c := range as.Status.Conditions {
			if c.Type == "Available" {
				last = fmt.Sprintf("Available=%s %s: %s", c.Status, c.Reason, c.Message)
				return c.Status == "True", nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("APIService v1beta1.metrics.k8s.io not Available: %v (last: %s)", err, last)
	}

	// The first scrape lands up to one metric resolution (15s) after metrics-server starts.
	var m clusterNodeMetrics
	err = wait.PollUntilContextTimeout(ctx, 2*time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		raw, err := rc.Get().AbsPath("/apis/metrics.k8s.io/v1beta1/nodes/" + clusterNodeName).DoRaw(ctx)
		if err != nil {
			last = err.Error()
			return false, nil
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			return false, err
		}
		return m.Usage["cpu"] != "" && m.Usage["memory"] != "", nil
	})
	if err != nil {
		t.Fatalf("node metrics of %s not readable: %v (last: %s)", clusterNodeName, err, last)
	}
	for _, k := range []string{"cpu", "memory"} {
		q, err := resource.ParseQuantity(m.Usage[k])
		if err != nil || q.IsZero() {
			t.Errorf("node %s usage %s = %q, want a positive quantity", clusterNodeName, k, m.Usage[k])
		}
	}
	t.Logf("node %s usage: cpu %s, memory %s", m.Metadata.Name, m.Usage["cpu"], m.Usage["memory"])
}

// Requirement (issue 4 / project brief): pods of the project's namespaces run under
// Pod Security `restricted` — the admission is enforced (a privileged pod is
// rejected) and a compliant pod runs.
func TestClusterPodSecurityRestricted(t *testing.T) {
	cs := clusterClient(t)
	ctx := clusterCtx(t, 3*time.Minute)
	ns := clusterRestrictedNamespace(ctx, t, cs, "e2e-psa")

	bad := clusterRestrictedPod("privileged", "sleep")
	yes := true
	bad.Spec.Containers[0].SecurityContext.Privileged = &yes
	bad.Spec.Containers[0].SecurityContext.AllowPrivilegeEscalation = nil // else rejected by validation, not by admission
	_, err := cs.CoreV1().Pods(ns).Create(ctx, bad, metav1.CreateOptions{})
	if err == nil || !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "restricted") {
		t.Errorf("privileged pod in a restricted namespace: err = %v, want Forbidden by PodSecurity restricted", err)
	}
	out := clusterRunPod(ctx, t, cs, ns, clusterRestrictedPod("compliant", "resolve", "kubernetes.default", "60s"))
	t.Logf("compliant pod ran: %s", strings.TrimSpace(out))
}

// Requirement (issue 4 / lead): restricted pods can use static PersistentVolumes of
// type `local` and `hostPath` whose data lives on the host under
// <repo>/.local-cluster/volumes/ (the `local` overlay's storage), the hostPath one
// through the fixed path /var/lib/kubectl-layering/local-volumes like the overlay;
// the overlay's own directories exist, owned by the services' uid 1000.
func TestClusterLocalVolumes(t *testing.T) {
	cs := clusterClient(t)
	ctx := clusterCtx(t, 4*time.Minute)
	volumes := filepath.Join(filepath.Dir(clusterKubeconfigPath(t)), "volumes")
	if fi, err := os.Stat(volumes); err != nil || !fi.IsDir() {
		t.Fatalf("host directory for volume data %s: %v", volumes, err)
	}
	if target, err := filepath.EvalSymlinks(clusterHostVolumes); err != nil || target != volumes {
		t.Errorf("%s resolves to %q (%v), want %s", clusterHostVolumes, target, err, volumes)
	}
	for _, d := range []string{"input", "output", "logs"} {
		fi, err := os.Stat(filepath.Join(clusterHostVolumes, d))
		if err != nil || !fi.IsDir() {
			t.Errorf("local overlay volume directory %s: %v", d, err)
			continue
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && (st.Uid != 1000 || st.Gid != 1000) {
			t.Errorf("%s owned by %d:%d, want 1000:1000", d, st.Uid, st.Gid)
		}
	}
	ns := clusterRestrictedNamespace(ctx, t, cs, "e2e-vol")

	for _, kind := range []string{"local", "hostpath"} {
		t.Run(kind, func(t *testing.T) {
			name := "e2e-" + kind + "-" + clusterSuffix()
			dir := filepath.Join(volumes, name)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = os.RemoveAll(dir) })
			src := corev1.PersistentVolumeSource{}
			if kind == "local" {
				// A local volume takes the pod's fsGroup: a root-owned directory is enough.
				src.Local = &corev1.LocalVolumeSource{Path: dir}
			} else {
				// hostPath ignores fsGroup: the directory must be writable by the pod's user.
				if err := os.Chown(dir, clusterProbeUID, clusterProbeUID); err != nil {
					t.Fatal(err)
				}
				dirType := corev1.HostPathDirectory
				src.HostPath = &corev1.HostPathVolumeSource{Path: filepath.Join(clusterHostVolumes, name), Type: &dirType}
			}
			pv := &corev1.PersistentVolume{
				ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec: corev1.PersistentVolumeSpec{
					Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
					AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
					StorageClassName:              "",
					PersistentVolumeSource:        src,
					ClaimRef:                      &corev1.ObjectReference{Namespace: ns, Name: name},
					NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{
						NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
							Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: []string{clusterNodeName},
						}}}},
					}},
				},
			}
			if _, err := cs.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
				t.Fatalf("create PV: %v", err)
			}
			t.Cleanup(func() {
				_ = cs.CoreV1().PersistentVolumes().Delete(context.Background(), name, metav1.DeleteOptions{})
			})
			empty := ""
			pvc := &corev1.PersistentVolumeClaim{
				ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					StorageClassName: &empty,
					VolumeName:       name,
					Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
				},
			}
			if _, err := cs.CoreV1().PersistentVolumeClaims(ns).Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
				t.Fatalf("create PVC: %v", err)
			}
			// Start the pod once the claim is bound: a pod whose claim is still pending is
			// marked unschedulable and retried only after a back-off.
			start := time.Now()
			err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
				c, err := cs.CoreV1().PersistentVolumeClaims(ns).Get(ctx, name, metav1.GetOptions{})
				return err == nil && c.Status.Phase == corev1.ClaimBound, nil
			})
			if err != nil {
				t.Fatalf("PVC %s/%s not Bound: %v", ns, name, err)
			}
			t.Logf("PVC bound after %s", time.Since(start).Round(100*time.Millisecond))
			text := "written by " + name
			pod := clusterRestrictedPod(name, "write", "/data/out.txt", text)
			gid := int64(clusterProbeUID)
			pod.Spec.SecurityContext.FSGroup = &gid
			pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
			pod.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: name},
			}}}
			clusterRunPod(ctx, t, cs, ns, pod)
			got, err := os.ReadFile(filepath.Join(dir, "out.txt"))
			if err != nil {
				t.Fatalf("file written by the pod not on the host: %v", err)
			}
			if string(got) != text {
				t.Errorf("host file = %q, want %q", got, text)
			}
		})
	}
}

// Requirement (issue 4): no pod, service or node traffic may leave the machine — the
// harness's mangle-table guards are installed and hooked in, and the pod bridge
// does not masquerade.
func TestClusterTrafficGuards(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("reading iptables needs root")
	}
	out, err := exec.Command("iptables", "-t", "mangle", "-S").CombinedOutput()
	if err != nil {
		t.Fatalf("iptables -t mangle -S: %v\n%s", err, out)
	}
	rules := string(out)
	for _, want := range []string{
		"-A POSTROUTING -j LOCAL-CLUSTER-GUARD-OUT",
		"-A FORWARD -j LOCAL-CLUSTER-GUARD-OUT",
		"-A PREROUTING -j LOCAL-CLUSTER-GUARD-IN",
		"-A LOCAL-CLUSTER-GUARD-OUT -d 10.244.0.0/16 -j DROP",
		"-A LOCAL-CLUSTER-GUARD-OUT -s 10.244.0.0/16 -j DROP",
		"-A LOCAL-CLUSTER-GUARD-OUT -d 10.96.0.0/16 -j DROP",
		"-A LOCAL-CLUSTER-GUARD-OUT -s 10.250.0.1/32 -j DROP",
	} {
		if !strings.Contains(rules, want) {
			t.Errorf("mangle table lacks %q", want)
		}
	}
	conf, err := os.ReadFile(filepath.Join(filepath.Dir(clusterKubeconfigPath(t)), "cni", "net.d", "10-kubectl-layering-local.conflist"))
	if err != nil {
		t.Fatalf("CNI config: %v", err)
	}
	if !strings.Contains(string(conf), `"ipMasq": false`) {
		t.Errorf("pod bridge must not masquerade; CNI config:\n%s", conf)
	}
}

// clusterDefaultGateway reads the host's IPv4 default gateway from /proc/net/route.
func clusterDefaultGateway(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("/proc/net/route")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 3 || f[1] != "00000000" {
			continue
		}
		gw, err := strconv.ParseUint(f[2], 16, 32)
		if err != nil || gw == 0 {
			continue
		}
		// Little-endian hex in /proc/net/route.
		return net.IPv4(byte(gw), byte(gw>>8), byte(gw>>16), byte(gw>>24)).String()
	}
	return ""
}

// clusterPodSourceDrops returns the packet count of the guard rule that drops pod-sourced
// traffic about to leave through an interface other than lo or the pod bridge.
func clusterPodSourceDrops(t *testing.T) int64 {
	t.Helper()
	out, err := exec.Command("iptables", "-t", "mangle", "-L", "LOCAL-CLUSTER-GUARD-OUT", "-v", "-x", "-n").CombinedOutput()
	if err != nil {
		t.Fatalf("iptables: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		// pkts bytes target prot opt in out source destination
		if len(f) >= 9 && f[2] == "DROP" && f[7] == "10.244.0.0/16" && f[8] == "0.0.0.0/0" {
			n, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no pod-source DROP rule in LOCAL-CLUSTER-GUARD-OUT:\n%s", out)
	return 0
}

// Requirement (issue 4): no pod traffic may leave the machine — a pod's connection to
// the host's default gateway is dropped by the guard before it reaches the uplink,
// while in-cluster traffic (pod -> kubernetes Service) still flows.
func TestClusterPodTrafficStaysOnMachine(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("reading iptables counters needs root")
	}
	gw := clusterDefaultGateway(t)
	if gw == "" {
		t.Skip("host has no IPv4 default route: nothing to leak to")
	}
	cs := clusterClient(t)
	ctx := clusterCtx(t, 3*time.Minute)
	ns := clusterRestrictedNamespace(ctx, t, cs, "e2e-egress")

	before := clusterPodSourceDrops(t)
	target := net.JoinHostPort(gw, "80")
	out := clusterRunPod(ctx, t, cs, ns, clusterRestrictedPod("egress", "dial", target, "3s"))
	if !strings.Contains(out, "failed") {
		t.Errorf("a pod reached %s outside the machine:\n%s", target, out)
	}
	if after := clusterPodSourceDrops(t); after <= before {
		t.Errorf("guard drop counter did not move (%d -> %d): the connection to %s was not stopped by the guard", before, after, target)
	}
	out = clusterRunPod(ctx, t, cs, ns, clusterRestrictedPod("in-cluster", "dial", "kubernetes.default.svc.cluster.local:443", "5s"))
	if !strings.Contains(out, ": ok") {
		t.Errorf("pod -> kubernetes Service should work:\n%s", out)
	}
}
