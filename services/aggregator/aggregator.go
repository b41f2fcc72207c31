// Package aggregator is the aggregator service (port 8003): POST /aggregate
// validates that the expected algorithm services answered, merges their
// detections, and writes OUTPUT_DIR/suspicious_accounts.csv and
// LOGS_DIR/detections.csv.
//
// Validation (VALIDATION_STRICT, default true): every expected service must
// have exactly one result, with final_status true, and no result may come
// from a service that was not expected; otherwise the answer is
// validation_failed and nothing is written. With VALIDATION_STRICT=false those
// problems are logged as warnings: a missing service counts as failed, a
// result not marked final is used as it is, extra and duplicate results are
// ignored (the first one counts).
//
// Partial results (ALLOW_PARTIAL_RESULTS, default false): a service that
// failed (status failure or timeout, or missing) makes the answer
// validation_failed, naming it in failed_services, and nothing is written.
// With ALLOW_PARTIAL_RESULTS=true the successful services' detections are
// written and the failed ones are listed in failed_services; when no service
// succeeded the answer is validation_failed.
//
// Merging keeps detections in the order received and drops only true
// duplicates: same account, product, detection type and window (start and
// end instants). Detections of one account whose windows merely overlap, in
// other products or of the other type, are all kept (the old aggregator
// collapsed them, losing findings).
//
// Writing: account ids are replaced by hex sha256("salt:account_id") in both
// files whenever PSEUDONYMIZATION_SALT is set (non-empty); account and product
// cells starting with = + - @ tab or CR are prefixed with ' (formula
// injection); rows are CSV as Python's csv module writes them (\r\n, minimal
// quoting). Both files are written to temporary files in their directories,
// flushed to disk, then renamed over the old files, so a crash never leaves a
// half-written file; the two renames happen only after both files are
// complete, one aggregation at a time per process.
package aggregator

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/layering-detection/kubectl-layering/services/httpserver"
	"github.com/layering-detection/kubectl-layering/services/isotime"
	"github.com/layering-detection/kubectl-layering/services/wire"
)

// Output file names.
const (
	SuspiciousAccountsFile = "suspicious_accounts.csv"
	DetectionsFile         = "detections.csv"
)

// DefaultMaxBody is the largest /aggregate body accepted.
const DefaultMaxBody = 64 << 20

// Config of the aggregator.
type Config struct {
	OutputDir           string
	LogsDir             string
	ValidationStrict    bool
	AllowPartialResults bool
	Salt                string
	MaxBody             int64
}

// ConfigFromEnv reads OUTPUT_DIR (/app/output), LOGS_DIR (/app/logs),
// VALIDATION_STRICT (true), ALLOW_PARTIAL_RESULTS (false) and
// PSEUDONYMIZATION_SALT (unset or empty: account ids are written as they are).
func ConfigFromEnv(getenv func(string) string) Config {
	return Config{
		OutputDir:           httpserver.EnvString(getenv, "OUTPUT_DIR", "/app/output"),
		LogsDir:             httpserver.EnvString(getenv, "LOGS_DIR", "/app/logs"),
		ValidationStrict:    httpserver.EnvBool(getenv, "VALIDATION_STRICT", true),
		AllowPartialResults: httpserver.EnvBool(getenv, "ALLOW_PARTIAL_RESULTS", false),
		Salt:                getenv("PSEUDONYMIZATION_SALT"),
	}
}

// Register adds POST /aggregate to the server and removes temporary files
// that a crash may have left behind (older than ten minutes).
func Register(s *httpserver.Server, cfg Config) {
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	h := &handler{
		cfg: cfg,
		srv: s,
		written: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "detections_written_total", Help: "Detections written to suspicious_accounts.csv, by detection type.",
		}, []string{"detection_type"}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aggregations_total", Help: "Aggregations by outcome (completed, validation_failed, write_failed).",
		}, []string{"outcome"}),
	}
	s.Registerer().MustRegister(h.written, h.outcomes)
	s.Handle(http.MethodPost, "/aggregate", h.aggregate, httpserver.MaxBody(cfg.MaxBody))
	for _, dir := range []string{cfg.OutputDir, cfg.LogsDir} {
		removeStaleTemps(dir, 10*time.Minute)
	}
	s.SetInfo(func() map[string]any {
		return map[string]any{"output_dir": cfg.OutputDir, "logs_dir": cfg.LogsDir, "validation_strict": cfg.ValidationStrict,
			"allow_partial_results": cfg.AllowPartialResults, "pseudonymization": cfg.Salt != ""}
	})
	s.Logger().Info("aggregator configured", "output_dir", cfg.OutputDir, "logs_dir", cfg.LogsDir,
		"validation_strict", cfg.ValidationStrict, "allow_partial_results", cfg.AllowPartialResults, "pseudonymization", cfg.Salt != "")
}

type handler struct {
	cfg      Config
	srv      *httpserver.Server
	writeMu  sync.Mutex
	written  *prometheus.CounterVec
	outcomes *prometheus.CounterVec
}

func (h *handler) aggregate(w http.ResponseWriter, r *http.Request) {
	log := httpserver.Log(r.Context())
	body, ok := httpserver.ReadBody(w, r)
	if !ok {
		return
	}
	req, err := wire.DecodeAggregateRequest(body)
	if err != nil {
		log.Warn("invalid /aggregate request", "error", err.Error())
		httpserver.WriteError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	log = log.With("pipeline_request_id", req.RequestID)
	log.Info("aggregation request received", "expected_services", req.ExpectedServices, "results", len(req.Results))

	merged, failed, warnings, verr := Evaluate(h.cfg, req)
	for _, msg := range warnings {
		log.Warn("validation warning (VALIDATION_STRICT=false)", "warning", msg)
	}
	if verr != nil {
		log.Warn("validation failed", "error", verr.Error(), "failed_services", failed)
		h.outcomes.WithLabelValues("validation_failed").Inc()
		httpserver.WriteJSON(w, http.StatusOK, wire.AggregateResponse{
			Status: wire.StatusValidationFailed, FailedServices: failed, Error: wire.Ptr(verr.Error()),
		})
		return
	}
	accounts, detections := Render(merged, h.cfg.Salt)
	h.writeMu.Lock()
	err = WriteAtomically([]OutputFile{
		{Dir: h.cfg.OutputDir, Name: SuspiciousAccountsFile, Data: accounts},
		{Dir: h.cfg.LogsDir, Name: DetectionsFile, Data: detections},
	})
	h.writeMu.Unlock()
	if err != nil {
		log.Error("failed to write output files", "error", err.Error(), "output_dir", h.cfg.OutputDir, "logs_dir", h.cfg.LogsDir)
		h.outcomes.WithLabelValues("write_failed").Inc()
		httpserver.WriteJSON(w, http.StatusInternalServerError, wire.AggregateResponse{
			Status: wire.StatusValidationFailed, MergedCount: len(merged), FailedServices: failed,
			Error: wire.Ptr("Failed to write output files"),
		})
		return
	}
	for _, m := range merged {
		h.written.WithLabelValues(m.seq.DetectionType).Inc()
	}
	h.srv.EventsProcessed().Add(float64(len(merged)))
	h.outcomes.WithLabelValues("completed").Inc()
	log.Info("aggregation completed", "merged_count", len(merged), "failed_services", failed)
	httpserver.WriteJSON(w, http.StatusOK, wire.AggregateResponse{
		Status: wire.StatusCompleted, MergedCount: len(merged), FailedServices: failed,
	})
}

// Item is a merged detection with its parsed timestamps.
type Item struct {
	seq        wire.Sequence
	start, end isotime.Time
	orders     []isotime.Time
}

type dedupKey struct {
	account, product, typ string
	start, end            int64
}

func pyList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = "'" + n + "'"
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// Evaluate validates the request under cfg and merges the detections of the
// successful services. failed lists the expected services without a
// successful result, in expected order; warnings are the problems tolerated
// because validation is not strict.
func Evaluate(cfg Config, req wire.AggregateRequest) (merged []Item, failed, warnings []string, err error) {
	expected := map[string]bool{}
	for _, s := range req.ExpectedServices {
		expected[s] = true
	}
	got := map[string]*wire.DetectResponse{}
	var unexpected, duplicate, notFinal []string
	for i := range req.Results {
		res := &req.Results[i]
		switch {
		case !expected[res.ServiceName]:
			unexpected = append(unexpected, res.ServiceName)
			continue
		case got[res.ServiceName] != nil:
			duplicate = append(duplicate, res.ServiceName)
			continue
		}
		got[res.ServiceName] = res
		if !res.FinalStatus {
			notFinal = append(notFinal, res.ServiceName)
		}
	}
	var missing []string
	for _, s := range req.ExpectedServices {
		if got[s] == nil {
			missing = append(missing, s)
		}
	}
	var problems []string
	if missing != nil {
		gotNames := make([]string, 0, len(got))
		for n := range got {
			gotNames = append(gotNames, n)
		}
		sort.Strings(gotNames)
		exp := append([]string(nil), req.ExpectedServices...)
		sort.Strings(exp)
		sort.Strings(missing)
		problems = append(problems, fmt.Sprintf("Missing services: %s. Expected: %s, Got: %s", pyList(missing), pyList(exp), pyList(gotNames)))
	}
	if notFinal != nil {
		sort.Strings(notFinal)
		problems = append(problems, fmt.Sprintf("Services not completed: %s. All services must have final_status=True", pyList(notFinal)))
	}
	if unexpected != nil {
		problems = append(problems, fmt.Sprintf("Unexpected services: %s", pyList(unexpected)))
	}
	if duplicate != nil {
		problems = append(problems, fmt.Sprintf("Duplicate results for services: %s", pyList(duplicate)))
	}
	for _, s := range req.ExpectedServices {
		if res := got[s]; res == nil || res.Status != wire.StatusSuccess {
			failed = append(failed, s)
		}
	}
	if failed == nil {
		failed = []string{}
	}
	if problems != nil {
		if cfg.ValidationStrict {
			return nil, failed, nil, fmt.Errorf("%s", strings.Join(problems, "; "))
		}
		warnings = problems
	}
	if len(failed) > 0 && !cfg.AllowPartialResults {
		return nil, failed, warnings, fmt.Errorf("Services failed: %s; partial results are not allowed (ALLOW_PARTIAL_RESULTS=false)", pyList(failed))
	}
	if len(failed) == len(req.ExpectedServices) {
		return nil, failed, warnings, fmt.Errorf("No successful service results to aggregate; failed services: %s", pyList(failed))
	}
	seen := map[dedupKey]bool{}
	for i := range req.Results {
		res := &req.Results[i]
		if got[res.ServiceName] != res || res.Status != wire.StatusSuccess {
			continue
		}
		for _, seq := range res.Results {
			it := Item{seq: seq}
			it.start, _ = isotime.Parse(seq.StartTimestamp) // validated by wire
			it.end, _ = isotime.Parse(seq.EndTimestamp)
			for _, ts := range seq.OrderTimestamps {
				t, _ := isotime.Parse(ts)
				it.orders = append(it.orders, t)
			}
			k := dedupKey{seq.AccountID, seq.ProductID, seq.DetectionType, it.start.Micros, it.end.Micros}
			if seen[k] {
				continue
			}
			seen[k] = true
			merged = append(merged, it)
		}
	}
	return merged, failed, warnings, nil
}

// Pseudonymize returns hex sha256("salt:account_id").
func Pseudonymize(salt, account string) string {
	sum := sha256.Sum256([]byte(salt + ":" + account))
	return hex.EncodeToString(sum[:])
}

// EscapeFormula prefixes ' to a cell that a spreadsheet would read as a formula.
func EscapeFormula(s string) string {
	if s != "" && strings.IndexByte("=+-@\t\r", s[0]) >= 0 {
		return "'" + s
	}
	return s
}

// appendCell appends a CSV cell as Python's csv module (QUOTE_MINIMAL) does.
func appendCell(b []byte, s string) []byte {
	if !strings.ContainsAny(s, ",\"\r\n") {
		return append(b, s...)
	}
	b = append(b, '"')
	b = append(b, strings.ReplaceAll(s, `"`, `""`)...)
	return append(b, '"')
}

func appendRow(b []byte, cells ...string) []byte {
	for i, c := range cells {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendCell(b, c)
	}
	return append(b, '\r', '\n')
}

// Render returns the contents of suspicious_accounts.csv and detections.csv.
func Render(items []Item, salt string) (accounts, detections []byte) {
	accounts = appendRow(nil, "account_id", "product_id", "total_buy_qty", "total_sell_qty", "num_cancelled_orders",
		"detected_timestamp", "detection_type", "alternation_percentage", "price_change_percentage")
	detections = appendRow(nil, "account_id", "product_id", "order_timestamps", "duration_seconds")
	pct := func(p *float64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatFloat(*p, 'f', 2, 64)
	}
	for _, it := range items {
		s := &it.seq
		account := s.AccountID
		if salt != "" {
			account = Pseudonymize(salt, account)
		}
		account, product := EscapeFormula(account), EscapeFormula(s.ProductID)
		var cancelled int64
		if s.NumCancelledOrders != nil {
			cancelled = *s.NumCancelledOrders
		}
		accounts = appendRow(accounts, account, product,
			strconv.FormatInt(s.TotalBuyQty, 10), strconv.FormatInt(s.TotalSellQty, 10), strconv.FormatInt(cancelled, 10),
			it.end.String(), s.DetectionType, pct(s.AlternationPercentage), pct(s.PriceChangePercentage))
		var orders []byte
		for i, t := range it.orders {
			if i > 0 {
				orders = append(orders, ';')
			}
			orders = t.AppendFormat(orders)
		}
		duration := float64(it.end.Micros-it.start.Micros) / 1e6
		detections = appendRow(detections, account, product, string(orders), strconv.FormatFloat(duration, 'f', 3, 64))
	}
	return accounts, detections
}

// OutputFile is one file to write.
type OutputFile struct {
	Dir, Name string
	Data      []byte
}

func tempPattern(name string) string { return "." + name + ".*.tmp" }

// WriteAtomically writes every file to a temporary file in its directory,
// syncs it, and only when all are complete renames them over their targets
// and syncs the directories. On failure the temporary files are removed; a
// target is never left half-written.
func WriteAtomically(files []OutputFile) (err error) {
	temps := make([]string, 0, len(files))
	defer func() {
		if err != nil {
			for _, t := range temps {
				_ = os.Remove(t)
			}
		}
	}()
	for _, f := range files {
		if err := os.MkdirAll(f.Dir, 0o755); err != nil {
			return err
		}
		tmp, err := os.CreateTemp(f.Dir, tempPattern(f.Name))
		if err != nil {
			return err
		}
		temps = append(temps, tmp.Name())
		if _, err := tmp.Write(f.Data); err != nil {
			tmp.Close()
			return err
		}
		if err := tmp.Chmod(0o644); err != nil {
			tmp.Close()
			return err
		}
		if err := tmp.Sync(); err != nil {
			tmp.Close()
			return err
		}
		if err := tmp.Close(); err != nil {
			return err
		}
	}
	for i, f := range files {
		if err := os.Rename(temps[i], filepath.Join(f.Dir, f.Name)); err != nil {
			return err
		}
		temps[i] = "" // renamed: nothing to clean up
	}
	for _, f := range files {
		if d, err := os.Open(f.Dir); err == nil {
			_ = d.Sync() // durability of the renames; not all file systems support it
			d.Close()
		}
	}
	return nil
}

// removeStaleTemps deletes temporary output files older than age (left by a
// crash); younger ones may belong to another replica writing right now.
func removeStaleTemps(dir string, age time.Duration) {
	for _, name := range []string{SuspiciousAccountsFile, DetectionsFile} {
		matches, _ := filepath.Glob(filepath.Join(dir, tempPattern(name)))
		for _, m := range matches {
			if fi, err := os.Stat(m); err == nil && time.Since(fi.ModTime()) > age {
				_ = os.Remove(m)
			}
		}
	}
}
