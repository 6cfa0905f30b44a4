package broker_test

import (
	"database/sql"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, for a raw transaction

	"github.com/warden-iot/warden/internal/pgtest"
)

// UpdateCertificate INACTIVE disconnects the certificate's live sessions
// (3.1.1 and 5, the latter with DISCONNECT 0x87) and refuses them after.
func TestDeactivationDisconnects(t *testing.T) {
	e := newEnv(t)
	d := e.newDevice(allowAll)
	other := e.newDevice(allowAll)
	c3 := e.mustConnect3(d, "dev3")
	c5 := e.mustConnect5(d, "dev5")
	bystander := e.mustConnect3(other, "bystander")

	start := time.Now()
	e.setStatus(d, types.CertificateStatusInactive)
	select {
	case <-c3.lost:
	case <-time.After(5 * time.Second):
		t.Fatal("3.1.1 session still connected 5 s after deactivation")
	}
	t.Logf("3.1.1 session disconnected %v after UpdateCertificate returned", time.Since(start))
	c5.wantDisconnect(t, 0x87, "MQTT 5 session after UpdateCertificate")
	t.Logf("MQTT 5 session disconnected %v after UpdateCertificate returned", time.Since(start))
	e.events.wait(t, "Disconnect AUTH_ERROR", func(ev eventT) bool {
		return ev.Type == "Disconnect" && ev.ClientID == "dev3" && ev.DisconnectReason == "AUTH_ERROR"
	})
	if _, err := e.connect3(d, "dev3"); err == nil {
		t.Fatal("reconnect with the INACTIVE certificate succeeded")
	}
	if !bystander.IsConnectionOpen() {
		t.Fatal("a session of another certificate was disconnected")
	}
	// Active again: it connects.
	e.setStatus(d, types.CertificateStatusActive)
	e.mustConnect3(d, "dev3")
}

// A new default policy version that denies the topic makes the next
// publish fail without a reconnect (REPLACE_DEFAULT_POLICY_VERSION works
// through the same store call).
func TestPolicyVersionChangeAppliesToLiveSession(t *testing.T) {
	e := newEnv(t)
	d := e.newDevice("")
	name := e.attachNewPolicy(allowAll, d.arn)
	c5 := e.mustConnect5(d, "dev")
	if code, _ := c5.publish(t, "data/x", 1, false, "1"); code != 0 {
		t.Fatalf("publish before: %#x", code)
	}
	if _, err := e.iot.CreatePolicyVersion(e.ctx, &iot.CreatePolicyVersionInput{PolicyName: aws.String(name),
		PolicyDocument: aws.String(policy(allow("iot:Connect", "*"), deny("iot:Publish", arn("topic", "data/*")))),
		SetAsDefault:   true}); err != nil {
		t.Fatal(err)
	}
	took := waitFor(t, "publish denied by the new version", func() bool {
		code, _ := c5.publish(t, "data/x", 1, false, "2")
		return code == 0x87
	})
	t.Logf("new policy version applied within %v", took)
	// Connect is still allowed: the session stays.
	select {
	case <-c5.disconnected:
		t.Fatal("session disconnected although Connect is still allowed")
	default:
	}
}

// Detaching the only policy leaves Connect denied: the session is cut.
func TestDetachPolicyDisconnects(t *testing.T) {
	e := newEnv(t)
	d := e.newDevice("")
	name := e.attachNewPolicy(allowAll, d.arn)
	c3 := e.mustConnect3(d, "dev")
	if _, err := e.iot.DetachPolicy(e.ctx, &iot.DetachPolicyInput{PolicyName: aws.String(name), Target: aws.String(d.arn)}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c3.lost:
	case <-time.After(5 * time.Second):
		t.Fatal("still connected 5 s after DetachPolicy")
	}
}

// A second CONNECT with the same client id wins; the first gets
// DISCONNECT 0x8E (MQTT 5) and the lifecycle reason DUPLICATE_CLIENTID.
func TestClientIDTakeover(t *testing.T) {
	e := newEnv(t)
	d := e.newDevice(allowAll)
	first := e.mustConnect5(d, "same")
	second := e.mustConnect3(d, "same")
	first.wantDisconnect(t, 0x8E, "first connection, taken over")
	e.events.wait(t, "Disconnect DUPLICATE_CLIENTID", func(ev eventT) bool {
		return ev.Type == "Disconnect" && ev.ClientID == "same" && ev.DisconnectReason == "DUPLICATE_CLIENTID"
	})
	if !second.IsConnectionOpen() {
		t.Fatal("the new connection is not open")
	}
	// Client ids are per account: a second account's "same" is another client.
	second.subscribe(t, "t", 1)
	if err := second.publish(t, "t", 1, false, "x"); err != nil {
		t.Fatal(err)
	}
	receive3(t, second, 5*time.Second)
}

// Two nodes on one PostgreSQL store: a change made through node A
// disconnects a device connected to node B.
func TestTwoNodesOnPostgreSQL(t *testing.T) {
	if pgtest.URL() == "" {
		t.Skip("WARDEN_TEST_DATABASE is not set")
	}
	a := newEnv(t)
	b := newEnv(t, envOptions{dir: a.dir})
	d := a.newDevice(allowAll)
	c := b.mustConnect5(d, "on-b")
	start := time.Now()
	a.setStatus(d, types.CertificateStatusInactive)
	c.wantDisconnect(t, 0x87, "device on node B after node A deactivated its certificate")
	t.Logf("node B disconnected the device %v after node A's UpdateCertificate returned", time.Since(start))
	if _, _, err := b.connect5(d, "on-b"); err == nil {
		t.Fatal("reconnected to node B")
	}
	// Both nodes serve the same CA.
	if !a.broker.CA().Cert.Equal(b.broker.CA().Cert) {
		t.Fatal("the nodes have different CAs")
	}
}

// On PostgreSQL a change-log row can commit after a row with a higher seq
// was read; the tail finds it through the gap it left.
func TestChangeCommittedOutOfOrder(t *testing.T) {
	if pgtest.URL() == "" {
		t.Skip("WARDEN_TEST_DATABASE is not set")
	}
	e := newEnv(t)
	d := e.newDevice(allowAll)
	c := e.mustConnect3(d, "dev")
	url, err := pgtest.SchemaURL(t, e.dir)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	tx, err := raw.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	// The slow transaction takes its seq first...
	if _, err := tx.Exec(`UPDATE certificates SET status = 'INACTIVE' WHERE id = $1`, d.id); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`INSERT INTO change_log (account, region, resource_arn, operation, before_doc, after_doc, actor, at)
		VALUES ($1, $2, $3, 'UpdateCertificate', '', '', 'test', $4)`, account, region, arn("cert", d.id), time.Now().UnixMilli()); err != nil {
		t.Fatal(err)
	}
	// ...a later change commits and is read...
	if _, err := e.iot.CreateThing(e.ctx, &iot.CreateThingInput{ThingName: aws.String("later")}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if !c.IsConnectionOpen() {
		t.Fatal("disconnected before the deactivation committed")
	}
	// ...and only then the first commits.
	start := time.Now()
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.lost:
	case <-time.After(5 * time.Second):
		t.Fatal("a change committed out of seq order was missed")
	}
	t.Logf("out-of-order change applied %v after its commit", time.Since(start))
}

// A policy attached to a thing group reaches the live sessions of its
// member things (through the group's parent too), and only those.
func TestGroupPolicyAppliesToMembers(t *testing.T) {
	e := newEnv(t)
	for _, g := range []struct{ name, parent string }{{"fleet", ""}, {"floor-1", "fleet"}} {
		in := &iot.CreateThingGroupInput{ThingGroupName: aws.String(g.name)}
		if g.parent != "" {
			in.ParentGroupName = aws.String(g.parent)
		}
		if _, err := e.iot.CreateThingGroup(e.ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	member := e.newDevice(allowAll)
	other := e.newDevice(allowAll)
	if _, err := e.iot.CreateThing(e.ctx, &iot.CreateThingInput{ThingName: aws.String("m1")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.iot.AttachThingPrincipal(e.ctx, &iot.AttachThingPrincipalInput{ThingName: aws.String("m1"), Principal: aws.String(member.arn)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.iot.AddThingToThingGroup(e.ctx, &iot.AddThingToThingGroupInput{ThingName: aws.String("m1"), ThingGroupName: aws.String("floor-1")}); err != nil {
		t.Fatal(err)
	}
	cm := e.mustConnect5(member, "m1")
	co := e.mustConnect5(other, "o1")
	e.attachNewPolicy(policy(deny("iot:Publish", arn("topic", "alarms/*"))), arn("thinggroup", "fleet"))
	waitFor(t, "member's publish denied by its parent group's new policy", func() bool {
		code, _ := cm.publish(t, "alarms/x", 1, false, "1")
		return code == 0x87
	})
	if code, _ := co.publish(t, "alarms/x", 1, false, "1"); code != 0 {
		t.Fatalf("a device outside the group: PUBACK %#x", code)
	}
}
