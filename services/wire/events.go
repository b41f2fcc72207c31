package wire

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/layering-detection/kubectl-layering/services/events"
	"github.com/layering-detection/kubectl-layering/services/isotime"
)

// AppendEvent appends one event as TransactionEventDTO JSON:
// {"timestamp": isoformat, "account_id", "product_id", "side", "price": decimal
// text, "quantity": integer, "event_type"}.
func AppendEvent(dst []byte, e *events.Event) []byte {
	dst = append(dst, `{"timestamp":"`...)
	dst = e.Time.AppendFormat(dst)
	dst = append(dst, `","account_id":`...)
	dst = AppendString(dst, e.Account)
	dst = append(dst, `,"product_id":`...)
	dst = AppendString(dst, e.Product)
	dst = append(dst, `,"side":"`...)
	dst = append(dst, e.Side.String()...)
	dst = append(dst, `","price":`...)
	dst = AppendString(dst, e.Price)
	dst = append(dst, `,"quantity":`...)
	dst = strconv.AppendInt(dst, e.Quantity, 10)
	dst = append(dst, `,"event_type":"`...)
	dst = append(dst, e.Type.String()...)
	return append(dst, `"}`...)
}

// AppendDetectRequest appends an AlgorithmRequest body for the events at idx
// (all events when idx is nil) and returns it with its event_fingerprint: the
// hex sha256 of the body's "events" array, so equal event lists have equal
// fingerprints and a retry of the same body hits the services' cache.
func AppendDetectRequest(dst []byte, requestID string, evs []events.Event, idx []int32) (body []byte, fingerprint string) {
	n := len(idx)
	if idx == nil {
		n = len(evs)
	}
	if dst == nil { // ~170 bytes per event: grow once, not by doubling
		dst = make([]byte, 0, 256+n*176)
	}
	dst = append(dst, `{"request_id":`...)
	dst = AppendString(dst, requestID)
	dst = append(dst, `,"event_fingerprint":"`...)
	fpAt := len(dst)
	dst = append(dst, make([]byte, 64)...) // filled in below
	dst = append(dst, `","events":`...)
	arrayAt := len(dst)
	dst = append(dst, '[')
	if idx == nil {
		for i := range evs {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendEvent(dst, &evs[i])
		}
	} else {
		for n, i := range idx {
			if n > 0 {
				dst = append(dst, ',')
			}
			dst = AppendEvent(dst, &evs[i])
		}
	}
	dst = append(dst, ']')
	sum := sha256.Sum256(dst[arrayAt:])
	hex.Encode(dst[fpAt:fpAt+64], sum[:])
	return append(dst, '}'), string(dst[fpAt : fpAt+64])
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string (s must be valid UTF-8).
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// DetectRequest is a validated AlgorithmRequest.
type DetectRequest struct {
	RequestID        string
	EventFingerprint string // lower case
	Events           []events.Event
}

// DecodeDetectRequest parses and validates an AlgorithmRequest body with at
// most maxEvents events. Strings of the events point into body, which must
// not change afterwards.
func DecodeDetectRequest(body []byte, maxEvents int) (DetectRequest, error) {
	if !utf8.Valid(body) {
		return DetectRequest{}, invalid("invalid JSON body: not valid UTF-8")
	}
	p := parser{s: unsafe.String(unsafe.SliceData(body), len(body))}
	var req DetectRequest
	var haveID, haveFP, haveEvents bool
	err := p.object(func(key string) error {
		switch key {
		case "request_id":
			v, err := p.stringValue(top("request_id"))
			if err != nil {
				return err
			}
			if !ValidUUID(v) {
				return invalid("request_id: invalid UUID format: %q", v)
			}
			req.RequestID, haveID = strings.Clone(v), true
		case "event_fingerprint":
			v, err := p.stringValue(top("event_fingerprint"))
			if err != nil {
				return err
			}
			if !ValidFingerprint(v) {
				return invalid("event_fingerprint: invalid SHA256 hexdigest format (must be 64 hex characters)")
			}
			req.EventFingerprint, haveFP = strings.ToLower(strings.Clone(v)), true
		case "events":
			evs, err := p.events(maxEvents)
			if err != nil {
				return err
			}
			req.Events, haveEvents = evs, true
		default:
			return p.skip(0)
		}
		return nil
	})
	if err != nil {
		return DetectRequest{}, err
	}
	if err := p.end(); err != nil {
		return DetectRequest{}, err
	}
	switch {
	case !haveID:
		return DetectRequest{}, required("request_id")
	case !haveFP:
		return DetectRequest{}, required("event_fingerprint")
	case !haveEvents:
		return DetectRequest{}, required("events")
	}
	return req, nil
}

type parser struct {
	s string
	i int
}

func (p *parser) ws() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) syntax(what string) error {
	return invalid("invalid JSON body: %s at offset %d", what, p.i)
}

func (p *parser) end() error {
	p.ws()
	if p.i != len(p.s) {
		return p.syntax("unexpected data after the top-level value")
	}
	return nil
}

// object parses an object, calling field for each key with the parser
// positioned at the value.
func (p *parser) object(field func(key string) error) error {
	p.ws()
	if p.i >= len(p.s) || p.s[p.i] != '{' {
		return p.syntax("expected an object")
	}
	p.i++
	p.ws()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return nil
	}
	for {
		p.ws()
		key, err := p.str()
		if err != nil {
			return err
		}
		p.ws()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return p.syntax("expected ':'")
		}
		p.i++
		p.ws()
		if err := field(key); err != nil {
			return err
		}
		p.ws()
		if p.i >= len(p.s) {
			return p.syntax("unterminated object")
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return nil
		default:
			return p.syntax("expected ',' or '}'")
		}
	}
}

// fieldName names a field in error messages, formatted only when needed.
type fieldName struct {
	event int // -1: a top-level field
	field string
}

func (f fieldName) String() string {
	if f.event < 0 {
		return f.field
	}
	return "events[" + strconv.Itoa(f.event) + "]." + f.field
}

func top(field string) fieldName { return fieldName{-1, field} }

func (p *parser) stringValue(name fieldName) (string, error) {
	if p.i >= len(p.s) || p.s[p.i] != '"' {
		return "", invalid("%s: must be a string", name)
	}
	return p.str()
}

// str parses a string; without escapes the result is a sub-string of the input.
func (p *parser) str() (string, error) {
	if p.i >= len(p.s) || p.s[p.i] != '"' {
		return "", p.syntax("expected a string")
	}
	p.i++
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			v := p.s[start:p.i]
			p.i++
			return v, nil
		case c == '\\':
			return p.escapedStr(start)
		case c < 0x20:
			return "", p.syntax("control character in string")
		}
		p.i++
	}
	return "", p.syntax("unterminated string")
}

func (p *parser) escapedStr(start int) (string, error) {
	b := []byte(p.s[start:p.i])
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return string(b), nil
		case c < 0x20:
			return "", p.syntax("control character in string")
		case c != '\\':
			b = append(b, c)
			p.i++
			continue
		}
		if p.i+1 >= len(p.s) {
			break
		}
		e := p.s[p.i+1]
		p.i += 2
		switch e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", p.syntax("invalid \\u escape")
			}
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if p.i+1 < len(p.s) && p.s[p.i] == '\\' && p.s[p.i+1] == 'u' {
					p.i += 2
					var ok2 bool
					if r2, ok2 = p.hex4(); !ok2 {
						return "", p.syntax("invalid \\u escape")
					}
				}
				if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
					r = d
				} else {
					r = utf8.RuneError
				}
			}
			b = utf8.AppendRune(b, r)
		default:
			return "", p.syntax("invalid escape")
		}
	}
	return "", p.syntax("unterminated string")
}

func (p *parser) hex4() (rune, bool) {
	if p.i+4 > len(p.s) {
		return 0, false
	}
	v, err := strconv.ParseUint(p.s[p.i:p.i+4], 16, 16)
	if err != nil {
		return 0, false
	}
	p.i += 4
	return rune(v), true
}

// number parses a JSON number and returns its text.
func (p *parser) number() (string, error) {
	start := p.i
	if p.i < len(p.s) && p.s[p.i] == '-' {
		p.i++
	}
	d := p.digits()
	if d == 0 || (d > 1 && p.s[p.i-d] == '0') {
		return "", p.syntax("invalid number")
	}
	if p.i < len(p.s) && p.s[p.i] == '.' {
		p.i++
		if p.digits() == 0 {
			return "", p.syntax("invalid number")
		}
	}
	if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		p.i++
		if p.i < len(p.s) && (p.s[p.i] == '+' || p.s[p.i] == '-') {
			p.i++
		}
		if p.digits() == 0 {
			return "", p.syntax("invalid number")
		}
	}
	return p.s[start:p.i], nil
}

func (p *parser) digits() int {
	n := 0
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
		n++
	}
	return n
}

// skip validates and skips any value.
func (p *parser) skip(depth int) error {
	if depth > 64 {
		return p.syntax("nesting too deep")
	}
	p.ws()
	if p.i >= len(p.s) {
		return p.syntax("unexpected end of data")
	}
	switch c := p.s[p.i]; {
	case c == '"':
		_, err := p.str()
		return err
	case c == '{':
		return p.object(func(string) error { return p.skip(depth + 1) })
	case c == '[':
		return p.array(func(int) error { return p.skip(depth + 1) })
	case c == '-' || c >= '0' && c <= '9':
		_, err := p.number()
		return err
	default:
		for _, lit := range []string{"true", "false", "null"} {
			if strings.HasPrefix(p.s[p.i:], lit) {
				p.i += len(lit)
				return nil
			}
		}
		return p.syntax("invalid value")
	}
}

func (p *parser) array(elem func(i int) error) error {
	p.ws()
	if p.i >= len(p.s) || p.s[p.i] != '[' {
		return p.syntax("expected an array")
	}
	p.i++
	p.ws()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		return nil
	}
	for n := 0; ; n++ {
		p.ws()
		if err := elem(n); err != nil {
			return err
		}
		p.ws()
		if p.i >= len(p.s) {
			return p.syntax("unterminated array")
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return nil
		default:
			return p.syntax("expected ',' or ']'")
		}
	}
}

func (p *parser) events(maxEvents int) ([]events.Event, error) {
	if p.i >= len(p.s) || p.s[p.i] != '[' {
		return nil, invalid("events: must be an array")
	}
	// Size the slice from a cheap estimate: events are at least ~120 bytes.
	evs := make([]events.Event, 0, min(maxEvents, (len(p.s)-p.i)/120+1))
	err := p.array(func(n int) error {
		if n >= maxEvents {
			return invalid("events: at most %d events per request", maxEvents)
		}
		ev, err := p.event(n)
		if err != nil {
			return err
		}
		evs = append(evs, ev)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(evs) == 0 {
		return nil, invalid("events: at least 1 event required")
	}
	return evs, nil
}

const (
	fTimestamp = 1 << iota
	fAccount
	fProduct
	fSide
	fPrice
	fQuantity
	fType
	fAll = 1<<iota - 1
)

var eventFieldNames = [...]string{"timestamp", "account_id", "product_id", "side", "price", "quantity", "event_type"}

func (p *parser) event(n int) (events.Event, error) {
	var ev events.Event
	seen := 0
	at := func(field string) fieldName { return fieldName{n, field} }
	err := p.object(func(key string) error {
		switch key {
		case "timestamp":
			v, err := p.stringValue(at(key))
			if err != nil {
				return err
			}
			if ev.Time, err = isotime.Parse(v); err != nil {
				return invalid("%s: invalid ISO datetime format: %q", at(key), v)
			}
			seen |= fTimestamp
		case "account_id", "product_id":
			v, err := p.stringValue(at(key))
			if err != nil {
				return err
			}
			if v == "" {
				return invalid("%s: must not be empty", at(key))
			}
			if key == "account_id" {
				ev.Account, seen = v, seen|fAccount
			} else {
				ev.Product, seen = v, seen|fProduct
			}
		case "side":
			v, err := p.stringValue(at(key))
			if err != nil {
				return err
			}
			var ok bool
			if ev.Side, ok = events.ExactSide(v); !ok {
				return invalid("%s: must be BUY or SELL", at(key))
			}
			seen |= fSide
		case "price":
			v, err := p.stringValue(at(key))
			if err != nil {
				return err
			}
			if ok, _ := events.CheckDecimal(v); !ok {
				return invalid("%s: invalid decimal price: %q", at(key), v)
			}
			ev.Price, seen = v, seen|fPrice
		case "quantity":
			q, err := p.quantity(at(key))
			if err != nil {
				return err
			}
			ev.Quantity, seen = q, seen|fQuantity
		case "event_type":
			v, err := p.stringValue(at(key))
			if err != nil {
				return err
			}
			var ok bool
			if ev.Type, ok = events.ExactType(v); !ok {
				return invalid("%s: must be ORDER_PLACED, ORDER_CANCELLED or TRADE_EXECUTED", at(key))
			}
			seen |= fType
		default:
			return p.skip(1)
		}
		return nil
	})
	if err != nil {
		if IsValidation(err) {
			return ev, err
		}
		return ev, invalid("%s", err.Error())
	}
	if seen != fAll {
		for b, name := range eventFieldNames {
			if seen&(1<<b) == 0 {
				return ev, required(at(name).String())
			}
		}
	}
	return ev, nil
}

// quantity accepts an integer, a number with an integral value, or a string
// holding an integer (pydantic's lax int), and requires it to be > 0.
func (p *parser) quantity(at fieldName) (int64, error) {
	if p.i < len(p.s) && p.s[p.i] == '"' {
		v, err := p.str()
		if err != nil {
			return 0, err
		}
		q, err := events.ParseQuantity(v)
		if err != nil {
			return 0, invalid("%s: must be an integer > 0", at)
		}
		return q, nil
	}
	if p.i >= len(p.s) || !(p.s[p.i] == '-' || p.s[p.i] >= '0' && p.s[p.i] <= '9') {
		return 0, invalid("%s: must be an integer > 0", at)
	}
	text, err := p.number()
	if err != nil {
		return 0, err
	}
	q, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(text, 64)
		if ferr != nil || f != float64(int64(f)) || f > 1<<62 {
			return 0, invalid("%s: must be an integer > 0", at)
		}
		q = int64(f)
	}
	if q <= 0 {
		return 0, invalid("%s: must be an integer > 0", at)
	}
	return q, nil
}
