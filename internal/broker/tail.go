package broker

import (
	"cmp"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/warden-iot/warden"
)

// The change-log tail. On SQLite seq order is commit order; on PostgreSQL
// a sequence value is taken before its transaction commits, so a lower seq
// can appear after a higher one was read. The tail remembers the seqs it
// skipped (gaps) and looks for them again until gapTimeout, after which a
// gap is taken for a rolled-back transaction.
const (
	tailPage     = 1000
	gapTimeout   = 30 * time.Second
	gapRecheck   = 500 * time.Millisecond
	maxGaps      = 100000
	rejudgeLimit = 16 // sessions re-judged at once
)

type lastSeqer interface {
	LastChangeSeq(ctx context.Context) (int64, error)
}

type tailer struct {
	b         *Broker
	last      int64               // highest seq read
	gaps      map[int64]time.Time // seqs below last not read yet, and since when
	lastCheck time.Time
}

func newTailer(b *Broker) (*tailer, error) {
	t := &tailer{b: b, gaps: map[int64]time.Time{}}
	if ls, ok := b.cfg.Store.(lastSeqer); ok {
		last, err := ls.LastChangeSeq(b.ctx)
		if err != nil {
			return nil, err
		}
		t.last = last
	}
	return t, nil
}

func (t *tailer) run(ctx context.Context) {
	tick := time.NewTicker(t.b.cfg.PollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := t.poll(ctx); err != nil && ctx.Err() == nil {
			t.b.log.Warn("reading the change log failed", "err", err.Error())
		}
	}
}

// poll reads the changes after the last one read, and the gaps, and
// re-judges the sessions they affect.
func (t *tailer) poll(ctx context.Context) error {
	var changes []warden.Change
	for {
		page, err := t.b.cfg.Store.Changes(ctx, warden.ChangeFilter{AfterSeq: t.last, Limit: tailPage})
		if err != nil {
			return err
		}
		for _, c := range page {
			for g := t.last + 1; g < c.Seq && len(t.gaps) < maxGaps; g++ {
				t.gaps[g] = time.Now()
			}
			t.last = c.Seq
		}
		changes = append(changes, page...)
		if len(page) < tailPage {
			break
		}
	}
	if len(t.gaps) > 0 && time.Since(t.lastCheck) >= gapRecheck {
		t.lastCheck = time.Now()
		found, err := t.fillGaps(ctx)
		if err != nil {
			return err
		}
		changes = append(changes, found...)
	}
	if len(changes) > 0 {
		t.b.applyChanges(ctx, changes)
	}
	return nil
}

func (t *tailer) fillGaps(ctx context.Context) ([]warden.Change, error) {
	lowest := t.last
	for g, since := range t.gaps {
		if time.Since(since) > gapTimeout {
			delete(t.gaps, g)
			continue
		}
		lowest = min(lowest, g)
	}
	var found []warden.Change
	after := lowest - 1
	for len(t.gaps) > 0 && after < t.last {
		page, err := t.b.cfg.Store.Changes(ctx, warden.ChangeFilter{AfterSeq: after, Limit: tailPage})
		if err != nil {
			return nil, err
		}
		for _, c := range page {
			if c.Seq > t.last {
				break
			}
			if _, ok := t.gaps[c.Seq]; ok {
				delete(t.gaps, c.Seq)
				found = append(found, c)
			}
		}
		if len(page) < tailPage {
			break
		}
		after = page[len(page)-1].Seq
	}
	return found, nil
}

// applyChanges re-judges the live sessions the changes may affect: a
// certificate's own sessions; a CA's devices (strict mode); for a policy
// the sessions it applies to (or, attached or detached, those of its
// target); for a thing the sessions resolved to it or named like it (or of
// the certificate attached or detached); for a thing group the sessions of
// its member things. What cannot be narrowed re-judges the whole scope.
func (b *Broker) applyChanges(ctx context.Context, changes []warden.Change) {
	targets := map[*session]struct{}{}
	for _, c := range changes {
		scope, typ, name, ok := parseIoTARN(c.ResourceArn)
		if !ok {
			continue
		}
		var affected []*session
		switch typ {
		case "cert":
			affected = b.reg.withCert(name, scope)
		case "cacert":
			if b.cfg.StrictCA {
				affected = b.reg.matching(scope, func(s *session) bool { return s.caIDValue() == name })
			}
		case "policy", "thing", "thinggroup":
			affected = b.affectedBy(c, scope, typ, name)
		case "thingtype":
			affected = b.reg.inScope(scope)
		}
		for _, s := range affected {
			targets[s] = struct{}{}
		}
	}
	if len(targets) == 0 {
		return
	}
	sem := make(chan struct{}, rejudgeLimit)
	var wg sync.WaitGroup
	for s := range targets {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			b.rejudge(ctx, s)
		}()
	}
	wg.Wait()
}

// changeDoc is what the change-log documents of attachments name.
type changeDoc struct {
	Target    string `json:"target"`
	Principal string `json:"principal"`
}

func (b *Broker) affectedBy(c warden.Change, scope warden.Scope, typ, name string) []*session {
	var doc changeDoc
	for _, raw := range []string{c.Before, c.After} {
		if raw != "" {
			var d changeDoc
			if err := json.Unmarshal([]byte(raw), &d); err != nil {
				return b.reg.inScope(scope)
			}
			doc.Target = cmp.Or(doc.Target, d.Target)
			doc.Principal = cmp.Or(doc.Principal, d.Principal)
		}
	}
	certOf := func(arn string) (string, bool) {
		sc, t, id, ok := parseIoTARN(arn)
		return id, ok && t == "cert" && sc == scope
	}
	switch typ {
	case "policy":
		if doc.Target != "" {
			if id, ok := certOf(doc.Target); ok {
				return b.reg.withCert(id, scope)
			}
			if sc, t, group, ok := parseIoTARN(doc.Target); ok && t == "thinggroup" && sc == scope {
				return b.reg.matching(scope, func(s *session) bool { return s.inGroup(group) })
			}
			return b.reg.inScope(scope)
		}
		return b.reg.matching(scope, func(s *session) bool { return s.hasPolicy(name) })
	case "thing":
		principal, _ := certOf(doc.Principal)
		return b.reg.matching(scope, func(s *session) bool {
			return s.clientID == name || s.certID == principal || s.thingName() == name
		})
	default: // thinggroup
		return b.reg.matching(scope, func(s *session) bool { return s.inGroup(name) })
	}
}

// rejudge decides again whether s may stay connected, with a fresh
// principal and an empty decision cache; one that may not is disconnected
// (AUTH_ERROR; MQTT 5 clients get DISCONNECT 0x87 first).
func (b *Broker) rejudge(ctx context.Context, s *session) {
	s.gen.Add(1)
	if !s.established.Load() || s.ended.Load() {
		return // OnSessionEstablished sees the new gen and comes back
	}
	if r := b.judge(ctx, s); r != nil {
		if r == refuseStore {
			return // keep the session rather than cut it off for a failed read
		}
		b.log.Info("device disconnected: no longer allowed", "client_id", s.clientID, "certificate_id", s.certID,
			"account", s.ss.scope.Account, "details", r.details)
		s.kick(reasonAuthError, packets.ErrNotAuthorized)
	}
}

// parseIoTARN splits arn:aws:iot:<region>:<account>:<type>/<name>.
func parseIoTARN(arn string) (warden.Scope, string, string, bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "iot" {
		return warden.Scope{}, "", "", false
	}
	typ, name, ok := strings.Cut(parts[5], "/")
	if !ok {
		return warden.Scope{}, "", "", false
	}
	return warden.Scope{Account: parts[4], Region: parts[3]}, typ, name, true
}
