package warden

import "testing"

func TestValidateLogTargetName(t *testing.T) {
	for _, tc := range []struct {
		target  LogTarget
		nameSet bool
		ok      bool
	}{
		{LogTarget{Type: LogTargetDefault}, false, true},
		{LogTarget{Type: LogTargetClientID}, false, false},
		{LogTarget{Type: LogTargetClientID, Name: "c1"}, true, true},
		{LogTarget{Type: LogTargetClientID, Name: ""}, true, false},
		{LogTarget{Type: LogTargetSourceIP, Name: "10.0.0.1"}, true, true},
		{LogTarget{Type: LogTargetSourceIP, Name: "not-an-ip"}, true, false},
		{LogTarget{Type: LogTargetThingGroup, Name: "group-1"}, true, true},
		{LogTarget{Type: LogTargetThingGroup, Name: "no spaces"}, true, false},
	} {
		if err := ValidateLogTargetName("targetName", tc.target, tc.nameSet); (err == nil) != tc.ok {
			t.Errorf("ValidateLogTargetName(%+v, %v) = %v, want ok=%v", tc.target, tc.nameSet, err, tc.ok)
		}
	}
}

func TestLogTargetCanonical(t *testing.T) {
	for _, tc := range []struct{ in, want LogTarget }{
		{LogTarget{LogTargetDefault, "x"}, LogTarget{LogTargetDefault, ""}},
		{LogTarget{LogTargetSourceIP, "::ffff:10.0.0.1"}, LogTarget{LogTargetSourceIP, "10.0.0.1"}},
		{LogTarget{LogTargetClientID, "c1"}, LogTarget{LogTargetClientID, "c1"}},
	} {
		if got := tc.in.Canonical(); got != tc.want {
			t.Errorf("%+v.Canonical() = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}
