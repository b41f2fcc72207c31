package loopback

import (
	"net/http"
	"testing"

	"github.com/layering-detection/kubectl-layering/services/synthetic"
)

// benchmarkOrchestrate measures the wall time of one POST /orchestrate of n
// generated events through the four services on loopback: reading the CSV,
// both /detect calls (in requests of at most 100,000 events), /aggregate and
// writing both files.
func benchmarkOrchestrate(b *testing.B, n int) {
	c := start(b, defaults())
	c.input("bench.csv", synthetic.AppendCSV(nil, synthetic.Generate(n, synthetic.Options{})))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		code, resp := c.orchestrate("bench.csv", "")
		if code != http.StatusOK || resp.EventCount != n || resp.AggregatedCount == 0 {
			b.Fatalf("HTTP %d %+v", code, resp)
		}
	}
	b.StopTimer()
	perRun := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(perRun*1000, "ms/orchestrate")
	b.ReportMetric(float64(n)/perRun, "events/s")
}

// BenchmarkOrchestrate100kEvents: one /detect request per service.
func BenchmarkOrchestrate100kEvents(b *testing.B) { benchmarkOrchestrate(b, 100_000) }

// BenchmarkOrchestrate1MEvents: the input is split into requests of at most
// 100,000 events on (account, product) boundaries.
func BenchmarkOrchestrate1MEvents(b *testing.B) { benchmarkOrchestrate(b, 1_000_000) }
