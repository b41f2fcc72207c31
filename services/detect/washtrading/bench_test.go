package washtrading

import (
	"runtime"
	"testing"

	"github.com/layering-detection/kubectl-layering/services/synthetic"
)

// BenchmarkDetect runs the wash-trading rule over 1,000,000 generated events per
// iteration on one core (GOMAXPROCS=1) and reports events per second.
// Target: at least 1,000,000 events/s.
func BenchmarkDetect(b *testing.B) {
	const n = 1_000_000
	evs := synthetic.Generate(n, synthetic.Options{})
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	b.ResetTimer()
	found := 0
	for i := 0; i < b.N; i++ {
		found = len(Detect(evs))
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(found), "detections")
	if found == 0 {
		b.Fatal("the generated stream holds wash-trading patterns; none found")
	}
}
