package protocol

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/warden-iot/warden/internal/awsmodel"
)

// BenchmarkReadAndBindCreateThing is the model's cost on a request: read,
// validate and bind CreateThing's path label and body.
func BenchmarkReadAndBindCreateThing(b *testing.B) {
	op := awsmodel.Load(awsmodel.IoTModel).Operations["CreateThing"]
	body := []byte(`{"attributePayload":{"attributes":{"model":"x1","serial":"12345"}},"thingTypeName":"sensor"}`)
	r := httptest.NewRequest("POST", "/things/thing-1", strings.NewReader(string(body)))
	r.SetPathValue("thingName", "thing-1")
	b.ReportAllocs()
	for b.Loop() {
		in, err := ReadRESTJSON(op, r, body)
		if err != nil {
			b.Fatal(err)
		}
		var dst struct {
			ThingTypeName    *string `json:"thingTypeName"`
			AttributePayload *struct {
				Attributes map[string]string `json:"attributes"`
				Merge      bool              `json:"merge"`
			} `json:"attributePayload"`
		}
		if err := Bind(op, body, in, &dst); err != nil {
			b.Fatal(err)
		}
	}
}
