package washtrading

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/layering-detection/kubectl-layering/services/detect"
	"github.com/layering-detection/kubectl-layering/services/events"
	"github.com/layering-detection/kubectl-layering/services/isotime"
)

// tr builds a trade at 2025-10-26T<clock>Z of ACC1/GOOG (B = BUY, S = SELL).
func tr(clock, side string, qty int64, price string) events.Event {
	t, err := isotime.Parse("2025-10-26T" + clock + "Z")
	if err != nil {
		panic(err)
	}
	sd := map[string]events.Side{"B": events.Buy, "S": events.Sell}[side]
	return events.Event{Time: t, Account: "ACC1", Product: "GOOG", Side: sd, Type: events.TradeExecuted, Price: price, Quantity: qty}
}

// seq builds trades one minute apart starting at 10:00 with the given sides,
// each of quantity qty, all at price 100.
func seq(sides string, qty int64) []events.Event {
	var out []events.Event
	for i, s := range sides {
		out = append(out, tr(fmt.Sprintf("10:%02d:00", i), string(s), qty, "100"))
	}
	return out
}

type summary struct {
	Start, End  string
	Buy, Sell   int64
	Alternation string
	PriceChange string
}

func summarize(seqs []detect.Sequence) []summary {
	var out []summary
	for _, s := range seqs {
		if s.Type != detect.WashTrading || s.NumCancelled != 0 || s.OrderTimes != nil || s.Side != 0 {
			panic("not a wash-trading detection")
		}
		pc := ""
		if s.HasPriceChange {
			pc = fmt.Sprintf("%.2f", s.PriceChange)
		}
		out = append(out, summary{s.Start.String(), s.End.String(), s.TotalBuyQty, s.TotalSellQty, fmt.Sprintf("%.2f", s.Alternation), pc})
	}
	return out
}

func at(clock string) string { return "2025-10-26T" + clock + "+00:00" }

// Each row proves one boundary of the wash-trading rule (ecs-baseline.md, "Detection rules").
func TestWashTradingRuleBoundaries(t *testing.T) {
	cases := []struct {
		name string
		evs  []events.Event
		want []summary
	}{
		{"3 BUY and 3 SELL alternating with 12,000 volume is a detection", seq("BSBSBS", 2000),
			[]summary{{at("10:00:00"), at("10:05:00"), 6000, 6000, "100.00", ""}}},
		{"2 BUY trades are not enough", seq("BSSBSS", 2000), nil},
		{"2 SELL trades are not enough", seq("SBBSBB", 2000), nil},
		{"total quantity exactly 10,000 qualifies",
			append(seq("BSBSB", 1666), tr("10:05:00", "S", 1670, "100")),
			[]summary{{at("10:00:00"), at("10:05:00"), 4998, 5002, "100.00", ""}}},
		{"total quantity 9,999 does not qualify",
			append(seq("BSBSB", 1666), tr("10:05:00", "S", 1669, "100")), nil},
		{"alternation exactly 60 % qualifies (3 switches in 5 transitions)", seq("BBSSBS", 2000),
			[]summary{{at("10:00:00"), at("10:05:00"), 6000, 6000, "60.00", ""}}},
		{"alternation 40 % does not qualify (2 switches in 5 transitions)", seq("BBSSSB", 2000), nil},
		{"alternation 55.56 % does not qualify (5 switches in 9 transitions)", seq("BSBSBSSSSS", 2000), nil},
		{"window end is inclusive (last trade exactly 30 min after the first)",
			append(seq("BSBSB", 2000), tr("10:30:00", "S", 2000, "100")),
			[]summary{{at("10:00:00"), at("10:30:00"), 6000, 6000, "100.00", ""}}},
		{"a trade 1 µs past the 30 min window is not in it (fractional seconds)",
			append(seq("BSBSB", 2000), tr("10:30:00.000001", "S", 2000, "100")), nil},
		{"overlapping windows are each reported", seq("BSBSBSB", 2000),
			[]summary{
				{at("10:00:00"), at("10:06:00"), 8000, 6000, "100.00", ""},
				{at("10:01:00"), at("10:06:00"), 6000, 6000, "100.00", ""},
			}},
		{"price change of at least 1 % is reported", func() []events.Event {
			s := seq("BSBSBS", 2000)
			s[0].Price, s[5].Price = "100.00", "101.00"
			return s
		}(), []summary{{at("10:00:00"), at("10:05:00"), 6000, 6000, "100.00", "1.00"}}},
		{"price change below 1 % is not reported", func() []events.Event {
			s := seq("BSBSBS", 2000)
			s[0].Price, s[5].Price = "100.00", "100.99"
			return s
		}(), []summary{{at("10:00:00"), at("10:05:00"), 6000, 6000, "100.00", ""}}},
		{"a falling price reports the absolute change", func() []events.Event {
			s := seq("BSBSBS", 2000)
			s[0].Price, s[5].Price = "141.20", "139.00"
			return s
		}(), []summary{{at("10:00:00"), at("10:05:00"), 6000, 6000, "100.00", "1.56"}}},
		{"orders and cancellations are ignored", func() []events.Event {
			s := seq("BSBSBS", 2000)
			o := s[2]
			o.Type = events.OrderPlaced
			c := s[3]
			c.Type = events.OrderCancelled
			return append(s, o, c)
		}(), []summary{{at("10:00:00"), at("10:05:00"), 6000, 6000, "100.00", ""}}},
		{"another product's trades are a separate group", func() []events.Event {
			s := seq("BSBSBS", 2000)
			s[5].Product = "MSFT"
			return s
		}(), nil},
		{"fractional-second timestamps keep their precision", func() []events.Event {
			s := seq("BSBSBS", 2000)
			s[0] = tr("10:00:00.5", "B", 2000, "100")
			return s
		}(), []summary{{at("10:00:00.500000"), at("10:05:00"), 6000, 6000, "100.00", ""}}},
		{"input order does not matter: trades are sorted by time", func() []events.Event {
			s := seq("BSBSBS", 2000)
			return []events.Event{s[5], s[1], s[3], s[0], s[4], s[2]}
		}(), []summary{{at("10:00:00"), at("10:05:00"), 6000, 6000, "100.00", ""}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := summarize(Detect(c.evs)); !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
}

// Requirement: the alternation is computed exactly as the existing service
// computes it (switches / (n-1) * 100 in float64), so 60 % is reached exactly.
func TestWashTradingAlternationArithmetic(t *testing.T) {
	for _, c := range []struct{ sw, n int }{{3, 6}, {6, 11}, {9, 16}, {12, 21}} {
		if a := float64(c.sw) / float64(c.n-1) * 100.0; a < MinAlternation {
			t.Errorf("%d/%d*100 = %v < 60", c.sw, c.n-1, a)
		}
	}
}

// Requirement: groups are reported in order of their first trade.
func TestWashTradingGroupOrderIsFirstTrade(t *testing.T) {
	a := seq("BSBSBS", 2000)
	b := seq("BSBSBS", 2000)
	for i := range b {
		b[i].Account = "ACC0"
	}
	// ACC0's first event in the input is an order placed before any ACC1 event,
	// but ACC1 trades first in the input.
	order := b[0]
	order.Type = events.OrderPlaced
	evs := append([]events.Event{order}, append(a, b...)...)
	got := Detect(evs)
	if len(got) != 2 || got[0].Account != "ACC1" || got[1].Account != "ACC0" {
		t.Fatalf("got %d detections: %+v", len(got), got)
	}
}
