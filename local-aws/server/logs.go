package server

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// CloudWatch Logs, awsJson1_1. Times are epoch milliseconds (longs), as in the model.

type logsState struct {
	Groups []*logGroup `json:"groups"`
}

type logGroup struct {
	Info    logGroupInfo `json:"info"`
	Streams []*logStream `json:"streams"`
}

type logGroupInfo struct {
	LogGroupName      string `json:"logGroupName"`
	CreationTime      int64  `json:"creationTime"`
	RetentionInDays   int    `json:"retentionInDays,omitempty"`
	MetricFilterCount int    `json:"metricFilterCount"`
	Arn               string `json:"arn"`
	StoredBytes       int64  `json:"storedBytes"`
	LogGroupClass     string `json:"logGroupClass"`
	LogGroupArn       string `json:"logGroupArn"`
}

type logStream struct {
	Info   logStreamInfo `json:"info"`
	Events []logEvent    `json:"events"`
}

type logStreamInfo struct {
	LogStreamName       string `json:"logStreamName"`
	CreationTime        int64  `json:"creationTime"`
	FirstEventTimestamp int64  `json:"firstEventTimestamp,omitempty"`
	LastEventTimestamp  int64  `json:"lastEventTimestamp,omitempty"`
	LastIngestionTime   int64  `json:"lastIngestionTime,omitempty"`
	UploadSequenceToken string `json:"uploadSequenceToken,omitempty"`
	Arn                 string `json:"arn"`
	StoredBytes         int64  `json:"storedBytes"`
}

type logEvent struct {
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
}

func logsService() *service {
	return &service{
		name:         "logs",
		signingName:  "logs",
		targetPrefix: "Logs_20140328",
		ops: map[string]handler{
			"DescribeLogGroups":  op(logsDescribeLogGroups),
			"DescribeLogStreams": op(logsDescribeLogStreams),
			"CreateLogStream":    op(logsCreateLogStream),
			"PutLogEvents":       op(logsPutLogEvents),
			"FilterLogEvents":    op(logsFilterLogEvents),
		},
	}
}

func logsInvalid(format string, args ...any) *apiError {
	return badRequest("InvalidParameterException", format, args...)
}

func logsNotFound(what string) *apiError {
	return badRequest("ResourceNotFoundException", "The specified log %s does not exist.", what)
}

// findGroup accepts a name or (logGroupIdentifier) an ARN.
func (st *State) findGroup(name, identifier string) (*logGroup, *apiError) {
	ref := name
	if ref == "" {
		ref = strings.TrimSuffix(identifier, ":*")
	}
	if ref == "" {
		return nil, logsInvalid("Either logGroupName or logGroupIdentifier must be specified.")
	}
	for _, g := range st.Logs.Groups {
		if g.Info.LogGroupName == ref || g.Info.LogGroupArn == ref {
			return g, nil
		}
	}
	return nil, logsNotFound("group")
}

func (g *logGroup) stream(name string) *logStream {
	for _, s := range g.Streams {
		if s.Info.LogStreamName == name {
			return s
		}
	}
	return nil
}

func (st *State) newGroup(name string, retention int, created time.Time) *logGroup {
	arn := st.arn("logs", "log-group:"+name)
	g := &logGroup{Info: logGroupInfo{LogGroupName: name, CreationTime: epochMillis(created), RetentionInDays: retention,
		Arn: arn + ":*", LogGroupArn: arn, LogGroupClass: "STANDARD"}, Streams: []*logStream{}}
	st.Logs.Groups = append(st.Logs.Groups, g)
	return g
}

func (g *logGroup) newStream(name string, created time.Time) *logStream {
	s := &logStream{Info: logStreamInfo{LogStreamName: name, CreationTime: epochMillis(created), Arn: g.Info.LogGroupArn + ":log-stream:" + name}, Events: []logEvent{}}
	g.Streams = append(g.Streams, s)
	return s
}

type logsDescribeLogGroupsIn struct {
	LogGroupNamePrefix  string   `json:"logGroupNamePrefix"`
	LogGroupNamePattern string   `json:"logGroupNamePattern"`
	LogGroupIdentifiers []string `json:"logGroupIdentifiers"`
	NextToken           string   `json:"nextToken"`
	Limit               int      `json:"limit"`
}

func logsDescribeLogGroups(s *Server, c *call, in *logsDescribeLogGroupsIn) (any, error) {
	if in.Limit < 0 || in.Limit > 50 {
		return nil, logsInvalid("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 50", in.Limit)
	}
	if in.LogGroupNamePrefix != "" && in.LogGroupNamePattern != "" {
		return nil, logsInvalid("LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.")
	}
	var out []logGroupInfo
	for _, g := range s.st.Logs.Groups {
		i := g.Info
		if !strings.HasPrefix(i.LogGroupName, in.LogGroupNamePrefix) || !strings.Contains(strings.ToLower(i.LogGroupName), strings.ToLower(in.LogGroupNamePattern)) ||
			(len(in.LogGroupIdentifiers) > 0 && !slices.Contains(in.LogGroupIdentifiers, i.LogGroupName) && !slices.Contains(in.LogGroupIdentifiers, i.LogGroupArn)) {
			continue
		}
		for _, st := range g.Streams {
			i.StoredBytes += st.Info.StoredBytes
		}
		out = append(out, i)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].LogGroupName < out[b].LogGroupName })
	page, next, ok := pageOf(out, in.NextToken, pageSize(in.Limit, 50, 50))
	if !ok {
		return nil, logsInvalid("The specified nextToken is invalid.")
	}
	return struct {
		LogGroups []logGroupInfo `json:"logGroups"`
		NextToken string         `json:"nextToken,omitempty"`
	}{orEmpty(page), next}, nil
}

type logsDescribeLogStreamsIn struct {
	LogGroupName        string `json:"logGroupName"`
	LogGroupIdentifier  string `json:"logGroupIdentifier"`
	LogStreamNamePrefix string `json:"logStreamNamePrefix"`
	OrderBy             string `json:"orderBy"`
	Descending          bool   `json:"descending"`
	NextToken           string `json:"nextToken"`
	Limit               int    `json:"limit"`
}

func logsDescribeLogStreams(s *Server, c *call, in *logsDescribeLogStreamsIn) (any, error) {
	if in.OrderBy == "LastEventTime" && in.LogStreamNamePrefix != "" {
		return nil, logsInvalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
	}
	if in.OrderBy != "" && in.OrderBy != "LogStreamName" && in.OrderBy != "LastEventTime" {
		return nil, logsInvalid("orderBy must be LogStreamName or LastEventTime.")
	}
	if in.Limit < 0 || in.Limit > 50 {
		return nil, logsInvalid("limit must be between 1 and 50.")
	}
	g, err := s.st.findGroup(in.LogGroupName, in.LogGroupIdentifier)
	if err != nil {
		return nil, err
	}
	var out []logStreamInfo
	for _, st := range g.Streams {
		if strings.HasPrefix(st.Info.LogStreamName, in.LogStreamNamePrefix) {
			out = append(out, st.Info)
		}
	}
	sort.Slice(out, func(a, b int) bool {
		if in.OrderBy == "LastEventTime" && out[a].LastEventTimestamp != out[b].LastEventTimestamp {
			return out[a].LastEventTimestamp < out[b].LastEventTimestamp
		}
		return out[a].LogStreamName < out[b].LogStreamName
	})
	if in.Descending {
		slices.Reverse(out)
	}
	page, next, ok := pageOf(out, in.NextToken, pageSize(in.Limit, 50, 50))
	if !ok {
		return nil, logsInvalid("The specified nextToken is invalid.")
	}
	return struct {
		LogStreams []logStreamInfo `json:"logStreams"`
		NextToken  string          `json:"nextToken,omitempty"`
	}{orEmpty(page), next}, nil
}

type logsCreateLogStreamIn struct {
	LogGroupName  string `json:"logGroupName"`
	LogStreamName string `json:"logStreamName"`
}

var streamName = regexp.MustCompile(`^[^:*]{1,512}$`)

func logsCreateLogStream(s *Server, c *call, in *logsCreateLogStreamIn) (any, error) {
	if !streamName.MatchString(in.LogStreamName) {
		return nil, logsInvalid("logStreamName must be 1 to 512 characters without ':' or '*'.")
	}
	g, err := s.st.findGroup(in.LogGroupName, "")
	if err != nil {
		return nil, err
	}
	if g.stream(in.LogStreamName) != nil {
		return nil, badRequest("ResourceAlreadyExistsException", "The specified log stream already exists")
	}
	g.newStream(in.LogStreamName, c.now)
	c.dirty = true
	return struct{}{}, nil
}

type logsPutLogEventsIn struct {
	LogGroupName  string `json:"logGroupName"`
	LogStreamName string `json:"logStreamName"`
	LogEvents     []struct {
		Timestamp *int64 `json:"timestamp"`
		Message   string `json:"message"`
	} `json:"logEvents"`
	SequenceToken string `json:"sequenceToken"`
}

// maxEventsPerStream bounds what a stream keeps (oldest dropped first).
const maxEventsPerStream = 10000

func logsPutLogEvents(s *Server, c *call, in *logsPutLogEventsIn) (any, error) {
	if len(in.LogEvents) == 0 || len(in.LogEvents) > 10000 {
		return nil, logsInvalid("logEvents must have 1 to 10000 events.")
	}
	g, err := s.st.findGroup(in.LogGroupName, "")
	if err != nil {
		return nil, err
	}
	st := g.stream(in.LogStreamName)
	if st == nil {
		return nil, logsNotFound("stream")
	}
	now := epochMillis(c.now)
	type rejected struct {
		TooNewLogEventStartIndex *int `json:"tooNewLogEventStartIndex,omitempty"`
		TooOldLogEventEndIndex   *int `json:"tooOldLogEventEndIndex,omitempty"`
		ExpiredLogEventEndIndex  *int `json:"expiredLogEventEndIndex,omitempty"`
	}
	var rej rejected
	var accepted []logEvent
	for i, e := range in.LogEvents {
		if e.Timestamp == nil {
			return nil, logsInvalid("Each log event needs a timestamp.")
		}
		if i > 0 && *e.Timestamp < *in.LogEvents[i-1].Timestamp {
			return nil, logsInvalid("Log events in a single PutLogEvents request must be in chronological order.")
		}
		if len(e.Message) == 0 {
			return nil, logsInvalid("Log event message must not be empty.")
		}
		switch {
		case *e.Timestamp < now-14*24*3600*1000:
			rej.TooOldLogEventEndIndex = ptr(i + 1)
		case g.Info.RetentionInDays > 0 && *e.Timestamp < now-int64(g.Info.RetentionInDays)*24*3600*1000:
			rej.ExpiredLogEventEndIndex = ptr(i + 1)
		case *e.Timestamp > now+2*3600*1000:
			if rej.TooNewLogEventStartIndex == nil {
				rej.TooNewLogEventStartIndex = ptr(i)
			}
		default:
			accepted = append(accepted, logEvent{Timestamp: *e.Timestamp, Message: e.Message, IngestionTime: now})
		}
	}
	st.append(accepted)
	c.dirty = true
	out := struct {
		NextSequenceToken     string    `json:"nextSequenceToken"`
		RejectedLogEventsInfo *rejected `json:"rejectedLogEventsInfo,omitempty"`
	}{NextSequenceToken: st.Info.UploadSequenceToken}
	if rej != (rejected{}) {
		out.RejectedLogEventsInfo = &rej
	}
	return out, nil
}

func (s *logStream) append(events []logEvent) {
	if len(events) == 0 {
		return
	}
	s.Events = append(s.Events, events...)
	sort.SliceStable(s.Events, func(a, b int) bool { return s.Events[a].Timestamp < s.Events[b].Timestamp })
	if len(s.Events) > maxEventsPerStream {
		s.Events = s.Events[len(s.Events)-maxEventsPerStream:]
	}
	i := &s.Info
	i.FirstEventTimestamp, i.LastEventTimestamp = s.Events[0].Timestamp, s.Events[len(s.Events)-1].Timestamp
	i.LastIngestionTime = events[len(events)-1].IngestionTime
	for _, e := range events {
		i.StoredBytes += int64(len(e.Message) + 26)
	}
	i.UploadSequenceToken = fmt.Sprintf("4963%052d", i.LastIngestionTime+int64(len(s.Events)))
}

type logsFilterLogEventsIn struct {
	LogGroupName        string   `json:"logGroupName"`
	LogGroupIdentifier  string   `json:"logGroupIdentifier"`
	LogStreamNames      []string `json:"logStreamNames"`
	LogStreamNamePrefix string   `json:"logStreamNamePrefix"`
	StartTime           *int64   `json:"startTime"`
	EndTime             *int64   `json:"endTime"`
	FilterPattern       string   `json:"filterPattern"`
	NextToken           string   `json:"nextToken"`
	Limit               int      `json:"limit"`
	Interleaved         bool     `json:"interleaved"`
}

type logsFilteredEvent struct {
	LogStreamName string `json:"logStreamName"`
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
	EventID       string `json:"eventId"`
}

func logsFilterLogEvents(s *Server, c *call, in *logsFilterLogEventsIn) (any, error) {
	if len(in.LogStreamNames) > 0 && in.LogStreamNamePrefix != "" {
		return nil, logsInvalid("logStreamNames and logStreamNamePrefix are mutually exclusive.")
	}
	if in.Limit < 0 || in.Limit > 10000 {
		return nil, logsInvalid("limit must be between 1 and 10000.")
	}
	match, err := compileFilter(in.FilterPattern)
	if err != nil {
		return nil, logsInvalid("Invalid filter pattern %q: %v", in.FilterPattern, err)
	}
	g, aerr := s.st.findGroup(in.LogGroupName, in.LogGroupIdentifier)
	if aerr != nil {
		return nil, aerr
	}
	var events []logsFilteredEvent
	searched := []map[string]any{}
	for _, st := range g.Streams {
		name := st.Info.LogStreamName
		if (len(in.LogStreamNames) > 0 && !slices.Contains(in.LogStreamNames, name)) || !strings.HasPrefix(name, in.LogStreamNamePrefix) {
			continue
		}
		searched = append(searched, map[string]any{"logStreamName": name, "searchedCompletely": true})
		for i, e := range st.Events {
			if (in.StartTime != nil && e.Timestamp < *in.StartTime) || (in.EndTime != nil && e.Timestamp > *in.EndTime) || !match(e.Message) {
				continue
			}
			events = append(events, logsFilteredEvent{LogStreamName: name, Timestamp: e.Timestamp, Message: e.Message, IngestionTime: e.IngestionTime,
				EventID: fmt.Sprintf("%056d", e.Timestamp*1000+int64(i))})
		}
	}
	sort.SliceStable(events, func(a, b int) bool { return events[a].Timestamp < events[b].Timestamp })
	page, next, ok := pageOf(events, in.NextToken, pageSize(in.Limit, 10000, 10000))
	if !ok {
		return nil, logsInvalid("The specified nextToken is invalid.")
	}
	return struct {
		Events             []logsFilteredEvent `json:"events"`
		SearchedLogStreams []map[string]any    `json:"searchedLogStreams"`
		NextToken          string              `json:"nextToken,omitempty"`
	}{orEmpty(page), searched, next}, nil
}

// compileFilter implements CloudWatch Logs' term patterns: every term must
// occur (case-sensitive), "quoted phrases" as one term, ?term makes the
// ?-terms alternatives, -term excludes. JSON ({…}) and space-delimited ([…])
// patterns are not implemented and refused.
func compileFilter(pattern string) (func(string) bool, error) {
	p := strings.TrimSpace(pattern)
	if p == "" || p == `""` {
		return func(string) bool { return true }, nil
	}
	if strings.HasPrefix(p, "{") || strings.HasPrefix(p, "[") || strings.HasPrefix(p, "%") {
		return nil, fmt.Errorf("local-aws implements term patterns (words, \"phrases\", ?any, -excluded), not JSON, space-delimited or regex patterns")
	}
	var all, anyOf, none []string
	for _, t := range regexp.MustCompile(`[-?]?"[^"]*"|\S+`).FindAllString(p, -1) {
		kind := byte(0)
		if t[0] == '-' || t[0] == '?' {
			kind, t = t[0], t[1:]
		}
		t = strings.Trim(t, `"`)
		switch kind {
		case '-':
			none = append(none, t)
		case '?':
			anyOf = append(anyOf, t)
		default:
			all = append(all, t)
		}
	}
	return func(msg string) bool {
		for _, t := range all {
			if !strings.Contains(msg, t) {
				return false
			}
		}
		for _, t := range none {
			if strings.Contains(msg, t) {
				return false
			}
		}
		return len(anyOf) == 0 || slices.ContainsFunc(anyOf, func(t string) bool { return strings.Contains(msg, t) })
	}, nil
}
