package protocol

import (
	"net/http/httptest"
	"testing"

	"github.com/warden-iot/warden/internal/awsmodel"
)

// TestBindReadsLocatedMembersFromTheirLocation: a body key named as a query
// member neither sets that member nor, with the wrong type, fails the
// request; the member is what the query string says.
func TestBindReadsLocatedMembersFromTheirLocation(t *testing.T) {
	op := awsmodel.Load(awsmodel.IoTModel).Operations["DeleteCertificate"]
	id := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		query, body string
		want        bool
	}{
		{"", `{"forceDelete":true}`, false},
		{"", `{"forceDelete":"yes"}`, false},
		{"?forceDelete=true", `{"forceDelete":false}`, true},
	} {
		r := httptest.NewRequest("DELETE", "/certificates/"+id+tc.query, nil)
		r.SetPathValue("certificateId", id)
		in, err := ReadRESTJSON(op, r, []byte(tc.body))
		if err != nil {
			t.Fatalf("%s %s: %v", tc.query, tc.body, err)
		}
		var dst struct {
			ForceDelete bool `json:"forceDelete"`
		}
		if err := Bind(op, []byte(tc.body), in, &dst); err != nil {
			t.Fatalf("%s %s: Bind: %v", tc.query, tc.body, err)
		}
		if dst.ForceDelete != tc.want {
			t.Errorf("query %q body %s: forceDelete %v, want %v", tc.query, tc.body, dst.ForceDelete, tc.want)
		}
	}
}
