// Package layering implements the layering rule of the existing services.
//
// Per (account, product), events in time order, for each ORDER_PLACED event
// taken as the start of a window:
//
//  1. the same-side ORDER_PLACED events at or after it (in time order) within
//     10 s of it, window end included, must number at least 3;
//  2. same-side ORDER_CANCELLED events between the start and 5 s after the last
//     of those orders, both ends included, must number at least 3;
//  3. the first opposite-side TRADE_EXECUTED at or after the last of those
//     cancellations and at most 2 s after it completes the pattern.
//
// The detection is dated at the trade. total_buy_qty and total_sell_qty are
// the quantities of the same-side cancellations and of the opposite-side
// trades between the start and the trade (both ends included), mapped to BUY
// and SELL by side; num_cancelled_orders counts those cancellations. The scan
// then resumes after the last order of the detection, so an order belongs to
// at most one detection.
package layering

import (
	"github.com/layering-detection/kubectl-layering/services/detect"
	"github.com/layering-detection/kubectl-layering/services/events"
	"github.com/layering-detection/kubectl-layering/services/isotime"
)

// Rule parameters (the existing services' defaults).
const (
	OrdersWindow = 10 * isotime.Second
	CancelWindow = 5 * isotime.Second
	TradeWindow  = 2 * isotime.Second
	MinOrders    = 3
	MinCancels   = 3
	// Span bounds the time between the first and the last event one
	// detection looks at; groups split at larger gaps detect the same.
	Span = OrdersWindow + CancelWindow + TradeWindow
)

// Name is the service's name in the JSON contract.
const Name = "layering"

// list holds the events of one (type, side) of a group, in time order.
type list struct {
	ts  []int64 // instants
	pos []int32 // positions in the group's time order
	pre []int64 // prefix sums of quantities, len(ts)+1
}

func (l *list) reset() {
	l.ts, l.pos, l.pre = l.ts[:0], l.pos[:0], append(l.pre[:0], 0)
}

func slot(t events.Type, s events.Side) int { return int(t-1)*2 + int(s-1) }

// Detect returns the layering detections in the events, group after group in
// order of each group's first event, in time order within a group.
func Detect(evs []events.Event) []detect.Sequence {
	groups := detect.GroupByAccountProduct(evs, nil)
	var (
		lists [6]list
		rank  []int32 // rank[p]: index of group position p in its list
		out   []detect.Sequence
	)
	for g := 0; g < groups.Len(); g++ {
		idx := groups.Group(g)
		if len(idx) < MinOrders+MinCancels+1 {
			continue
		}
		for i := range lists {
			lists[i].reset()
		}
		rank = rank[:0]
		for p, ei := range idx {
			e := &evs[ei]
			l := &lists[slot(e.Type, e.Side)]
			rank = append(rank, int32(len(l.ts)))
			l.ts = append(l.ts, e.Time.Micros)
			l.pos = append(l.pos, int32(p))
			l.pre = append(l.pre, l.pre[len(l.pre)-1]+e.Quantity)
		}
		for p := 0; p < len(idx); {
			first := &evs[idx[p]]
			if first.Type != events.OrderPlaced {
				p++
				continue
			}
			side, start := first.Side, first.Time.Micros
			orders := &lists[slot(events.OrderPlaced, side)]
			r := int(rank[p])
			hi := r + detect.UpperBound(orders.ts[r:], start+OrdersWindow)
			if hi-r < MinOrders {
				p++
				continue
			}
			lastOrder := orders.ts[hi-1]
			cancels := &lists[slot(events.OrderCancelled, side)]
			clo := detect.LowerBound(cancels.ts, start)
			chi := detect.UpperBound(cancels.ts, lastOrder+CancelWindow)
			if chi-clo < MinCancels {
				p++
				continue
			}
			lastCancel := cancels.ts[chi-1]
			trades := &lists[slot(events.TradeExecuted, side.Opposite())]
			t := detect.LowerBound(trades.ts, lastCancel)
			if t == len(trades.ts) || trades.ts[t] > lastCancel+TradeWindow {
				p++
				continue
			}
			tradeAt := trades.ts[t]
			cend := detect.UpperBound(cancels.ts, tradeAt)
			tlo, tend := detect.LowerBound(trades.ts, start), detect.UpperBound(trades.ts, tradeAt)
			cancelQty := cancels.pre[cend] - cancels.pre[clo]
			tradeQty := trades.pre[tend] - trades.pre[tlo]
			orderTimes := make([]isotime.Time, hi-r)
			for k := r; k < hi; k++ {
				orderTimes[k-r] = evs[idx[orders.pos[k]]].Time
			}
			seq := detect.Sequence{
				Account:      first.Account,
				Product:      first.Product,
				Start:        first.Time,
				End:          evs[idx[trades.pos[t]]].Time,
				Type:         detect.Layering,
				Side:         side,
				NumCancelled: int64(cend - clo),
				OrderTimes:   orderTimes,
			}
			if side == events.Buy {
				seq.TotalBuyQty, seq.TotalSellQty = cancelQty, tradeQty
			} else {
				seq.TotalBuyQty, seq.TotalSellQty = tradeQty, cancelQty
			}
			out = append(out, seq)
			p = int(orders.pos[hi-1]) + 1 // orders are not reused
		}
	}
	return out
}
