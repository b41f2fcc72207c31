package loadtest

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/layering-detection/kubectl-layering/pkg/deploy"
	"github.com/layering-detection/kubectl-layering/pkg/loadtest/stats"
)

// unschedulableFor is how long a generator pod may wait for a node before the
// run is given up: the load would arrive partly, and the report would be wrong.
const unschedulableFor = 60 * time.Second

// generators follows the pods of one generator Job: it streams each pod's
// log into the observations and tells when all have ended or one cannot run.
type generators struct {
	kube    kubernetes.Interface
	job     *batchv1.Job
	want    int
	obs     *Observations
	mu      sync.Mutex
	started map[string]bool // its log is being read
	ended   map[string]bool // its log has ended
	exited  map[string]bool // its pod has terminated
	wg      sync.WaitGroup
}

// poll looks at the generator pods once: starts a log stream for each new
// one that runs, and returns why the load cannot be generated, if it cannot.
func (g *generators) poll(ctx context.Context) (problem string, err error) {
	pods, err := g.kube.CoreV1().Pods(g.job.Namespace).List(ctx, metav1.ListOptions{LabelSelector: LabelRun + "=" + g.job.Name})
	if err != nil {
		return "", fmt.Errorf("listing generator pods: %w", err)
	}
	for i := range pods.Items {
		pod := &pods.Items[i]
		if p := generatorProblem(pod, time.Now()); p != "" {
			return "generator " + p, nil
		}
		if pod.Status.Phase == corev1.PodPending {
			continue
		}
		g.mu.Lock()
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			g.exited[pod.Name] = true
		}
		fresh := !g.started[pod.Name]
		g.started[pod.Name] = true
		g.mu.Unlock()
		if fresh {
			g.wg.Add(1)
			go g.stream(ctx, pod.Name)
		}
	}
	if len(pods.Items) == 0 && time.Since(g.job.CreationTimestamp.Time) > 20*time.Second {
		return g.whyNoPods(ctx), nil
	}
	return "", nil
}

// generatorProblem is what keeps a generator pod from sending that waiting
// will not repair: its image cannot be pulled, its Secret is missing, no node
// has room for it, it failed (out of memory, say).
func generatorProblem(pod *corev1.Pod, now time.Time) string {
	if p := deploy.PodProblem(pod, true); p != "" {
		return p
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && now.Sub(c.LastTransitionTime.Time) > unschedulableFor {
			return fmt.Sprintf("pod %s cannot be scheduled: %s", pod.Name, c.Message)
		}
	}
	if pod.Status.Phase != corev1.PodFailed {
		return ""
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if term := cs.State.Terminated; term != nil {
			msg := fmt.Sprintf("pod %s failed: %s (exit code %d)", pod.Name, term.Reason, term.ExitCode)
			if m := strings.TrimSpace(term.Message); m != "" {
				msg += ": " + lastLine(m)
			}
			return msg
		}
	}
	return fmt.Sprintf("pod %s failed: %s %s", pod.Name, pod.Status.Reason, pod.Status.Message)
}

func lastLine(s string) string {
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// whyNoPods reads the Job's warnings (e.g. Pod Security or quota refusals).
func (g *generators) whyNoPods(ctx context.Context) string {
	events, err := g.kube.CoreV1().Events(g.job.Namespace).List(ctx, metav1.ListOptions{
		FieldSelector: "involvedObject.kind=Job,involvedObject.name=" + g.job.Name + ",type=Warning",
	})
	if err != nil || len(events.Items) == 0 {
		return fmt.Sprintf("job %s created no generator pod in 20 s, and no event says why", g.job.Name)
	}
	var msgs []string
	for _, e := range events.Items {
		msgs = append(msgs, e.Reason+": "+e.Message)
	}
	return fmt.Sprintf("job %s creates no generator pod: %s", g.job.Name, strings.Join(msgs, "; "))
}

// stream follows one pod's log until the container ends (or ctx).
func (g *generators) stream(ctx context.Context, pod string) {
	defer g.wg.Done()
	defer func() {
		g.obs.EndGenerator(pod, time.Now(), "stopped without its last report")
		g.mu.Lock()
		g.ended[pod] = true
		g.mu.Unlock()
	}()
	rc, err := g.kube.CoreV1().Pods(g.job.Namespace).GetLogs(pod, &corev1.PodLogOptions{Container: "loadgen", Follow: true}).Stream(ctx)
	if err != nil {
		return
	}
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if r, err := stats.Parse(sc.Bytes()); err == nil {
			g.obs.AddRecord(pod, r)
		}
	}
}

// done tells whether every generator pod has run and exited, and its log has
// ended (a log stream can also break while its pod still sends).
func (g *generators) done() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for pod := range g.ended {
		if g.exited[pod] {
			n++
		}
	}
	return n >= g.want
}

// ran is how many generator pods got to run.
func (g *generators) ran() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.started)
}

// wait waits for the log streams to end (they end with ctx).
func (g *generators) wait() { g.wg.Wait() }
