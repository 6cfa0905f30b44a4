package warden

import "testing"

func TestResolveMembership(t *testing.T) {
	s := Scope{Account: "123456789012", Region: "us-east-1"}
	str := func(v string) *string { return &v }
	thingARN, groupARN := s.IoTARN("thing/t1"), ThingGroupARN(s, "g1")
	for _, tc := range []struct {
		name                             string
		thing, thingArn, group, groupArn *string
		wantThing, wantGroup             string
		code                             Code
	}{
		{"names", str("t1"), nil, str("g1"), nil, "t1", "g1", ""},
		{"ARNs", nil, str(thingARN), nil, str(groupARN), "t1", "g1", ""},
		{"both agree", str("t1"), str(thingARN), str("g1"), str(groupARN), "t1", "g1", ""},
		{"both disagree", str("t2"), str(thingARN), str("g1"), nil, "", "", CodeInvalidRequest},
		{"no thing", nil, nil, str("g1"), nil, "", "", CodeInvalidRequest},
		{"wrong type", nil, str(groupARN), str("g1"), nil, "", "", CodeInvalidRequest},
		{"other account", nil, str(Scope{Account: "210987654321", Region: "us-east-1"}.IoTARN("thing/t1")), str("g1"), nil, "", "", CodeResourceNotFound},
	} {
		thing, group, err := ResolveMembership(s, tc.thing, tc.thingArn, tc.group, tc.groupArn)
		if codeOf(err) != tc.code || thing != tc.wantThing || group != tc.wantGroup {
			t.Errorf("%s: got %q %q %v, want %q %q %s", tc.name, thing, group, err, tc.wantThing, tc.wantGroup, tc.code)
		}
	}
}

func TestCheckDynamicGroupQuery(t *testing.T) {
	str := func(v string) *string { return &v }
	for _, tc := range []struct {
		index, query, version *string
		code                  Code
	}{
		{nil, str("thingName:a*"), nil, ""},
		{str(DefaultIndexName), str("thingName:a*"), str(DefaultQueryVersion), ""},
		{str("other"), str("thingName:a*"), nil, CodeResourceNotFound},
		{nil, str("thingName:a*"), str("2020-01-01"), CodeInvalidRequest},
		{nil, str("thingName:("), nil, CodeInvalidQuery},
	} {
		if err := CheckDynamicGroupQuery(tc.index, tc.query, tc.version); codeOf(err) != tc.code {
			t.Errorf("%v %v %v: got %v, want %q", tc.index, tc.query, tc.version, err, tc.code)
		}
	}
}

// codeOf is err's code, "" for no error.
func codeOf(err error) Code {
	if err == nil {
		return ""
	}
	return ErrorCode(err)
}

func TestUpdateAndFilterChecks(t *testing.T) {
	typ, value := "sensor", "v"
	if err := (&ThingUpdate{TypeName: &typ, RemoveThingType: true}).Check(); ErrorCode(err) != CodeInvalidRequest {
		t.Errorf("type set and removed: got %v", err)
	}
	if err := (&ThingUpdate{RemoveThingType: true}).Check(); err != nil {
		t.Errorf("type removed: %v", err)
	}
	if err := (&ThingFilter{AttributeValue: &value}).Check(); ErrorCode(err) != CodeInvalidRequest {
		t.Errorf("value without name: got %v", err)
	}
	if err := (&ThingFilter{AttributeName: "a", AttributeValue: &value}).Check(); err != nil {
		t.Errorf("value with name: %v", err)
	}
	if err := (&CACertificateUpdate{RemoveAutoRegistration: true, NewAutoRegistrationStatus: AutoRegistrationEnable}).Check(); ErrorCode(err) != CodeInvalidRequest {
		t.Errorf("auto-registration removed and enabled: got %v", err)
	}
	if err := (&CACertificateUpdate{RemoveAutoRegistration: true}).Check(); err != nil {
		t.Errorf("auto-registration removed: %v", err)
	}
}
