// Package wire is the JSON contract between the four services (the existing
// services' pydantic models): request and response bodies, their validation,
// and a fast codec for the event arrays of /detect, which carry up to 100,000
// events per request.
package wire

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/layering-detection/kubectl-layering/services/detect"
	"github.com/layering-detection/kubectl-layering/services/isotime"
)

// Service names in request and response bodies.
const (
	ServiceLayering    = "layering"
	ServiceWashTrading = "wash_trading"
)

// ExpectedServices are the algorithm services, in the order the orchestrator
// sends their results to the aggregator.
var ExpectedServices = []string{ServiceLayering, ServiceWashTrading}

// Statuses.
const (
	StatusSuccess          = "success"
	StatusFailure          = "failure"
	StatusTimeout          = "timeout"
	StatusCompleted        = "completed"
	StatusValidationFailed = "validation_failed"
	StatusFailed           = "failed" // orchestrator pipeline failure
)

// MaxEventsPerRequest is the most events one /detect request may carry.
const MaxEventsPerRequest = 100000

// ValidationError is a request body that does not match the contract (HTTP 422).
type ValidationError struct{ Msg string }

func (e *ValidationError) Error() string { return e.Msg }

func invalid(format string, a ...any) error { return &ValidationError{Msg: fmt.Sprintf(format, a...)} }

// IsValidation reports whether err is a ValidationError.
func IsValidation(err error) bool {
	var v *ValidationError
	return errors.As(err, &v)
}

// Sequence is SuspiciousSequenceDTO. Fields that do not apply to a detection
// type are null.
type Sequence struct {
	AccountID             string   `json:"account_id"`
	ProductID             string   `json:"product_id"`
	StartTimestamp        string   `json:"start_timestamp"`
	EndTimestamp          string   `json:"end_timestamp"`
	TotalBuyQty           int64    `json:"total_buy_qty"`
	TotalSellQty          int64    `json:"total_sell_qty"`
	DetectionType         string   `json:"detection_type"`
	Side                  *string  `json:"side"`
	NumCancelledOrders    *int64   `json:"num_cancelled_orders"`
	OrderTimestamps       []string `json:"order_timestamps"`
	AlternationPercentage *float64 `json:"alternation_percentage"`
	PriceChangePercentage *float64 `json:"price_change_percentage"`
}

// FromDetection converts a detection. Strings are copied, so the result does
// not keep the request body they were cut from alive.
func FromDetection(s *detect.Sequence) Sequence {
	out := Sequence{
		AccountID:      strings.Clone(s.Account),
		ProductID:      strings.Clone(s.Product),
		StartTimestamp: s.Start.String(),
		EndTimestamp:   s.End.String(),
		TotalBuyQty:    s.TotalBuyQty,
		TotalSellQty:   s.TotalSellQty,
		DetectionType:  s.Type.String(),
	}
	switch s.Type {
	case detect.Layering:
		side := s.Side.String()
		n := s.NumCancelled
		out.Side, out.NumCancelledOrders = &side, &n
		out.OrderTimestamps = make([]string, len(s.OrderTimes))
		for i, t := range s.OrderTimes {
			out.OrderTimestamps[i] = t.String()
		}
	case detect.WashTrading:
		a := s.Alternation
		out.AlternationPercentage = &a
		if s.HasPriceChange {
			p := s.PriceChange
			out.PriceChangePercentage = &p
		}
	}
	return out
}

// DetectResponse is AlgorithmResponse.
type DetectResponse struct {
	RequestID   string     `json:"request_id"`
	ServiceName string     `json:"service_name"`
	Status      string     `json:"status"`
	Results     []Sequence `json:"results"` // null unless status is success
	Error       *string    `json:"error"`   // null when status is success
	FinalStatus bool       `json:"final_status"`
}

// AggregateRequest is the body of POST /aggregate.
type AggregateRequest struct {
	RequestID        string           `json:"request_id"`
	ExpectedServices []string         `json:"expected_services"`
	Results          []DetectResponse `json:"results"`
}

// AggregateResponse is the answer of POST /aggregate.
type AggregateResponse struct {
	Status         string   `json:"status"`
	MergedCount    int      `json:"merged_count"`
	FailedServices []string `json:"failed_services"`
	Error          *string  `json:"error"`
}

// OrchestrateRequest is the body of POST /orchestrate.
type OrchestrateRequest struct {
	InputFile string `json:"input_file"`
}

// OrchestrateResponse is the answer of POST /orchestrate, success or not.
// Detail repeats Error on failures, where the existing service answered
// FastAPI's {"detail": …}.
type OrchestrateResponse struct {
	RequestID       string   `json:"request_id"`
	Status          string   `json:"status"`
	EventCount      int      `json:"event_count"`
	AggregatedCount int      `json:"aggregated_count"`
	FailedServices  []string `json:"failed_services"`
	Error           *string  `json:"error"`
	Detail          string   `json:"detail,omitempty"`
}

// ErrorBody is FastAPI's error shape, used for 401, 404, 405, 413, 422, 429.
type ErrorBody struct {
	Detail string `json:"detail"`
}

// Ptr returns a pointer to s.
func Ptr(s string) *string { return &s }

// NewUUID returns a random (version 4) UUID.
func NewUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// ValidUUID reports whether s is a UUID in a form Python's uuid.UUID accepts:
// 32 hex digits, hyphens anywhere, optional braces and urn:uuid: prefix.
func ValidUUID(s string) bool {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "urn:"), "uuid:")
	s = strings.Trim(s, "{}")
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '-':
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
			n++
		default:
			return false
		}
	}
	return n == 32
}

// ValidFingerprint reports whether s is 64 hex digits (any case).
func ValidFingerprint(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// ParseTimestamp parses a contract timestamp.
func ParseTimestamp(s string) (isotime.Time, error) { return isotime.Parse(s) }

// --- decoding with the pydantic models' validation ---

type rawSequence struct {
	AccountID             *string   `json:"account_id"`
	ProductID             *string   `json:"product_id"`
	StartTimestamp        *string   `json:"start_timestamp"`
	EndTimestamp          *string   `json:"end_timestamp"`
	TotalBuyQty           *int64    `json:"total_buy_qty"`
	TotalSellQty          *int64    `json:"total_sell_qty"`
	DetectionType         *string   `json:"detection_type"`
	Side                  *string   `json:"side"`
	NumCancelledOrders    *int64    `json:"num_cancelled_orders"`
	OrderTimestamps       *[]string `json:"order_timestamps"`
	AlternationPercentage *float64  `json:"alternation_percentage"`
	PriceChangePercentage *float64  `json:"price_change_percentage"`
}

type rawDetectResponse struct {
	RequestID   *string        `json:"request_id"`
	ServiceName *string        `json:"service_name"`
	Status      *string        `json:"status"`
	Results     *[]rawSequence `json:"results"`
	Error       *string        `json:"error"`
	FinalStatus *bool          `json:"final_status"`
}

type rawAggregateRequest struct {
	RequestID        *string              `json:"request_id"`
	ExpectedServices *[]string            `json:"expected_services"`
	Results          *[]rawDetectResponse `json:"results"`
}

func required(name string) error { return invalid("%s: field required", name) }

func (r *rawSequence) validate(at string) (Sequence, error) {
	var s Sequence
	switch {
	case r.AccountID == nil:
		return s, required(at + ".account_id")
	case r.ProductID == nil:
		return s, required(at + ".product_id")
	case r.StartTimestamp == nil:
		return s, required(at + ".start_timestamp")
	case r.EndTimestamp == nil:
		return s, required(at + ".end_timestamp")
	case r.TotalBuyQty == nil:
		return s, required(at + ".total_buy_qty")
	case r.TotalSellQty == nil:
		return s, required(at + ".total_sell_qty")
	}
	if *r.AccountID == "" || *r.ProductID == "" {
		return s, invalid("%s: account_id and product_id must not be empty", at)
	}
	for _, ts := range []string{*r.StartTimestamp, *r.EndTimestamp} {
		if _, err := isotime.Parse(ts); err != nil {
			return s, invalid("%s: %v", at, err)
		}
	}
	if *r.TotalBuyQty < 0 || *r.TotalSellQty < 0 {
		return s, invalid("%s: quantities must be >= 0", at)
	}
	s = Sequence{
		AccountID: *r.AccountID, ProductID: *r.ProductID,
		StartTimestamp: *r.StartTimestamp, EndTimestamp: *r.EndTimestamp,
		TotalBuyQty: *r.TotalBuyQty, TotalSellQty: *r.TotalSellQty,
		DetectionType:         detect.Layering.String(), // the model's default
		Side:                  r.Side,
		NumCancelledOrders:    r.NumCancelledOrders,
		AlternationPercentage: r.AlternationPercentage,
		PriceChangePercentage: r.PriceChangePercentage,
	}
	if r.DetectionType != nil {
		if *r.DetectionType != detect.Layering.String() && *r.DetectionType != detect.WashTrading.String() {
			return s, invalid("%s.detection_type: must be LAYERING or WASH_TRADING", at)
		}
		s.DetectionType = *r.DetectionType
	}
	if r.Side != nil && *r.Side != "BUY" && *r.Side != "SELL" {
		return s, invalid("%s.side: must be BUY, SELL or null", at)
	}
	if r.NumCancelledOrders != nil && *r.NumCancelledOrders < 0 {
		return s, invalid("%s.num_cancelled_orders: must be >= 0", at)
	}
	if a := r.AlternationPercentage; a != nil && (*a < 0 || *a > 100) {
		return s, invalid("%s.alternation_percentage: must be within 0..100", at)
	}
	if r.OrderTimestamps != nil {
		s.OrderTimestamps = *r.OrderTimestamps
		if s.OrderTimestamps == nil {
			s.OrderTimestamps = []string{}
		}
		for _, ts := range s.OrderTimestamps {
			if _, err := isotime.Parse(ts); err != nil {
				return s, invalid("%s.order_timestamps: %v", at, err)
			}
		}
	}
	return s, nil
}

func (r *rawDetectResponse) validate(at string) (DetectResponse, error) {
	var d DetectResponse
	switch {
	case r.RequestID == nil:
		return d, required(at + ".request_id")
	case r.ServiceName == nil:
		return d, required(at + ".service_name")
	case r.Status == nil:
		return d, required(at + ".status")
	}
	if !ValidUUID(*r.RequestID) {
		return d, invalid("%s.request_id: invalid UUID format: %q", at, *r.RequestID)
	}
	if *r.ServiceName != ServiceLayering && *r.ServiceName != ServiceWashTrading {
		return d, invalid("%s.service_name: invalid service_name %q (must be 'layering' or 'wash_trading')", at, *r.ServiceName)
	}
	d = DetectResponse{RequestID: *r.RequestID, ServiceName: *r.ServiceName, Status: *r.Status, Error: r.Error, FinalStatus: true}
	if r.FinalStatus != nil {
		d.FinalStatus = *r.FinalStatus
	}
	switch d.Status {
	case StatusSuccess:
		if r.Results == nil {
			return d, invalid("%s: results must be non-null when status is 'success'", at)
		}
		if r.Error != nil {
			return d, invalid("%s: error must be null when status is 'success'", at)
		}
	case StatusFailure, StatusTimeout:
		if r.Results != nil {
			return d, invalid("%s: results must be null when status is '%s'", at, d.Status)
		}
		if r.Error == nil {
			return d, invalid("%s: error must be non-null when status is '%s'", at, d.Status)
		}
	default:
		return d, invalid("%s.status: must be success, failure or timeout", at)
	}
	if r.Results != nil {
		d.Results = make([]Sequence, len(*r.Results))
		for i := range *r.Results {
			s, err := (*r.Results)[i].validate(fmt.Sprintf("%s.results[%d]", at, i))
			if err != nil {
				return d, err
			}
			d.Results[i] = s
		}
	}
	return d, nil
}

func decodeJSON(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return invalid("invalid JSON body: %v", err)
	}
	return nil
}

// DecodeDetectResponse decodes and validates an algorithm service's answer.
func DecodeDetectResponse(body []byte) (DetectResponse, error) {
	var raw rawDetectResponse
	if err := decodeJSON(body, &raw); err != nil {
		return DetectResponse{}, err
	}
	return raw.validate("response")
}

// DecodeAggregateRequest decodes and validates a POST /aggregate body.
func DecodeAggregateRequest(body []byte) (AggregateRequest, error) {
	var raw rawAggregateRequest
	if err := decodeJSON(body, &raw); err != nil {
		return AggregateRequest{}, err
	}
	switch {
	case raw.RequestID == nil:
		return AggregateRequest{}, required("request_id")
	case raw.ExpectedServices == nil:
		return AggregateRequest{}, required("expected_services")
	case raw.Results == nil:
		return AggregateRequest{}, required("results")
	}
	if !ValidUUID(*raw.RequestID) {
		return AggregateRequest{}, invalid("request_id: invalid UUID format: %q", *raw.RequestID)
	}
	req := AggregateRequest{RequestID: *raw.RequestID, ExpectedServices: *raw.ExpectedServices}
	if len(req.ExpectedServices) == 0 {
		return req, invalid("expected_services: at least 1 item required")
	}
	seen := map[string]bool{}
	for _, s := range req.ExpectedServices {
		if s != ServiceLayering && s != ServiceWashTrading {
			return req, invalid("expected_services: invalid service name %q (must be one of layering, wash_trading)", s)
		}
		if seen[s] {
			return req, invalid("expected_services must contain unique service names")
		}
		seen[s] = true
	}
	if len(*raw.Results) == 0 {
		return req, invalid("results: at least 1 item required")
	}
	req.Results = make([]DetectResponse, len(*raw.Results))
	for i := range *raw.Results {
		d, err := (*raw.Results)[i].validate(fmt.Sprintf("results[%d]", i))
		if err != nil {
			return req, err
		}
		req.Results[i] = d
	}
	return req, nil
}

// DecodeAggregateResponse decodes the aggregator's answer.
func DecodeAggregateResponse(body []byte) (AggregateResponse, error) {
	var raw struct {
		Status         *string  `json:"status"`
		MergedCount    *int     `json:"merged_count"`
		FailedServices []string `json:"failed_services"`
		Error          *string  `json:"error"`
	}
	if err := decodeJSON(body, &raw); err != nil {
		return AggregateResponse{}, err
	}
	if raw.Status == nil || (*raw.Status != StatusCompleted && *raw.Status != StatusValidationFailed) {
		return AggregateResponse{}, invalid("status: must be completed or validation_failed")
	}
	r := AggregateResponse{Status: *raw.Status, FailedServices: raw.FailedServices, Error: raw.Error}
	if raw.MergedCount != nil {
		r.MergedCount = *raw.MergedCount
	}
	if r.FailedServices == nil {
		r.FailedServices = []string{}
	}
	return r, nil
}
