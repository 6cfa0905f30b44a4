package api

import (
	"context"
	"testing"
	"time"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/pgtest"
	"github.com/warden-iot/warden/internal/sqlstore"
)

// BenchmarkLookupKey is the cost of finding a request's access key: from the
// cache, which reads the store again twice a second per key ("cached"), and
// what reading (and unsealing) it from the store on every request would
// cost instead ("store").
func BenchmarkLookupKey(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	store, err := sqlstore.Open(ctx, sqlstore.Options{Database: pgtest.Database(b, dir), DataDir: dir, Synchronous: "NORMAL"})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	const id = "AKIABENCHLOOKUP00000"
	if err := store.CreateAccessKey(ctx, warden.AccessKey{ID: id, Secret: "secret", Account: "123456789012", CreatedAt: time.Now()}); err != nil {
		b.Fatal(err)
	}
	s, err := New(ctx, Config{Store: store})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("cached", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, _, ok, err := s.keys.Lookup(ctx, id); !ok || err != nil {
					b.Fatal(ok, err)
				}
			}
		})
	})
	b.Run("store", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, ok, err := store.AccessKey(ctx, id); !ok || err != nil {
					b.Fatal(ok, err)
				}
			}
		})
	})
}
