package detect

import (
	"reflect"
	"testing"

	"github.com/layering-detection/kubectl-layering/services/events"
	"github.com/layering-detection/kubectl-layering/services/isotime"
)

// Requirement: groups come in order of first appearance; each group is in
// time order, events at the same instant keeping their input order.
func TestGroupByAccountProduct(t *testing.T) {
	at := func(acc, prod string, sec int64, typ events.Type) events.Event {
		return events.Event{Time: isotime.UTC(sec * isotime.Second), Account: acc, Product: prod, Type: typ}
	}
	evs := []events.Event{
		at("B", "X", 5, events.OrderPlaced),    // 0
		at("A", "X", 9, events.TradeExecuted),  // 1
		at("B", "X", 3, events.TradeExecuted),  // 2
		at("A", "Y", 1, events.OrderPlaced),    // 3
		at("B", "X", 3, events.OrderPlaced),    // 4: same instant as 2, later in the input
		at("A", "X", 2, events.OrderCancelled), // 5
	}
	g := GroupByAccountProduct(evs, nil)
	var got [][]int32
	for i := 0; i < g.Len(); i++ {
		got = append(got, g.Group(i))
	}
	if want := [][]int32{{2, 4, 0}, {5, 1}, {3}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("groups %v, want %v", got, want)
	}
	trades := GroupByAccountProduct(evs, func(e *events.Event) bool { return e.Type == events.TradeExecuted })
	if trades.Len() != 2 || !reflect.DeepEqual(trades.Group(0), []int32{1}) || !reflect.DeepEqual(trades.Group(1), []int32{2}) {
		t.Fatalf("filtered groups %v %v", trades.Order, trades.Bounds)
	}
}

func TestBounds(t *testing.T) {
	ts := []int64{1, 3, 3, 5}
	for _, c := range []struct{ v, lo, hi int64 }{{0, 0, 0}, {3, 1, 3}, {4, 3, 3}, {5, 3, 4}, {9, 4, 4}} {
		if l, u := LowerBound(ts, c.v), UpperBound(ts, c.v); int64(l) != c.lo || int64(u) != c.hi {
			t.Errorf("bounds of %d = %d,%d want %d,%d", c.v, l, u, c.lo, c.hi)
		}
	}
}
