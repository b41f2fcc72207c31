package events_test

import (
	"runtime"
	"testing"

	"github.com/layering-detection/kubectl-layering/services/events"
	"github.com/layering-detection/kubectl-layering/services/synthetic"
)

// BenchmarkReadCSV reads 1,000,000 generated rows per iteration on one core
// and reports rows (events) per second. `make bench` runs one iteration.
func BenchmarkReadCSV(b *testing.B) {
	const n = 1_000_000
	data := string(synthetic.AppendCSV(nil, synthetic.Generate(n, synthetic.Options{})))
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := events.ReadCSV(data)
		if err != nil || len(res.Events) != n {
			b.Fatalf("%d events, %v", len(res.Events), err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
}
