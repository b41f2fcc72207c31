package loadtest

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/layering-detection/kubectl-layering/pkg/loadtest/stats"
)

// goodRun is a 3-minute load that scales 1 → 3 and back, observed.
func goodRun() Snapshot {
	o := NewObservations()
	o.AddRecord("g", stats.Record{Kind: stats.KindStart, Time: at(0).UnixMilli(), Rate: 2, Workers: 4})
	for s := 1; s <= 180; s++ {
		o.AddRecord("g", stats.Record{Kind: stats.KindInterval, Time: at(float64(s)).UnixMilli(), Sent: 2, Done: 2,
			Codes: map[string]uint64{"200": 2}, Latency: latencies(40, 60), Workers: 4})
	}
	o.AddRecord("g", stats.Record{Kind: stats.KindEnd, Time: at(180).UnixMilli(), Reason: "duration"})
	cpu, low := int32(150), int32(5)
	for s := -2.0; s <= 500; s += 2 {
		c := sampleAt(s, 1, 1, 0)
		switch {
		case s >= 52 && s < 490:
			c = sampleAt(s, 3, 3, 52)
		}
		c.CPU, c.Memory = &cpu, &low
		o.AddCluster(c)
	}
	o.Stop(at(180))
	o.SetPod("old", at(-100), at(-90), "")
	o.SetPod("new-1", at(52), at(55), "")
	o.SetPod("new-2", at(52), at(56), "")
	for _, p := range []string{"old", "new-1", "new-2"} {
		o.SetServed(p, 100)
	}
	return o.Snapshot()
}

// Requirement: the report shows the verdicts, latency per phase, the scale
// events, what each replica served and a chart, without escape codes when
// colour is off; -o json carries the full series.
func TestReportWrite(t *testing.T) {
	load := Load{Service: "layering", Profile: ProfileCPU, Rate: 2, Concurrency: 4, EventsPerRequest: 100000, Duration: 3 * time.Minute}
	target := *localLayering
	target.Path = "/detect"
	r := Build("local", &target, load, Plan{Generators: 2, RatePerGenerator: 1, RateLimitPerMinute: 100}, "img", goodRun(),
		[]HPAEvent{{At: at(52), Message: "New size: 3; reason: cpu resource utilization (percentage of request) above target"}}, at(500), 2, true)
	var out bytes.Buffer
	if err := r.Write(&out, false); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{
		"loadtest local layering (/detect): 100,000 events per request at 2/s asked, 2/s sent (100.0%)",
		"replicas 1 → peak 3 (min 1, max 10); peak CPU 150% of the request (target 70%), memory 5% (target 80%)",
		"✓  scaled out under load", "1 → 3 replicas, the first scale-out 52 s after the load began",
		"✓  cooldowns", "back at min 1 310 s after the load stopped",
		"before scale-out", "scaled out", "after the load",
		"1 → 3   52s   cpu resource utilization", "3 → 1",
		"new-1", "replicas (max 10)", "CPU and memory utilization",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "\x1b[") {
		t.Error("escape codes without colour")
	}
	if r.Failed() || r.Shortfall != "" {
		t.Errorf("failed %v, shortfall %q", r.Failed(), r.Shortfall)
	}
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Series []Sample `json:"series"`
	}
	if err := json.Unmarshal(data, &back); err != nil || len(back.Series) != 252 || back.Series[30].Replicas != 3 || back.Series[30].SentRate != 2 {
		t.Errorf("series: %d samples, %+v, %v", len(back.Series), back.Series[30], err)
	}
}
