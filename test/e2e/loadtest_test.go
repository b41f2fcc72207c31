//go:build e2e

// `kubectl layering loadtest` against the local cluster (issue 15): under a
// CPU-heavy load the layering service scales out from its minimum to at least
// 3 replicas, every new replica receives traffic, max is never exceeded, and
// after the load it returns to its minimum no earlier than the scale-down
// stabilization window allows; Ctrl-C stops the load at once and removes the
// generators. The local overlay: layering min 1, max 10, 100m CPU requests,
// CPU target 70 %, scale-up window 60 s, scale-down window 300 s.
package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

const (
	layeringHPA       = "layering-detection-layering"
	layeringMin       = 1
	layeringMax       = 10
	scaleDownWindow   = 300 * time.Second
	hpaSyncAllowance  = 15*time.Second + 2*time.Second // one HPA sync and the clocks' second
	generatorSelector = "app.kubernetes.io/name=layering-loadgen"
)

// loadtestReport is the part of `loadtest -o json` the tests read.
type loadtestReport struct {
	Started     time.Time         `json:"started"`
	LoadSeconds float64           `json:"load_seconds"`
	Stopped     string            `json:"stopped"`
	Sent        uint64            `json:"sent"`
	Codes       map[string]uint64 `json:"codes"`
	RateLimited uint64            `json:"rate_limited"`
	AskedRate   float64           `json:"asked_rate"`
	Achieved    float64           `json:"achieved_rate"`
	Shortfall   string            `json:"shortfall"`
	Plan        struct {
		Generators int `json:"generators"`
	} `json:"plan"`
	Scaling struct {
		StartReplicas int      `json:"start_replicas"`
		PeakReplicas  int      `json:"peak_replicas"`
		FirstScaleOut *float64 `json:"first_scale_out_seconds"`
		BackAtMin     *float64 `json:"back_at_min_after_load_seconds"`
		Replicas      []struct {
			Pod    string   `json:"pod"`
			New    bool     `json:"new"`
			Ready  *float64 `json:"ready_seconds"`
			Served float64  `json:"requests_served"`
		} `json:"replicas"`
	} `json:"scaling"`
	Verdicts []struct {
		Name   string `json:"name"`
		OK     *bool  `json:"ok"`
		Detail string `json:"detail"`
	} `json:"verdicts"`
	Series []struct {
		T        float64 `json:"t"`
		Replicas int     `json:"replicas"`
	} `json:"series"`
}

// waitAtRest waits until the layering HPA is at its minimum with metrics (an
// earlier test may have left it scaled out: that takes the scale-down window).
func waitAtRest(ctx context.Context, t *testing.T, cs *kubernetes.Clientset) {
	t.Helper()
	err := wait.PollUntilContextTimeout(ctx, 5*time.Second, scaleDownWindow+5*time.Minute, true, func(ctx context.Context) (bool, error) {
		hpa, err := cs.AutoscalingV2().HorizontalPodAutoscalers(localNamespace).Get(ctx, layeringHPA, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		s := hpa.Status
		return s.CurrentReplicas == layeringMin && s.DesiredReplicas == layeringMin && len(s.CurrentMetrics) > 0, nil
	})
	if err != nil {
		t.Fatalf("the layering HPA is not at rest at %d replica with metrics: %v", layeringMin, err)
	}
}

// replicaWatch records, independently of the plugin, the layering
// Deployment's replica count once a second.
type replicaWatch struct {
	mu      sync.Mutex
	samples []replicaSample
}

type replicaSample struct {
	at       time.Time
	replicas int32
}

func watchReplicas(ctx context.Context, cs *kubernetes.Clientset) *replicaWatch {
	w := &replicaWatch{}
	go func() {
		for ctx.Err() == nil {
			if d, err := cs.AppsV1().Deployments(localNamespace).Get(ctx, layeringHPA, metav1.GetOptions{}); err == nil && d.Spec.Replicas != nil {
				w.mu.Lock()
				w.samples = append(w.samples, replicaSample{time.Now(), *d.Spec.Replicas})
				w.mu.Unlock()
			}
			time.Sleep(time.Second)
		}
	}()
	return w
}

func (w *replicaWatch) peak() int32 {
	w.mu.Lock()
	defer w.mu.Unlock()
	var p int32
	for _, s := range w.samples {
		p = max(p, s.replicas)
	}
	return p
}

// firstAtMinAfter is the first time after t at which the count was back at min
// following a scale-out.
func (w *replicaWatch) firstAtMinAfter(t time.Time) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.samples {
		if s.at.After(t) && s.replicas == layeringMin {
			return s.at
		}
	}
	return time.Time{}
}

func generatorsLeft(ctx context.Context, t *testing.T, cs *kubernetes.Clientset) (jobs, pods int) {
	t.Helper()
	j, err := cs.BatchV1().Jobs(localNamespace).List(ctx, metav1.ListOptions{LabelSelector: generatorSelector})
	if err != nil {
		t.Fatal(err)
	}
	p, err := cs.CoreV1().Pods(localNamespace).List(ctx, metav1.ListOptions{LabelSelector: generatorSelector})
	if err != nil {
		t.Fatal(err)
	}
	return len(j.Items), len(p.Items)
}

func TestLoadtestLocal(t *testing.T) {
	ctx := clusterCtx(t, 40*time.Minute)
	cs := clusterClient(t)
	mustDeployHealthy(ctx, t)

	// Requirement: Ctrl-C stops the load at once, removes the Job and its
	// pods, and prints the report so far; exit 130.
	t.Run("CtrlCStopsTheLoadAndRemovesTheGenerators", func(t *testing.T) {
		cmd := exec.CommandContext(ctx, plugin(t), "loadtest", "--env", "local", "--service", "layering",
			"--rate", "1", "--events-per-request", "1000", "--duration", "10m", "-o", "json", "--kubeconfig", clusterKubeconfigPath(t))
		var out strings.Builder
		cmd.Stdout = &out
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sending := make(chan struct{})
		var errOut strings.Builder
		go func() {
			sc := bufio.NewScanner(stderr)
			once := sync.Once{}
			for sc.Scan() {
				errOut.WriteString(sc.Text() + "\n")
				if strings.Contains(sc.Text(), "200:") { // a live line with answered requests
					once.Do(func() { close(sending) })
				}
			}
		}()
		select {
		case <-sending:
		case <-time.After(2 * time.Minute):
			_ = cmd.Process.Kill()
			t.Fatalf("no load within 2 minutes:\n%s", errOut.String())
		}
		interrupted := time.Now()
		_ = cmd.Process.Signal(syscall.SIGINT)
		err = cmd.Wait()
		if code := exitCode(err); code != 130 {
			t.Errorf("exit %d after Ctrl-C, want 130\n%s", code, errOut.String())
		}
		if took := time.Since(interrupted); took > 20*time.Second {
			t.Errorf("Ctrl-C took %s to stop", took)
		}
		var r loadtestReport
		if err := json.Unmarshal([]byte(out.String()), &r); err != nil {
			t.Fatalf("no report after Ctrl-C: %v\n%s", err, out.String())
		}
		if r.Stopped != "interrupted" || r.Sent == 0 {
			t.Errorf("report after Ctrl-C: stopped %q, %d sent; want interrupted with requests", r.Stopped, r.Sent)
		}
		if jobs, pods := generatorsLeft(ctx, t, cs); jobs != 0 {
			t.Errorf("%d generator jobs (%d pods) left after Ctrl-C", jobs, pods)
		}
		// The pods are deleted with the command; they end within their 5 s grace period.
		err = wait.PollUntilContextTimeout(ctx, time.Second, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			_, pods := generatorsLeft(ctx, t, cs)
			return pods == 0, nil
		})
		if err != nil {
			t.Errorf("generator pods still exist 30 s after Ctrl-C")
		}
	})

	// Requirement: under CPU-heavy load the layering service scales out from
	// its minimum to at least 3 replicas, every new replica receives traffic,
	// max is never exceeded, and it returns to its minimum no earlier than the
	// scale-down window allows after the load stops.
	t.Run("LayeringScalesOutAndBackIn", func(t *testing.T) {
		waitAtRest(ctx, t, cs)
		watchCtx, stopWatch := context.WithCancel(ctx)
		defer stopWatch()
		watch := watchReplicas(watchCtx, cs)
		// 4 requests/s of 100,000 events: ~0.4 CPU for a target of 70 % of
		// 100m per replica, so the HPA asks for about 5.
		r := runPlugin(ctx, t, "loadtest", "--env", "local", "--service", "layering", "--rate", "4",
			"--events-per-request", "100000", "--duration", "3m", "--observe-scale-in", "-o", "json")
		stopWatch()
		var rep loadtestReport
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("loadtest -o json (exit %d): %v\n%s\n%s", r.code, err, r.stdout, r.stderr)
		}
		if r.code != 0 {
			t.Errorf("exit %d, want 0\n%s", r.code, r.stderr)
		}
		for _, v := range rep.Verdicts {
			t.Logf("verdict %s: %v %s", v.Name, v.OK != nil && *v.OK, v.Detail)
			if v.OK == nil || !*v.OK {
				t.Errorf("verdict %q not passed: %s", v.Name, v.Detail)
			}
		}
		if rep.Shortfall != "" {
			t.Errorf("the generators did not send what was asked: %s", rep.Shortfall)
		}
		if rep.RateLimited != 0 {
			t.Errorf("%d requests were rate-limited: each generator must stay below the per-client limit", rep.RateLimited)
		}
		t.Logf("sent %d at %.2f/s (asked %.2f/s) by %d generators; codes %v", rep.Sent, rep.Achieved, rep.AskedRate, rep.Plan.Generators, rep.Codes)

		// Scale-out from the minimum to at least 3, never above max: the
		// plugin's report and an independent watch agree.
		if rep.Scaling.StartReplicas != layeringMin || rep.Scaling.PeakReplicas < 3 {
			t.Errorf("replicas %d → %d, want from %d to at least 3", rep.Scaling.StartReplicas, rep.Scaling.PeakReplicas, layeringMin)
		}
		if peak := watch.peak(); peak < 3 || peak > layeringMax || int(peak) != rep.Scaling.PeakReplicas {
			t.Errorf("watched peak %d, reported %d; want 3..%d and equal", peak, rep.Scaling.PeakReplicas, layeringMax)
		}

		// Every new replica received traffic: its own /metrics counted requests.
		added := 0
		for _, p := range rep.Scaling.Replicas {
			if !p.New || p.Ready == nil {
				continue
			}
			added++
			t.Logf("new replica %s ready after %.0f s served %.0f requests", p.Pod, *p.Ready, p.Served)
			if p.Served <= 0 {
				t.Errorf("new replica %s served %.0f requests", p.Pod, p.Served)
			}
		}
		if added < 2 {
			t.Errorf("%d new replicas became ready, want at least 2", added)
		}

		// Back at min no earlier than the scale-down window after the load stopped
		// (less one HPA sync: the window holds the recommendations of its syncs).
		if rep.Scaling.BackAtMin == nil {
			t.Fatalf("not back at min %d after the observation", layeringMin)
		}
		stop := rep.Started.Add(time.Duration(rep.LoadSeconds * float64(time.Second)))
		atMin := watch.firstAtMinAfter(stop)
		if atMin.IsZero() {
			// The plugin returns as soon as it sees min, possibly between two of the watch's samples.
			if d, err := cs.AppsV1().Deployments(localNamespace).Get(ctx, layeringHPA, metav1.GetOptions{}); err == nil && d.Spec.Replicas != nil && *d.Spec.Replicas == layeringMin {
				atMin = time.Now()
			}
		}
		if atMin.IsZero() {
			t.Fatalf("the watch never saw %d replica after the load stopped at %s", layeringMin, stop)
		}
		after := atMin.Sub(stop)
		t.Logf("back at min: %.0f s after the load (report), %s (watch)", *rep.Scaling.BackAtMin, after.Round(time.Second))
		if after < scaleDownWindow-hpaSyncAllowance {
			t.Errorf("back at min %s after the load stopped: earlier than the %s scale-down window allows", after, scaleDownWindow)
		}
		if jobs, pods := generatorsLeft(ctx, t, cs); jobs != 0 || pods != 0 {
			t.Errorf("%d generator jobs and %d pods left after the run", jobs, pods)
		}
		// The API key reaches the generators through the Secret only.
		if strings.Contains(r.stdout, localAPIKey) || strings.Contains(r.stderr, localAPIKey) {
			t.Error("the report or the live view printed the API key")
		}
	})
}
