package sqlstore

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warden-iot/warden"
)

// BenchmarkWritePath runs the store half of the API's write workloads (what
// warden-bench's create-delete and create-thing cost besides HTTP): each op
// is a create and a delete, from one goroutine (every write its own commit)
// or from 8 as the bench's 8 clients (commits shared). The context can be
// cancelled, as a request's can.
func BenchmarkWritePath(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, wl := range []string{"action", "thing"} {
		for _, writers := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/writers=%d", wl, writers), func(b *testing.B) {
				db := thingsBenchOpen(b)
				var n atomic.Int64
				op := func() error {
					name := fmt.Sprintf("bench-%d", n.Add(1))
					now := time.Now()
					switch wl {
					case "action":
						a := warden.MitigationAction{Name: name, ID: warden.NewUUID(), RoleArn: "arn:aws:iam::123456789012:role/warden-bench",
							Params:       warden.MitigationActionParams{UpdateDeviceCertificateParams: &warden.UpdateCertificateParams{Action: "DEACTIVATE"}},
							CreationDate: now, LastModifiedDate: now}
						if _, _, err := db.CreateMitigationAction(ctx, thingsBenchScope, a, nil); err != nil {
							return err
						}
						return db.DeleteMitigationAction(ctx, thingsBenchScope, name)
					default:
						t := warden.Thing{Name: name, ID: warden.NewUUID(), CreationDate: now, LastModifiedDate: now}
						if _, _, err := db.CreateThing(ctx, thingsBenchScope, t); err != nil {
							return err
						}
						return db.DeleteThing(ctx, thingsBenchScope, name, nil, now)
					}
				}
				b.ResetTimer()
				if writers == 1 {
					for range b.N {
						if err := op(); err != nil {
							b.Fatal(err)
						}
					}
					return
				}
				b.SetParallelism(max(writers/runtime.GOMAXPROCS(0), 1))
				groupsBefore, groupedBefore := db.group.commitCounts()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := op(); err != nil {
							b.Error(err)
							return
						}
					}
				})
				groups, grouped := db.group.commitCounts()
				b.ReportMetric(float64(grouped-groupedBefore)/float64(groups-groupsBefore), "writes/commit")
			})
		}
	}
}
