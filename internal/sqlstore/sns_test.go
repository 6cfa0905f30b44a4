package sqlstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/warden-iot/warden/internal/pgtest"

	"github.com/warden-iot/warden"
)

// TestSNSEnqueuePublishTx checks the hook the mitigation engine publishes
// through: the message and its deliveries commit or roll back with the
// caller's transaction, and an unknown topic is a NotFound *warden.Error.
func TestSNSEnqueuePublishTx(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, Options{Database: pgtest.Database(t, t.TempDir()), DataDir: t.TempDir(), Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := warden.Scope{Account: "123456789012", Region: "us-east-1"}
	now := time.UnixMilli(1700000000123).UTC()
	if _, _, err := db.CreateTopic(ctx, s, warden.Topic{Name: "findings", CreatedAt: now}, nil); err != nil {
		t.Fatal(err)
	}
	arn := s.SNSARN("findings")
	for i, endpoint := range []string{"http://a.example/", "http://b.example/", "http://c.example/"} {
		sub, err := db.Subscribe(ctx, s, warden.Subscription{Arn: arn + ":sub" + string(rune('0'+i)), Topic: "findings",
			Protocol: "http", Endpoint: endpoint, Token: "token" + endpoint}, now)
		if err != nil {
			t.Fatal(err)
		}
		if i < 2 { // the third stays pending and gets nothing
			if _, err := db.ConfirmSubscription(ctx, s, "findings", sub.Token, false, now); err != nil {
				t.Fatal(err)
			}
		}
	}
	notifications := func() int {
		t.Helper()
		d, err := db.SNSDeliveries(ctx, warden.SNSDeliveryFilter{Kinds: []string{warden.SNSNotification}})
		if err != nil {
			t.Fatal(err)
		}
		return len(d)
	}

	// Rolled back with the caller's transaction: nothing stays.
	errBoom := errors.New("execution failed later in the transaction")
	err = db.inTx(ctx, func(tx writeTx) error {
		if _, err := EnqueuePublishTx(ctx, tx, s, arn, "Finding", "rolled back", now); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("inTx = %v, want %v", err, errBoom)
	}
	if n := notifications(); n != 0 {
		t.Fatalf("after rollback the outbox holds %d notifications, want 0", n)
	}
	if msgs, _ := db.RecentSNSMessages(ctx, s, "findings", 0, 100); len(msgs) != 0 {
		t.Fatalf("after rollback %d recent messages, want 0", len(msgs))
	}

	// Committed: one delivery per confirmed subscription, same MessageId.
	var id string
	if err := db.inTx(ctx, func(tx writeTx) error {
		id, err = EnqueuePublishTx(ctx, tx, s, arn, "Finding", "committed", now)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	d, err := db.SNSDeliveries(ctx, warden.SNSDeliveryFilter{Kinds: []string{warden.SNSNotification}})
	if err != nil {
		t.Fatal(err)
	}
	if len(d) != 2 || d[0].MessageID != id || d[1].MessageID != id || d[0].SubscriptionArn == d[1].SubscriptionArn {
		t.Fatalf("deliveries %+v, want two of message %s", d, id)
	}
	msgs, err := db.RecentSNSMessages(ctx, s, "findings", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].ID != id || msgs[0].Subject != "Finding" || msgs[0].Fanout != 2 || msgs[0].Pending != 2 ||
		!msgs[0].PublishedAt.Equal(now) {
		t.Fatalf("recent messages %+v", msgs)
	}

	for _, tc := range []struct {
		name, arn string
		code      warden.Code
	}{
		{"unknown topic", s.SNSARN("missing"), warden.CodeSNSNotFound},
		{"another account's topic", "arn:aws:sns:us-east-1:111122223333:findings", warden.CodeSNSNotFound},
		{"another region's topic", "arn:aws:sns:eu-west-1:123456789012:findings", warden.CodeSNSNotFound},
		{"not a topic ARN", "arn:aws:iot:us-east-1:123456789012:thing/x", warden.CodeSNSInvalidParameter},
	} {
		err := db.inTx(ctx, func(tx writeTx) error {
			_, err := EnqueuePublishTx(ctx, tx, s, tc.arn, "", "m", now)
			return err
		})
		var we *warden.Error
		if !errors.As(err, &we) || we.Code != tc.code {
			t.Errorf("%s: got %v, want a *warden.Error %s", tc.name, err, tc.code)
		}
	}
	if n := notifications(); n != 2 {
		t.Fatalf("after the failed calls the outbox holds %d notifications, want 2", n)
	}
}

// TestSNSRecentMessagesRing: a topic keeps its last MaxSNSRecentMessages
// messages; older ones go once no delivery needs them.
func TestSNSRecentMessagesRing(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, Options{Database: pgtest.Database(t, t.TempDir()), DataDir: t.TempDir(), Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := warden.Scope{Account: "123456789012", Region: "us-east-1"}
	now := time.Now()
	if _, _, err := db.CreateTopic(ctx, s, warden.Topic{Name: "t", CreatedAt: now}, nil); err != nil {
		t.Fatal(err)
	}
	sub, err := db.Subscribe(ctx, s, warden.Subscription{Arn: s.SNSARN("t:1"), Topic: "t", Protocol: "http", Endpoint: "http://x/", Token: "tok"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ConfirmSubscription(ctx, s, "t", sub.Token, false, now); err != nil {
		t.Fatal(err)
	}
	const n = warden.MaxSNSRecentMessages + 30
	for range n {
		if _, err := db.Publish(ctx, s, warden.SNSMessage{Topic: "t", Message: "m"}, now); err != nil {
			t.Fatal(err)
		}
	}
	count := func() int {
		var c int
		if err := db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM sns_messages`).Scan(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	// Every message is still owed to the subscriber: none may go yet.
	if c := count(); c != n {
		t.Fatalf("%d messages stored with deliveries pending, want %d", c, n)
	}
	// Deliver everything; the ones outside the ring go.
	for {
		rows, err := db.ClaimSNSDeliveries(ctx, "o", now.Add(time.Hour), time.Minute, 1000, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) == 0 {
			break
		}
		var out []warden.SNSOutcome
		for _, r := range rows {
			out = append(out, warden.SNSOutcome{Seq: r.Seq, LeaseOwner: "o", Attempt: r.Attempt, Delivered: true})
		}
		if err := db.FinishSNSDeliveries(ctx, out, now); err != nil {
			t.Fatal(err)
		}
	}
	if c := count(); c != warden.MaxSNSRecentMessages {
		t.Fatalf("%d messages kept after delivery, want %d", c, warden.MaxSNSRecentMessages)
	}
	msgs, err := db.RecentSNSMessages(ctx, s, "t", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != warden.MaxSNSRecentMessages || msgs[0].Pending != 0 {
		t.Fatalf("%d recent messages, want %d", len(msgs), warden.MaxSNSRecentMessages)
	}
	// A stale claim (lease taken over) cannot finish a delivery.
	if _, err := db.Publish(ctx, s, warden.SNSMessage{Topic: "t", Message: "m"}, now); err != nil {
		t.Fatal(err)
	}
	first, err := db.ClaimSNSDeliveries(ctx, "a", now, time.Minute, 10, 10)
	if err != nil || len(first) != 1 {
		t.Fatalf("claim = %v, %v", first, err)
	}
	second, err := db.ClaimSNSDeliveries(ctx, "b", now.Add(2*time.Minute), time.Minute, 10, 10)
	if err != nil || len(second) != 1 || second[0].Attempt != 2 {
		t.Fatalf("claim after the lease expired = %+v, %v", second, err)
	}
	if err := db.FinishSNSDeliveries(ctx, []warden.SNSOutcome{{Seq: first[0].Seq, LeaseOwner: "a", Attempt: 1, Delivered: true}}, now); err != nil {
		t.Fatal(err)
	}
	if d, _ := db.SNSDeliveries(ctx, warden.SNSDeliveryFilter{}); len(d) != 1 || d[0].LeaseOwner != "b" {
		t.Fatalf("the stale finish changed the outbox: %+v", d)
	}
}
