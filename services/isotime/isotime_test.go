package isotime

import (
	"errors"
	"testing"
	"time"
)

// Requirement: timestamps are written like the existing services write them
// (Python isoformat: "2025-10-26T10:21:28+00:00", microseconds only when not
// zero, the offset kept as given, naive values without an offset).
func TestParseAndFormat_RoundTripsLikePythonIsoformat(t *testing.T) {
	cases := []struct{ in, want string }{
		{"2025-10-26T10:21:28Z", "2025-10-26T10:21:28+00:00"},
		{"2025-10-26t10:21:28Z", "2025-10-26T10:21:28+00:00"},
		{"2025-10-26X10:21:28Z", "2025-10-26T10:21:28+00:00"},
		{"2025-10-26T10:21:28+00:00", "2025-10-26T10:21:28+00:00"},
		{"2025-10-26 10:21:28+00:00", "2025-10-26T10:21:28+00:00"},
		{"2025-10-26T10:21:28", "2025-10-26T10:21:28"},
		{"2025-10-26", "2025-10-26T00:00:00"},
		{"2025-10-26T10", "2025-10-26T10:00:00"},
		{"2025-10-26T10:21", "2025-10-26T10:21:00"},
		{"2025-10-26T10:21:28.5Z", "2025-10-26T10:21:28.500000+00:00"},
		{"2025-10-26T10:21:28,25Z", "2025-10-26T10:21:28.250000+00:00"},
		{"2025-10-26T10:21:28.000001Z", "2025-10-26T10:21:28.000001+00:00"},
		{"2025-10-26T10:21:28.1234567Z", "2025-10-26T10:21:28.123456+00:00"}, // truncated, as Python does
		{"2025-10-26T10:21:28.000000Z", "2025-10-26T10:21:28+00:00"},
		{"2025-10-26T10:21:28+02:00", "2025-10-26T10:21:28+02:00"},
		{"2025-10-26T10:21:28-05:30", "2025-10-26T10:21:28-05:30"},
		{"2025-10-26T10:21:28+0530", "2025-10-26T10:21:28+05:30"},
		{"2025-10-26T10:21:28+05", "2025-10-26T10:21:28+05:00"},
		{"2025-10-26T10:21:28+05:30:15", "2025-10-26T10:21:28+05:30:15"},
		{"0001-01-01T00:00:00Z", "0001-01-01T00:00:00+00:00"},
		{"9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999999+00:00"},
		{"2024-02-29T12:00:00Z", "2024-02-29T12:00:00+00:00"},
		{"1969-12-31T23:59:59.5Z", "1969-12-31T23:59:59.500000+00:00"},
	}
	for _, c := range cases {
		got, err := Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		if s := got.String(); s != c.want {
			t.Errorf("Parse(%q).String() = %q, want %q", c.in, s, c.want)
		}
	}
}

// Requirement: comparisons use the instant, whatever offset it was written with.
func TestParse_InstantIsIndependentOfOffset(t *testing.T) {
	a, _ := Parse("2025-10-26T10:21:28Z")
	b, _ := Parse("2025-10-26T12:21:28+02:00")
	c, _ := Parse("2025-10-26T10:21:28")
	if a.Micros != b.Micros || a.Micros != c.Micros {
		t.Fatalf("instants differ: %d %d %d", a.Micros, b.Micros, c.Micros)
	}
	want := time.Date(2025, 10, 26, 10, 21, 28, 0, time.UTC).UnixMicro()
	if a.Micros != want {
		t.Fatalf("micros = %d, want %d", a.Micros, want)
	}
}

// Requirement: fractional-second timestamps keep microsecond precision.
func TestParse_FractionalSecondsHaveMicrosecondPrecision(t *testing.T) {
	a, _ := Parse("2025-10-26T10:21:28.000001Z")
	b, _ := Parse("2025-10-26T10:21:28Z")
	if a.Micros-b.Micros != 1 {
		t.Fatalf("difference = %d µs, want 1", a.Micros-b.Micros)
	}
}

func TestParse_RejectsWhatPythonRejects(t *testing.T) {
	for _, in := range []string{
		"", "2025", "2025-10", "2025-13-01", "2025-02-30", "2023-02-29", "0000-01-01",
		"2025-10-26T", "2025-10-26T24:00:00", "2025-10-26T10:60", "2025-10-26T10:21:60",
		"2025-10-26T10:21:28.", "2025-10-26T10:21:28+24:00", "2025-10-26T10:21:28+5",
		"2025-10-26T10:21:28 ", " 2025-10-26", "2025-10-26110:21:28", "2025-10-26T10:21:28z", "not a date",
		"2025-10-26T10:21:28Zjunk", "9999-12-31T23:59:59-01:00",
	} {
		if _, err := Parse(in); err == nil || !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) = nil error, want ErrSyntax", in)
		}
	}
}

// Every day of a long range converts both ways (the civil-date algorithms).
func TestCivilDaysRoundTrip(t *testing.T) {
	for d := daysFromCivil(1, 1, 1); d <= daysFromCivil(9999, 12, 31); d += 37 {
		y, m, dd := civilFromDays(d)
		if back := daysFromCivil(y, m, dd); back != d {
			t.Fatalf("day %d -> %04d-%02d-%02d -> %d", d, y, m, dd, back)
		}
		want := time.Unix(d*86400, 0).UTC()
		if want.Year() != y || int(want.Month()) != m || want.Day() != dd {
			t.Fatalf("day %d: got %04d-%02d-%02d want %s", d, y, m, dd, want.Format("2006-01-02"))
		}
	}
}
