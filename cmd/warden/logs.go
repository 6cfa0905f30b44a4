package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/warden-iot/warden"
)

type logsCmd struct {
	Tail logsTailCmd `cmd:"" help:"Print the data-plane log entries V2 logging let through (AWS log-entry JSON, one a line), from every node."`
}

type logsTailCmd struct {
	readStoreFlags
	Account string        `help:"Only entries of this account."`
	Region  string        `help:"Only entries of this region."`
	Follow  bool          `short:"f" help:"Keep printing new entries until interrupted."`
	Since   sinceFlag     `default:"10m" help:"Start with the entries of this last while (a duration such as 10m or 2h) or since this time (RFC 3339)."`
	Poll    time.Duration `default:"1s" help:"With --follow, how often the store is read."`

	out io.Writer // os.Stdout unless a test sets it
}

// sinceFlag is a point in time written as a duration back from now or as
// an RFC 3339 time.
type sinceFlag struct {
	ago time.Duration
	at  time.Time
}

// UnmarshalText parses "10m", "2h30m" or "2026-12-07T18:00:00Z".
func (s *sinceFlag) UnmarshalText(text []byte) error {
	if d, err := time.ParseDuration(string(text)); err == nil && d >= 0 {
		*s = sinceFlag{ago: d}
		return nil
	}
	t, err := time.Parse(time.RFC3339, string(text))
	if err != nil {
		return fmt.Errorf("%q is neither a duration such as 10m nor an RFC 3339 time", text)
	}
	*s = sinceFlag{at: t}
	return nil
}

func (s sinceFlag) from(now time.Time) time.Time {
	if !s.at.IsZero() {
		return s.at
	}
	return now.Add(-s.ago)
}

// Run prints the entries, then with --follow the new ones as they come.
func (c *logsTailCmd) Run(ctx context.Context) error {
	store, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	out := c.out
	if out == nil {
		out = os.Stdout
	}
	t := newLogTailer(store, warden.V2LogFilter{Account: c.Account, Region: c.Region, Since: c.Since.from(time.Now())}, out)
	if err := t.poll(ctx); err != nil || !c.Follow {
		return err
	}
	tick := time.NewTicker(max(c.Poll, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			if err := t.poll(ctx); err != nil {
				if ctx.Err() != nil {
					return nil // interrupted mid-read
				}
				return err
			}
		}
	}
}

// tailGapWait is how long a missing seq is waited for. On PostgreSQL,
// entries stored by concurrent transactions (other nodes) may become
// visible out of seq order, so a seq skipped over may still appear; one not
// seen by then is another account's, pruned, or never committed.
const tailGapWait = 5 * time.Second

// tailPage bounds the entries one read returns.
const tailPage = 5000

// logTailer prints each stored entry once, in seq order as they appear.
type logTailer struct {
	store  warden.Store
	filter warden.V2LogFilter
	out    io.Writer
	now    func() time.Time

	started bool
	floor   int64               // every seq up to floor is printed or given up
	top     int64               // the highest seq printed or skipped over
	printed map[int64]bool      // seqs above floor already printed
	gaps    map[int64]time.Time // seqs above floor not seen yet, since when
}

func newLogTailer(store warden.Store, f warden.V2LogFilter, out io.Writer) *logTailer {
	return &logTailer{store: store, filter: f, out: out, now: time.Now, printed: map[int64]bool{}, gaps: map[int64]time.Time{}}
}

// maxGaps bounds the seqs waited for; beyond it a gap is given up at once.
const maxGaps = 10_000

// poll prints the entries not printed yet.
func (t *logTailer) poll(ctx context.Context) error {
	now := t.now()
	for {
		f := t.filter
		f.AfterSeq, f.Limit = t.floor, tailPage
		rows, err := t.store.V2LogEntries(ctx, f)
		if err != nil {
			return err
		}
		for _, r := range rows {
			if t.printed[r.Seq] {
				continue
			}
			if _, err := fmt.Fprintln(t.out, r.Entry); err != nil {
				return err
			}
			t.printed[r.Seq] = true
			delete(t.gaps, r.Seq)
			// The seqs skipped over may still come (see tailGapWait),
			// but not those before the first read.
			for s := t.top + 1; t.started && s < r.Seq && len(t.gaps) < maxGaps; s++ {
				t.gaps[s] = now
			}
			t.top = max(t.top, r.Seq)
		}
		if len(rows) < tailPage {
			break
		}
		t.advance(now, true)
	}
	t.started = true
	t.advance(now, false)
	return nil
}

// advance gives up the gaps waited for long enough (all of them with
// force) and moves the floor up to the lowest gap left.
func (t *logTailer) advance(now time.Time, force bool) {
	floor := t.top
	for s, since := range t.gaps {
		if force || now.Sub(since) >= tailGapWait {
			delete(t.gaps, s)
		} else if s-1 < floor {
			floor = s - 1
		}
	}
	for s := range t.printed {
		if s <= floor {
			delete(t.printed, s)
		}
	}
	t.floor = floor
}
