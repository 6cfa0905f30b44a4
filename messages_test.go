package warden

import "testing"

// AWS's texts, verbatim: SDK users and tools match on them.
func TestAWSMessages(t *testing.T) {
	for _, tc := range []struct {
		err  *Error
		code Code
		text string
	}{
		{ErrThingStillAttached("t"), CodeInvalidRequest, "Cannot delete. Thing t is still attached to one or more principals"},
		{ErrPolicyExists("p", "arn:p"), CodeResourceAlreadyExists, "Policy cannot be created - name already exists (name=p)"},
		{ErrPolicyVersionsLimit("p"), CodeVersionsLimitExceeded, "The policy p already has the maximum number of versions (5)"},
		{ErrCertificateActive(), CodeCertificateState, "Certificate must be deactivated (not ACTIVE) before deletion."},
		{ErrThingNotFound("t"), CodeResourceNotFound, "Thing t does not exist"},
	} {
		if tc.err.Code != tc.code || tc.err.Message != tc.text {
			t.Errorf("got %s %q, want %s %q", tc.err.Code, tc.err.Message, tc.code, tc.text)
		}
	}
	if e := ErrPolicyExists("p", "arn:p"); e.ResourceID != "p" || e.ResourceArn != "arn:p" {
		t.Errorf("ErrPolicyExists carries %q %q, want the policy's name and ARN", e.ResourceID, e.ResourceArn)
	}
}
