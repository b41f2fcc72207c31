// Package washtrading implements the wash-trading rule of the existing
// services.
//
// Per (account, product), TRADE_EXECUTED events only, in time order: every
// trade opens a 30-minute window (end included) holding the trades from it on.
// The window is a detection when it has at least 3 BUY and 3 SELL trades, a
// total quantity of at least 10,000 and a side alternation of at least 60 %
// (side switches between consecutive trades / (trades - 1) × 100). Windows of
// one group may overlap; each qualifying window is reported. The detection
// spans the first to the last trade of the window; |last − first| / first
// price × 100 is reported when at least 1 %.
package washtrading

import (
	"math"

	"github.com/layering-detection/kubectl-layering/services/detect"
	"github.com/layering-detection/kubectl-layering/services/events"
	"github.com/layering-detection/kubectl-layering/services/isotime"
)

// Rule parameters (the existing services' defaults).
const (
	Window               = 30 * isotime.Minute
	MinBuys              = 3
	MinSells             = 3
	MinAlternation       = 60.0
	MinVolume            = 10000
	PriceChangeThreshold = 1.0
	// Span bounds the time between the first and the last trade one
	// detection looks at; groups split at larger gaps detect the same.
	Span = Window
)

// Name is the service's name in the JSON contract.
const Name = "wash_trading"

func isTrade(e *events.Event) bool { return e.Type == events.TradeExecuted }

// Detect returns the wash-trading detections in the events, group after group
// in order of each group's first trade, by window start within a group.
func Detect(evs []events.Event) []detect.Sequence {
	groups := detect.GroupByAccountProduct(evs, isTrade)
	var (
		ts                     []int64
		buys, vol, buyVol, sws []int64 // prefix sums
		out                    []detect.Sequence
	)
	for g := 0; g < groups.Len(); g++ {
		idx := groups.Group(g)
		n := len(idx)
		if n < MinBuys+MinSells {
			continue
		}
		ts = ts[:0]
		buys, vol, buyVol, sws = append(buys[:0], 0), append(vol[:0], 0), append(buyVol[:0], 0), append(sws[:0], 0)
		for k, ei := range idx {
			e := &evs[ei]
			ts = append(ts, e.Time.Micros)
			var b, bq, sw int64
			if e.Side == events.Buy {
				b, bq = 1, e.Quantity
			}
			if k > 0 && e.Side != evs[idx[k-1]].Side {
				sw = 1
			}
			buys = append(buys, buys[k]+b)
			vol = append(vol, vol[k]+e.Quantity)
			buyVol = append(buyVol, buyVol[k]+bq)
			// sws[k+1] counts the switches between positions 0..k.
			sws = append(sws, sws[k]+sw)
		}
		j := 0
		for i := 0; i < n; i++ {
			end := ts[i] + Window
			for j < n && ts[j] <= end {
				j++
			}
			w := j - i
			if w < MinBuys+MinSells {
				continue
			}
			nb := int(buys[j] - buys[i])
			if nb < MinBuys || w-nb < MinSells {
				continue
			}
			total := vol[j] - vol[i]
			if total < MinVolume {
				continue
			}
			// Switches between consecutive trades i..j-1: pairs (k-1, k), i < k < j.
			switches := sws[j] - sws[i+1]
			alternation := float64(switches) / float64(w-1) * 100.0
			if alternation < MinAlternation {
				continue
			}
			firstEv, lastEv := &evs[idx[i]], &evs[idx[j-1]]
			seq := detect.Sequence{
				Account:      firstEv.Account,
				Product:      firstEv.Product,
				Start:        firstEv.Time,
				End:          lastEv.Time,
				TotalBuyQty:  buyVol[j] - buyVol[i],
				TotalSellQty: total - (buyVol[j] - buyVol[i]),
				Type:         detect.WashTrading,
				Alternation:  alternation,
			}
			first, last := events.PriceFloat(firstEv.Price), events.PriceFloat(lastEv.Price)
			if first != 0 {
				if change := math.Abs((last-first)/first) * 100.0; change >= PriceChangeThreshold {
					seq.PriceChange, seq.HasPriceChange = change, true
				}
			}
			out = append(out, seq)
		}
	}
	return out
}
