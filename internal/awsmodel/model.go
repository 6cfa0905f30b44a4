// Package awsmodel holds the AWS models of the services Warden serves (IoT,
// SNS, IAM), pinned as botocore ships them, and derives from them what the
// protocol layer needs: each operation's method and path, its input and output
// shapes with member locations and constraints, its errors and its paginator.
//
// The models are loaded from the embedded files at first use, so what Warden
// routes, binds and validates is the model itself, not a copy of it.
package awsmodel

import (
	"bytes"
	"compress/gzip"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
)

// The botocore 1.43.11 data files, unmodified (Apache-2.0, see models/NOTICE
// and models/LICENSE.txt).
//
//go:embed models
var modelFiles embed.FS

// Service is one AWS service model.
type Service struct {
	// ID is the directory the model is pinned in, e.g. "iot-2015-05-28".
	ID         string
	Protocol   string // "rest-json" or "query"
	APIVersion string
	// Operations by name.
	Operations map[string]*Operation
	// Shapes by name.
	Shapes map[string]*Shape
}

// Operation is one AWS operation as the model declares it.
type Operation struct {
	Name string
	// Method and Path are the HTTP binding (restJson1); Path keeps the
	// model's labels ({name}, and {name+} for a greedy label).
	Method, Path string
	// SuccessStatus is the status of a successful answer (200 unless the model says otherwise).
	SuccessStatus int
	Input, Output *Shape // nil when the operation has none
	// Errors are the error shapes the operation may answer with.
	Errors []*Shape
	// Paginator is nil for operations that do not page.
	Paginator *Paginator
}

// Paginator names the members a list operation pages with.
type Paginator struct {
	InputToken, OutputToken, LimitKey string
	// Marker is set when the input token's pattern refuses base64url (the
	// markers' [A-Za-z0-9+/]+={0,2}): tokens are then padded standard base64.
	Marker bool
}

// Shape is a model shape with the constraints AWS validates.
type Shape struct {
	Name string
	// Type is the model type: structure, list, map, string, integer, long,
	// double, float, boolean, timestamp, blob.
	Type string
	// Members of a structure, in model order.
	Members []*Member
	// Member is a list's element; Key and Value a map's.
	Member, Key, Value *Member
	// Min and Max bound a string's or blob's length, a list's or map's item
	// count, or a number's value.
	Min, Max *float64
	// Pattern is the model's regular expression, as the model spells it
	// (it is quoted so in messages); Regexp matches a whole value.
	Pattern string
	Regexp  *regexp.Regexp
	Enum    []string
	// Exception marks an error shape; Code and Status are what it is sent with.
	Exception bool
	Code      string
	Status    int
	// Flattened lists and maps are serialised without a wrapper (query protocol).
	Flattened bool
	// Payload names the member that is the whole HTTP body (a blob), if any.
	Payload string
}

// Member is a structure member.
type Member struct {
	Name  string
	Shape *Shape
	// Location is "" for the body, or uri, querystring, header, headers, statusCode.
	Location, LocationName string
	Required               bool
	IdempotencyToken       bool
	Flattened              bool
	// ValidatedByHandler: only the member's JSON type is checked against
	// the model, its constraints are the handler's (see Overrides).
	ValidatedByHandler bool
}

// Member returns the structure member named name, or nil.
func (s *Shape) MemberNamed(name string) *Member {
	for _, m := range s.Members {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// HasError reports whether code is one of the operation's modelled errors.
func (o *Operation) HasError(code string) bool {
	for _, e := range o.Errors {
		if e.Code == code {
			return true
		}
	}
	return false
}

var (
	loadOnce sync.Once
	services map[string]*Service
	loadErr  error
)

// The services Warden serves, by model directory.
const (
	IoTModel = "iot-2015-05-28"
	SNSModel = "sns-2010-03-31"
	IAMModel = "iam-2010-05-08"
	// IoTDataModel is the device data plane's HTTP API (iot-data Publish).
	IoTDataModel = "iot-data-2015-05-28"
)

// Load returns the pinned model id (IoTModel, SNSModel, IAMModel, IoTDataModel).
func Load(id string) *Service {
	loadOnce.Do(func() {
		ids := []string{IoTModel, SNSModel, IAMModel, IoTDataModel}
		parsed := make([]*Service, len(ids))
		errs := make([]error, len(ids))
		var wg sync.WaitGroup
		for i, id := range ids {
			wg.Go(func() { parsed[i], errs[i] = parse(id) })
		}
		wg.Wait()
		services = map[string]*Service{}
		for i, id := range ids {
			if errs[i] != nil {
				loadErr = fmt.Errorf("awsmodel: %s: %w", id, errs[i])
				return
			}
			services[id] = parsed[i]
		}
		applyOverrides(services)
		// Parsing 2 MB of JSON left ~13 MB of garbage behind; a server that
		// has just started should not keep it as resident memory (one
		// collection, a few milliseconds, once).
		debug.FreeOSMemory()
	})
	if loadErr != nil {
		panic(loadErr) // the embedded files are fixed at build time; a test catches this
	}
	s, ok := services[id]
	if !ok {
		panic("awsmodel: no model " + id)
	}
	return s
}

// The JSON of a botocore service-2 file, as far as Warden reads it.
type (
	rawModel struct {
		Metadata struct {
			Protocol   string `json:"protocol"`
			APIVersion string `json:"apiVersion"`
		} `json:"metadata"`
		Operations map[string]rawOperation `json:"operations"`
		Shapes     map[string]*rawShape
	}
	rawOperation struct {
		HTTP struct {
			Method       string `json:"method"`
			RequestURI   string `json:"requestUri"`
			ResponseCode int    `json:"responseCode"`
		} `json:"http"`
		Input  *rawRef  `json:"input"`
		Output *rawRef  `json:"output"`
		Errors []rawRef `json:"errors"`
	}
	rawRef struct {
		Shape            string `json:"shape"`
		Location         string `json:"location"`
		LocationName     string `json:"locationName"`
		IdempotencyToken bool   `json:"idempotencyToken"`
		Flattened        bool   `json:"flattened"`
	}
	rawShape struct {
		Type      string          `json:"type"`
		Members   json.RawMessage `json:"members"`
		Required  []string        `json:"required"`
		Member    *rawRef         `json:"member"`
		Key       *rawRef         `json:"key"`
		Value     *rawRef         `json:"value"`
		Min       *float64        `json:"min"`
		Max       *float64        `json:"max"`
		Pattern   string          `json:"pattern"`
		Enum      []string        `json:"enum"`
		Exception bool            `json:"exception"`
		Flattened bool            `json:"flattened"`
		Payload   string          `json:"payload"`
		Error     struct {
			Code           string `json:"code"`
			HTTPStatusCode int    `json:"httpStatusCode"`
		} `json:"error"`
	}
)

func parse(id string) (*Service, error) {
	gz, err := modelFiles.ReadFile("models/" + id + "/service-2.json.gz")
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		return nil, err
	}
	var raw rawModel
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	svc := &Service{ID: id, Protocol: raw.Metadata.Protocol, APIVersion: raw.Metadata.APIVersion,
		Operations: map[string]*Operation{}, Shapes: map[string]*Shape{}}
	for name := range raw.Shapes {
		svc.Shapes[name] = &Shape{Name: name}
	}
	for name, rs := range raw.Shapes {
		if err := svc.fill(svc.Shapes[name], rs); err != nil {
			return nil, fmt.Errorf("shape %s: %w", name, err)
		}
	}
	for name, ro := range raw.Operations {
		op := &Operation{Name: name, Method: ro.HTTP.Method, Path: ro.HTTP.RequestURI, SuccessStatus: ro.HTTP.ResponseCode}
		if op.SuccessStatus == 0 {
			op.SuccessStatus = http.StatusOK
		}
		if ro.Input != nil {
			op.Input = svc.Shapes[ro.Input.Shape]
		}
		if ro.Output != nil {
			op.Output = svc.Shapes[ro.Output.Shape]
		}
		for _, e := range ro.Errors {
			op.Errors = append(op.Errors, svc.Shapes[e.Shape])
		}
		svc.Operations[name] = op
	}
	pages, err := modelFiles.ReadFile("models/" + id + "/paginators-1.json")
	if err != nil {
		return nil, err
	}
	var rawPages struct {
		Pagination map[string]struct {
			InputToken  any    `json:"input_token"`
			OutputToken any    `json:"output_token"`
			LimitKey    string `json:"limit_key"`
		} `json:"pagination"`
	}
	if err := json.Unmarshal(pages, &rawPages); err != nil {
		return nil, fmt.Errorf("paginators: %w", err)
	}
	for name, p := range rawPages.Pagination {
		in, ok1 := p.InputToken.(string)
		out, ok2 := p.OutputToken.(string)
		if op := svc.Operations[name]; op != nil && ok1 && ok2 {
			op.Paginator = &Paginator{InputToken: in, OutputToken: out, LimitKey: p.LimitKey}
			if m := op.Input.MemberNamed(in); m != nil && m.Shape.Regexp != nil {
				op.Paginator.Marker = !m.Shape.Regexp.MatchString("a-b_c")
			}
		}
	}
	return svc, nil
}

func (svc *Service) fill(s *Shape, rs *rawShape) error {
	s.Type, s.Min, s.Max, s.Enum, s.Exception, s.Flattened = rs.Type, rs.Min, rs.Max, rs.Enum, rs.Exception, rs.Flattened
	s.Code, s.Status, s.Payload = rs.Error.Code, rs.Error.HTTPStatusCode, rs.Payload
	if s.Code == "" {
		s.Code = s.Name
	}
	if s.Status == 0 {
		s.Status = http.StatusBadRequest
	}
	if rs.Pattern != "" {
		s.Pattern = rs.Pattern
		// A pattern RE2 cannot express (a lookahead in one IAM shape Warden
		// does not serve) stays unenforced; the model test lists the served
		// operations' patterns, so none of theirs can be.
		s.Regexp, _ = compilePattern(rs.Pattern)
	}
	ref := func(r *rawRef, name string) (*Member, error) {
		if r == nil {
			return nil, nil
		}
		target := svc.Shapes[r.Shape]
		if target == nil {
			return nil, fmt.Errorf("unknown shape %q", r.Shape)
		}
		return &Member{Name: name, Shape: target, Location: r.Location, LocationName: r.LocationName,
			IdempotencyToken: r.IdempotencyToken, Flattened: r.Flattened || target.Flattened}, nil
	}
	var err error
	if s.Member, err = ref(rs.Member, "member"); err != nil {
		return err
	}
	if s.Key, err = ref(rs.Key, "key"); err != nil {
		return err
	}
	if s.Value, err = ref(rs.Value, "value"); err != nil {
		return err
	}
	if len(rs.Members) == 0 {
		return nil
	}
	// Members keep the model's order: AWS reports violations in it.
	dec := json.NewDecoder(bytes.NewReader(rs.Members))
	if _, err := dec.Token(); err != nil {
		return err
	}
	required := map[string]bool{}
	for _, r := range rs.Required {
		required[r] = true
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		var r rawRef
		if err := dec.Decode(&r); err != nil {
			return err
		}
		name := tok.(string)
		m, err := ref(&r, name)
		if err != nil {
			return err
		}
		if m.LocationName == "" {
			m.LocationName = name
		}
		m.Required = required[name]
		s.Members = append(s.Members, m)
	}
	return nil
}

// javaClasses are the Java character classes the models use, as RE2 ranges;
// all of them stand inside brackets in the models.
var javaClasses = strings.NewReplacer(
	`\p{Graph}`, `\x21-\x7E`,
	`\p{Cntrl}`, `\x00-\x1F\x7F`,
	`\p{Upper}`, `A-Z`,
	`\p{Digit}`, `0-9`,
)

var javaUnicodeEscape = regexp.MustCompile(`\\u([0-9A-Fa-f]{4})`)

// compilePattern compiles a model pattern so that it must match a whole
// value, as AWS applies it.
func compilePattern(p string) (*regexp.Regexp, error) {
	p = javaUnicodeEscape.ReplaceAllString(javaClasses.Replace(p), `\x{$1}`)
	return regexp.Compile(`^(?:` + p + `)$`)
}
