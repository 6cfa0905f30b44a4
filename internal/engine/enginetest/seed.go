// Package enginetest seeds a Warden SQLite database with what mitigation
// tests and benchmarks need in bulk — device certificates, the things they
// are attached to, a completed audit and one finding per certificate —
// directly in SQL, because tens of thousands of them through the API would
// take minutes. The rows have the columns the registry and the audit
// engineer's findings contract define; certificates carry no real PEM, so
// only operations that do not parse it may be used on them.
package enginetest

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" driver

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/sqlstore"
)

// Options describe what Seed writes.
type Options struct {
	Scope       warden.Scope
	AuditTaskID string // default "a3aea009955e501a31b764abe1bebd3d"
	Check       string // default DEVICE_CERTIFICATE_EXPIRING_CHECK
	ReasonCode  string // default CERTIFICATE_APPROACHING_EXPIRATION
	Findings    int
	// Prefix starts thing names and, in hex, certificate ids, so that
	// several seeds in one scope do not collide (default "t").
	Prefix string
	// ThingsPerCertificate is how many things each certificate is attached
	// to (default 1; 0 with NoThings).
	ThingsPerCertificate int
	NoThings             bool
	// SuppressEvery marks every n-th finding suppressed (0: none).
	SuppressEvery int
	// ReasonCodeEvery gives every n-th finding OtherReasonCode instead.
	ReasonCodeEvery int
	OtherReasonCode string
	Now             time.Time
}

// Seeded is one finding Seed wrote.
type Seeded struct {
	FindingID     string
	CertificateID string
	Things        []string
}

// Open opens the database of a Warden store for direct writes: the
// PostgreSQL database when database is set, else the SQLite file in dataDir
// (synchronous NORMAL). SQLite has one writer at a time: writes here wait
// for Warden's and hold Warden's up.
func Open(database, dataDir string) (*sql.DB, error) { return OpenSync(database, dataDir, "NORMAL") }

// OpenSync is Open with SQLite's synchronous pragma (FULL or NORMAL).
func OpenSync(database, dataDir, synchronous string) (*sql.DB, error) {
	if database != "" {
		return sqlstore.OpenSQL(sqlstore.Options{Database: database})
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous("+synchronous+")")
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, sqlstore.SQLiteFile)+"?"+q.Encode()+"&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// CertificateID is the 64-hex id Seed gives the i-th certificate.
func CertificateID(prefix string, i int) string {
	h := hex.EncodeToString([]byte(prefix))
	if len(h) > 48 {
		h = h[:48]
	}
	return h + strings.Repeat("0", 48-len(h)) + fmt.Sprintf("%016x", i)
}

// Seed writes the audit task (COMPLETED, if not there yet) and o.Findings
// certificates, things and findings, in transactions of 500.
func Seed(ctx context.Context, db *sql.DB, o Options) ([]Seeded, error) {
	if o.AuditTaskID == "" {
		o.AuditTaskID = "a3aea009955e501a31b764abe1bebd3d"
	}
	if o.Check == "" {
		o.Check = "DEVICE_CERTIFICATE_EXPIRING_CHECK"
	}
	if o.ReasonCode == "" {
		o.ReasonCode = "CERTIFICATE_APPROACHING_EXPIRATION"
	}
	if o.Prefix == "" {
		o.Prefix = "t"
	}
	if o.ThingsPerCertificate == 0 && !o.NoThings {
		o.ThingsPerCertificate = 1
	}
	if o.NoThings {
		o.ThingsPerCertificate = 0
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	s := o.Scope
	now := o.Now.UnixMilli()
	if _, err := db.ExecContext(ctx, `INSERT INTO audit_tasks (account, region, task_id, task_type, task_status, task_start_time, end_time)
		VALUES (?, ?, ?, 'ON_DEMAND_AUDIT_TASK', 'COMPLETED', ?, ?) ON CONFLICT DO NOTHING`,
		s.Account, s.Region, o.AuditTaskID, now, now); err != nil {
		return nil, err
	}
	out := make([]Seeded, 0, o.Findings)
	const batch = 500
	for start := 0; start < o.Findings; start += batch {
		end := min(start+batch, o.Findings)
		var certs, things, principals, findings strings.Builder
		var certArgs, thingArgs, principalArgs, findingArgs []any
		sep := func(b *strings.Builder) {
			if b.Len() > 0 {
				b.WriteString(", ")
			}
		}
		for i := start; i < end; i++ {
			sd := Seeded{FindingID: warden.NewUUID(), CertificateID: CertificateID(o.Prefix, i)}
			sep(&certs)
			certs.WriteString("(?, ?, ?, 'ACTIVE', 'seeded', ?, ?, ?, ?, ?)")
			certArgs = append(certArgs, s.Account, s.Region, sd.CertificateID, warden.NewUUID(), now-86400000, now+10*86400000, now, now)
			for k := 0; k < o.ThingsPerCertificate; k++ {
				name := fmt.Sprintf("%s-%07d-%d", o.Prefix, i, k)
				sd.Things = append(sd.Things, name)
				sep(&things)
				things.WriteString("(?, ?, ?, ?, ?, ?)")
				thingArgs = append(thingArgs, s.Account, s.Region, name, warden.NewUUID(), now, now)
				sep(&principals)
				principals.WriteString("(?, ?, ?, ?, ?)")
				principalArgs = append(principalArgs, s.Account, s.Region, name, s.CertificateARN(sd.CertificateID), now)
			}
			suppressed := 0
			if o.SuppressEvery > 0 && i%o.SuppressEvery == o.SuppressEvery-1 {
				suppressed = 1
			}
			reason := o.ReasonCode
			if o.ReasonCodeEvery > 0 && i%o.ReasonCodeEvery == o.ReasonCodeEvery-1 {
				reason = o.OtherReasonCode
			}
			sep(&findings)
			findings.WriteString("(?, ?, ?, ?, ?, 'MEDIUM', 'DEVICE_CERTIFICATE', ?, ?, ?, ?, ?, ?)")
			findingArgs = append(findingArgs, s.Account, s.Region, sd.FindingID, o.AuditTaskID, o.Check,
				`{"deviceCertificateId":"`+sd.CertificateID+`"}`, reason, "Certificate is approaching expiration", suppressed, now, now)
			out = append(out, sd)
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return nil, err
		}
		stmts := []struct {
			sql  string
			args []any
		}{
			{`INSERT INTO certificates (account, region, id, status, pem, generation_id, not_before, not_after, created_at, updated_at) VALUES ` + certs.String(), certArgs},
			{`INSERT INTO things (account, region, name, id, created_at, updated_at) VALUES ` + things.String(), thingArgs},
			{`INSERT INTO thing_principals (account, region, thing_name, principal, created_at) VALUES ` + principals.String(), principalArgs},
			{`INSERT INTO audit_findings (account, region, finding_id, task_id, check_name, severity, resource_type,
				resource_identifier, reason_code, reason, is_suppressed, task_start_time, finding_time) VALUES ` + findings.String(), findingArgs},
		}
		for _, st := range stmts {
			if len(st.args) == 0 {
				continue
			}
			if _, err := tx.ExecContext(ctx, st.sql, st.args...); err != nil {
				_ = tx.Rollback()
				return nil, err
			}
		}
		if err := tx.Commit(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
