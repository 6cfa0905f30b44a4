package sqlstore

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/warden-iot/warden/internal/pgtest"
	"github.com/warden-iot/warden/internal/secret"
)

// TestCheck: a sound store passes on either database (on PostgreSQL the
// check connects and reads the schema version); a wrong master key is a
// problem it reports.
func TestCheck(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	opt := Options{Database: pgtest.Database(t, dir), DataDir: dir}
	db, err := Open(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	rep, err := Check(ctx, opt)
	if err != nil || rep.Schema != rep.Want || rep.Want < 11 {
		t.Fatalf("check of a sound store: %+v, %v", rep, err)
	}
	opt.MasterKey = base64.StdEncoding.EncodeToString(make([]byte, secret.KeySize))
	rep, err = Check(ctx, opt)
	if !errors.Is(err, ErrDamaged) || len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], "master key") {
		t.Fatalf("check with a wrong master key: %+v, %v; want one problem about the master key", rep, err)
	}
}
