package awsmodel

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/warden-iot/warden"
)

func TestModelsLoad(t *testing.T) {
	for _, id := range []string{IoTModel, SNSModel, IAMModel} {
		s := Load(id)
		if len(s.Operations) == 0 || len(s.Shapes) == 0 {
			t.Fatalf("%s: %d operations, %d shapes", id, len(s.Operations), len(s.Shapes))
		}
	}
	op := Load(IoTModel).Operations["ListThings"]
	if op.Method != "GET" || op.Path != "/things" || op.Paginator == nil || op.Paginator.LimitKey != "maxResults" {
		t.Fatalf("ListThings = %+v, paginator %+v", op, op.Paginator)
	}
}

// TestModelsArePinned checks the embedded files against the SHA-256 that
// botocore 1.43.11's wheel RECORD lists for them.
func TestModelsArePinned(t *testing.T) {
	record := map[string]string{
		"iam-2010-05-08/paginators-1.json":      "Mrjh9WIhO3YlPK04LELNlBGOWlr4EOWDPV22S4XlPM4",
		"iam-2010-05-08/service-2.json.gz":      "idJj3GX5ZlXp24PJpQcPLw66TbCWCUHUCl5k-b1lnuc",
		"iot-data-2015-05-28/paginators-1.json": "FCM_y5QY56bw4TOgH3_OTBsnKj2PjI3ObCOOnKtsq80",
		"iot-data-2015-05-28/service-2.json.gz": "7f82EB1QCTHize-6zJnprYihXYAQ1f01z07yZhJu8F0",
		"iot-2015-05-28/paginators-1.json":      "cwRCZcmss_KOdZo4DoDmqXspGgJAJMjsUeZd9h_QzMk",
		"iot-2015-05-28/service-2.json.gz":      "GY2XRMOGg_af0ENey4u-qV-7k6d8bAm3Tsm5CPxRdCo",
		"sns-2010-03-31/paginators-1.json":      "a5cU7i3ZYF5D-u8S4oYs5kDUAAeav2kcWeG21u8RjPg",
		"sns-2010-03-31/service-2.json.gz":      "7rDQmP1Sb7xg0Z55twxaWAb7f9FZlKLjoDydqGEaxuY",
	}
	for name, want := range record {
		b, err := modelFiles.ReadFile("models/" + name)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if got := base64.RawURLEncoding.EncodeToString(sum[:]); got != want {
			t.Errorf("%s: sha256 %s, want botocore's %s", name, got, want)
		}
	}
}

// TestBehaviorsValidatedByTheHandler: the override leaves the behaviours of
// ValidateSecurityProfileBehaviors to its handler (their JSON type aside),
// and only there: CreateSecurityProfile's are held to the model.
func TestBehaviorsValidatedByTheHandler(t *testing.T) {
	iot := Load(IoTModel)
	bad := map[string]any{"behaviors": []any{map[string]any{"name": "a b"}}}
	var v warden.Validator
	iot.Operations["ValidateSecurityProfileBehaviors"].Input.Validate(&v, "", bad)
	if err := v.Err(); err != nil {
		t.Errorf("ValidateSecurityProfileBehaviors: %v, want the behaviours left to the handler", err)
	}
	iot.Operations["ValidateSecurityProfileBehaviors"].Input.Validate(&v, "", map[string]any{"behaviors": "a"})
	if err := v.Err(); err == nil || !strings.Contains(err.Error(), "Value at 'behaviors' failed to satisfy constraint: Member must be a list") {
		t.Errorf("behaviors not a list: %v", err)
	}
	v = warden.Validator{}
	iot.Operations["CreateSecurityProfile"].Input.Validate(&v, "", map[string]any{"securityProfileName": "p", "behaviors": bad["behaviors"]})
	if err := v.Err(); err == nil || !strings.Contains(err.Error(), "at 'behaviors.1.member.name' failed to satisfy constraint: Member must satisfy regular expression pattern") {
		t.Errorf("CreateSecurityProfile: %v, want the name refused", err)
	}
	behavior := iot.Shapes["Behavior"]
	got := behavior.Problems(map[string]any{"name": "x", "criteria": map[string]any{
		"consecutiveDatapointsToAlarm": json.Number("100000"), "value": map[string]any{"ports": []any{json.Number("-1")}}}})
	want := []string{"ports -1 should be in range[0,65535]", "consecutiveDatapointsToAlarm 100000 should be in range[1,10]"}
	if !slices.Equal(got, want) {
		t.Errorf("Problems = %q, want %q", got, want)
	}
}
