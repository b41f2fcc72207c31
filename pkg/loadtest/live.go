package loadtest

import (
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/term"

	"github.com/layering-detection/kubectl-layering/pkg/output"
)

// Now is the live view's state: the traffic of the last few seconds and the
// autoscaler's latest sample.
type Now struct {
	Elapsed   time.Duration // since the load started
	Traffic   Traffic
	Cluster   ClusterSample
	Target    *Target
	Loading   bool // the load is running (else: observing the scale-in)
	SinceStop time.Duration
}

// liveWindow is what the live rates and latencies average over; it ends a
// second ago, so that every generator's record of it has arrived.
const liveWindow = 5 * time.Second

// NowOf reduces the snapshot to the live view at now.
func NowOf(s Snapshot, t *Target, now time.Time) Now {
	n := Now{Target: t, Loading: s.Stopped.IsZero()}
	if start := s.LoadStart(); !start.IsZero() {
		n.Elapsed = now.Sub(start).Round(time.Second)
	}
	if !n.Loading {
		n.SinceStop = now.Sub(s.Stopped).Round(time.Second)
	}
	to := now.Add(-time.Second)
	n.Traffic = s.Traffic(to.Add(-liveWindow), to)
	if len(s.Cluster) > 0 {
		n.Cluster = s.Cluster[len(s.Cluster)-1]
	}
	return n
}

// Lines are the live view: load, latency, autoscaler.
func (n Now) Lines() (load, latencies, autoscaler string) {
	t := n.Traffic
	if n.Loading {
		load = fmt.Sprintf("%s  asked %s/s  sent %s/s  answered %s/s  in flight %d  %s",
			n.Elapsed, trimFloat(t.AskedRate()), trimFloat(t.Rate()), trimFloat(perSecond(float64(t.Done), t.Seconds)), t.InFlight, codes(t.Codes, t.Errors))
	} else {
		load = fmt.Sprintf("%s  load stopped %s ago: watching the scale-in", n.Elapsed, n.SinceStop)
	}
	latencies = fmt.Sprintf("p50 %s  p95 %s  p99 %s", latency(ms(t.Latency.Quantile(0.5))), latency(ms(t.Latency.Quantile(0.95))), latency(ms(t.Latency.Quantile(0.99))))
	c := n.Cluster
	autoscaler = fmt.Sprintf("replicas %d → %d (min %d, max %d)  ready %d  cpu %s/%d%%  memory %s/%d%%",
		c.HPACurrent, c.HPADesired, n.Target.MinReplicas, n.Target.MaxReplicas, c.Ready, pct(c.CPU), n.Target.CPUTarget, pct(c.Memory), n.Target.MemoryTarget)
	return load, latencies, autoscaler
}

// live shows Now: on a terminal as three lines redrawn in place, otherwise
// one plain line per interval (logs, CI).
type live struct {
	w        io.Writer
	progress *output.Progress
	every    time.Duration
	last     time.Time
}

func newLive(w io.Writer, every time.Duration) *live {
	l := &live{w: w, every: every}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		l.progress = output.NewProgress(w)
	}
	return l
}

func (l *live) show(n Now, final bool) {
	load, latencies, autoscaler := n.Lines()
	if l.progress != nil {
		l.progress.Update("load", final, load)
		l.progress.Update("latency", final, latencies)
		l.progress.Update("autoscaler", final, autoscaler)
		return
	}
	if now := time.Now(); final || now.Sub(l.last) >= l.every {
		l.last = now
		fmt.Fprintf(l.w, "%s  %s  %s\n", load, latencies, autoscaler)
	}
}
