package wire

import (
	"testing"

	"github.com/layering-detection/kubectl-layering/services/synthetic"
)

// BenchmarkDetectRequestCodec encodes and decodes ten /detect bodies of
// 100,000 events per iteration (the orchestrator's and an algorithm
// service's JSON work) and reports events per second.
func BenchmarkDetectRequestCodec(b *testing.B) {
	const n, rounds = 100_000, 10
	evs := synthetic.Generate(n, synthetic.Options{})
	id := NewUUID()
	b.ResetTimer()
	var size int
	for i := 0; i < b.N; i++ {
		for r := 0; r < rounds; r++ {
			body, _ := AppendDetectRequest(nil, id, evs, nil)
			size = len(body)
			req, err := DecodeDetectRequest(body, MaxEventsPerRequest)
			if err != nil || len(req.Events) != n {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(n*rounds*b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(size)/(1<<20), "MiB/body")
}
