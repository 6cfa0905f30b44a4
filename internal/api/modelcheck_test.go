package api

import (
	"strings"
	"testing"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/awsmodel"
	"github.com/warden-iot/warden/internal/protocol"
)

// TestHoldToModel checks the check every test's answers go through: an
// error code the operation does not declare, or an output member or type
// its model lacks, becomes an internal failure naming it.
func TestHoldToModel(t *testing.T) {
	op := awsmodel.Load(awsmodel.IoTModel).Operations["DescribeThing"]
	tests := []struct {
		name string
		body string
		err  error
		want string // "" for the answer to pass unchanged
	}{
		{"declared error", "", warden.NotFound("Thing", "x"), ""},
		{"service failure", "", warden.Errorf(warden.CodeServiceUnavailable, "busy"), ""},
		{"undeclared error", "", warden.Errorf(warden.CodeVersionConflict, "v"), "VersionConflictException, which is not among its errors"},
		{"modelled output", `{"thingName":"a","version":3,"attributes":{"k":"v"}}`, nil, ""},
		{"unknown member", `{"thingName":"a","thingColour":"red"}`, nil, "thingColour: not a member of DescribeThingResponse"},
		{"wrong type", `{"version":"3"}`, nil, "version: a JSON string where the model has a number"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := protocol.HoldToModel(op, []byte(tc.body), tc.err)
			if tc.want == "" {
				if err != tc.err {
					t.Fatalf("got %v, want the answer unchanged (%v)", err, tc.err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if !(&Server{checkModel: testing.Testing()}).checkModel {
		t.Fatal("the model check is off in tests")
	}
}
