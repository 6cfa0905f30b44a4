package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/warden-iot/warden"
)

// connectionLog records connects and disconnects and reads them back:
// a disconnect closes only its own session, a failed attempt is closed at
// once, other scopes and event types stay out, windows select the sessions
// open in them, paging walks every row once, and pruning deletes by the
// last event.
func connectionLog(t *testing.T, db warden.Store) {
	s, other := scope, otherAccount
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	connect := func(sc warden.Scope, session, client, cert string, min int) warden.DataPlaneEvent {
		return warden.DataPlaneEvent{Scope: sc, Type: warden.EventConnect, Status: warden.StatusSuccess, SessionID: session,
			ClientID: client, PrincipalID: cert, ThingName: "thing-" + client, SourceIP: "192.0.2.7", SourcePort: 40000 + min, At: at(min)}
	}
	disconnect := func(sc warden.Scope, session string, min int, reason string) warden.DataPlaneEvent {
		return warden.DataPlaneEvent{Scope: sc, Type: warden.EventDisconnect, Status: warden.StatusSuccess, SessionID: session,
			DisconnectReason: reason, At: at(min)}
	}
	failed := connect(s, "s-fail", "c3", "cert-b", 5)
	failed.Status, failed.Reason = warden.StatusFailure, "AUTHORIZATION_FAILURE"
	batch := []warden.DataPlaneEvent{
		connect(s, "s1", "c1", "cert-a", 0),
		connect(s, "s2", "c2", "cert-a", 1),
		{Scope: s, Type: warden.EventPublishIn, SessionID: "s1", At: at(2)},
		connect(warden.Scope{}, "s-unregistered", "cx", "cert-x", 2),
		connect(other, "s-other", "c1", "cert-o", 2),
		disconnect(s, "s1", 10, "CLIENT_INITIATED_DISCONNECT"),
		failed,
		disconnect(s, "s-unknown", 11, "CONNECTION_LOST"),
	}
	if err := db.RecordConnections(ctx, batch); err != nil {
		t.Fatal(err)
	}
	// A second batch: the disconnect of a session opened in the first, and
	// a second disconnect of s1 that must not move its time.
	if err := db.RecordConnections(ctx, []warden.DataPlaneEvent{
		disconnect(s, "s2", 20, "DUPLICATE_CLIENTID"), disconnect(s, "s1", 30, "CONNECTION_LOST"),
		connect(s, "s4", "c4", "cert-b", 40),
	}); err != nil {
		t.Fatal(err)
	}

	all := warden.ConnectionFilter{Start: at(-100), End: at(100)}
	got, next, err := db.Connections(ctx, s, all, warden.Page{Limit: 100})
	if err != nil || next != "" {
		t.Fatalf("Connections = %v, next %q", err, next)
	}
	var sessions []string
	for _, r := range got {
		sessions = append(sessions, r.SessionID)
	}
	if want := "[s4 s-fail s2 s1]"; fmt.Sprint(sessions) != want {
		t.Fatalf("sessions newest first = %v, want %s", sessions, want)
	}
	byID := map[string]warden.ConnectionRecord{}
	for _, r := range got {
		byID[r.SessionID] = r
	}
	if r := byID["s1"]; !r.DisconnectedAt.Equal(at(10)) || r.DisconnectReason != "CLIENT_INITIATED_DISCONNECT" || r.Result != warden.StatusSuccess ||
		r.ClientID != "c1" || r.CertificateID != "cert-a" || r.ThingName != "thing-c1" || r.SourceIP != "192.0.2.7" || r.SourcePort != 40000 {
		t.Fatalf("s1 = %+v", r)
	}
	if r := byID["s2"]; !r.DisconnectedAt.Equal(at(20)) || r.DisconnectReason != "DUPLICATE_CLIENTID" {
		t.Fatalf("s2 = %+v", r)
	}
	if r := byID["s-fail"]; r.Result != warden.StatusFailure || r.Reason != "AUTHORIZATION_FAILURE" || !r.DisconnectedAt.Equal(at(5)) || r.Open() {
		t.Fatalf("failed attempt = %+v", r)
	}
	if r := byID["s4"]; !r.Open() {
		t.Fatalf("s4 = %+v, want open", r)
	}
	if got, _, _ := db.Connections(ctx, other, all, warden.Page{Limit: 10}); len(got) != 1 || got[0].SessionID != "s-other" {
		t.Fatalf("other scope = %+v", got)
	}

	// Windows: [12, 25] holds s2 (until 20) and nothing that ended before
	// or started after; [45, 50] holds the open s4 only.
	// scan lists field of the records ScanConnections passes, in its order.
	scan := func(f warden.ConnectionFilter, by string, field func(*warden.ConnectionRecord) string) []string {
		t.Helper()
		var out []string
		if err := db.ScanConnections(ctx, s, f, by, func(r *warden.ConnectionRecord) error {
			out = append(out, field(r))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	window := func(from, to int, f warden.ConnectionFilter) []string {
		t.Helper()
		f.Start, f.End = at(from), at(to)
		return scan(f, warden.ByCertificate, func(r *warden.ConnectionRecord) string { return r.SessionID })
	}
	if w := window(12, 25, warden.ConnectionFilter{}); fmt.Sprint(w) != "[s2]" {
		t.Fatalf("[12,25] = %v", w)
	}
	if w := window(45, 50, warden.ConnectionFilter{}); fmt.Sprint(w) != "[s4]" {
		t.Fatalf("[45,50] = %v", w)
	}
	// By certificate then connect time; success only drops the failure.
	if w := window(-100, 100, warden.ConnectionFilter{}); fmt.Sprint(w) != "[s1 s2 s-fail s4]" {
		t.Fatalf("by certificate = %v", w)
	}
	if w := window(-100, 100, warden.ConnectionFilter{SuccessOnly: true, CertificateID: "cert-b"}); fmt.Sprint(w) != "[s4]" {
		t.Fatalf("cert-b successes = %v", w)
	}
	clients := scan(all, warden.ByClientID, func(r *warden.ConnectionRecord) string { return r.ClientID })
	if fmt.Sprint(clients) != "[c1 c2 c3 c4]" {
		t.Fatalf("by client = %v", clients)
	}

	// In one batch a disconnect observed before its connect still closes
	// it, and of two disconnects of a session the first counts; 150
	// connects take several multi-row statements.
	var many []warden.DataPlaneEvent
	many = append(many, disconnect(s, "s5", 61, "CLIENT_INITIATED_DISCONNECT"), connect(s, "s5", "c5", "cert-c", 60),
		disconnect(s, "s5", 62, "CONNECTION_LOST"))
	for i := range 150 {
		many = append(many, connect(s, fmt.Sprint("m", i), fmt.Sprint("m", i), "cert-m", 70))
	}
	if err := db.RecordConnections(ctx, many); err != nil {
		t.Fatal(err)
	}
	if got, _, err := db.Connections(ctx, s, warden.ConnectionFilter{Start: at(60), End: at(60), ClientID: "c5"}, warden.Page{Limit: 10}); err != nil ||
		len(got) != 1 || !got[0].DisconnectedAt.Equal(at(61)) || got[0].DisconnectReason != "CLIENT_INITIATED_DISCONNECT" {
		t.Fatalf("s5 = %+v, %v", got, err)
	}
	n := 0
	if err := db.ScanConnections(ctx, s, warden.ConnectionFilter{Start: at(70), End: at(70), CertificateID: "cert-m"}, warden.ByClientID,
		func(*warden.ConnectionRecord) error { n++; return nil }); err != nil || n != 150 {
		t.Fatalf("%d of 150 connects stored (%v)", n, err)
	}
	all.End = at(50) // leave the later rows out of what follows

	// Paging: one row a page, each once, newest first.
	var paged []string
	p := warden.Page{Limit: 1}
	for {
		page, next, err := db.Connections(ctx, s, all, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page {
			paged = append(paged, r.SessionID)
		}
		if next == "" {
			break
		}
		p.After = next
	}
	if fmt.Sprint(paged) != "[s4 s-fail s2 s1]" {
		t.Fatalf("paged = %v", paged)
	}
	if _, _, err := db.Connections(ctx, s, all, warden.Page{Limit: 1, After: "garbage"}); warden.ErrorCode(err) != warden.CodeInvalidRequest {
		t.Fatalf("bad cursor: %v", err)
	}

	// Pruning at minute 15 deletes what ended before it (s1 at 10, the
	// failure at 5) and keeps s2 (ended 20), the open s4 (connected 40) and
	// the other scope's open session... which connected at 2: an open
	// session's last event is its connect.
	pruned, err := db.PruneConnections(ctx, at(15))
	if err != nil {
		t.Fatal(err)
	}
	if pruned != 3 {
		t.Fatalf("pruned %d rows, want 3 (s1, s-fail, s-other)", pruned)
	}
	if w := window(-100, 50, warden.ConnectionFilter{}); fmt.Sprint(w) != "[s2 s4]" {
		t.Fatalf("after pruning = %v", w)
	}
}
