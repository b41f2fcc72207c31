package server

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// CloudWatch: rpc-v2-cbor (aws-sdk-go-v2 today), awsquery (the AWS CLI 2.9
// and older SDKs) and awsJson1_0, as the real service accepts all three.
// Member names are the model's (Pascal case) in all of them.

type cwState struct {
	Alarms     []*cwAlarm           `json:"alarms"`
	Tags       map[string][]cwTag   `json:"tags"` // by alarm ARN
	Dashboards []*cwDashboard       `json:"dashboards"`
	Series     map[string]*cwSeries `json:"series"` // by seriesKey
	LastSample time.Time            `json:"lastSample"`
}

type cwTag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

type cwDimension struct {
	Name  string `json:"Name"`
	Value string `json:"Value"`
}

type cwAlarm struct {
	AlarmName                          string        `json:"AlarmName"`
	AlarmArn                           string        `json:"AlarmArn"`
	AlarmDescription                   string        `json:"AlarmDescription,omitempty"`
	AlarmConfigurationUpdatedTimestamp time.Time     `json:"AlarmConfigurationUpdatedTimestamp"`
	ActionsEnabled                     bool          `json:"ActionsEnabled"`
	OKActions                          []string      `json:"OKActions"`
	AlarmActions                       []string      `json:"AlarmActions"`
	InsufficientDataActions            []string      `json:"InsufficientDataActions"`
	StateValue                         string        `json:"StateValue"`
	StateReason                        string        `json:"StateReason"`
	StateReasonData                    string        `json:"StateReasonData,omitempty"`
	StateUpdatedTimestamp              time.Time     `json:"StateUpdatedTimestamp"`
	StateTransitionedTimestamp         time.Time     `json:"StateTransitionedTimestamp"`
	MetricName                         string        `json:"MetricName"`
	Namespace                          string        `json:"Namespace"`
	Statistic                          string        `json:"Statistic,omitempty"`
	ExtendedStatistic                  string        `json:"ExtendedStatistic,omitempty"`
	Dimensions                         []cwDimension `json:"Dimensions"`
	Period                             int           `json:"Period"`
	Unit                               string        `json:"Unit,omitempty"`
	EvaluationPeriods                  int           `json:"EvaluationPeriods"`
	DatapointsToAlarm                  int           `json:"DatapointsToAlarm,omitempty"`
	Threshold                          float64       `json:"Threshold"`
	ComparisonOperator                 string        `json:"ComparisonOperator"`
	TreatMissingData                   string        `json:"TreatMissingData,omitempty"`
}

type cwDashboard struct {
	DashboardName string    `json:"DashboardName"`
	DashboardArn  string    `json:"DashboardArn"`
	DashboardBody string    `json:"DashboardBody"`
	LastModified  time.Time `json:"LastModified"`
}

// cwSeries is one metric's stored data points.
type cwSeries struct {
	Namespace  string        `json:"Namespace"`
	MetricName string        `json:"MetricName"`
	Dimensions []cwDimension `json:"Dimensions"`
	Points     []cwPoint     `json:"points"`
}

// cwPoint is one PutMetricData datum: a value, values with counts, or a statistic set.
type cwPoint struct {
	T      time.Time `json:"t"`
	Count  float64   `json:"n"`
	Sum    float64   `json:"sum"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	Values []float64 `json:"v,omitempty"` // individual values, for percentiles
	Unit   string    `json:"u,omitempty"`
}

func cloudwatchService() *service {
	return &service{
		name:         "cloudwatch",
		signingName:  "monitoring",
		targetPrefix: "GraniteServiceVersion20100801",
		xmlns:        "http://monitoring.amazonaws.com/doc/2010-08-01/",
		shapeNS:      "com.amazonaws.cloudwatch",
		ops: map[string]handler{
			"PutMetricAlarm":      op(cwPutMetricAlarm),
			"DescribeAlarms":      op(cwDescribeAlarms),
			"DeleteAlarms":        op(cwDeleteAlarms),
			"TagResource":         op(cwTagResource),
			"ListTagsForResource": op(cwListTagsForResource),
			"PutDashboard":        op(cwPutDashboard),
			"GetDashboard":        op(cwGetDashboard),
			"ListDashboards":      op(cwListDashboards),
			"DeleteDashboards":    op(cwDeleteDashboards),
			"ListMetrics":         op(cwListMetrics),
			"GetMetricData":       op(cwGetMetricData),
			"PutMetricData":       op(cwPutMetricData),
		},
	}
}

// CloudWatch's errors: the shape name, and the awsQueryError code older
// clients see.
func cwInvalidValue(format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "InvalidParameterValueException", QueryCode: "InvalidParameterValue", Message: fmt.Sprintf(format, args...)}
}

func cwMissing(param string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "MissingRequiredParameterException", QueryCode: "MissingParameter",
		Message: fmt.Sprintf("The parameter %s is required.", param)}
}

func cwCombination(format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "InvalidParameterCombinationException", QueryCode: "InvalidParameterCombination", Message: fmt.Sprintf(format, args...)}
}

func cwInvalidToken() *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "InvalidNextToken", QueryCode: "InvalidNextToken", Message: "The service couldn't process the NextToken; use the token of the previous response."}
}

func cwDashboardNotFound(name string) *apiError {
	return &apiError{Status: http.StatusNotFound, Code: "DashboardNotFoundError", QueryCode: "ResourceNotFound", Message: fmt.Sprintf("Dashboard %s does not exist", name)}
}

func seriesKey(ns, name string, dims []cwDimension) string {
	d := slices.Clone(dims)
	sort.Slice(d, func(i, j int) bool { return d[i].Name < d[j].Name })
	var b strings.Builder
	b.WriteString(ns + "|" + name)
	for _, x := range d {
		b.WriteString("|" + x.Name + "=" + x.Value)
	}
	return b.String()
}

func (st *State) findAlarm(name string) (int, *cwAlarm) {
	for i, a := range st.CW.Alarms {
		if a.AlarmName == name {
			return i, a
		}
	}
	return -1, nil
}

// --- alarms

type cwPutMetricAlarmIn struct {
	AlarmName               string        `json:"AlarmName"`
	AlarmDescription        string        `json:"AlarmDescription"`
	ActionsEnabled          *bool         `json:"ActionsEnabled"`
	OKActions               []string      `json:"OKActions"`
	AlarmActions            []string      `json:"AlarmActions"`
	InsufficientDataActions []string      `json:"InsufficientDataActions"`
	MetricName              string        `json:"MetricName"`
	Namespace               string        `json:"Namespace"`
	Statistic               string        `json:"Statistic"`
	ExtendedStatistic       string        `json:"ExtendedStatistic"`
	Dimensions              []cwDimension `json:"Dimensions"`
	Period                  int           `json:"Period"`
	Unit                    string        `json:"Unit"`
	EvaluationPeriods       int           `json:"EvaluationPeriods"`
	DatapointsToAlarm       int           `json:"DatapointsToAlarm"`
	Threshold               *float64      `json:"Threshold"`
	ComparisonOperator      string        `json:"ComparisonOperator"`
	TreatMissingData        string        `json:"TreatMissingData"`
	Metrics                 []any         `json:"Metrics"`
	Tags                    []cwTag       `json:"Tags"`
}

var (
	comparisons = []string{"GreaterThanOrEqualToThreshold", "GreaterThanThreshold", "LessThanThreshold", "LessThanOrEqualToThreshold"}
	statistics  = []string{"SampleCount", "Average", "Sum", "Minimum", "Maximum"}
	percentile  = regexp.MustCompile(`^p(\d{1,2}(\.\d{1,2})?|100)$`)
)

func validateAlarm(in *cwPutMetricAlarmIn) *apiError {
	switch {
	case in.AlarmName == "":
		return cwMissing("AlarmName")
	case len(in.AlarmName) > 255:
		return cwInvalidValue("AlarmName must be at most 255 characters.")
	case in.EvaluationPeriods < 1:
		return cwMissing("EvaluationPeriods")
	case in.ComparisonOperator == "":
		return cwMissing("ComparisonOperator")
	case !slices.Contains(comparisons, in.ComparisonOperator):
		return cwInvalidValue("The value %s for parameter ComparisonOperator is invalid; local-aws evaluates %s.", in.ComparisonOperator, strings.Join(comparisons, ", "))
	case len(in.Metrics) > 0:
		return cwInvalidValue("Metric math alarms (Metrics) are not implemented by local-aws; use MetricName, Namespace and Statistic.")
	case in.MetricName == "" || in.Namespace == "":
		return cwMissing("MetricName and Namespace")
	case in.Statistic == "" && in.ExtendedStatistic == "":
		return cwMissing("Statistic or ExtendedStatistic")
	case in.Statistic != "" && in.ExtendedStatistic != "":
		return cwCombination("Exactly one of Statistic and ExtendedStatistic must be given.")
	case in.Statistic != "" && !slices.Contains(statistics, in.Statistic):
		return cwInvalidValue("The value %s for parameter Statistic is invalid.", in.Statistic)
	case in.ExtendedStatistic != "" && !percentile.MatchString(in.ExtendedStatistic):
		return cwInvalidValue("The value %s for parameter ExtendedStatistic is invalid; local-aws takes percentiles pNN.", in.ExtendedStatistic)
	case in.Period < 10 || (in.Period >= 60 && in.Period%60 != 0) || (in.Period < 60 && in.Period != 10 && in.Period != 30):
		return cwInvalidValue("The value %d for parameter Period is invalid: 10, 30 or a multiple of 60.", in.Period)
	case in.Threshold == nil:
		return cwMissing("Threshold")
	case in.DatapointsToAlarm > in.EvaluationPeriods:
		return cwInvalidValue("DatapointsToAlarm must be at most EvaluationPeriods.")
	case in.TreatMissingData != "" && !slices.Contains([]string{"breaching", "notBreaching", "ignore", "missing"}, in.TreatMissingData):
		return cwInvalidValue("The value %s for parameter TreatMissingData is invalid.", in.TreatMissingData)
	case len(in.Dimensions) > 30:
		return cwInvalidValue("At most 30 dimensions.")
	}
	return nil
}

func cwPutMetricAlarm(s *Server, c *call, in *cwPutMetricAlarmIn) (any, error) {
	if err := validateAlarm(in); err != nil {
		return nil, err
	}
	st := s.st
	a := &cwAlarm{
		AlarmName: in.AlarmName, AlarmArn: st.arn("cloudwatch", "alarm:"+in.AlarmName), AlarmDescription: in.AlarmDescription,
		AlarmConfigurationUpdatedTimestamp: c.now, ActionsEnabled: in.ActionsEnabled == nil || *in.ActionsEnabled,
		OKActions: orEmpty(in.OKActions), AlarmActions: orEmpty(in.AlarmActions), InsufficientDataActions: orEmpty(in.InsufficientDataActions),
		StateValue: "INSUFFICIENT_DATA", StateReason: "Unchecked: Initial alarm creation", StateUpdatedTimestamp: c.now, StateTransitionedTimestamp: c.now,
		MetricName: in.MetricName, Namespace: in.Namespace, Statistic: in.Statistic, ExtendedStatistic: in.ExtendedStatistic,
		Dimensions: orEmpty(in.Dimensions), Period: in.Period, Unit: in.Unit, EvaluationPeriods: in.EvaluationPeriods,
		DatapointsToAlarm: in.DatapointsToAlarm, Threshold: *in.Threshold, ComparisonOperator: in.ComparisonOperator, TreatMissingData: in.TreatMissingData,
	}
	if i, old := st.findAlarm(in.AlarmName); old != nil {
		// An update keeps the state; the next evaluation moves it.
		a.StateValue, a.StateReason, a.StateReasonData = old.StateValue, old.StateReason, old.StateReasonData
		a.StateUpdatedTimestamp, a.StateTransitionedTimestamp = old.StateUpdatedTimestamp, old.StateTransitionedTimestamp
		st.CW.Alarms[i] = a
	} else {
		st.CW.Alarms = append(st.CW.Alarms, a)
		if len(in.Tags) > 0 {
			st.tagAlarm(a.AlarmArn, in.Tags)
		}
	}
	st.evaluateAlarm(a, c.now)
	c.dirty = true
	return struct{}{}, nil
}

func orEmpty[T any](l []T) []T {
	if l == nil {
		return []T{}
	}
	return l
}

type cwDescribeAlarmsIn struct {
	AlarmNames      []string `json:"AlarmNames"`
	AlarmNamePrefix string   `json:"AlarmNamePrefix"`
	AlarmTypes      []string `json:"AlarmTypes"`
	StateValue      string   `json:"StateValue"`
	ActionPrefix    string   `json:"ActionPrefix"`
	MaxRecords      int      `json:"MaxRecords"`
	NextToken       string   `json:"NextToken"`
}

func cwDescribeAlarms(s *Server, c *call, in *cwDescribeAlarmsIn) (any, error) {
	if len(in.AlarmNames) > 0 && in.AlarmNamePrefix != "" {
		return nil, cwCombination("AlarmNames and AlarmNamePrefix cannot be given together.")
	}
	if in.MaxRecords < 0 || in.MaxRecords > 100 {
		return nil, cwInvalidValue("The value %d for parameter MaxRecords is invalid: 1 to 100.", in.MaxRecords)
	}
	var match []cwAlarm
	if len(in.AlarmTypes) == 0 || slices.Contains(in.AlarmTypes, "MetricAlarm") {
		for _, a := range s.st.CW.Alarms {
			if (len(in.AlarmNames) > 0 && !slices.Contains(in.AlarmNames, a.AlarmName)) ||
				!strings.HasPrefix(a.AlarmName, in.AlarmNamePrefix) ||
				(in.StateValue != "" && a.StateValue != in.StateValue) ||
				(in.ActionPrefix != "" && !slices.ContainsFunc(a.AlarmActions, func(x string) bool { return strings.HasPrefix(x, in.ActionPrefix) })) {
				continue
			}
			match = append(match, *a)
		}
	}
	sort.Slice(match, func(i, j int) bool { return match[i].AlarmName < match[j].AlarmName })
	page, next, ok := pageOf(match, in.NextToken, pageSize(in.MaxRecords, 50, 100))
	if !ok {
		return nil, cwInvalidToken()
	}
	return struct {
		MetricAlarms    []cwAlarm `json:"MetricAlarms"`
		CompositeAlarms []any     `json:"CompositeAlarms"`
		NextToken       string    `json:"NextToken,omitempty"`
	}{orEmpty(page), []any{}, next}, nil
}

type cwDeleteAlarmsIn struct {
	AlarmNames []string `json:"AlarmNames"`
}

func cwDeleteAlarms(s *Server, c *call, in *cwDeleteAlarmsIn) (any, error) {
	if len(in.AlarmNames) > 100 {
		return nil, cwInvalidValue("At most 100 AlarmNames.")
	}
	for _, n := range in.AlarmNames {
		if _, a := s.st.findAlarm(n); a == nil {
			return nil, &apiError{Status: http.StatusNotFound, Code: "ResourceNotFound", QueryCode: "ResourceNotFound", Message: "1 of the alarms to delete does not exist: " + n}
		}
	}
	s.st.CW.Alarms = slices.DeleteFunc(s.st.CW.Alarms, func(a *cwAlarm) bool {
		if slices.Contains(in.AlarmNames, a.AlarmName) {
			delete(s.st.CW.Tags, a.AlarmArn)
			return true
		}
		return false
	})
	c.dirty = true
	return struct{}{}, nil
}

type cwTagResourceIn struct {
	ResourceARN string  `json:"ResourceARN"`
	Tags        []cwTag `json:"Tags"`
}

func (st *State) taggable(arn string) bool {
	for _, a := range st.CW.Alarms {
		if a.AlarmArn == arn {
			return true
		}
	}
	return false
}

func cwResourceNotFound(arn string) *apiError {
	return &apiError{Status: http.StatusNotFound, Code: "ResourceNotFoundException", QueryCode: "ResourceNotFoundException", Message: "The resource " + arn + " does not exist (local-aws tags alarms)."}
}

func cwTagResource(s *Server, c *call, in *cwTagResourceIn) (any, error) {
	if in.ResourceARN == "" {
		return nil, cwMissing("ResourceARN")
	}
	if !s.st.taggable(in.ResourceARN) {
		return nil, cwResourceNotFound(in.ResourceARN)
	}
	s.st.tagAlarm(in.ResourceARN, in.Tags)
	c.dirty = true
	return struct{}{}, nil
}

func (st *State) tagAlarm(arn string, tags []cwTag) {
	if st.CW.Tags == nil {
		st.CW.Tags = map[string][]cwTag{}
	}
	cur := st.CW.Tags[arn]
	for _, t := range tags {
		if i := slices.IndexFunc(cur, func(x cwTag) bool { return x.Key == t.Key }); i >= 0 {
			cur[i].Value = t.Value
		} else {
			cur = append(cur, t)
		}
	}
	st.CW.Tags[arn] = cur
}

type cwListTagsIn struct {
	ResourceARN string `json:"ResourceARN"`
}

func cwListTagsForResource(s *Server, c *call, in *cwListTagsIn) (any, error) {
	if !s.st.taggable(in.ResourceARN) {
		return nil, cwResourceNotFound(in.ResourceARN)
	}
	return struct {
		Tags []cwTag `json:"Tags"`
	}{orEmpty(s.st.CW.Tags[in.ResourceARN])}, nil
}

// --- dashboards

type cwPutDashboardIn struct {
	DashboardName string `json:"DashboardName"`
	DashboardBody string `json:"DashboardBody"`
}

var dashboardName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)

func cwPutDashboard(s *Server, c *call, in *cwPutDashboardIn) (any, error) {
	if in.DashboardName == "" || in.DashboardBody == "" {
		return nil, cwMissing("DashboardName and DashboardBody")
	}
	invalid := func(msg string) error {
		return &apiError{Status: http.StatusBadRequest, Code: "DashboardInvalidInputError", QueryCode: "InvalidParameterInput", Message: msg}
	}
	if !dashboardName.MatchString(in.DashboardName) {
		return nil, invalid("The value for field DashboardName contains invalid characters. It can only contain alphanumerics, dash (-) and underscore (_).")
	}
	var body struct {
		Widgets []map[string]any `json:"widgets"`
	}
	if err := json.Unmarshal([]byte(in.DashboardBody), &body); err != nil {
		return nil, invalid("The field DashboardBody must be a valid JSON object: " + err.Error())
	}
	if body.Widgets == nil {
		return nil, invalid("The field DashboardBody must contain a widgets array.")
	}
	d := &cwDashboard{DashboardName: in.DashboardName, DashboardArn: "arn:aws:cloudwatch::" + s.st.AccountID + ":dashboard/" + in.DashboardName,
		DashboardBody: in.DashboardBody, LastModified: c.now}
	if i := slices.IndexFunc(s.st.CW.Dashboards, func(x *cwDashboard) bool { return x.DashboardName == in.DashboardName }); i >= 0 {
		s.st.CW.Dashboards[i] = d
	} else {
		s.st.CW.Dashboards = append(s.st.CW.Dashboards, d)
	}
	c.dirty = true
	return struct {
		DashboardValidationMessages []any `json:"DashboardValidationMessages"`
	}{[]any{}}, nil
}

type cwGetDashboardIn struct {
	DashboardName string `json:"DashboardName"`
}

func cwGetDashboard(s *Server, c *call, in *cwGetDashboardIn) (any, error) {
	for _, d := range s.st.CW.Dashboards {
		if d.DashboardName == in.DashboardName {
			return struct {
				DashboardArn  string `json:"DashboardArn"`
				DashboardBody string `json:"DashboardBody"`
				DashboardName string `json:"DashboardName"`
			}{d.DashboardArn, d.DashboardBody, d.DashboardName}, nil
		}
	}
	return nil, cwDashboardNotFound(in.DashboardName)
}

type cwListDashboardsIn struct {
	DashboardNamePrefix string `json:"DashboardNamePrefix"`
	NextToken           string `json:"NextToken"`
}

type cwDashboardEntry struct {
	DashboardName string    `json:"DashboardName"`
	DashboardArn  string    `json:"DashboardArn"`
	LastModified  time.Time `json:"LastModified"`
	Size          int64     `json:"Size"`
}

// dashboardPage is ListDashboards' page size (1000 on AWS); small so
// pagination is exercised.
var dashboardPage = 1000

func cwListDashboards(s *Server, c *call, in *cwListDashboardsIn) (any, error) {
	var entries []cwDashboardEntry
	for _, d := range s.st.CW.Dashboards {
		if strings.HasPrefix(d.DashboardName, in.DashboardNamePrefix) {
			entries = append(entries, cwDashboardEntry{d.DashboardName, d.DashboardArn, d.LastModified, int64(len(d.DashboardBody))})
		}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].DashboardName < entries[j].DashboardName })
	page, next, ok := pageOf(entries, in.NextToken, dashboardPage)
	if !ok {
		return nil, cwInvalidToken()
	}
	return struct {
		DashboardEntries []cwDashboardEntry `json:"DashboardEntries"`
		NextToken        string             `json:"NextToken,omitempty"`
	}{orEmpty(page), next}, nil
}

type cwDeleteDashboardsIn struct {
	DashboardNames []string `json:"DashboardNames"`
}

func cwDeleteDashboards(s *Server, c *call, in *cwDeleteDashboardsIn) (any, error) {
	if len(in.DashboardNames) == 0 {
		return nil, cwMissing("DashboardNames")
	}
	for _, n := range in.DashboardNames {
		if !slices.ContainsFunc(s.st.CW.Dashboards, func(d *cwDashboard) bool { return d.DashboardName == n }) {
			return nil, cwDashboardNotFound(n)
		}
	}
	s.st.CW.Dashboards = slices.DeleteFunc(s.st.CW.Dashboards, func(d *cwDashboard) bool { return slices.Contains(in.DashboardNames, d.DashboardName) })
	c.dirty = true
	return struct{}{}, nil
}

// --- metrics

type cwDatum struct {
	MetricName      string        `json:"MetricName"`
	Dimensions      []cwDimension `json:"Dimensions"`
	Timestamp       time.Time     `json:"Timestamp"`
	Value           *float64      `json:"Value"`
	Values          []float64     `json:"Values"`
	Counts          []float64     `json:"Counts"`
	StatisticValues *struct {
		SampleCount float64 `json:"SampleCount"`
		Sum         float64 `json:"Sum"`
		Minimum     float64 `json:"Minimum"`
		Maximum     float64 `json:"Maximum"`
	} `json:"StatisticValues"`
	Unit string `json:"Unit"`
}

type cwPutMetricDataIn struct {
	Namespace  string    `json:"Namespace"`
	MetricData []cwDatum `json:"MetricData"`
}

// seriesRetention is how long data points are kept (AWS keeps 15 months;
// here enough for alarms and dashboards of a working day).
const seriesRetention = 3 * time.Hour

func cwPutMetricData(s *Server, c *call, in *cwPutMetricDataIn) (any, error) {
	if in.Namespace == "" {
		return nil, cwMissing("Namespace")
	}
	if strings.HasPrefix(in.Namespace, "AWS/") {
		return nil, cwInvalidValue("The value %s for parameter Namespace is invalid: the AWS/ namespaces are reserved for AWS (local-aws fills AWS/ECS from its ECS services).", in.Namespace)
	}
	if len(in.MetricData) == 0 || len(in.MetricData) > 1000 {
		return nil, cwInvalidValue("MetricData must have 1 to 1000 items.")
	}
	var points []cwPoint
	for i, d := range in.MetricData {
		p, err := datumPoint(d, c.now)
		if err != nil {
			return nil, cwInvalidValue("MetricData.member.%d: %s", i+1, err)
		}
		points = append(points, p)
	}
	for i, d := range in.MetricData {
		s.st.addPoint(in.Namespace, d.MetricName, d.Dimensions, points[i], c.now)
	}
	s.st.evaluateAlarms(c.now)
	c.dirty = true
	return struct{}{}, nil
}

func datumPoint(d cwDatum, now time.Time) (cwPoint, error) {
	if d.MetricName == "" {
		return cwPoint{}, fmt.Errorf("MetricName is required")
	}
	t := d.Timestamp
	if t.IsZero() {
		t = now
	}
	if t.Before(now.Add(-14*24*time.Hour)) || t.After(now.Add(2*time.Hour)) {
		return cwPoint{}, fmt.Errorf("Timestamp must be within the last two weeks and at most two hours ahead")
	}
	p := cwPoint{T: t, Unit: d.Unit, Min: math.Inf(1), Max: math.Inf(-1)}
	switch {
	case d.Value != nil:
		p.Values = []float64{*d.Value}
	case len(d.Values) > 0:
		if len(d.Counts) > 0 && len(d.Counts) != len(d.Values) {
			return cwPoint{}, fmt.Errorf("Counts must be as long as Values")
		}
		for i, v := range d.Values {
			n := 1.0
			if len(d.Counts) > 0 {
				n = d.Counts[i]
			}
			for k := 0; k < int(n); k++ {
				p.Values = append(p.Values, v)
			}
		}
	case d.StatisticValues != nil:
		sv := d.StatisticValues
		return cwPoint{T: t, Unit: d.Unit, Count: sv.SampleCount, Sum: sv.Sum, Min: sv.Minimum, Max: sv.Maximum}, nil
	default:
		return cwPoint{}, fmt.Errorf("one of Value, Values or StatisticValues is required")
	}
	for _, v := range p.Values {
		p.Count++
		p.Sum += v
		p.Min, p.Max = math.Min(p.Min, v), math.Max(p.Max, v)
	}
	return p, nil
}

func (st *State) addPoint(ns, name string, dims []cwDimension, p cwPoint, now time.Time) {
	if st.CW.Series == nil {
		st.CW.Series = map[string]*cwSeries{}
	}
	k := seriesKey(ns, name, dims)
	s := st.CW.Series[k]
	if s == nil {
		s = &cwSeries{Namespace: ns, MetricName: name, Dimensions: orEmpty(dims)}
		st.CW.Series[k] = s
	}
	s.Points = append(s.Points, p)
	cut := now.Add(-seriesRetention)
	s.Points = slices.DeleteFunc(s.Points, func(p cwPoint) bool { return p.T.Before(cut) })
}

type cwListMetricsIn struct {
	Namespace  string `json:"Namespace"`
	MetricName string `json:"MetricName"`
	Dimensions []struct {
		Name  string  `json:"Name"`
		Value *string `json:"Value"`
	} `json:"Dimensions"`
	NextToken      string `json:"NextToken"`
	RecentlyActive string `json:"RecentlyActive"`
}

type cwMetric struct {
	Namespace  string        `json:"Namespace"`
	MetricName string        `json:"MetricName"`
	Dimensions []cwDimension `json:"Dimensions"`
}

// metricsPage is ListMetrics' page size (500 on AWS).
var metricsPage = 500

func cwListMetrics(s *Server, c *call, in *cwListMetricsIn) (any, error) {
	var out []cwMetric
	for _, k := range sortedKeys(s.st.CW.Series) {
		se := s.st.CW.Series[k]
		if (in.Namespace != "" && se.Namespace != in.Namespace) || (in.MetricName != "" && se.MetricName != in.MetricName) {
			continue
		}
		ok := true
		for _, f := range in.Dimensions {
			if !slices.ContainsFunc(se.Dimensions, func(d cwDimension) bool { return d.Name == f.Name && (f.Value == nil || d.Value == *f.Value) }) {
				ok = false
			}
		}
		if ok {
			out = append(out, cwMetric{se.Namespace, se.MetricName, se.Dimensions})
		}
	}
	page, next, ok := pageOf(out, in.NextToken, metricsPage)
	if !ok {
		return nil, cwInvalidToken()
	}
	return struct {
		Metrics   []cwMetric `json:"Metrics"`
		NextToken string     `json:"NextToken,omitempty"`
	}{orEmpty(page), next}, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

type cwMetricStat struct {
	Metric cwMetric `json:"Metric"`
	Period int      `json:"Period"`
	Stat   string   `json:"Stat"`
	Unit   string   `json:"Unit"`
}

type cwQuery struct {
	ID         string        `json:"Id"`
	MetricStat *cwMetricStat `json:"MetricStat"`
	Expression string        `json:"Expression"`
	Label      string        `json:"Label"`
	ReturnData *bool         `json:"ReturnData"`
	Period     int           `json:"Period"`
}

type cwGetMetricDataIn struct {
	MetricDataQueries []cwQuery `json:"MetricDataQueries"`
	StartTime         time.Time `json:"StartTime"`
	EndTime           time.Time `json:"EndTime"`
	NextToken         string    `json:"NextToken"`
	ScanBy            string    `json:"ScanBy"`
	MaxDatapoints     int       `json:"MaxDatapoints"`
}

type cwResult struct {
	ID         string      `json:"Id"`
	Label      string      `json:"Label"`
	Timestamps []time.Time `json:"Timestamps"`
	Values     []float64   `json:"Values"`
	StatusCode string      `json:"StatusCode"`
	Messages   []any       `json:"Messages"`
}

var queryID = regexp.MustCompile(`^[a-z][a-zA-Z0-9_]*$`)

func cwGetMetricData(s *Server, c *call, in *cwGetMetricDataIn) (any, error) {
	if len(in.MetricDataQueries) == 0 || len(in.MetricDataQueries) > 500 {
		return nil, cwInvalidValue("MetricDataQueries must have 1 to 500 items.")
	}
	if in.StartTime.IsZero() || in.EndTime.IsZero() {
		return nil, cwMissing("StartTime and EndTime")
	}
	if !in.EndTime.After(in.StartTime) {
		return nil, cwInvalidValue("The parameter StartTime must be less than the parameter EndTime.")
	}
	if in.ScanBy != "" && in.ScanBy != "TimestampDescending" && in.ScanBy != "TimestampAscending" {
		return nil, cwInvalidValue("The value %s for parameter ScanBy is invalid.", in.ScanBy)
	}
	var series [][]bucket
	var results []cwResult
	for _, q := range in.MetricDataQueries {
		if !queryID.MatchString(q.ID) {
			return nil, cwInvalidValue("The value %q for parameter MetricDataQueries.Id is invalid: it must start with a lower-case letter and contain letters, digits and _.", q.ID)
		}
		if q.MetricStat == nil {
			return nil, cwInvalidValue("Query %s: local-aws evaluates MetricStat queries only, not Expression.", q.ID)
		}
		ms := q.MetricStat
		if !slices.Contains(statistics, ms.Stat) && !percentile.MatchString(ms.Stat) {
			return nil, cwInvalidValue("Query %s: the value %s for Stat is invalid.", q.ID, ms.Stat)
		}
		if ms.Period < 1 || (ms.Period >= 60 && ms.Period%60 != 0) {
			return nil, cwInvalidValue("Query %s: the value %d for Period is invalid: 1, 5, 10, 30 or a multiple of 60.", q.ID, ms.Period)
		}
		if q.ReturnData != nil && !*q.ReturnData {
			continue
		}
		b := s.st.buckets(ms.Metric, time.Duration(ms.Period)*time.Second, ms.Stat, in.StartTime, in.EndTime)
		if in.ScanBy != "TimestampAscending" {
			slices.Reverse(b)
		}
		label := q.Label
		if label == "" {
			label = ms.Metric.MetricName
		}
		series = append(series, b)
		results = append(results, cwResult{ID: q.ID, Label: label, StatusCode: "Complete", Messages: []any{}})
	}
	// Pages hold MaxDatapoints in all; the token is the offset into each result.
	offset := 0
	if in.NextToken != "" {
		n, ok := decodeOffset(in.NextToken)
		if !ok {
			return nil, cwInvalidToken()
		}
		offset = n
	}
	per := 100800
	if in.MaxDatapoints > 0 {
		per = in.MaxDatapoints
	}
	if len(results) > 0 {
		per = max(1, per/len(results))
	}
	more := false
	for i := range results {
		b := series[i]
		if offset > len(b) {
			b = nil
		} else {
			b = b[offset:]
		}
		if len(b) > per {
			b, more = b[:per], true
			results[i].StatusCode = "PartialData"
		}
		results[i].Timestamps, results[i].Values = []time.Time{}, []float64{}
		for _, x := range b {
			results[i].Timestamps = append(results[i].Timestamps, x.t)
			results[i].Values = append(results[i].Values, x.v)
		}
	}
	next := ""
	if more {
		next = encodeOffset(offset + per)
	}
	return struct {
		MetricDataResults []cwResult `json:"MetricDataResults"`
		NextToken         string     `json:"NextToken,omitempty"`
		Messages          []any      `json:"Messages"`
	}{orEmpty(results), next, []any{}}, nil
}

type bucket struct {
	t time.Time
	v float64
}

// buckets aggregates a metric's points into periods aligned to the period
// (ascending), leaving out empty periods as CloudWatch does.
func (st *State) buckets(m cwMetric, period time.Duration, stat string, start, end time.Time) []bucket {
	se := st.CW.Series[seriesKey(m.Namespace, m.MetricName, m.Dimensions)]
	if se == nil {
		return nil
	}
	groups := map[int64][]cwPoint{}
	for _, p := range se.Points {
		if p.T.Before(start) || !p.T.Before(end) {
			continue
		}
		k := p.T.Truncate(period).Unix()
		groups[k] = append(groups[k], p)
	}
	var out []bucket
	for k, ps := range groups {
		out = append(out, bucket{time.Unix(k, 0).UTC(), statistic(ps, stat)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].t.Before(out[j].t) })
	return out
}

// statistic computes one CloudWatch statistic over data points.
func statistic(ps []cwPoint, stat string) float64 {
	var n, sum float64
	lo, hi := math.Inf(1), math.Inf(-1)
	var vals []float64
	for _, p := range ps {
		n += p.Count
		sum += p.Sum
		lo, hi = math.Min(lo, p.Min), math.Max(hi, p.Max)
		vals = append(vals, p.Values...)
	}
	switch stat {
	case "SampleCount":
		return n
	case "Sum":
		return sum
	case "Minimum":
		return lo
	case "Maximum":
		return hi
	case "Average":
		if n == 0 {
			return 0
		}
		return sum / n
	}
	q, _ := strconv.ParseFloat(strings.TrimPrefix(stat, "p"), 64)
	if len(vals) == 0 {
		return hi // statistic sets carry no distribution; the maximum bounds every percentile
	}
	sort.Float64s(vals)
	i := int(math.Ceil(q/100*float64(len(vals)))) - 1
	return vals[max(0, min(i, len(vals)-1))]
}

// --- alarm evaluation

func (st *State) evaluateAlarms(now time.Time) bool {
	changed := false
	for _, a := range st.CW.Alarms {
		if st.evaluateAlarm(a, now) {
			changed = true
		}
	}
	return changed
}

// evaluateAlarm looks at the alarm's last EvaluationPeriods periods (ending
// now) and sets OK, ALARM or INSUFFICIENT_DATA as CloudWatch does, with
// TreatMissingData deciding about periods without data.
func (st *State) evaluateAlarm(a *cwAlarm, now time.Time) bool {
	stat := a.Statistic
	if stat == "" {
		stat = a.ExtendedStatistic
	}
	period := time.Duration(a.Period) * time.Second
	m := a.DatapointsToAlarm
	if m == 0 {
		m = a.EvaluationPeriods
	}
	se := st.CW.Series[seriesKey(a.Namespace, a.MetricName, a.Dimensions)]
	var present []float64
	breaching, missing := 0, 0
	for i := 0; i < a.EvaluationPeriods; i++ {
		hi := now.Add(-time.Duration(i) * period)
		lo := hi.Add(-period)
		var ps []cwPoint
		if se != nil {
			for _, p := range se.Points {
				if !p.T.Before(lo) && p.T.Before(hi) {
					ps = append(ps, p)
				}
			}
		}
		if len(ps) == 0 {
			missing++
			continue
		}
		v := statistic(ps, stat)
		present = append(present, v)
		if breaches(a.ComparisonOperator, v, a.Threshold) {
			breaching++
		}
	}
	switch a.TreatMissingData {
	case "breaching":
		breaching += missing
	case "notBreaching":
	default:
		if len(present) == 0 {
			if a.TreatMissingData == "ignore" {
				return false
			}
			return st.setAlarmState(a, "INSUFFICIENT_DATA", fmt.Sprintf("Insufficient Data: %d datapoints were unknown.", missing), now)
		}
	}
	values := make([]string, len(present))
	for i, v := range present {
		values[i] = strconv.FormatFloat(v, 'f', -1, 64)
	}
	if breaching >= m {
		return st.setAlarmState(a, "ALARM", fmt.Sprintf("Threshold Crossed: %d out of the last %d datapoints [%s] were %s the threshold (%s) (minimum %d datapoints for OK -> ALARM transition).",
			breaching, a.EvaluationPeriods, strings.Join(values, ", "), operatorWords(a.ComparisonOperator), strconv.FormatFloat(a.Threshold, 'f', -1, 64), m), now)
	}
	return st.setAlarmState(a, "OK", fmt.Sprintf("Threshold Crossed: %d out of the last %d datapoints [%s] were not %s the threshold (%s).",
		a.EvaluationPeriods-breaching, a.EvaluationPeriods, strings.Join(values, ", "), operatorWords(a.ComparisonOperator), strconv.FormatFloat(a.Threshold, 'f', -1, 64)), now)
}

func (st *State) setAlarmState(a *cwAlarm, value, reason string, now time.Time) bool {
	if a.StateValue == value {
		return false
	}
	a.StateValue, a.StateReason, a.StateUpdatedTimestamp, a.StateTransitionedTimestamp = value, reason, now, now
	data, _ := json.Marshal(map[string]any{"version": "1.0", "queryDate": now.UTC().Format("2006-01-02T15:04:05.000+0000"), "statistic": a.Statistic, "period": a.Period, "threshold": a.Threshold})
	a.StateReasonData = string(data)
	return true
}

func breaches(op string, v, threshold float64) bool {
	switch op {
	case "GreaterThanOrEqualToThreshold":
		return v >= threshold
	case "GreaterThanThreshold":
		return v > threshold
	case "LessThanThreshold":
		return v < threshold
	case "LessThanOrEqualToThreshold":
		return v <= threshold
	}
	return false
}

func operatorWords(op string) string {
	return map[string]string{
		"GreaterThanOrEqualToThreshold": "greater than or equal to", "GreaterThanThreshold": "greater than",
		"LessThanThreshold": "less than", "LessThanOrEqualToThreshold": "less than or equal to"}[op]
}
