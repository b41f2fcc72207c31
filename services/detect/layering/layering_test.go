package layering

import (
	"reflect"
	"testing"

	"github.com/layering-detection/kubectl-layering/services/detect"
	"github.com/layering-detection/kubectl-layering/services/events"
	"github.com/layering-detection/kubectl-layering/services/isotime"
)

// e builds an event at 2025-10-26T<clock>Z. kind: P placed, C cancelled, T trade.
func e(clock, acc, prod, kind, side string, qty int64) events.Event {
	t, err := isotime.Parse("2025-10-26T" + clock + "Z")
	if err != nil {
		panic(err)
	}
	typ := map[string]events.Type{"P": events.OrderPlaced, "C": events.OrderCancelled, "T": events.TradeExecuted}[kind]
	sd, _ := events.ExactSide(side)
	return events.Event{Time: t, Account: acc, Product: prod, Side: sd, Type: typ, Price: "100.00", Quantity: qty}
}

// summary is what a table row checks of a detection.
type summary struct {
	Account, Product string
	Start, End       string
	Buy, Sell        int64
	Cancelled        int64
	Orders           int
	Side             string
}

func summarize(seqs []detect.Sequence) []summary {
	var out []summary
	for _, s := range seqs {
		if s.Type != detect.Layering {
			panic("not a layering detection")
		}
		out = append(out, summary{s.Account, s.Product, s.Start.String(), s.End.String(), s.TotalBuyQty, s.TotalSellQty, s.NumCancelled, len(s.OrderTimes), s.Side.String()})
	}
	return out
}

// base is the pattern of ACC001 in the shared transactions.csv: 3 BUY orders
// over 4 s, 3 BUY cancellations, a SELL trade 1 s after the last cancellation.
func base() []events.Event {
	return []events.Event{
		e("10:21:20", "ACC001", "IBM", "P", "BUY", 5000),
		e("10:21:22", "ACC001", "IBM", "P", "BUY", 4000),
		e("10:21:24", "ACC001", "IBM", "P", "BUY", 6000),
		e("10:21:25", "ACC001", "IBM", "C", "BUY", 5000),
		e("10:21:26", "ACC001", "IBM", "C", "BUY", 4000),
		e("10:21:27", "ACC001", "IBM", "C", "BUY", 6000),
		e("10:21:28", "ACC001", "IBM", "T", "SELL", 10000),
	}
}

var baseWant = []summary{{"ACC001", "IBM", "2025-10-26T10:21:20+00:00", "2025-10-26T10:21:28+00:00", 15000, 10000, 3, 3, "BUY"}}

// with returns base() with event i replaced.
func with(repl map[int]events.Event, extra ...events.Event) []events.Event {
	evs := base()
	for i, r := range repl {
		evs[i] = r
	}
	return append(evs, extra...)
}

// Each row proves one boundary of the layering rule (ecs-baseline.md, "Detection rules").
func TestLayeringRuleBoundaries(t *testing.T) {
	cases := []struct {
		name string
		evs  []events.Event
		want []summary
	}{
		{"the reference pattern is detected at the trade with cancelled and traded quantities", base(), baseWant},
		{"2 same-side orders are not enough", with(map[int]events.Event{2: e("10:21:24", "ACC001", "IBM", "P", "SELL", 6000)}), nil},
		{"3 same-side orders within 10 s are enough", base(), baseWant},
		{"order window end is inclusive (third order exactly 10 s after the first)",
			with(map[int]events.Event{2: e("10:21:30", "ACC001", "IBM", "P", "BUY", 6000), 3: e("10:21:31", "ACC001", "IBM", "C", "BUY", 5000), 4: e("10:21:32", "ACC001", "IBM", "C", "BUY", 4000), 5: e("10:21:33", "ACC001", "IBM", "C", "BUY", 6000), 6: e("10:21:34", "ACC001", "IBM", "T", "SELL", 10000)}),
			[]summary{{"ACC001", "IBM", "2025-10-26T10:21:20+00:00", "2025-10-26T10:21:34+00:00", 15000, 10000, 3, 3, "BUY"}}},
		{"an order 1 µs past the 10 s window does not count (fractional seconds)",
			with(map[int]events.Event{2: e("10:21:30.000001", "ACC001", "IBM", "P", "BUY", 6000), 3: e("10:21:31", "ACC001", "IBM", "C", "BUY", 5000), 4: e("10:21:32", "ACC001", "IBM", "C", "BUY", 4000), 5: e("10:21:33", "ACC001", "IBM", "C", "BUY", 6000), 6: e("10:21:34", "ACC001", "IBM", "T", "SELL", 10000)}),
			nil},
		{"2 same-side cancellations are not enough", with(map[int]events.Event{5: e("10:21:27", "ACC001", "IBM", "C", "SELL", 6000)}), nil},
		{"cancellation window end is inclusive (last cancel exactly 5 s after the last order)",
			with(map[int]events.Event{5: e("10:21:29", "ACC001", "IBM", "C", "BUY", 6000), 6: e("10:21:30", "ACC001", "IBM", "T", "SELL", 10000)}),
			[]summary{{"ACC001", "IBM", "2025-10-26T10:21:20+00:00", "2025-10-26T10:21:30+00:00", 15000, 10000, 3, 3, "BUY"}}},
		{"a cancellation 1 µs past the 5 s window does not count",
			with(map[int]events.Event{5: e("10:21:29.000001", "ACC001", "IBM", "C", "BUY", 6000), 6: e("10:21:30", "ACC001", "IBM", "T", "SELL", 10000)}),
			nil},
		{"cancellations before the first order do not count",
			with(map[int]events.Event{3: e("10:21:19", "ACC001", "IBM", "C", "BUY", 5000)}), nil},
		{"trade window end is inclusive (trade exactly 2 s after the last cancel)",
			with(map[int]events.Event{6: e("10:21:29", "ACC001", "IBM", "T", "SELL", 10000)}),
			[]summary{{"ACC001", "IBM", "2025-10-26T10:21:20+00:00", "2025-10-26T10:21:29+00:00", 15000, 10000, 3, 3, "BUY"}}},
		{"a trade 1 µs past the 2 s window does not complete the pattern",
			with(map[int]events.Event{6: e("10:21:29.000001", "ACC001", "IBM", "T", "SELL", 10000)}), nil},
		{"a trade at the instant of the last cancel completes the pattern",
			with(map[int]events.Event{6: e("10:21:27", "ACC001", "IBM", "T", "SELL", 10000)}),
			[]summary{{"ACC001", "IBM", "2025-10-26T10:21:20+00:00", "2025-10-26T10:21:27+00:00", 15000, 10000, 3, 3, "BUY"}}},
		{"a trade before the last cancel does not complete the pattern",
			with(map[int]events.Event{6: e("10:21:26.5", "ACC001", "IBM", "T", "SELL", 10000)}), nil},
		{"a same-side trade does not complete the pattern",
			with(map[int]events.Event{6: e("10:21:28", "ACC001", "IBM", "T", "BUY", 10000)}), nil},
		{"the first qualifying trade dates the detection; later trades in the window are not summed",
			with(nil, e("10:21:28.5", "ACC001", "IBM", "T", "SELL", 700)),
			baseWant},
		{"opposite trades since the first order are summed up to the detecting trade",
			with(nil, e("10:21:21", "ACC001", "IBM", "T", "SELL", 300)),
			[]summary{{"ACC001", "IBM", "2025-10-26T10:21:20+00:00", "2025-10-26T10:21:28+00:00", 15000, 10300, 3, 3, "BUY"}}},
		{"cancellations after the cancel window but before the trade are counted",
			with(map[int]events.Event{6: e("10:21:30", "ACC001", "IBM", "T", "SELL", 10000), 5: e("10:21:29", "ACC001", "IBM", "C", "BUY", 6000)},
				e("10:21:29.5", "ACC001", "IBM", "C", "BUY", 1000)),
			[]summary{{"ACC001", "IBM", "2025-10-26T10:21:20+00:00", "2025-10-26T10:21:30+00:00", 16000, 10000, 4, 3, "BUY"}}},
		{"all same-side orders within 10 s belong to the detection",
			with(nil, e("10:21:29", "ACC001", "IBM", "P", "BUY", 1)),
			[]summary{{"ACC001", "IBM", "2025-10-26T10:21:20+00:00", "2025-10-26T10:21:28+00:00", 15000, 10000, 3, 4, "BUY"}}},
		{"a SELL-side pattern maps cancelled quantity to SELL and traded quantity to BUY",
			[]events.Event{
				e("11:00:00", "ACC9", "AAPL", "P", "SELL", 1), e("11:00:01", "ACC9", "AAPL", "P", "SELL", 1), e("11:00:02", "ACC9", "AAPL", "P", "SELL", 1),
				e("11:00:03", "ACC9", "AAPL", "C", "SELL", 100), e("11:00:04", "ACC9", "AAPL", "C", "SELL", 200), e("11:00:05", "ACC9", "AAPL", "C", "SELL", 300),
				e("11:00:06", "ACC9", "AAPL", "T", "BUY", 50),
			},
			[]summary{{"ACC9", "AAPL", "2025-10-26T11:00:00+00:00", "2025-10-26T11:00:06+00:00", 50, 600, 3, 3, "SELL"}}},
		{"events of another product do not complete a pattern",
			with(map[int]events.Event{6: e("10:21:28", "ACC001", "MSFT", "T", "SELL", 10000)}), nil},
		{"events of another account do not complete a pattern",
			with(map[int]events.Event{4: e("10:21:26", "ACC002", "IBM", "C", "BUY", 4000)}), nil},
		{"fractional-second timestamps keep their precision in the detection",
			with(map[int]events.Event{0: e("10:21:20.25", "ACC001", "IBM", "P", "BUY", 5000), 6: e("10:21:28.125", "ACC001", "IBM", "T", "SELL", 10000)}),
			[]summary{{"ACC001", "IBM", "2025-10-26T10:21:20.250000+00:00", "2025-10-26T10:21:28.125000+00:00", 15000, 10000, 3, 3, "BUY"}}},
		{"input order does not matter: each group is sorted by time",
			func() []events.Event { b := base(); return []events.Event{b[6], b[3], b[0], b[5], b[1], b[4], b[2]} }(),
			baseWant},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := summarize(Detect(c.evs)); !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
}

// Requirement: after a detection the scan resumes after its last order, so an
// order belongs to at most one detection, and later patterns are still found.
func TestLayeringResumesAfterADetection(t *testing.T) {
	// Four orders within 10 s: one detection with all four, not a second one
	// starting at the second order (which would also qualify).
	evs := with(nil, e("10:21:24.5", "ACC001", "IBM", "P", "BUY", 1))
	got := summarize(Detect(evs))
	if len(got) != 1 || got[0].Orders != 4 {
		t.Fatalf("got %+v, want one detection with 4 orders", got)
	}
	// The same pattern again 30 s later is a second detection.
	var again []events.Event
	for _, ev := range base() {
		ev.Time.Micros += 30 * isotime.Second
		again = append(again, ev)
	}
	got = summarize(Detect(append(base(), again...)))
	if len(got) != 2 || got[1].Start != "2025-10-26T10:21:50+00:00" {
		t.Fatalf("got %+v, want two detections", got)
	}
	// A pattern whose window starts at an order inside the first detection's
	// orders is not reported: those orders were used.
	overlap := append(base(),
		e("10:21:29", "ACC001", "IBM", "P", "BUY", 1), // with orders 2 and 3 (10:21:22, :24) would form a window
		e("10:21:30", "ACC001", "IBM", "C", "BUY", 1),
		e("10:21:31", "ACC001", "IBM", "C", "BUY", 1),
		e("10:21:32", "ACC001", "IBM", "C", "BUY", 1),
		e("10:21:33", "ACC001", "IBM", "T", "SELL", 1),
	)
	got = summarize(Detect(overlap))
	if len(got) != 1 || got[0].Orders != 4 {
		t.Fatalf("got %+v, want only the first detection (4 orders)", got)
	}
}

// Requirement: detections of different groups come in order of each group's
// first event in the input.
func TestLayeringGroupOrderIsFirstAppearance(t *testing.T) {
	a := base()
	var b []events.Event
	for _, ev := range base() {
		ev.Account = "ACC000"
		ev.Time.Micros -= isotime.Hour // earlier in time, later in the input
		b = append(b, ev)
	}
	got := Detect(append(append([]events.Event{}, a...), b...))
	if len(got) != 2 || got[0].Account != "ACC001" || got[1].Account != "ACC000" {
		t.Fatalf("got %+v", summarize(got))
	}
	if ts := got[0].OrderTimes; len(ts) != 3 || ts[2].String() != "2025-10-26T10:21:24+00:00" {
		t.Fatalf("order times = %v", ts)
	}
}
