package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/awsmodel"
)

// Input is an operation's request as its model sees it: every member that
// was sent, by member name, as generic JSON (see awsmodel.Shape.Validate);
// a timestamp from the query string is a time.Time.
type Input map[string]any

// String is the string member name as sent, "" when absent.
func (in Input) String(name string) string {
	v, _ := in[name].(string)
	return v
}

// Bool is the boolean member name as sent, false when absent.
func (in Input) Bool(name string) bool {
	v, _ := in[name].(bool)
	return v
}

// Time is the timestamp member name as sent in a query string, zero when
// absent.
func (in Input) Time(name string) time.Time {
	v, _ := in[name].(time.Time)
	return v
}

// ReadRESTJSON reads op's input members from r (path labels, query string,
// headers) and the JSON body, and validates them against the model. Every
// error is an InvalidRequestException in AWS's validation format.
func ReadRESTJSON(op *awsmodel.Operation, r *http.Request, body []byte) (Input, error) {
	in := Input{}
	if op.Input == nil {
		return in, nil
	}
	var v warden.Validator
	switch payload := op.Input.MemberNamed(op.Input.Payload); {
	case payload == nil:
		if err := decodeBody(body, &in); err != nil {
			return nil, err
		}
	case payload.Shape.Type == "structure":
		// The body is that one member (SetLoggingOptions).
		var member Input
		if err := decodeBody(body, &member); err != nil {
			return nil, err
		}
		if member != nil {
			in[payload.Name] = map[string]any(member)
		}
	}
	var query map[string][]string
	for _, m := range op.Input.Members {
		var raw []string
		switch m.Location {
		case "":
			continue
		case "uri":
			raw = []string{r.PathValue(m.LocationName)}
		case "querystring":
			if query == nil {
				query = r.URL.Query()
			}
			raw = query[m.LocationName]
		case "header":
			raw = r.Header.Values(m.LocationName)
		default:
			continue
		}
		if len(raw) == 0 {
			delete(in, m.Name) // a location member cannot also come in the body
			continue
		}
		if x, ok := scalar(&v, m, raw); ok {
			in[m.Name] = x
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	op.Input.Validate(&v, "", map[string]any(in))
	return in, v.Err()
}

// decodeBody reads a JSON object body into in. An empty body is an empty
// object: clients send no body when no member is set.
func decodeBody(body []byte, in *Input) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil
	}
	if body[0] != '{' {
		return warden.Errorf(warden.CodeInvalidRequest, "The request body must be a JSON object.")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode((*map[string]any)(in)); err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			return warden.Errorf(warden.CodeInvalidRequest, "Malformed JSON in the request body at offset %d: %s.", syntax.Offset, syntax.Error())
		}
		return warden.Errorf(warden.CodeInvalidRequest, "Could not decode the request body: %s", err.Error())
	}
	return nil
}

// scalar converts a path, query or header value to the member's type; a
// list member takes every value sent.
func scalar(v *warden.Validator, m *awsmodel.Member, raw []string) (any, bool) {
	shape := m.Shape
	if shape.Type == "list" {
		items := make([]any, 0, len(raw))
		for _, r := range raw {
			x, ok := convert(v, m.LocationName, shape.Member.Shape.Type, r)
			if !ok {
				return nil, false
			}
			items = append(items, x)
		}
		return items, true
	}
	return convert(v, m.LocationName, shape.Type, raw[0])
}

func convert(v *warden.Validator, name, typ, raw string) (any, bool) {
	var x any
	var err error
	switch typ {
	case "integer", "long":
		_, err = ParseInt(name, raw, 64)
		x = json.Number(raw)
	case "double", "float":
		_, err = ParseFloat(name, raw)
		x = json.Number(raw)
	case "boolean":
		x, err = ParseBool(name, raw)
	case "timestamp":
		x, err = ParseTimestamp(name, raw)
	default:
		return raw, true
	}
	if Report(v, err) {
		return nil, false
	}
	return x, true
}

// Bind fills dst, a pointer to a struct, with the members of in: body
// members as encoding/json would, the others into the field whose json name
// is the member's. Fields may be string, bool, integer or time.Time, a
// pointer to one of them, or []string.
func Bind(op *awsmodel.Operation, body []byte, in Input, dst any) error {
	if op.Input == nil {
		return nil
	}
	// A structure payload is bound the same way: dst is then that structure.
	if !blobPayload(op.Input) && len(bytes.TrimSpace(body)) > 0 {
		err := json.Unmarshal(body, dst)
		var typeErr *json.UnmarshalTypeError
		if err != nil && !(errors.As(err, &typeErr) && located(op.Input, typeErr.Field)) {
			return bodyTypeError(err)
		}
	}
	rv := reflect.ValueOf(dst).Elem()
	fields := jsonFields(rv.Type())
	for _, m := range op.Input.Members {
		i, ok := fields[m.Name]
		if m.Location == "" || !ok {
			continue
		}
		// Only what came at the member's location counts: a body key of
		// the same name is not the member.
		rv.Field(i).SetZero()
		if x, sent := in[m.Name]; sent {
			if err := set(rv.Field(i), x); err != nil {
				return fmt.Errorf("binding %s.%s: %w", op.Name, m.Name, err)
			}
		}
	}
	return nil
}

// located reports whether name is a member of s sent outside the body.
func located(s *awsmodel.Shape, name string) bool {
	m := s.MemberNamed(name)
	return m != nil && m.Location != ""
}

// blobPayload reports whether the body is a raw member (iot-data Publish),
// which the handler reads as it is.
func blobPayload(s *awsmodel.Shape) bool {
	m := s.MemberNamed(s.Payload)
	return m != nil && m.Shape.Type != "structure"
}

// bodyTypeError turns an encoding/json type error the model allowed (a Go
// type narrower than the model's) into AWS's validation message.
func bodyTypeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return warden.Errorf(warden.CodeInvalidRequest,
			"1 validation error detected: Value at '%s' failed to satisfy constraint: Member must be %s, not a JSON %s",
			typeErr.Field, typeErr.Type.String(), typeErr.Value)
	}
	return warden.Errorf(warden.CodeInvalidRequest, "Could not decode the request body: %s", err.Error())
}

var fieldCache sync.Map // reflect.Type → map[string]int

// jsonFields maps a struct type's json names to field indexes.
func jsonFields(t reflect.Type) map[string]int {
	if f, ok := fieldCache.Load(t); ok {
		return f.(map[string]int)
	}
	f := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			f[name] = i
		}
	}
	fieldCache.Store(t, f)
	return f
}

var timeType = reflect.TypeOf(time.Time{})

// set stores x, a value Input holds, in field.
func set(field reflect.Value, x any) error {
	if field.Kind() == reflect.Pointer {
		p := reflect.New(field.Type().Elem())
		if err := set(p.Elem(), x); err != nil {
			return err
		}
		field.Set(p)
		return nil
	}
	switch x := x.(type) {
	case string:
		if field.Kind() == reflect.String {
			field.SetString(x)
			return nil
		}
	case bool:
		if field.Kind() == reflect.Bool {
			field.SetBool(x)
			return nil
		}
	case json.Number:
		n, err := x.Int64()
		switch {
		case err != nil:
			return err
		case field.CanInt() && !field.OverflowInt(n):
			field.SetInt(n)
			return nil
		case field.CanUint() && n >= 0 && !field.OverflowUint(uint64(n)):
			field.SetUint(uint64(n))
			return nil
		}
	case time.Time:
		if field.Type() == timeType {
			field.Set(reflect.ValueOf(x))
			return nil
		}
	case []any:
		if field.Type() == reflect.TypeOf([]string(nil)) {
			out := make([]string, len(x))
			for i, item := range x {
				out[i], _ = item.(string)
			}
			field.Set(reflect.ValueOf(out))
			return nil
		}
	}
	return fmt.Errorf("cannot store %T in a %s field", x, field.Type())
}
