package audit

import (
	"testing"
	"time"

	"github.com/warden-iot/warden"
)

func TestLatestOccurrence(t *testing.T) {
	d := func(s string) time.Time {
		t, err := time.Parse("2006-01-02 15:04", s)
		if err != nil {
			panic(err)
		}
		return t
	}
	// 2026-11-25 is a Wednesday.
	tests := []struct {
		name string
		a    warden.ScheduledAudit
		now  string
		want string // "" = no occurrence
	}{
		{"daily, before the first midnight", warden.ScheduledAudit{Frequency: "DAILY", Anchor: d("2026-11-25 10:00")}, "2026-11-25 23:59", ""},
		{"daily, first midnight", warden.ScheduledAudit{Frequency: "DAILY", Anchor: d("2026-11-25 10:00")}, "2026-11-26 00:00", "2026-11-26 00:00"},
		{"daily, later that day", warden.ScheduledAudit{Frequency: "DAILY", Anchor: d("2026-11-25 10:00")}, "2026-11-28 13:00", "2026-11-28 00:00"},
		{"weekly MON", warden.ScheduledAudit{Frequency: "WEEKLY", DayOfWeek: "MON", Anchor: d("2026-11-25 10:00")}, "2026-11-29 12:00", ""},
		{"weekly MON due", warden.ScheduledAudit{Frequency: "WEEKLY", DayOfWeek: "MON", Anchor: d("2026-11-25 10:00")}, "2026-12-01 12:00", "2026-11-30 00:00"},
		{"weekly WED same day as anchor", warden.ScheduledAudit{Frequency: "WEEKLY", DayOfWeek: "WED", Anchor: d("2026-11-25 10:00")}, "2026-11-25 23:00", ""},
		{"weekly WED next week", warden.ScheduledAudit{Frequency: "WEEKLY", DayOfWeek: "WED", Anchor: d("2026-11-25 10:00")}, "2026-12-02 00:00", "2026-12-02 00:00"},
		{"biweekly first", warden.ScheduledAudit{Frequency: "BIWEEKLY", DayOfWeek: "FRI", Anchor: d("2026-11-25 10:00")}, "2026-11-27 01:00", "2026-11-27 00:00"},
		{"biweekly skips a week", warden.ScheduledAudit{Frequency: "BIWEEKLY", DayOfWeek: "FRI", Anchor: d("2026-11-25 10:00")}, "2026-12-05 01:00", "2026-11-27 00:00"},
		{"biweekly second", warden.ScheduledAudit{Frequency: "BIWEEKLY", DayOfWeek: "FRI", Anchor: d("2026-11-25 10:00")}, "2026-12-11 00:00", "2026-12-11 00:00"},
		{"biweekly before first", warden.ScheduledAudit{Frequency: "BIWEEKLY", DayOfWeek: "FRI", Anchor: d("2026-11-25 10:00")}, "2026-11-26 23:00", ""},
		{"monthly 15th", warden.ScheduledAudit{Frequency: "MONTHLY", DayOfMonth: "15", Anchor: d("2026-11-25 10:00")}, "2026-12-20 00:00", "2026-12-15 00:00"},
		{"monthly 15th not yet", warden.ScheduledAudit{Frequency: "MONTHLY", DayOfMonth: "15", Anchor: d("2026-11-25 10:00")}, "2026-12-14 23:59", ""},
		{"monthly 31 in February", warden.ScheduledAudit{Frequency: "MONTHLY", DayOfMonth: "31", Anchor: d("2027-02-01 10:00")}, "2027-02-28 00:00", "2027-02-28 00:00"},
		{"monthly 30 in leap February", warden.ScheduledAudit{Frequency: "MONTHLY", DayOfMonth: "30", Anchor: d("2028-02-01 10:00")}, "2028-02-29 09:00", "2028-02-29 00:00"},
		{"monthly LAST", warden.ScheduledAudit{Frequency: "MONTHLY", DayOfMonth: "LAST", Anchor: d("2026-11-25 10:00")}, "2026-12-01 00:00", "2026-11-30 00:00"},
		{"monthly LAST in January from December", warden.ScheduledAudit{Frequency: "MONTHLY", DayOfMonth: "LAST", Anchor: d("2026-12-01 10:00")}, "2027-01-15 00:00", "2026-12-31 00:00"},
		{"monthly 1st across the year", warden.ScheduledAudit{Frequency: "MONTHLY", DayOfMonth: "1", Anchor: d("2026-12-05 10:00")}, "2027-01-01 00:00", "2027-01-01 00:00"},
		{"long downtime fires only the latest", warden.ScheduledAudit{Frequency: "DAILY", Anchor: d("2026-01-01 10:00")}, "2026-11-25 08:00", "2026-11-25 00:00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := LatestOccurrence(&tc.a, d(tc.now))
			switch {
			case tc.want == "" && ok:
				t.Errorf("got occurrence %v, want none", got)
			case tc.want != "" && !ok:
				t.Errorf("got no occurrence, want %s", tc.want)
			case tc.want != "" && !got.Equal(d(tc.want)):
				t.Errorf("got %v, want %s", got, tc.want)
			}
		})
	}
}
