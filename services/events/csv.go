package events

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/layering-detection/kubectl-layering/services/isotime"
)

// Columns are the input CSV's required columns.
var Columns = [7]string{"timestamp", "account_id", "product_id", "side", "price", "quantity", "event_type"}

// MaxFieldBytes is the largest field the reader accepts (Python's csv default
// field_size_limit).
const MaxFieldBytes = 131072

// MaxWarnings bounds the row warnings a Result keeps (all are counted).
const MaxWarnings = 100

// MissingColumnsError is the hard error of a header without a required column.
type MissingColumnsError struct{ Missing []string }

func (e *MissingColumnsError) Error() string {
	q := make([]string, len(e.Missing))
	for i, m := range e.Missing {
		q[i] = "'" + m + "'"
	}
	return "Missing required CSV columns: [" + strings.Join(q, ", ") + "]"
}

// Errors that make the whole file unreadable.
var (
	ErrNotUTF8      = errors.New("input is not valid UTF-8")
	ErrFieldTooLong = fmt.Errorf("field larger than field limit (%d)", MaxFieldBytes)
)

// RowWarning describes a skipped row. Row counts records as the existing
// service does (header = 1, blank lines not counted); Line is the physical
// line the record starts on.
type RowWarning struct {
	Row    int    `json:"row"`
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// Result of reading a CSV.
type Result struct {
	Events   []Event
	Skipped  int          // rows skipped as invalid
	Warnings []RowWarning // the first MaxWarnings skipped rows
}

// ReadCSV parses the whole input. Fields are sub-strings of data (no copies),
// so data must not change afterwards. Records follow Python's csv module
// (excel dialect, non-strict): quoted fields may hold commas, doubled quotes
// and line breaks; records end at \n, \r\n or \r; blank lines are skipped;
// extra fields are ignored; a short row is a bad row. A UTF-8 byte-order mark
// before the header is ignored.
func ReadCSV(data string) (Result, error) {
	if !utf8.ValidString(data) {
		return Result{}, ErrNotUTF8
	}
	data = strings.TrimPrefix(data, "\ufeff")
	r := reader{data: data, line: 1}
	header, err := r.record(nil)
	if err != nil {
		return Result{}, err
	}
	var idx [len(Columns)]int
	var missing []string
	for c, name := range Columns {
		idx[c] = -1
		for i, h := range header { // the last duplicate wins, as in csv.DictReader
			if h == name {
				idx[c] = i
			}
		}
		if idx[c] < 0 {
			missing = append(missing, name)
		}
	}
	if missing != nil {
		return Result{}, &MissingColumnsError{Missing: missing}
	}
	res := Result{Events: make([]Event, 0, strings.Count(data, "\n")+1)}
	fields := make([]string, 0, 16)
	row := 1
	for !r.eof() {
		line := r.line
		fields, err = r.record(fields[:0])
		if err != nil {
			return Result{}, err
		}
		if len(fields) == 0 {
			continue // blank line
		}
		row++
		ev, reason := parseRow(fields, &idx)
		if reason != "" {
			res.Skipped++
			if len(res.Warnings) < MaxWarnings {
				res.Warnings = append(res.Warnings, RowWarning{Row: row, Line: line, Reason: reason})
			}
			continue
		}
		res.Events = append(res.Events, ev)
	}
	return res, nil
}

func parseRow(f []string, idx *[len(Columns)]int) (Event, string) {
	for c, i := range idx {
		if i >= len(f) {
			return Event{}, "missing field " + Columns[c]
		}
	}
	var ev Event
	rawTS := strings.TrimSpace(f[idx[0]])
	t, err := isotime.Parse(rawTS)
	if err != nil {
		return Event{}, "Invalid timestamp format: " + strconv.Quote(f[idx[0]])
	}
	ev.Time = t
	ev.Account = strings.TrimSpace(f[idx[1]])
	ev.Product = strings.TrimSpace(f[idx[2]])
	var ok bool
	if ev.Side, ok = ParseSide(f[idx[3]]); !ok {
		return Event{}, "Invalid side: " + strconv.Quote(f[idx[3]])
	}
	valid, positive := CheckDecimal(f[idx[4]])
	if !valid {
		return Event{}, "Invalid price: " + strconv.Quote(f[idx[4]])
	}
	if !positive {
		return Event{}, "Price must be positive, got " + strconv.Quote(f[idx[4]])
	}
	ev.Price = strings.TrimSpace(f[idx[4]])
	if ev.Quantity, err = ParseQuantity(f[idx[5]]); err != nil {
		return Event{}, "Invalid or non-positive quantity: " + strconv.Quote(f[idx[5]])
	}
	if ev.Type, ok = ParseType(f[idx[6]]); !ok {
		return Event{}, "Invalid event_type: " + strconv.Quote(f[idx[6]])
	}
	if ev.Account == "" {
		return Event{}, "Empty account_id"
	}
	if ev.Product == "" {
		return Event{}, "Empty product_id"
	}
	return ev, ""
}

type reader struct {
	data string
	pos  int
	line int
}

func (r *reader) eof() bool { return r.pos >= len(r.data) }

// record appends the fields of the next record to fields. A blank line gives
// no fields.
func (r *reader) record(fields []string) ([]string, error) {
	rest := r.data[r.pos:]
	end := strings.IndexByte(rest, '\n')
	next := end + 1
	if end < 0 {
		end, next = len(rest), len(rest)
	}
	line := rest[:end]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if strings.IndexByte(line, '"') >= 0 || strings.IndexByte(line, '\r') >= 0 {
		return r.slowRecord(fields)
	}
	r.pos += next
	r.line++
	if line == "" {
		return fields, nil
	}
	for {
		c := strings.IndexByte(line, ',')
		if c < 0 {
			break
		}
		if c > MaxFieldBytes {
			return nil, ErrFieldTooLong
		}
		fields = append(fields, line[:c])
		line = line[c+1:]
	}
	if len(line) > MaxFieldBytes {
		return nil, ErrFieldTooLong
	}
	return append(fields, line), nil
}

// slowRecord is the csv module's state machine, for records with quotes or a
// bare carriage return.
func (r *reader) slowRecord(fields []string) ([]string, error) {
	const (
		startField = iota
		inField
		inQuoted
		quoteInQuoted
	)
	d := r.data
	i := r.pos
	state := startField
	fieldStart := i
	var sb strings.Builder
	quoted := false // the current field is being built in sb
	started := false
	save := func(end int) error {
		var f string
		if quoted {
			f = sb.String()
			sb.Reset()
		} else {
			f = d[fieldStart:end]
		}
		if len(f) > MaxFieldBytes {
			return ErrFieldTooLong
		}
		fields = append(fields, f)
		quoted = false
		return nil
	}
	toBuilder := func(end int) { // switch the current field to the builder
		if !quoted {
			sb.WriteString(d[fieldStart:end])
			quoted = true
		}
	}
	for ; i < len(d); i++ {
		c := d[i]
		if c == '\n' || c == '\r' {
			if state == inQuoted {
				sb.WriteByte(c)
				if c == '\n' {
					r.line++
				}
				continue
			}
			r.line++
			// End of record; \r\n is one terminator.
			if err := r.finish(started, save, i); err != nil {
				return nil, err
			}
			if c == '\r' && i+1 < len(d) && d[i+1] == '\n' {
				i++
			}
			r.pos = i + 1
			return fields, nil
		}
		started = true
		switch state {
		case startField:
			if c == '"' {
				quoted = true
				state = inQuoted
			} else if c == ',' {
				fieldStart = i
				if err := save(i); err != nil {
					return nil, err
				}
				fieldStart = i + 1
			} else {
				fieldStart = i
				state = inField
			}
		case inField:
			if c == ',' {
				if err := save(i); err != nil {
					return nil, err
				}
				fieldStart = i + 1
				state = startField
			} else if quoted {
				sb.WriteByte(c)
			}
		case inQuoted:
			if c == '"' {
				state = quoteInQuoted
			} else {
				sb.WriteByte(c)
			}
		case quoteInQuoted:
			switch c {
			case '"': // doubled quote
				sb.WriteByte('"')
				state = inQuoted
			case ',':
				if err := save(i); err != nil {
					return nil, err
				}
				fieldStart = i + 1
				state = startField
			default: // text after the closing quote is kept (non-strict)
				toBuilder(i)
				sb.WriteByte(c)
				state = inField
			}
		}
		if sb.Len() > MaxFieldBytes {
			return nil, ErrFieldTooLong
		}
	}
	// End of data (an unterminated quoted field ends here, as in non-strict mode).
	r.pos = len(d)
	if err := r.finish(started, save, i); err != nil {
		return nil, err
	}
	return fields, nil
}

func (r *reader) finish(started bool, save func(int) error, end int) error {
	if !started {
		return nil // blank line
	}
	return save(end)
}
