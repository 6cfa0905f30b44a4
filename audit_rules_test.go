package warden

import (
	"testing"
	"time"
)

func TestCheckAuditCheckName(t *testing.T) {
	known, typo := AuditChecks[0].Name, "NO_SUCH_CHECK"
	if err := CheckAuditCheckName(nil); err != nil {
		t.Errorf("nil: %v", err)
	}
	if err := CheckAuditCheckName(&known); err != nil {
		t.Errorf("%s: %v", known, err)
	}
	if err := CheckAuditCheckName(&typo); ErrorCode(err) != CodeInvalidRequest {
		t.Errorf("%s: got %v, want InvalidRequest", typo, err)
	}
}

func TestAuditWindows(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	for _, tc := range []struct {
		start, end time.Time
		ok         bool
	}{
		{now.Add(-day), now, true},
		{now.Add(-100 * day), now, false},
		{now.Add(-day), now.Add(-2 * day), false},
	} {
		f := AuditTaskFilter{Start: tc.start, End: tc.end}
		if err := f.Check(now); (err == nil) != tc.ok {
			t.Errorf("audit tasks %v..%v: got %v, want ok=%v", tc.start, tc.end, err, tc.ok)
		}
		m := MitigationTaskFilter{StartedAfter: tc.start, EndedBefore: tc.end}
		if err := m.Check(now); (err == nil) != tc.ok {
			t.Errorf("mitigation tasks %v..%v: got %v, want ok=%v", tc.start, tc.end, err, tc.ok)
		}
	}
}

func TestNewAuditFindingFilter(t *testing.T) {
	start, end := time.Unix(100, 0), time.Unix(200, 0)
	for _, tc := range []struct {
		task       string
		start, end *time.Time
		ok         bool
	}{
		{"t1", nil, nil, true},
		{"", &start, &end, true},
		{"", nil, nil, false},
		{"t1", &start, &end, false},
		{"", &start, nil, false},
	} {
		f, err := NewAuditFindingFilter(tc.task, tc.start, tc.end)
		if (err == nil) != tc.ok {
			t.Errorf("%q %v %v: got %v, want ok=%v", tc.task, tc.start, tc.end, err, tc.ok)
		}
		if err == nil && tc.start != nil && (!f.Start.Equal(start) || !f.End.Equal(end)) {
			t.Errorf("window: got %v..%v", f.Start, f.End)
		}
	}
}
