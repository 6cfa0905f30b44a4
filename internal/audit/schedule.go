package audit

import (
	"slices"
	"strconv"
	"time"

	"github.com/warden-iot/warden"
)

// Scheduled audits fire at 00:00 UTC of their day ("the start time of each
// audit is determined by the system"): every day (DAILY), every dayOfWeek
// (WEEKLY), every other dayOfWeek counted from the first one after the
// schedule was made or retimed (BIWEEKLY), or on dayOfMonth of every month,
// the month's last day for LAST or a day the month lacks (MONTHLY).

// LatestOccurrence returns the latest occurrence of a at or before now that
// is after a.Anchor; ok is false when there is none yet. Firing only the
// latest one means a server that was down for several occurrences runs one
// audit when it comes back, not a burst of stale ones.
func LatestOccurrence(a *warden.ScheduledAudit, now time.Time) (time.Time, bool) {
	now = now.UTC()
	anchor := a.Anchor.UTC()
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	var occ time.Time
	switch a.Frequency {
	case warden.FrequencyDaily:
		occ = midnight
	case warden.FrequencyWeekly:
		back := (int(now.Weekday()) - weekday(a.DayOfWeek) + 7) % 7
		occ = midnight.AddDate(0, 0, -back)
	case warden.FrequencyBiweekly:
		first := firstWeekdayAfter(anchor, weekday(a.DayOfWeek))
		if now.Before(first) {
			return time.Time{}, false
		}
		fortnights := int(now.Sub(first) / (14 * day))
		occ = first.AddDate(0, 0, 14*fortnights)
	case warden.FrequencyMonthly:
		occ = monthDay(now.Year(), now.Month(), a.DayOfMonth)
		if occ.After(now) {
			occ = monthDay(now.Year(), now.Month()-1, a.DayOfMonth)
		}
	default:
		return time.Time{}, false
	}
	if !occ.After(anchor) || occ.After(now) {
		return time.Time{}, false
	}
	return occ, true
}

func weekday(d string) int { return slices.Index(warden.DaysOfWeek, d) }

// firstWeekdayAfter is the first midnight on weekday wd strictly after t.
func firstWeekdayAfter(t time.Time, wd int) time.Time {
	m := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	m = m.AddDate(0, 0, (wd-int(m.Weekday())+7)%7)
	if !m.After(t) {
		m = m.AddDate(0, 0, 7)
	}
	return m
}

// monthDay is midnight of day dom ("1".."31" or LAST) of month m of year y,
// clamped to the month's last day (m may be 0 for December of y-1).
func monthDay(y int, m time.Month, dom string) time.Time {
	first := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	last := first.AddDate(0, 1, -1).Day()
	d := last
	if dom != warden.DayOfMonthLast {
		if n, err := strconv.Atoi(dom); err == nil && n < last {
			d = n
		}
	}
	return first.AddDate(0, 0, d-1)
}
