package stats

import (
	"testing"
	"time"
)

// Requirement: a latency lands in the bucket whose bounds hold it, and the
// bucket bounds grow by at most 10 % (percentiles within 10 %).
func TestBucketHoldsTheLatency(t *testing.T) {
	for _, d := range []time.Duration{0, 100 * time.Microsecond, time.Millisecond, 37 * time.Millisecond, 2 * time.Second, time.Hour} {
		i := Bucket(d)
		if Buckets[i] > d || (i+1 < len(Buckets) && Buckets[i+1] <= d) {
			t.Errorf("%s in bucket %d [%s, %s)", d, i, Buckets[i], Buckets[min(i+1, len(Buckets)-1)])
		}
	}
	for i := 2; i < len(Buckets); i++ {
		if r := float64(Buckets[i]) / float64(Buckets[i-1]); r > 1.1001 {
			t.Errorf("bucket %d grows by %.3f", i, r)
		}
	}
}

// Requirement: histograms of several generators merge exactly, and the
// quantiles read from them are within 10 % above the true value.
func TestMergedQuantiles(t *testing.T) {
	a, b := make([]uint64, len(Buckets)), make([]uint64, len(Buckets))
	for i := 1; i <= 50; i++ { // 1..50 ms and 51..100 ms
		a[Bucket(time.Duration(i)*time.Millisecond)]++
		b[Bucket(time.Duration(50+i)*time.Millisecond)]++
	}
	var h Histogram
	h.Add(Trim(a))
	h.Add(Trim(b))
	if h.Count() != 100 {
		t.Fatalf("count %d", h.Count())
	}
	for _, c := range []struct {
		q    float64
		true time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.95, 95 * time.Millisecond}, {0.99, 99 * time.Millisecond}} {
		got := h.Quantile(c.q)
		if got < c.true || float64(got) > 1.1*float64(c.true) {
			t.Errorf("q%.2f = %s, want within [%s, +10 %%]", c.q, got, c.true)
		}
	}
	if (Histogram{}).Quantile(0.5) != 0 {
		t.Error("empty histogram: quantile not 0")
	}
}

// Requirement: lines that are not records (a panic, a log line) are refused.
func TestParse(t *testing.T) {
	r, err := Parse([]byte(`{"kind":"interval","t":1000,"sent":3,"codes":{"200":2,"429":1},"lat":[0,2]}`))
	if err != nil || r.Sent != 3 || r.Codes["429"] != 1 || !r.At().Equal(time.UnixMilli(1000)) {
		t.Errorf("parsed %+v, %v", r, err)
	}
	for _, line := range []string{`panic: boom`, `{"kind":"other"}`, `{}`} {
		if _, err := Parse([]byte(line)); err == nil {
			t.Errorf("%q parsed as a record", line)
		}
	}
}
