// Package events holds the transaction event model shared by the four services
// and reads the input CSV (`timestamp,account_id,product_id,side,price,quantity,event_type`)
// with the rules of the existing services: a missing column is a hard error, a
// bad row is skipped with a warning.
package events

import (
	"errors"
	"strconv"
	"strings"

	"github.com/layering-detection/kubectl-layering/services/isotime"
)

// Side of an order or trade.
type Side uint8

// Sides.
const (
	Buy Side = iota + 1
	Sell
)

func (s Side) String() string {
	switch s {
	case Buy:
		return "BUY"
	case Sell:
		return "SELL"
	}
	return ""
}

// Opposite returns SELL for BUY and BUY for SELL.
func (s Side) Opposite() Side {
	if s == Buy {
		return Sell
	}
	return Buy
}

// Type is the event type.
type Type uint8

// Event types.
const (
	OrderPlaced Type = iota + 1
	OrderCancelled
	TradeExecuted
)

func (t Type) String() string {
	switch t {
	case OrderPlaced:
		return "ORDER_PLACED"
	case OrderCancelled:
		return "ORDER_CANCELLED"
	case TradeExecuted:
		return "TRADE_EXECUTED"
	}
	return ""
}

// Event is one row of the input.
type Event struct {
	Time    isotime.Time
	Account string
	Product string
	// Price is the decimal text as given (validated); detectors convert it
	// to a float only where a rule needs it, as the existing services do.
	Price    string
	Quantity int64
	Side     Side
	Type     Type
}

// ParseSide accepts BUY or SELL in any letter case, surrounding space ignored
// (the CSV reader's rule: `raw.strip().upper()`).
func ParseSide(s string) (Side, bool) {
	s = strings.TrimSpace(s)
	switch {
	case strings.EqualFold(s, "BUY"):
		return Buy, true
	case strings.EqualFold(s, "SELL"):
		return Sell, true
	}
	return 0, false
}

// ParseType accepts the three event types in any letter case, surrounding space ignored.
func ParseType(s string) (Type, bool) {
	s = strings.TrimSpace(s)
	switch {
	case strings.EqualFold(s, "ORDER_PLACED"):
		return OrderPlaced, true
	case strings.EqualFold(s, "ORDER_CANCELLED"):
		return OrderCancelled, true
	case strings.EqualFold(s, "TRADE_EXECUTED"):
		return TradeExecuted, true
	}
	return 0, false
}

// ExactSide and ExactType accept only the canonical upper-case spellings (the
// JSON contract between services).
func ExactSide(s string) (Side, bool) {
	switch s {
	case "BUY":
		return Buy, true
	case "SELL":
		return Sell, true
	}
	return 0, false
}

// ExactType: see ExactSide.
func ExactType(s string) (Type, bool) {
	switch s {
	case "ORDER_PLACED":
		return OrderPlaced, true
	case "ORDER_CANCELLED":
		return OrderCancelled, true
	case "TRADE_EXECUTED":
		return TradeExecuted, true
	}
	return 0, false
}

// Errors of the field parsers.
var (
	ErrPrice    = errors.New("invalid price")
	ErrQuantity = errors.New("invalid quantity")
)

// CheckDecimal reports whether s (surrounding space ignored) is a finite
// decimal number: [+-] digits [. digits] [e [+-] digits], with digits on at
// least one side of the point, and whether its value is greater than zero.
// NaN, Infinity, hexadecimal and digit separators are not accepted.
func CheckDecimal(s string) (valid, positive bool) {
	s = strings.TrimSpace(s)
	i := 0
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	digitsSeen, nonzero := false, false
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		digitsSeen = true
		nonzero = nonzero || s[i] != '0'
		i++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			digitsSeen = true
			nonzero = nonzero || s[i] != '0'
			i++
		}
	}
	if !digitsSeen {
		return false, false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == start {
			return false, false
		}
	}
	if i != len(s) {
		return false, false
	}
	return true, nonzero && !neg
}

// PriceFloat converts a validated decimal price to float64 the way Python's
// float(Decimal) does (correctly rounded; overflow gives ±Inf).
func PriceFloat(s string) float64 {
	f, _ := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return f
}

// ParseQuantity accepts a positive integer: surrounding space, a leading '+'
// and '_' between digits are allowed, as Python's int() allows them.
func ParseQuantity(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s != "" && s[0] == '+' {
		s = s[1:]
	}
	if s == "" || s[0] == '_' || s[len(s)-1] == '_' {
		return 0, ErrQuantity
	}
	var v int64
	prevUnderscore := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' {
			if prevUnderscore {
				return 0, ErrQuantity
			}
			prevUnderscore = true
			continue
		}
		prevUnderscore = false
		if c < '0' || c > '9' {
			return 0, ErrQuantity
		}
		if v > (1<<63-1-int64(c-'0'))/10 {
			return 0, ErrQuantity
		}
		v = v*10 + int64(c-'0')
	}
	if v <= 0 {
		return 0, ErrQuantity
	}
	return v, nil
}
