package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"strconv"
	"time"
)

// Payloads are valid requests of the services' contract (ecs-baseline.md,
// "The services' HTTP contract"). Each request gets a new request_id: the
// algorithm services cache results by (request_id, event_fingerprint), and a
// load test must make them compute, not answer from the cache.

// body builds one request body; it is called once per request, concurrently.
type body func() []byte

// detectBody is POST /detect with n generated trade events. The events (and
// so the fingerprint) are generated once; only the request_id changes.
func detectBody(n int, seed uint64) body {
	events := appendEvents(nil, n, seed)
	sum := sha256.Sum256(events)
	fingerprint := hex.EncodeToString(sum[:])
	return func() []byte {
		b := make([]byte, 0, len(events)+160)
		b = append(b, `{"request_id":"`...)
		b = append(b, newUUID()...)
		b = append(b, `","event_fingerprint":"`...)
		b = append(b, fingerprint...)
		b = append(b, `","events":`...)
		b = append(b, events...)
		return append(b, '}')
	}
}

// aggregateBody is POST /aggregate with both algorithm services' results:
// n detections in all, half layering, half wash trading.
func aggregateBody(n int, seed uint64) body {
	layering, wash := appendDetections(n, seed)
	return func() []byte {
		id := newUUID()
		b := make([]byte, 0, len(layering)+len(wash)+400)
		b = append(b, `{"request_id":"`...)
		b = append(b, id...)
		b = append(b, `","expected_services":["layering","wash_trading"],"results":[`...)
		b = append(b, `{"request_id":"`...)
		b = append(b, id...)
		b = append(b, `","service_name":"layering","status":"success","error":null,"final_status":true,"results":`...)
		b = append(b, layering...)
		b = append(b, `},{"request_id":"`...)
		b = append(b, id...)
		b = append(b, `","service_name":"wash_trading","status":"success","error":null,"final_status":true,"results":`...)
		b = append(b, wash...)
		return append(b, "}]}"...)
	}
}

// orchestrateBody is POST /orchestrate on a file of the input volume.
func orchestrateBody(file string) body {
	b := []byte(`{"input_file":` + strconv.Quote(file) + `}`)
	return func() []byte { return b }
}

// start is the first event's time; the streams are synthetic.
var start = time.Date(2025, 10, 26, 10, 0, 0, 0, time.UTC)

// appendEvents appends a JSON array of n events in time order: background
// order flow over 1,000 accounts and 20 products, with a layering pattern
// every 500 events and a wash-trading pattern every 2,000, so both rules have
// real work (the shape of the services' own benchmarks).
func appendEvents(dst []byte, n int, seed uint64) []byte {
	rng := mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	sides := [2]string{"BUY", "SELL"}
	at := start
	count := 0
	dst = append(dst, '[')
	event := func(t time.Time, account, product int, side, typ string, qty int) {
		if count == n {
			return
		}
		if count > 0 {
			dst = append(dst, ',')
		}
		count++
		dst = append(dst, `{"timestamp":"`...)
		dst = t.AppendFormat(dst, "2006-01-02T15:04:05.000000Z07:00")
		dst = fmt.Appendf(dst, `","account_id":"ACC%05d","product_id":"P%03d","side":"%s","price":"%d.%02d","quantity":%d,"event_type":"%s"}`,
			account, product, side, 50+rng.IntN(200), rng.IntN(100), qty, typ)
	}
	types := [3]string{"ORDER_PLACED", "ORDER_CANCELLED", "TRADE_EXECUTED"}
	for k := 0; count < n; k++ {
		at = at.Add(time.Duration(rng.IntN(20000)) * time.Microsecond)
		acc, prod, s := rng.IntN(1000), rng.IntN(20), rng.IntN(2)
		switch {
		case k%500 == 499: // 3 orders, 3 cancels, the opposite trade: layering
			t := at
			for i := 0; i < 6; i++ {
				typ := "ORDER_PLACED"
				if i >= 3 {
					typ = "ORDER_CANCELLED"
				}
				event(t, acc, prod, sides[s], typ, 1000*(1+rng.IntN(9)))
				t = t.Add(time.Second)
			}
			event(t, acc, prod, sides[1-s], "TRADE_EXECUTED", 1000*(1+rng.IntN(9)))
			at = t
		case k%2000 == 1000: // 8 alternating trades within minutes: wash trading
			t := at
			for i := 0; i < 8; i++ {
				event(t, acc, prod, sides[(s+i)%2], "TRADE_EXECUTED", 1500+rng.IntN(1000))
				t = t.Add(time.Duration(10+rng.IntN(120)) * time.Second)
			}
			at = t
		default:
			event(at, acc, prod, sides[s], types[rng.IntN(3)], 100*(1+rng.IntN(50)))
		}
	}
	return append(dst, ']')
}

// appendDetections returns two JSON arrays of detections (layering, wash
// trading), n in all, as the algorithm services answer them.
func appendDetections(n int, seed uint64) (layering, wash []byte) {
	rng := mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	ts := func(t time.Time) string { return t.Format("2006-01-02T15:04:05.000000Z07:00") }
	layering, wash = []byte{'['}, []byte{'['}
	for i := 0; i < n; i++ {
		t := start.Add(time.Duration(i) * time.Minute)
		acc, prod, qty := rng.IntN(1000), rng.IntN(20), 1000*(1+rng.IntN(9))
		if i%2 == 0 {
			if len(layering) > 1 {
				layering = append(layering, ',')
			}
			layering = fmt.Appendf(layering, `{"account_id":"ACC%05d","product_id":"P%03d","start_timestamp":"%s","end_timestamp":"%s",`+
				`"total_buy_qty":%d,"total_sell_qty":%d,"detection_type":"LAYERING","side":"BUY","num_cancelled_orders":3,`+
				`"order_timestamps":["%s","%s","%s"],"alternation_percentage":null,"price_change_percentage":null}`,
				acc, prod, ts(t), ts(t.Add(6*time.Second)), 3*qty, qty, ts(t), ts(t.Add(time.Second)), ts(t.Add(2*time.Second)))
			continue
		}
		if len(wash) > 1 {
			wash = append(wash, ',')
		}
		wash = fmt.Appendf(wash, `{"account_id":"ACC%05d","product_id":"P%03d","start_timestamp":"%s","end_timestamp":"%s",`+
			`"total_buy_qty":%d,"total_sell_qty":%d,"detection_type":"WASH_TRADING","side":null,"num_cancelled_orders":null,`+
			`"order_timestamps":null,"alternation_percentage":100.0,"price_change_percentage":null}`,
			acc, prod, ts(t), ts(t.Add(10*time.Minute)), 4*qty, 4*qty)
	}
	return append(layering, ']'), append(wash, ']')
}

// newUUID is a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
