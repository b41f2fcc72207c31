// Package server is local-aws: one HTTP endpoint that speaks the wire
// protocols of the AWS APIs the plugin uses (awsJson1_0/1_1, awsquery,
// rpc-v2-cbor, restJson1), verifies SigV4, and keeps the state of a seeded
// ECS deployment of layering-detection.
package server

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Config is what a local AWS is started with.
// DefaultAccountID is the account served unless Config.AccountID names
// another; not the overlays' placeholder 111122223333.
const DefaultAccountID = "210987654321"

type Config struct {
	AccessKeyID     string
	SecretAccessKey string
	Region          string
	AccountID       string
	// StatePath is the JSON file the state is kept in; empty keeps it in memory.
	StatePath string
	// RolloutStep is how long an ECS deployment takes per task started or stopped.
	RolloutStep time.Duration
	// Now is the clock (tests move it); nil means time.Now.
	Now    func() time.Time
	Logger *log.Logger
}

type protocol int

const (
	awsJSON protocol = iota
	rpcCBOR
	awsQuery
	restJSON
)

func (p protocol) String() string {
	return [...]string{"awsJson", "rpc-v2-cbor", "awsquery", "restJson1"}[p]
}

type handler func(s *Server, c *call) (any, error)

// service is one AWS API: how requests find it and what it implements.
type service struct {
	name         string // fault-table key, e.g. "ecs"
	signingName  string // SigV4 credential scope service
	targetPrefix string // awsJson X-Amz-Target prefix
	xmlns        string // awsquery response namespace
	shapeNS      string // Smithy namespace for CBOR __type
	// resultAlways: every operation has an output shape, so an empty output is
	// still an empty <OpResult/> (ELBv2); the SDK fails without it.
	resultAlways bool
	ops          map[string]handler
}

// call is one request on its way through the server.
type call struct {
	proto       protocol
	jsonVersion string // "1.0" or "1.1" for awsJson
	svc         *service
	op          string
	reqID       string
	input       any
	now         time.Time
	dirty       bool // the state changed and must be saved
	status      int  // restJson success status
}

// Server is an http.Handler serving every implemented service on one address.
type Server struct {
	cfg      Config
	signer   *v4.Signer
	services map[string]*service // by name
	faults   *faultTable

	mu sync.Mutex
	st *State
}

// New loads the state from cfg.StatePath (or seeds it) and returns the server.
func New(cfg Config) (*Server, error) {
	if cfg.AccessKeyID == "" || cfg.SecretAccessKey == "" {
		return nil, fmt.Errorf("an access key id and secret access key are required")
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.AccountID == "" {
		cfg.AccountID = DefaultAccountID
	}
	if cfg.RolloutStep == 0 {
		cfg.RolloutStep = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = log.New(io.Discard, "", 0)
	}
	s := &Server{cfg: cfg, signer: v4.NewSigner(), faults: newFaultTable()}
	s.services = map[string]*service{}
	for _, svc := range []*service{stsService(), ecsAPI(), cloudwatchService(), elbv2Service(),
		logsService(), autoscalingService(), efsService(), secretsService()} {
		s.services[svc.name] = svc
	}
	st, err := loadState(cfg.StatePath)
	if err != nil {
		return nil, err
	}
	if st == nil {
		st = seed(cfg.Region, cfg.AccountID, cfg.Now())
		if err := st.save(cfg.StatePath); err != nil {
			return nil, err
		}
	}
	s.st = st
	return s, nil
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, controlPrefix) {
		s.control(w, r)
		return
	}
	start := s.cfg.Now()
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		http.Error(w, "reading the request body: "+err.Error(), http.StatusBadRequest)
		return
	}
	c := &call{reqID: newRequestID(), now: start, status: http.StatusOK}
	out, aerr := s.handle(c, r, body)
	if aerr != nil {
		s.writeError(w, c, aerr)
		s.cfg.Logger.Printf("%s %s %s -> %d %s (%s)", c.reqID, svcName(c), c.op, aerr.Status, aerr.Code, time.Since(start).Round(time.Millisecond))
		return
	}
	s.writeOutput(w, c, out)
	s.cfg.Logger.Printf("%s %s %s -> %d (%s)", c.reqID, svcName(c), c.op, c.status, time.Since(start).Round(time.Millisecond))
}

func svcName(c *call) string {
	if c.svc == nil {
		return "-"
	}
	return c.svc.name
}

// handle takes a request through classification, SigV4, faults, decoding and
// the operation.
func (s *Server) handle(c *call, r *http.Request, body []byte) (any, *apiError) {
	auth, authErr := parseAuthorization(r)
	if aerr := s.classify(c, r, body, auth); aerr != nil {
		return nil, aerr
	}
	if authErr != nil {
		return nil, authError(c.proto, authErr)
	}
	if err := s.verify(r, body, auth, c.svc.signingName, c.now); err != nil {
		return nil, authError(c.proto, err)
	}
	if aerr := s.faults.apply(c.svc.name, c.op, c.proto, s.cfg.AccountID); aerr != nil {
		return nil, aerr
	}
	h, ok := c.svc.ops[c.op]
	if !ok {
		return nil, unknownOperation(c.proto, c.op)
	}
	in, err := decodeInput(c, r, body)
	if err != nil {
		return nil, malformedInput(c.proto, err)
	}
	c.input = in

	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.advance(c.now, s.cfg.RolloutStep)
	out, err := h(s, c)
	if c.dirty || s.st.changed {
		s.st.changed = false
		if serr := s.st.save(s.cfg.StatePath); serr != nil {
			s.cfg.Logger.Printf("saving state: %v", serr)
		}
	}
	if err != nil {
		if aerr, ok := err.(*apiError); ok {
			return nil, aerr
		}
		return nil, malformedInput(c.proto, err)
	}
	return out, nil
}

// classify finds protocol, service and operation from the protocol markers.
func (s *Server) classify(c *call, r *http.Request, body []byte, auth *authorization) *apiError {
	ct := r.Header.Get("Content-Type")
	switch {
	case strings.EqualFold(r.Header.Get("Smithy-Protocol"), "rpc-v2-cbor"):
		c.proto = rpcCBOR
		// /service/<ServiceShape>/operation/<Operation>
		parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
		if len(parts) != 4 || parts[0] != "service" || parts[2] != "operation" {
			return errorf(http.StatusNotFound, "UnknownOperationException", "rpc-v2-cbor path must be /service/<service>/operation/<operation>, not %s", r.URL.Path)
		}
		for _, svc := range s.services {
			if svc.targetPrefix == parts[1] {
				c.svc, c.op = svc, parts[3]
				return nil
			}
		}
		return errorf(http.StatusNotFound, "UnknownOperationException", "no rpc-v2-cbor service %s here", parts[1])
	case r.Header.Get("X-Amz-Target") != "":
		c.proto = awsJSON
		c.jsonVersion = strings.TrimPrefix(ct, "application/x-amz-json-")
		if c.jsonVersion != "1.0" && c.jsonVersion != "1.1" {
			c.jsonVersion = "1.1"
		}
		prefix, op, _ := strings.Cut(r.Header.Get("X-Amz-Target"), ".")
		for _, svc := range s.services {
			if svc.targetPrefix == prefix {
				c.svc, c.op = svc, op
				return nil
			}
		}
		return errorf(http.StatusBadRequest, "UnknownOperationException", "no awsJson service with X-Amz-Target prefix %q here", prefix)
	case strings.HasPrefix(r.URL.Path, "/2015-02-01/"):
		c.proto, c.svc = restJSON, s.services["efs"]
		c.op = efsRoute(r.Method, r.URL.Path)
		return nil
	}
	// awsquery: Action in a form body (or, for GET, in the URL).
	c.proto = awsQuery
	form, err := queryForm(r, body)
	if err != nil || form.Get("Action") == "" {
		return errorf(http.StatusBadRequest, "MissingAction", "no AWS protocol recognised: expected rpc-v2-cbor, X-Amz-Target, an Action parameter or an EFS path")
	}
	c.op = form.Get("Action")
	name := ""
	if auth != nil {
		for _, svc := range s.services {
			if svc.xmlns != "" && svc.signingName == auth.service {
				name = svc.name
			}
		}
	}
	if name == "" { // unsigned or unknown scope: guess by the action, for the error envelope
		name = "cloudwatch"
		for _, svc := range s.services {
			if _, ok := svc.ops[c.op]; ok && svc.xmlns != "" {
				name = svc.name
			}
		}
	}
	c.svc = s.services[name]
	return nil
}

func queryForm(r *http.Request, body []byte) (url.Values, error) {
	if r.Method == http.MethodGet {
		return r.URL.Query(), nil
	}
	return url.ParseQuery(string(body))
}

func decodeInput(c *call, r *http.Request, body []byte) (any, error) {
	switch c.proto {
	case rpcCBOR:
		return decodeCBOR(body)
	case awsJSON:
		return decodeJSON(body)
	case restJSON:
		t := map[string]any{}
		for k, v := range r.URL.Query() {
			t[k] = v[0]
		}
		if len(body) > 0 {
			b, err := decodeJSON(body)
			if err != nil {
				return nil, err
			}
			if m, ok := b.(map[string]any); ok {
				for k, v := range m {
					t[k] = v
				}
			}
		}
		return t, nil
	}
	form, err := queryForm(r, body)
	if err != nil {
		return nil, err
	}
	return queryTree(form), nil
}

func (s *Server) writeOutput(w http.ResponseWriter, c *call, out any) {
	tree := toTree(out)
	if tree == nil {
		tree = map[string]any{}
	}
	h := w.Header()
	h.Set("x-amzn-RequestId", c.reqID)
	var body []byte
	switch c.proto {
	case rpcCBOR:
		h.Set("Content-Type", "application/cbor")
		h.Set("Smithy-Protocol", "rpc-v2-cbor")
		body = encodeCBOR(tree)
	case awsJSON:
		h.Set("Content-Type", "application/x-amz-json-"+c.jsonVersion)
		body = encodeJSON(tree)
	case restJSON:
		h.Set("Content-Type", "application/json")
		body = encodeJSON(tree)
	case awsQuery:
		h.Set("Content-Type", "text/xml")
		var b bytes.Buffer
		fmt.Fprintf(&b, `<%sResponse xmlns="%s">`, c.op, c.svc.xmlns)
		if m, ok := tree.(map[string]any); !ok || len(m) > 0 || c.svc.resultAlways {
			fmt.Fprintf(&b, "<%sResult>", c.op)
			writeXML(&b, tree)
			fmt.Fprintf(&b, "</%sResult>", c.op)
		}
		fmt.Fprintf(&b, "<ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></%sResponse>", c.reqID, c.op)
		body = b.Bytes()
	}
	w.WriteHeader(c.status)
	_, _ = w.Write(body)
}

func (s *Server) writeError(w http.ResponseWriter, c *call, e *apiError) {
	h := w.Header()
	h.Set("x-amzn-RequestId", c.reqID)
	var body []byte
	switch c.proto {
	case rpcCBOR:
		h.Set("Content-Type", "application/cbor")
		h.Set("Smithy-Protocol", "rpc-v2-cbor")
		h.Set("X-Amzn-Query-Error", e.queryCode()+";"+e.fault())
		typ := e.Code
		if c.svc != nil && c.svc.shapeNS != "" {
			typ = c.svc.shapeNS + "#" + e.Code
		}
		body = encodeCBOR(map[string]any{"__type": typ, "message": e.Message})
	case awsJSON:
		h.Set("Content-Type", "application/x-amz-json-"+c.jsonVersion)
		h.Set("x-amzn-ErrorType", e.Code)
		if c.svc != nil && c.svc.xmlns != "" { // awsQueryCompatible (CloudWatch)
			h.Set("X-Amzn-Query-Error", e.queryCode()+";"+e.fault())
		}
		body = encodeJSON(map[string]any{"__type": e.Code, "message": e.Message})
	case restJSON:
		h.Set("Content-Type", "application/json")
		h.Set("x-amzn-ErrorType", e.Code)
		body = encodeJSON(map[string]any{"ErrorCode": e.Code, "Message": e.Message, "message": e.Message})
	case awsQuery:
		h.Set("Content-Type", "text/xml")
		var b bytes.Buffer
		ns := "https://sts.amazonaws.com/doc/2011-06-15/"
		if c.svc != nil {
			ns = c.svc.xmlns
		}
		fmt.Fprintf(&b, `<ErrorResponse xmlns="%s"><Error><Type>%s</Type><Code>%s</Code><Message>`, ns, e.fault(), e.queryCode())
		writeXML(&b, e.Message)
		fmt.Fprintf(&b, "</Message></Error><RequestId>%s</RequestId></ErrorResponse>", c.reqID)
		body = b.Bytes()
	}
	w.WriteHeader(e.Status)
	_, _ = w.Write(body)
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
