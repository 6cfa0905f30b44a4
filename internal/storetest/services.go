package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/warden-iot/warden"
)

// sns: a topic is created once per name and scope; a subscription is
// pending until confirmed; a publish queues one delivery per confirmed
// subscription; deliveries are claimed, leased and finished.
func sns(t *testing.T, st warden.Store) {
	for i, name := range []string{"t1", "t2", "t3"} {
		if _, created, err := st.CreateTopic(ctx, scope, warden.Topic{Name: name, CreatedAt: t0.Add(time.Duration(i))}, nil); err != nil || !created {
			t.Fatalf("CreateTopic(%s): created %v, %v", name, created, err)
		}
	}
	if _, created, err := st.CreateTopic(ctx, scope, warden.Topic{Name: "t1", CreatedAt: t0}, nil); err != nil || created {
		t.Fatalf("CreateTopic of an identical topic: created %v, %v", created, err)
	}
	_, _, err := st.CreateTopic(ctx, scope, warden.Topic{Name: "t1", Attributes: map[string]string{"DisplayName": "x"}, CreatedAt: t0}, nil)
	wantCode(t, "CreateTopic of a different topic of that name", err, warden.CodeSNSInvalidParameter)
	_, err = st.Topic(ctx, scope, "missing")
	wantCode(t, "Topic(missing)", err, warden.CodeSNSNotFound)
	notElsewhere(t, "Topic", warden.CodeSNSNotFound, func(s warden.Scope) error { _, err := st.Topic(ctx, s, "t1"); return err })
	emptyElsewhere(t, "Topics", func(s warden.Scope) ([]warden.Topic, error) {
		topics, _, err := st.Topics(ctx, s, warden.Page{Limit: 10})
		return topics, err
	})
	listed := walk(t, 2, func(p warden.Page) ([]warden.Topic, string, error) { return st.Topics(ctx, scope, p) })
	wantNames(t, "Topics oldest first", names(listed, func(t warden.Topic) string { return t.Name }), "t1", "t2", "t3")
	must(t, st.SetTopicAttribute(ctx, scope, "t1", "DisplayName", "Alerts", t0))
	if topic, err := st.Topic(ctx, scope, "t1"); err != nil || topic.Attributes["DisplayName"] != "Alerts" {
		t.Fatalf("Topic after SetTopicAttribute = %+v, %v", topic, err)
	}

	var confirmed []string
	for _, name := range []string{"a", "b"} {
		sub, err := st.Subscribe(ctx, scope, warden.Subscription{Arn: scope.SNSARN("t1:" + name), Topic: "t1", Protocol: "http",
			Endpoint: "http://" + name + ".example/", Owner: scope.Account, Token: "token-" + name, CreatedAt: t0}, t0)
		if err != nil || sub.Status != warden.SubscriptionPending {
			t.Fatalf("Subscribe(%s) = %+v, %v", name, sub, err)
		}
		sub, err = st.ConfirmSubscription(ctx, scope, "t1", "token-"+name, false, t0)
		if err != nil || sub.Status != warden.SubscriptionConfirmed {
			t.Fatalf("ConfirmSubscription(%s) = %+v, %v", name, sub, err)
		}
		confirmed = append(confirmed, sub.Arn)
	}
	_, err = st.Subscribe(ctx, scope, warden.Subscription{Arn: scope.SNSARN("missing:x"), Topic: "missing", Protocol: "http",
		Endpoint: "http://x.example/", Token: "t"}, t0)
	wantCode(t, "Subscribe to a missing topic", err, warden.CodeSNSNotFound)
	subs := walk(t, 1, func(p warden.Page) ([]warden.Subscription, string, error) {
		return st.Subscriptions(ctx, scope, "t1", p)
	})
	wantNames(t, "Subscriptions", names(subs, func(s warden.Subscription) string { return s.Arn }), confirmed...)
	_, _, err = st.Subscriptions(ctx, otherAccount, "t1", warden.Page{Limit: 10})
	wantCode(t, "Subscriptions of a topic in another account", err, warden.CodeSNSNotFound)

	// Drop the confirmations' deliveries, then publish.
	drain(t, st)
	id, err := st.Publish(ctx, scope, warden.SNSMessage{Topic: "t1", Message: "hello"}, t0)
	if err != nil || id == "" {
		t.Fatalf("Publish = %q, %v", id, err)
	}
	_, err = st.Publish(ctx, otherAccount, warden.SNSMessage{Topic: "t1", Message: "hello"}, t0)
	wantCode(t, "Publish to a topic in another account", err, warden.CodeSNSNotFound)
	claimed, err := st.ClaimSNSDeliveries(ctx, "owner", t0, time.Minute, 10, 10)
	if err != nil || len(claimed) != 2 {
		t.Fatalf("ClaimSNSDeliveries = %d deliveries, %v; want one per confirmed subscription", len(claimed), err)
	}
	if again, err := st.ClaimSNSDeliveries(ctx, "other", t0, time.Minute, 10, 10); err != nil || len(again) != 0 {
		t.Fatalf("ClaimSNSDeliveries while leased = %d, %v; want none", len(again), err)
	}
	finish(t, st, claimed)
	recent, err := st.RecentSNSMessages(ctx, scope, "t1", 0, 10)
	if err != nil || len(recent) != 1 || recent[0].ID != id || recent[0].Fanout != 2 || recent[0].Pending != 0 {
		t.Fatalf("RecentSNSMessages = %+v, %v", recent, err)
	}

	must(t, st.Unsubscribe(ctx, scope, confirmed[0], "new-token", false, t0))
	subs, _, err = st.Subscriptions(ctx, scope, "t1", warden.Page{Limit: 10})
	must(t, err)
	wantNames(t, "Subscriptions after Unsubscribe", names(subs, func(s warden.Subscription) string { return s.Arn }), confirmed[1])
	must(t, st.DeleteTopic(ctx, scope, "t1", t0))
	must(t, st.DeleteTopic(ctx, scope, "t1", t0))
	_, err = st.Topic(ctx, scope, "t1")
	wantCode(t, "Topic after DeleteTopic", err, warden.CodeSNSNotFound)

	key, err := st.SNSSigningKey(ctx, func() ([]byte, error) { return []byte("key-1"), nil })
	must(t, err)
	again, err := st.SNSSigningKey(ctx, func() ([]byte, error) { return nil, fmt.Errorf("generated twice") })
	if err != nil || string(key) != "key-1" || string(again) != "key-1" {
		t.Fatalf("SNSSigningKey = %q then %q, %v", key, again, err)
	}
}

// drain delivers every due delivery.
func drain(t *testing.T, st warden.Store) {
	t.Helper()
	for {
		rows, err := st.ClaimSNSDeliveries(ctx, "drain", t0.Add(time.Hour), time.Minute, 1000, 1000)
		must(t, err)
		if len(rows) == 0 {
			return
		}
		finish(t, st, rows)
	}
}

// finish reports claimed deliveries delivered.
func finish(t *testing.T, st warden.Store, claimed []warden.SNSDelivery) {
	t.Helper()
	var out []warden.SNSOutcome
	for _, d := range claimed {
		out = append(out, warden.SNSOutcome{Seq: d.Seq, LeaseOwner: d.LeaseOwner, Attempt: d.Attempt, Delivered: true})
	}
	must(t, st.FinishSNSDeliveries(ctx, out, t0))
}

const (
	trustPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"iot.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	rolePolicy  = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:UpdateCertificate","Resource":"*"}]}`
)

// iam: role names are unique per account without regard to case, lists
// order by name without regard to case and page, inline policies are
// replaced by name, a role with policies cannot be deleted; roles stay in
// their account.
func iam(t *testing.T, st warden.Store) {
	for i, name := range []string{"beta", "Alpha", "gamma"} {
		r := warden.Role{Name: name, Path: "/", ID: fmt.Sprintf("AROA%017d", i), AssumeRolePolicyDocument: trustPolicy,
			MaxSessionDuration: 3600, CreateDate: t0}
		if _, err := st.CreateRole(ctx, scope.Account, r); err != nil {
			t.Fatalf("CreateRole(%s): %v", name, err)
		}
	}
	_, err := st.CreateRole(ctx, scope.Account, warden.Role{Name: "BETA", Path: "/", ID: "AROA99999999999999999",
		AssumeRolePolicyDocument: trustPolicy, CreateDate: t0})
	wantCode(t, "CreateRole of an existing name in other case", err, warden.CodeIAMEntityAlreadyExists)
	if r, err := st.Role(ctx, scope.Account, "beta"); err != nil || r.AssumeRolePolicyDocument != trustPolicy {
		t.Fatalf("Role = %+v, %v", r, err)
	}
	_, err = st.Role(ctx, scope.Account, "missing")
	wantCode(t, "Role(missing)", err, warden.CodeIAMNoSuchEntity)
	_, err = st.Role(ctx, otherAccount.Account, "beta")
	wantCode(t, "Role in another account", err, warden.CodeIAMNoSuchEntity)
	if roles, _, err := st.Roles(ctx, otherAccount.Account, "/", warden.Page{Limit: 10}); err != nil || len(roles) != 0 {
		t.Fatalf("Roles of another account = %d, %v", len(roles), err)
	}
	roles := walk(t, 2, func(p warden.Page) ([]warden.Role, string, error) { return st.Roles(ctx, scope.Account, "/", p) })
	wantNames(t, "Roles", names(roles, func(r warden.Role) string { return r.Name }), "Alpha", "beta", "gamma")

	must(t, st.PutRolePolicy(ctx, scope.Account, "beta", "Deactivate", rolePolicy, t0))
	must(t, st.PutRolePolicy(ctx, scope.Account, "beta", "deactivate", rolePolicy, t0))
	must(t, st.PutRolePolicy(ctx, scope.Account, "beta", "other", rolePolicy, t0))
	wantCode(t, "PutRolePolicy of a missing role", st.PutRolePolicy(ctx, scope.Account, "missing", "p", rolePolicy, t0), warden.CodeIAMNoSuchEntity)
	policies := walk(t, 1, func(p warden.Page) ([]string, string, error) { return st.RolePolicies(ctx, scope.Account, "beta", p) })
	wantNames(t, "RolePolicies", policies, "Deactivate", "other")
	if p, err := st.RolePolicy(ctx, scope.Account, "beta", "DEACTIVATE"); err != nil || p.Document != rolePolicy || p.PolicyName != "Deactivate" {
		t.Fatalf("RolePolicy = %+v, %v", p, err)
	}
	_, err = st.RolePolicy(ctx, scope.Account, "beta", "missing")
	wantCode(t, "RolePolicy(missing)", err, warden.CodeIAMNoSuchEntity)
	wantCode(t, "DeleteRole with inline policies", st.DeleteRole(ctx, scope.Account, "beta", t0), warden.CodeIAMDeleteConflict)
	must(t, st.DeleteRolePolicy(ctx, scope.Account, "beta", "Deactivate", t0))
	wantCode(t, "DeleteRolePolicy again", st.DeleteRolePolicy(ctx, scope.Account, "beta", "Deactivate", t0), warden.CodeIAMNoSuchEntity)
	must(t, st.DeleteRolePolicy(ctx, scope.Account, "beta", "other", t0))
	must(t, st.DeleteRole(ctx, scope.Account, "beta", t0))
	wantCode(t, "DeleteRole again", st.DeleteRole(ctx, scope.Account, "beta", t0), warden.CodeIAMNoSuchEntity)
}

// snsClaimPerSubscription: a claim leases at most perSubscription rows
// of each subscription, counting the ones already leased, so a subscription
// with a long backlog leaves room for the others.
func snsClaimPerSubscription(t *testing.T, db warden.Store) {
	s, now := scope, t0
	if _, _, err := db.CreateTopic(ctx, s, warden.Topic{Name: "t", CreatedAt: now}, nil); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b"} {
		sub, err := db.Subscribe(ctx, s, warden.Subscription{Arn: s.SNSARN("t:" + name), Topic: "t", Protocol: "http",
			Endpoint: "http://" + name + "/", Token: "tok-" + name}, now)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.ConfirmSubscription(ctx, s, "t", sub.Token, false, now); err != nil {
			t.Fatal(err)
		}
	}
	// Drop the two confirmations; then 10 notifications per subscription.
	drain(t, db)
	for range 10 {
		if _, err := db.Publish(ctx, s, warden.SNSMessage{Topic: "t", Message: "m"}, now); err != nil {
			t.Fatal(err)
		}
	}
	perSub := func(rows []warden.SNSDelivery) map[string]int {
		m := map[string]int{}
		for _, r := range rows {
			m[r.SubscriptionArn]++
		}
		return m
	}
	first, err := db.ClaimSNSDeliveries(ctx, "o", now, time.Minute, 3, 100)
	if err != nil {
		t.Fatal(err)
	}
	if got := perSub(first); len(first) != 6 || got[s.SNSARN("t:a")] != 3 || got[s.SNSARN("t:b")] != 3 {
		t.Fatalf("first claim %v, want 3 of each subscription", got)
	}
	if again, err := db.ClaimSNSDeliveries(ctx, "o", now, time.Minute, 3, 100); err != nil || len(again) != 0 {
		t.Fatalf("claim while 3 of each are leased = %d rows, %v; want none", len(again), err)
	}
	// One of a's finishes: a gets one more, b none.
	var done warden.SNSDelivery
	for _, r := range first {
		if r.SubscriptionArn == s.SNSARN("t:a") {
			done = r
			break
		}
	}
	if err := db.FinishSNSDeliveries(ctx, []warden.SNSOutcome{{Seq: done.Seq, LeaseOwner: "o", Attempt: done.Attempt, Delivered: true}}, now); err != nil {
		t.Fatal(err)
	}
	next, err := db.ClaimSNSDeliveries(ctx, "o", now, time.Minute, 3, 100)
	if err != nil {
		t.Fatal(err)
	}
	if got := perSub(next); len(next) != 1 || got[s.SNSARN("t:a")] != 1 {
		t.Fatalf("claim after one finished %v, want one of a", got)
	}
	// Oldest first within a subscription: the first claim took a's three
	// oldest, this one the fourth.
	for _, r := range first {
		if r.SubscriptionArn == s.SNSARN("t:a") && r.Seq > next[0].Seq {
			t.Fatalf("claimed a's seq %d after %d: not oldest first", next[0].Seq, r.Seq)
		}
	}
}
