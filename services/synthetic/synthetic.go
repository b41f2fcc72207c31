// Package synthetic generates deterministic transaction streams for
// benchmarks and large-input tests: background order flow across many
// accounts and products, with layering and wash-trading patterns embedded at a
// fixed rate so the detectors have real work to do.
package synthetic

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/layering-detection/kubectl-layering/services/events"
	"github.com/layering-detection/kubectl-layering/services/isotime"
)

// Options shape a generated stream. Zero values take the defaults.
type Options struct {
	Accounts int    // distinct accounts (default 1000)
	Products int    // distinct products (default 20)
	Seed     uint64 // PRNG seed (default 1)
	// One layering pattern (7 events) per LayeringEvery events and one wash
	// pattern (8 trades) per WashEvery events (defaults 500 and 2000).
	LayeringEvery int
	WashEvery     int
}

// Start is the first timestamp of every generated stream.
var Start = isotime.UTC(1761472800 * isotime.Second) // 2025-10-26T10:00:00+00:00

// Generate returns n events sorted by time (ties keep generation order).
func Generate(n int, o Options) []events.Event {
	if o.Accounts <= 0 {
		o.Accounts = 1000
	}
	if o.Products <= 0 {
		o.Products = 20
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.LayeringEvery <= 0 {
		o.LayeringEvery = 500
	}
	if o.WashEvery <= 0 {
		o.WashEvery = 2000
	}
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	accounts := make([]string, o.Accounts)
	for i := range accounts {
		accounts[i] = fmt.Sprintf("ACC%05d", i)
	}
	products := make([]string, o.Products)
	for i := range products {
		products[i] = fmt.Sprintf("P%03d", i)
	}
	prices := make([]string, 20000) // 50.00 .. 249.99
	for i := range prices {
		prices[i] = strconv.FormatFloat(50+float64(i)/100, 'f', 2, 64)
	}
	evs := make([]events.Event, 0, n+16)
	now := Start.Micros
	ev := func(at int64, acc, prod int, side events.Side, typ events.Type, qty int64) {
		evs = append(evs, events.Event{
			Time: isotime.UTC(at), Account: accounts[acc], Product: products[prod],
			Price: prices[rng.IntN(len(prices))], Quantity: qty, Side: side, Type: typ,
		})
	}
	side := func() events.Side { return events.Side(1 + rng.IntN(2)) }
	for len(evs) < n {
		now += int64(rng.IntN(20000)) // 0-20 ms apart, about 100 events/s overall
		k := len(evs)
		switch {
		case k%o.LayeringEvery == o.LayeringEvery-1:
			acc, prod, s := rng.IntN(o.Accounts), rng.IntN(o.Products), side()
			t := now
			for i := 0; i < 3; i++ {
				ev(t, acc, prod, s, events.OrderPlaced, int64(1000*(1+rng.IntN(9))))
				t += isotime.Second
			}
			for i := 0; i < 3; i++ {
				ev(t, acc, prod, s, events.OrderCancelled, int64(1000*(1+rng.IntN(9))))
				t += isotime.Second
			}
			ev(t, acc, prod, s.Opposite(), events.TradeExecuted, int64(1000*(1+rng.IntN(9))))
		case k%o.WashEvery == o.WashEvery/2:
			acc, prod, s := rng.IntN(o.Accounts), rng.IntN(o.Products), side()
			t := now
			for i := 0; i < 8; i++ {
				ev(t, acc, prod, s, events.TradeExecuted, int64(1500+rng.IntN(1000)))
				s = s.Opposite()
				t += int64(10+rng.IntN(120)) * isotime.Second
			}
		default:
			typ := events.Type(1 + rng.IntN(3))
			ev(now, rng.IntN(o.Accounts), rng.IntN(o.Products), side(), typ, int64(100*(1+rng.IntN(50))))
		}
	}
	evs = evs[:n]
	slices.SortStableFunc(evs, func(a, b events.Event) int {
		switch {
		case a.Time.Micros < b.Time.Micros:
			return -1
		case a.Time.Micros > b.Time.Micros:
			return 1
		}
		return 0
	})
	return evs
}

// AppendCSV appends the events as an input CSV, header first.
func AppendCSV(dst []byte, evs []events.Event) []byte {
	dst = append(dst, "timestamp,account_id,product_id,side,price,quantity,event_type\n"...)
	for i := range evs {
		e := &evs[i]
		dst = e.Time.AppendFormat(dst)
		dst = append(dst, ',')
		dst = append(dst, e.Account...)
		dst = append(dst, ',')
		dst = append(dst, e.Product...)
		dst = append(dst, ',')
		dst = append(dst, e.Side.String()...)
		dst = append(dst, ',')
		dst = append(dst, e.Price...)
		dst = append(dst, ',')
		dst = strconv.AppendInt(dst, e.Quantity, 10)
		dst = append(dst, ',')
		dst = append(dst, e.Type.String()...)
		dst = append(dst, '\n')
	}
	return dst
}
