package sqlstore

import (
	"context"
	"testing"
	"time"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/pgtest"
)

// DeviceCertificate finds a certificate by id in any scope; of several
// registrations, the earliest; LastChangeSeq follows the change log.
func TestDeviceCertificate(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := Open(ctx, Options{Database: pgtest.Database(t, dir), DataDir: dir, Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	first := warden.Scope{Account: "222222222222", Region: "eu-west-1"}
	second := warden.Scope{Account: "111111111111", Region: "us-east-1"}
	now := time.Now()
	caPEM, caKey, err := warden.NewIssuingCA(first, now)
	if err != nil {
		t.Fatal(err)
	}
	issued, err := warden.IssueCertificate(caPEM, caKey, now)
	if err != nil {
		t.Fatal(err)
	}
	c := warden.NewCertificateFrom(issued.Cert, warden.CertActive, warden.ModeDefault, now)
	if _, _, found, err := db.DeviceCertificate(ctx, c.ID); err != nil || found {
		t.Fatalf("before registration: found %v, err %v", found, err)
	}
	before, err := db.LastChangeSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateCertificate(ctx, first, c, "CreateKeysAndCertificate"); err != nil {
		t.Fatal(err)
	}
	inactive := c
	inactive.Status = warden.CertInactive
	if err := db.CreateCertificate(ctx, second, inactive, "RegisterCertificateWithoutCA"); err != nil {
		t.Fatal(err)
	}
	s, got, found, err := db.DeviceCertificate(ctx, c.ID)
	if err != nil || !found || s != first || got.ID != c.ID || got.Status != warden.CertActive {
		t.Fatalf("got scope %v, %s %s, found %v, err %v; want the first registration (%v, ACTIVE)", s, got.ID, got.Status, found, err, first)
	}
	after, err := db.LastChangeSeq(ctx)
	if err != nil || after < before+2 {
		t.Fatalf("LastChangeSeq %d after two registrations, was %d (err %v)", after, before, err)
	}
}
