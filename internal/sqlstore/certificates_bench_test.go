package sqlstore

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/warden-iot/warden"
)

// certsBenchInsert inserts n device certificates of thingsBenchScope in
// batches, directly in SQL: a fixture of 100,000 through the API would have
// to sign 100,000 certificates. Ids are the hex SHA-256 of the (fake) DER,
// unique 64-hex like real certificate ids; the other columns hold values of
// the shape registration stores.
func certsBenchInsert(b *testing.B, db *DB, n int) {
	b.Helper()
	ctx := context.Background()
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	notBefore, notAfter := millis(created.Add(-time.Hour)), millis(created.AddDate(10, 0, 0))
	// A P-256 device certificate's DER is around 450 bytes, its SPKI 91.
	der := make([]byte, 450)
	spki := make([]byte, 91)
	for i := range der {
		der[i] = byte(i * 7)
	}
	for i := range spki {
		spki[i] = byte(i * 13)
	}
	const batch = 500 // 22 parameters a row, well under SQLite's limit
	const cols = `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	err := db.inTx(ctx, func(tx writeTx) error {
		for start := 0; start < n; start += batch {
			end := min(start+batch, n)
			var q strings.Builder
			q.WriteString(`INSERT INTO certificates (account, region, id, status, pem, ca_certificate_id,
		certificate_mode, customer_version, generation_id, not_before, not_after, created_at, updated_at, subject, issuer,
		serial, key_algorithm, key_size, signature_algorithm, public_key, public_key_sha256, crl_distribution_points) VALUES `)
			args := make([]any, 0, (end-start)*22)
			for i := start; i < end; i++ {
				if i > start {
					q.WriteString(", ")
				}
				q.WriteString(cols)
				copy(der, fmt.Sprintf("cert-%08d", i))
				copy(spki[len(spki)-16:], fmt.Sprintf("key-%08d....", i))
				idSum, keySum := sha256.Sum256(der), sha256.Sum256(spki)
				status := "ACTIVE"
				if i%10 == 9 {
					status = "INACTIVE"
				}
				at := millis(created.Add(time.Duration(i) * time.Second))
				args = append(args, thingsBenchScope.Account, thingsBenchScope.Region, hex.EncodeToString(idSum[:]), status,
					string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), "", "DEFAULT", 1, warden.NewUUID(),
					notBefore, notAfter, at, at,
					fmt.Sprintf("CN=device-%08d,O=Warden Bench", i), "CN=Warden Issuing CA,O=Warden",
					fmt.Sprintf("%x", 1_000_000+i), "ECDSA", 256, "ECDSA-SHA256",
					base64.StdEncoding.EncodeToString(spki), hex.EncodeToString(keySum[:]), "[]")
			}
			if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkListCertificatesPage reads page 1 and page 400 (the last, at 250
// certificates a page) of 100,000 certificates through the store method
// behind ListCertificates, in its default (newest first) order. The cursor
// is the seq of the last certificate returned, a keyset: both pages cost the
// same, whatever the size of the collection.
func BenchmarkListCertificatesPage(b *testing.B) {
	const certs, pageSize, lastPage = 100_000, 250, 400
	db := thingsBenchOpen(b)
	certsBenchInsert(b, db, certs)
	ctx := context.Background()

	// Page through once to get the cursor of page 400.
	cursor := map[int]string{1: ""}
	after := ""
	for page := 1; page < lastPage; page++ {
		got, next, err := db.Certificates(ctx, thingsBenchScope, warden.CertificateFilter{}, warden.Page{After: after, Limit: pageSize})
		if err != nil {
			b.Fatal(err)
		}
		if len(got) != pageSize || next == "" {
			b.Fatalf("page %d: %d certificates, next %q", page, len(got), next)
		}
		after = next
	}
	cursor[lastPage] = after

	for _, page := range []int{1, lastPage} {
		b.Run(fmt.Sprintf("page=%d", page), func(b *testing.B) {
			p := warden.Page{After: cursor[page], Limit: pageSize}
			for b.Loop() {
				got, next, err := db.Certificates(ctx, thingsBenchScope, warden.CertificateFilter{}, p)
				if err != nil {
					b.Fatal(err)
				}
				if len(got) != pageSize {
					b.Fatalf("got %d certificates", len(got))
				}
				if (page == lastPage) != (next == "") {
					b.Fatalf("page %d: next %q", page, next)
				}
			}
		})
	}
}
