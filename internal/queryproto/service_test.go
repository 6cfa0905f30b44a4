package queryproto

import (
	"strings"
	"testing"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/awsmodel"
)

// TestHoldToModel checks the check every test's answers go through: an
// error code the action does not declare becomes an internal failure.
func TestHoldToModel(t *testing.T) {
	s := &Service{Model: awsmodel.Load(awsmodel.IAMModel), ValidationCode: warden.CodeIAMValidationError,
		Errors: Errors{Internal: warden.CodeIAMServiceFailure}}
	op := s.Model.Operations["GetRole"]
	for _, err := range []error{warden.NoSuchRole("r"), warden.Errorf(warden.CodeIAMValidationError, "v"), warden.Errorf(warden.CodeIAMServiceFailure, "f")} {
		if got := s.holdToModel(op, err); got != err {
			t.Errorf("%v: got %v, want it unchanged", err, got)
		}
	}
	got := s.holdToModel(op, warden.Errorf(warden.CodeIAMDeleteConflict, "d"))
	if got == nil || !strings.Contains(got.Error(), "GetRole answered DeleteConflict, which is not among its errors") {
		t.Errorf("an undeclared code: got %v", got)
	}
	if !checkModel {
		t.Fatal("the model check is off in tests")
	}
}
