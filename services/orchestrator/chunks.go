package orchestrator

import (
	"fmt"
	"slices"

	"github.com/layering-detection/kubectl-layering/services/detect"
	"github.com/layering-detection/kubectl-layering/services/detect/layering"
	"github.com/layering-detection/kubectl-layering/services/detect/washtrading"
	"github.com/layering-detection/kubectl-layering/services/events"
)

// ruleSpan is the longest time one detection of either rule looks at. Events
// of one (account, product) separated by a longer gap never meet in a rule,
// so a group may be split there.
const ruleSpan = max(layering.Span, washtrading.Span)

// GroupTooLargeError is an (account, product) whose events cannot be split
// into requests of the allowed size without cutting through a rule's window.
type GroupTooLargeError struct {
	Account, Product string
	Events, Limit    int
}

func (e *GroupTooLargeError) Error() string {
	return fmt.Sprintf("account %q product %q has %d events with no gap longer than %d minutes; one /detect request takes at most %d",
		e.Account, e.Product, e.Events, ruleSpan/60_000_000, e.Limit)
}

// planChunks splits events for /detect requests of at most limit events.
// Up to the limit it returns a single nil chunk: every event, in input order.
// Beyond, chunks are unions of whole (account, product) groups (no rule looks
// across groups); a group larger than the limit is cut only at gaps longer
// than any rule's window. Each chunk lists event indexes in input order, so a
// detector sees a group's events exactly as it would in one request.
func planChunks(evs []events.Event, limit int) ([][]int32, error) {
	if len(evs) <= limit {
		return [][]int32{nil}, nil
	}
	groups := detect.GroupByAccountProduct(evs, nil)
	var units [][]int32 // whole groups, or pieces of a large group, in order
	for g := 0; g < groups.Len(); g++ {
		idx := groups.Group(g) // time order
		if len(idx) <= limit {
			units = append(units, idx)
			continue
		}
		pieceStart, segStart := 0, 0
		for k := 1; k <= len(idx); k++ {
			if k < len(idx) && evs[idx[k]].Time.Micros-evs[idx[k-1]].Time.Micros <= ruleSpan {
				continue
			}
			// idx[segStart:k] is a segment between cuttable gaps.
			if k-segStart > limit {
				e := &evs[idx[segStart]]
				return nil, &GroupTooLargeError{Account: e.Account, Product: e.Product, Events: k - segStart, Limit: limit}
			}
			if k-pieceStart > limit {
				units = append(units, idx[pieceStart:segStart])
				pieceStart = segStart
			}
			segStart = k
		}
		units = append(units, idx[pieceStart:])
	}
	var chunks [][]int32
	var cur []int32
	for _, u := range units {
		if len(cur)+len(u) > limit {
			chunks = append(chunks, cur)
			cur = nil
		}
		cur = append(cur, u...)
	}
	chunks = append(chunks, cur)
	for _, c := range chunks {
		slices.Sort(c)
	}
	return chunks, nil
}

// resultOrder gives, for a service, the rank of an (account, product) group
// in a single request's answer: detectors answer group by group in order of
// the group's first event (layering) or first trade (wash trading). Sorting
// the answers of several chunks by it restores the one-request order.
func resultOrder(evs []events.Event, service string) map[[2]string]int {
	rank := map[[2]string]int{}
	for i := range evs {
		e := &evs[i]
		if service == washtrading.Name && e.Type != events.TradeExecuted {
			continue
		}
		k := [2]string{e.Account, e.Product}
		if _, ok := rank[k]; !ok {
			rank[k] = i
		}
	}
	return rank
}
