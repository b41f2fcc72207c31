// Package detect holds what both detection rules share: the detected
// sequence and the grouping of events by (account, product) in time order.
// The rules themselves are in detect/layering and detect/washtrading.
package detect

import (
	"slices"

	"github.com/layering-detection/kubectl-layering/services/events"
	"github.com/layering-detection/kubectl-layering/services/isotime"
)

// Type of a detection.
type Type uint8

// Detection types.
const (
	Layering Type = iota + 1
	WashTrading
)

func (t Type) String() string {
	switch t {
	case Layering:
		return "LAYERING"
	case WashTrading:
		return "WASH_TRADING"
	}
	return ""
}

// Sequence is one detection. Fields not applicable to a type are zero:
// Side, NumCancelled and OrderTimes belong to LAYERING; Alternation and
// PriceChange (when HasPriceChange) to WASH_TRADING.
type Sequence struct {
	Account, Product string
	Start, End       isotime.Time
	TotalBuyQty      int64
	TotalSellQty     int64
	Type             Type
	Side             events.Side
	NumCancelled     int64
	OrderTimes       []isotime.Time
	Alternation      float64
	PriceChange      float64
	HasPriceChange   bool
}

// Groups partitions events into (account, product) groups.
type Groups struct {
	// Order lists event indexes group after group; within a group by time
	// (a stable sort: events at the same instant keep their input order).
	Order []int32
	// Bounds[g] and Bounds[g+1] delimit group g in Order. Groups are numbered
	// in order of their first event in the input.
	Bounds []int32
}

// Len is the number of groups.
func (g *Groups) Len() int { return len(g.Bounds) - 1 }

// Group returns the event indexes of group i in time order.
func (g *Groups) Group(i int) []int32 { return g.Order[g.Bounds[i]:g.Bounds[i+1]] }

type groupKey struct{ account, product string }

// GroupByAccountProduct groups the events for which keep returns true (all
// when keep is nil), as the existing services' group_events_by_account_product
// does: groups in order of first appearance, each sorted by timestamp.
func GroupByAccountProduct(evs []events.Event, keep func(*events.Event) bool) Groups {
	ids := make(map[groupKey]int32, 1024)
	gid := make([]int32, len(evs))
	var counts []int32
	for i := range evs {
		e := &evs[i]
		if keep != nil && !keep(e) {
			gid[i] = -1
			continue
		}
		k := groupKey{e.Account, e.Product}
		id, ok := ids[k]
		if !ok {
			id = int32(len(counts))
			ids[k] = id
			counts = append(counts, 0)
		}
		gid[i] = id
		counts[id]++
	}
	bounds := make([]int32, len(counts)+1)
	for g, c := range counts {
		bounds[g+1] = bounds[g] + c
	}
	order := make([]int32, bounds[len(counts)])
	next := slices.Clone(bounds[:len(counts)])
	for i, g := range gid { // counting sort: stable, input order within a group
		if g >= 0 {
			order[next[g]] = int32(i)
			next[g]++
		}
	}
	groups := Groups{Order: order, Bounds: bounds}
	for g := 0; g < groups.Len(); g++ {
		idx := groups.Group(g)
		if !sortedByTime(evs, idx) {
			slices.SortStableFunc(idx, func(a, b int32) int {
				ta, tb := evs[a].Time.Micros, evs[b].Time.Micros
				switch {
				case ta < tb:
					return -1
				case ta > tb:
					return 1
				}
				return 0
			})
		}
	}
	return groups
}

func sortedByTime(evs []events.Event, idx []int32) bool {
	for i := 1; i < len(idx); i++ {
		if evs[idx[i]].Time.Micros < evs[idx[i-1]].Time.Micros {
			return false
		}
	}
	return true
}

// UpperBound returns the first index i with ts[i] > v (len(ts) if none).
func UpperBound(ts []int64, v int64) int {
	lo, hi := 0, len(ts)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if ts[m] <= v {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// LowerBound returns the first index i with ts[i] >= v (len(ts) if none).
func LowerBound(ts []int64, v int64) int {
	lo, hi := 0, len(ts)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if ts[m] < v {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}
