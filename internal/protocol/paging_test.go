package protocol

import (
	"encoding/json"
	"testing"

	"github.com/warden-iot/warden/internal/awsmodel"
)

// TestListOutput checks a page's shape: the output's list member, then the
// paginator's token, which the last page leaves out.
func TestListOutput(t *testing.T) {
	ops := awsmodel.Load(awsmodel.IoTModel).Operations
	for _, tc := range []struct {
		op    string
		items any
		next  string
		want  string
	}{
		{"ListThings", []string{}, "", `{"things":[]}`},
		{"ListThingGroups", []int{1}, "tok", `{"thingGroups":[1],"nextToken":"tok"}`},
		{"ListPolicies", []string{"p"}, "m=", `{"policies":["p"],"nextMarker":"m="}`},
	} {
		got, err := json.Marshal(NewListOutput(ops[tc.op], tc.items, tc.next))
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: got %s, %v; want %s", tc.op, got, err, tc.want)
		}
	}
}
