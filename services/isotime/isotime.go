// Package isotime parses and formats ISO-8601 timestamps exactly the way the
// existing Python services do (datetime.fromisoformat / datetime.isoformat), so
// that the Go services write byte-identical files: "2025-10-26T10:21:28+00:00",
// ".ffffff" only when the microseconds are not zero, the offset kept as given.
//
// A Time is an instant with microsecond resolution (Python's resolution) plus
// the UTC offset it was written with. Comparisons and arithmetic use the
// instant; formatting uses the offset.
package isotime

import (
	"errors"
	"math"
	"strconv"
	"unicode/utf8"
)

// Naive marks a timestamp written without an offset. Python keeps such values
// naive and formats them without an offset; they are compared as UTC here.
const Naive int32 = math.MinInt32

// Microsecond multiples, for readability of rule windows.
const (
	Microsecond int64 = 1
	Millisecond       = 1000 * Microsecond
	Second            = 1000 * Millisecond
	Minute            = 60 * Second
	Hour              = 60 * Minute
	Day               = 24 * Hour
)

// Time is an instant (microseconds since the Unix epoch, UTC) and the offset,
// in seconds east of UTC, it was written with (or Naive).
type Time struct {
	Micros int64
	Offset int32
}

// UTC returns the instant written with a +00:00 offset.
func UTC(micros int64) Time { return Time{Micros: micros, Offset: 0} }

// ErrSyntax is wrapped by every parse error.
var ErrSyntax = errors.New("invalid ISO-8601 timestamp")

type parseError struct{ s string }

func (e *parseError) Error() string { return "invalid ISO-8601 timestamp: " + strconv.Quote(e.s) }
func (e *parseError) Unwrap() error { return ErrSyntax }

// Parse accepts the forms datetime.fromisoformat accepts for calendar dates:
//
//	YYYY-MM-DD
//	YYYY-MM-DD<any one character but a digit, usually T>HH[:MM[:SS[(.|,)fraction]]][offset]
//	offset = Z | ±HH | ±HHMM | ±HH:MM | ±HH:MM:SS
//
// Fractions may have any number of digits; digits past the sixth are
// truncated, as Python does. Week dates, ordinal dates and the basic (no
// separator) date format are not accepted.
func Parse(s string) (Time, error) {
	if len(s) < 10 {
		return Time{}, &parseError{s}
	}
	year, ok1 := digits(s, 0, 4)
	month, ok2 := digits(s, 5, 2)
	day, ok3 := digits(s, 8, 2)
	if !ok1 || !ok2 || !ok3 || s[4] != '-' || s[7] != '-' || year < 1 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month) {
		return Time{}, &parseError{s}
	}
	var hour, minute, sec, micro int
	offset := Naive
	i := 10
	if i < len(s) {
		// Like Python, any single character (but a digit) separates date and time.
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || (r >= '0' && r <= '9') {
			return Time{}, &parseError{s}
		}
		i += size
		var ok bool
		if hour, ok = digits(s, i, 2); !ok || hour > 23 {
			return Time{}, &parseError{s}
		}
		i += 2
		if i < len(s) && s[i] == ':' {
			if minute, ok = digits(s, i+1, 2); !ok || minute > 59 {
				return Time{}, &parseError{s}
			}
			i += 3
			if i < len(s) && s[i] == ':' {
				if sec, ok = digits(s, i+1, 2); !ok || sec > 59 {
					return Time{}, &parseError{s}
				}
				i += 3
				if i < len(s) && (s[i] == '.' || s[i] == ',') {
					i++
					start := i
					scale := 100000
					for i < len(s) && s[i] >= '0' && s[i] <= '9' {
						micro += int(s[i]-'0') * scale
						scale /= 10
						i++
					}
					if i == start {
						return Time{}, &parseError{s}
					}
				}
			}
		}
		if i < len(s) {
			off, ok := parseOffset(s[i:])
			if !ok {
				return Time{}, &parseError{s}
			}
			offset = off
		}
	}
	days := daysFromCivil(year, month, day)
	wall := ((days*24+int64(hour))*60+int64(minute))*60 + int64(sec)
	utc := wall
	if offset != Naive {
		utc -= int64(offset)
	}
	// Python's datetime only spans years 1..9999; an offset cannot push the
	// instant outside that range either.
	if utc < minUnixSeconds || utc > maxUnixSeconds {
		return Time{}, &parseError{s}
	}
	return Time{Micros: utc*Second + int64(micro), Offset: offset}, nil
}

// parseOffset parses Z, ±HH, ±HHMM, ±HH:MM or ±HH:MM:SS, strictly below 24 h.
func parseOffset(s string) (int32, bool) {
	if s == "Z" {
		return 0, true
	}
	if len(s) < 3 || (s[0] != '+' && s[0] != '-') {
		return 0, false
	}
	hh, ok := digits(s, 1, 2)
	if !ok {
		return 0, false
	}
	var mm, ss int
	switch rest := s[3:]; {
	case rest == "":
	case len(rest) == 2:
		if mm, ok = digits(rest, 0, 2); !ok {
			return 0, false
		}
	case len(rest) == 3 && rest[0] == ':':
		if mm, ok = digits(rest, 1, 2); !ok {
			return 0, false
		}
	case len(rest) == 6 && rest[0] == ':' && rest[3] == ':':
		if mm, ok = digits(rest, 1, 2); !ok {
			return 0, false
		}
		if ss, ok = digits(rest, 4, 2); !ok {
			return 0, false
		}
	default:
		return 0, false
	}
	if mm > 59 || ss > 59 {
		return 0, false
	}
	total := int32(hh*3600 + mm*60 + ss)
	if total >= 24*3600 {
		return 0, false
	}
	if s[0] == '-' {
		total = -total
	}
	return total, true
}

func digits(s string, at, n int) (int, bool) {
	if at+n > len(s) {
		return 0, false
	}
	v := 0
	for k := at; k < at+n; k++ {
		c := s[k]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysIn(y, m int) int {
	switch m {
	case 2:
		if isLeap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian date
// (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400 // y >= 0 here (years 1..9999)
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// civilFromDays is the inverse of daysFromCivil.
func civilFromDays(z int64) (y, m, d int) {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	yy := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	if mp < 10 {
		m = int(mp + 3)
	} else {
		m = int(mp - 9)
	}
	if m <= 2 {
		yy++
	}
	return int(yy), m, d
}

var (
	minUnixSeconds = daysFromCivil(1, 1, 1) * 86400
	maxUnixSeconds = daysFromCivil(9999, 12, 31)*86400 + 86399
)

// AppendFormat appends the timestamp as Python's datetime.isoformat() writes it.
func (t Time) AppendFormat(b []byte) []byte {
	secs := floorDiv(t.Micros, Second)
	micro := int(t.Micros - secs*Second)
	if t.Offset != Naive {
		secs += int64(t.Offset)
	}
	days := floorDiv(secs, 86400)
	sod := int(secs - days*86400)
	y, m, d := civilFromDays(days)
	b = append4(b, y)
	b = append(b, '-')
	b = append2(b, m)
	b = append(b, '-')
	b = append2(b, d)
	b = append(b, 'T')
	b = append2(b, sod/3600)
	b = append(b, ':')
	b = append2(b, sod/60%60)
	b = append(b, ':')
	b = append2(b, sod%60)
	if micro != 0 {
		b = append(b, '.')
		b = append2(b, micro/10000)
		b = append2(b, micro/100%100)
		b = append2(b, micro%100)
	}
	if t.Offset != Naive {
		off := int(t.Offset)
		if off < 0 {
			b = append(b, '-')
			off = -off
		} else {
			b = append(b, '+')
		}
		b = append2(b, off/3600)
		b = append(b, ':')
		b = append2(b, off/60%60)
		if off%60 != 0 {
			b = append(b, ':')
			b = append2(b, off%60)
		}
	}
	return b
}

// String returns the isoformat text.
func (t Time) String() string { return string(t.AppendFormat(make([]byte, 0, 32))) }

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func append2(b []byte, v int) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }

func append4(b []byte, v int) []byte {
	return append(b, byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
}
