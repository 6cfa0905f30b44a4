package awsmodel

import (
	"encoding/json"
	"strconv"
)

// CheckOutput lists where value, an answer decoded from JSON with
// UseNumber, does not have the shape s: members the model does not know
// and values of the wrong JSON type. Constraints are not checked: they bind
// requests.
func (s *Shape) CheckOutput(path string, value any) []string {
	var out []string
	bad := func(want string) []string {
		return append(out, path+": a JSON "+jsonKind(value)+" where the model has "+want)
	}
	switch s.Type {
	case "structure":
		obj, ok := value.(map[string]any)
		if !ok {
			return bad("a structure " + s.Name)
		}
		for name, v := range obj {
			m := s.MemberNamed(name)
			if m == nil {
				out = append(out, join(path, name)+": not a member of "+s.Name)
				continue
			}
			if v != nil {
				out = append(out, m.Shape.CheckOutput(join(path, name), v)...)
			}
		}
	case "list":
		items, ok := value.([]any)
		if !ok {
			return bad("a list")
		}
		for i, v := range items {
			if v != nil {
				out = append(out, s.Member.Shape.CheckOutput(path+"."+strconv.Itoa(i+1), v)...)
			}
		}
	case "map":
		obj, ok := value.(map[string]any)
		if !ok {
			return bad("a map")
		}
		for k, v := range obj {
			if v != nil {
				out = append(out, s.Value.Shape.CheckOutput(path+"."+k, v)...)
			}
		}
	case "string", "blob":
		if _, ok := value.(string); !ok {
			return bad("a string")
		}
	case "boolean":
		if _, ok := value.(bool); !ok {
			return bad("a boolean")
		}
	case "integer", "long", "double", "float", "timestamp":
		if _, ok := value.(json.Number); !ok {
			return bad("a number")
		}
	}
	return out
}
