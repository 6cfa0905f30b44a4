package protocol

import (
	"encoding/json"
	"errors"
	"net/url"
	"strconv"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/awsmodel"
)

// ReadQuery reads op's input members from form as the query protocol
// (botocore's QuerySerializer) sends them: a scalar by its name, a
// structure's members as Name.Member, a list as Name.member.N (Name.N when
// flattened; "Name=" alone is an empty list), a map as Name.entry.N.key and
// Name.entry.N.value (Name.N.… when flattened; key and value renamed by
// their locationName). Scalars are converted to the model's type and the
// input is validated against the model, members named as the query
// services name them ("roleName", "tags.1.member.key").
//
// A violation is a *warden.Error with code (each service has its own: IAM's
// ValidationError, SNS's InvalidParameter) in AWS's validation format.
func ReadQuery(op *awsmodel.Operation, form url.Values, code warden.Code) (Input, error) {
	in := Input{}
	if op.Input == nil {
		return in, nil
	}
	r := queryReader{form: form, sent: map[string]bool{}}
	for key := range form {
		// Every dotted prefix of a key was sent: a list item or a map
		// entry exists when anything under it does.
		for i := range len(key) {
			if key[i] == '.' {
				r.sent[key[:i]] = true
			}
		}
		r.sent[key] = true
	}
	for _, m := range op.Input.Members {
		if x, ok := r.read(m.Shape, m.LocationName, m.QueryName()); ok {
			in[m.Name] = x
		}
	}
	op.Input.ValidateQuery(&r.v, map[string]any(in))
	if err := r.v.Err(); err != nil {
		var e *warden.Error
		if errors.As(err, &e) {
			e.Code = code
		}
		return nil, err
	}
	return in, nil
}

// queryReader reads one form; v collects the values that are not of their
// member's type.
type queryReader struct {
	form url.Values
	sent map[string]bool
	v    warden.Validator
}

// read returns the value of shape sent under key (path names it in
// messages); ok is false when nothing was sent, or it is not of its type.
func (r *queryReader) read(shape *awsmodel.Shape, key, path string) (any, bool) {
	if !r.sent[key] {
		return nil, false
	}
	switch shape.Type {
	case "structure":
		obj := map[string]any{}
		for _, m := range shape.Members {
			if x, ok := r.read(m.Shape, key+"."+m.LocationName, path+"."+m.QueryName()); ok {
				obj[m.Name] = x
			}
		}
		return obj, true
	case "list":
		items := []any{}
		prefix := key + "." + memberName(shape.Member, "member") + "."
		if shape.Flattened {
			prefix = key + "."
		}
		for i := 1; r.sent[prefix+strconv.Itoa(i)]; i++ {
			item, ok := r.read(shape.Member.Shape, prefix+strconv.Itoa(i), path+"."+strconv.Itoa(i)+".member")
			if !ok {
				return nil, false
			}
			items = append(items, item)
		}
		return items, true
	case "map":
		obj := map[string]any{}
		prefix := key + ".entry."
		if shape.Flattened {
			prefix = key + "."
		}
		keyName, valueName := memberName(shape.Key, "key"), memberName(shape.Value, "value")
		for i := 1; r.sent[prefix+strconv.Itoa(i)]; i++ {
			entry := prefix + strconv.Itoa(i) + "."
			k := r.form.Get(entry + keyName)
			obj[k] = nil // an entry without a value has the value null
			if x, ok := r.read(shape.Value.Shape, entry+valueName, path+"."+k); ok {
				obj[k] = x
			}
		}
		return obj, true
	}
	if _, ok := r.form[key]; !ok {
		return nil, false // only members under key were sent, not key itself
	}
	return r.scalar(shape.Type, r.form.Get(key), path)
}

// scalar converts a form value to typ, the model's type.
func (r *queryReader) scalar(typ, raw, path string) (any, bool) {
	var x any
	var err error
	switch typ {
	case "integer", "long", "double", "float":
		if _, err = ParseFloat(path, raw); err == nil {
			x = json.Number(raw)
		}
	case "boolean":
		x, err = ParseBool(path, raw)
	case "timestamp":
		x, err = ParseTimestamp(path, raw)
	default: // string and blob (base64, decoded by Bind into a []byte)
		x = raw
	}
	if err != nil {
		Report(&r.v, err)
		return nil, false
	}
	return x, true
}

// memberName is the name a list's items or a map's keys or values are sent
// under: their locationName, or def.
func memberName(m *awsmodel.Member, def string) string {
	if m.LocationName != "" {
		return m.LocationName
	}
	return def
}

// BindQuery fills dst, a pointer to a struct, with the members of in, a
// query request's input, as encoding/json would from the same members in
// JSON: fields are matched by json name, or by name without regard to case.
func BindQuery(op *awsmodel.Operation, in Input, dst any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return Bind(op, body, in, dst)
}
