package events

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

const header = "timestamp,account_id,product_id,side,price,quantity,event_type\n"

// Requirement: the shared input file reads into its 18 events, in file order.
func TestReadCSV_TransactionsFile(t *testing.T) {
	data, err := os.ReadFile("../testdata/transactions.csv")
	if err != nil {
		t.Fatal(err)
	}
	res, err := ReadCSV(string(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Events) != 18 || res.Skipped != 0 {
		t.Fatalf("events=%d skipped=%d, want 18 and 0", len(res.Events), res.Skipped)
	}
	first, last := res.Events[0], res.Events[17]
	if first.Time.String() != "2025-10-26T10:21:20+00:00" || first.Account != "ACC001" || first.Product != "IBM" ||
		first.Side != Buy || first.Price != "141.20" || first.Quantity != 5000 || first.Type != OrderPlaced {
		t.Fatalf("first event = %+v", first)
	}
	if last.Account != "ACC050" || last.Type != OrderCancelled || last.Side != Buy { // no trailing newline in the file
		t.Fatalf("last event = %+v", last)
	}
}

// Requirement: a missing column is a hard error naming the column.
func TestReadCSV_MissingColumnIsAnError(t *testing.T) {
	_, err := ReadCSV("timestamp,account_id,product_id,side,quantity,event_type\n2025-10-26T10:21:20Z,A,P,BUY,1,ORDER_PLACED\n")
	var mc *MissingColumnsError
	if !errors.As(err, &mc) || !reflect.DeepEqual(mc.Missing, []string{"price"}) {
		t.Fatalf("err = %v, want missing [price]", err)
	}
	if err.Error() != "Missing required CSV columns: ['price']" {
		t.Fatalf("message = %q", err.Error())
	}
	for _, in := range []string{"", "\n" + header, "Timestamp,account_id,product_id,side,price,quantity,event_type\n"} {
		if _, err := ReadCSV(in); !errors.As(err, &mc) {
			t.Errorf("ReadCSV(%q) err = %v, want MissingColumnsError", in, err)
		}
	}
}

// Requirement: a bad row is skipped with a warning; the good rows are kept.
func TestReadCSV_BadRowsAreSkippedWithWarnings(t *testing.T) {
	rows := []string{
		"2025-10-26T10:21:20Z,ACC1,IBM,BUY,141.20,5000,ORDER_PLACED",                  // good
		"not-a-time,ACC1,IBM,BUY,141.20,5000,ORDER_PLACED",                            // bad timestamp
		"2025-10-26T10:21:20Z,ACC1,IBM,HOLD,141.20,5000,ORDER_PLACED",                 // bad side
		"2025-10-26T10:21:20Z,ACC1,IBM,BUY,0,5000,ORDER_PLACED",                       // price not > 0
		"2025-10-26T10:21:20Z,ACC1,IBM,BUY,-1.5,5000,ORDER_PLACED",                    // negative price
		"2025-10-26T10:21:20Z,ACC1,IBM,BUY,abc,5000,ORDER_PLACED",                     // not a number
		"2025-10-26T10:21:20Z,ACC1,IBM,BUY,NaN,5000,ORDER_PLACED",                     // not finite
		"2025-10-26T10:21:20Z,ACC1,IBM,BUY,141.20,0,ORDER_PLACED",                     // quantity not > 0
		"2025-10-26T10:21:20Z,ACC1,IBM,BUY,141.20,1.5,ORDER_PLACED",                   // quantity not an integer
		"2025-10-26T10:21:20Z,ACC1,IBM,BUY,141.20,5000,ORDER_MODIFIED",                // bad type
		"2025-10-26T10:21:20Z, ,IBM,BUY,141.20,5000,ORDER_PLACED",                     // empty account
		"2025-10-26T10:21:20Z,ACC1,,BUY,141.20,5000,ORDER_PLACED",                     // empty product
		"2025-10-26T10:21:20Z,ACC1,IBM,BUY",                                           // short row
		"  ",                                                                          // whitespace only: a short row
		" 2025-10-26T10:21:21Z , ACC2 , MSFT , sell , 1e2 , +1_000 , trade_executed ", // good, lenient like the old reader
	}
	res, err := ReadCSV(header + strings.Join(rows, "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Events) != 2 || res.Skipped != 13 || len(res.Warnings) != 13 {
		t.Fatalf("events=%d skipped=%d warnings=%d", len(res.Events), res.Skipped, len(res.Warnings))
	}
	if w := res.Warnings[0]; w.Row != 3 || w.Line != 3 || !strings.Contains(w.Reason, "timestamp") {
		t.Fatalf("first warning = %+v", w)
	}
	ev := res.Events[1]
	if ev.Account != "ACC2" || ev.Product != "MSFT" || ev.Side != Sell || ev.Price != "1e2" || ev.Quantity != 1000 || ev.Type != TradeExecuted {
		t.Fatalf("lenient row = %+v", ev)
	}
}

// Requirement: records follow Python's csv module (quotes, doubled quotes,
// line breaks in quotes, \r and \r\n terminators, blank lines, extra fields).
func TestReadCSV_CSVDialectLikePython(t *testing.T) {
	in := "account_id,timestamp,product_id,side,price,quantity,event_type,extra\r\n" +
		"\"A,1\",2025-10-26T10:00:00Z,P,BUY,1,1,ORDER_PLACED,x\r\n" +
		"\r\n" +
		"\"q\"\"q\"z,2025-10-26T10:00:01Z,P,BUY,1,1,ORDER_PLACED\r" +
		"\"multi\nline\",2025-10-26T10:00:02Z,P,BUY,1,1,ORDER_PLACED\n" +
		"\n" +
		"plain,2025-10-26T10:00:03Z,\"P\",BUY,1,1,ORDER_PLACED,extra,more\n" +
		"\"unterminated,2025-10-26T10:00:04Z,P,BUY,1,1,ORDER_PLACED"
	res, err := ReadCSV(in)
	if err != nil {
		t.Fatal(err)
	}
	var accounts []string
	for _, e := range res.Events {
		accounts = append(accounts, e.Account)
	}
	want := []string{"A,1", "q\"qz", "multi\nline", "plain"}
	if !reflect.DeepEqual(accounts, want) {
		t.Fatalf("accounts = %q, want %q", accounts, want)
	}
	// The unterminated quoted field swallows the rest of the data: one short row.
	if res.Skipped != 1 {
		t.Fatalf("skipped = %d, want 1", res.Skipped)
	}
}

func TestReadCSV_ByteOrderMarkAndInvalidUTF8(t *testing.T) {
	res, err := ReadCSV("\ufeff" + header + "2025-10-26T10:21:20Z,A,P,BUY,1,1,ORDER_PLACED\n")
	if err != nil || len(res.Events) != 1 {
		t.Fatalf("BOM: events=%d err=%v", len(res.Events), err)
	}
	if _, err := ReadCSV(header + "2025-10-26T10:21:20Z,A\xff,P,BUY,1,1,ORDER_PLACED\n"); !errors.Is(err, ErrNotUTF8) {
		t.Fatalf("invalid UTF-8: err = %v", err)
	}
}

func TestReadCSV_FieldTooLong(t *testing.T) {
	long := strings.Repeat("x", MaxFieldBytes+1)
	for _, in := range []string{
		header + "2025-10-26T10:21:20Z," + long + ",P,BUY,1,1,ORDER_PLACED\n",
		header + "2025-10-26T10:21:20Z,\"" + long + "\",P,BUY,1,1,ORDER_PLACED\n",
	} {
		if _, err := ReadCSV(in); !errors.Is(err, ErrFieldTooLong) {
			t.Errorf("err = %v, want ErrFieldTooLong", err)
		}
	}
}

func TestParseQuantityAndDecimal(t *testing.T) {
	for in, want := range map[string]int64{"1": 1, " 10 ": 10, "+7": 7, "1_000": 1000, "9223372036854775807": 1<<63 - 1} {
		if got, err := ParseQuantity(in); err != nil || got != want {
			t.Errorf("ParseQuantity(%q) = %d, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "0", "-1", "1.0", "1__0", "_1", "1_", "9223372036854775808", "1e3", "x"} {
		if _, err := ParseQuantity(in); err == nil {
			t.Errorf("ParseQuantity(%q) accepted", in)
		}
	}
	for in, pos := range map[string]bool{"1": true, ".5": true, "5.": true, "1e5": true, "1E-2": true, "+3": true, "0": false, "0.00": false, "-0": false, "-2": false} {
		v, p := CheckDecimal(in)
		if !v || p != pos {
			t.Errorf("CheckDecimal(%q) = %v,%v want true,%v", in, v, p, pos)
		}
	}
	for _, in := range []string{"", ".", "e5", "1e", "0x10", "NaN", "Infinity", "1_0", "1.2.3", "--1"} {
		if v, _ := CheckDecimal(in); v {
			t.Errorf("CheckDecimal(%q) valid", in)
		}
	}
}
