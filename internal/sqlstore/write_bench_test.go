package sqlstore

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warden-iot/warden"
)

// BenchmarkWritePath runs the store half of the API's write workloads (what
// warden-bench's create-delete and create-thing cost besides HTTP), from 8
// goroutines as the bench's 8 clients do: each op is a create and a delete.
func BenchmarkWritePath(b *testing.B) {
	ctx := context.Background()
	for _, wl := range []string{"action", "thing"} {
		b.Run(wl, func(b *testing.B) {
			db := thingsBenchOpen(b)
			var n atomic.Int64
			b.SetParallelism(4) // 8 goroutines on 2 cores
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					name := fmt.Sprintf("bench-%d", n.Add(1))
					now := time.Now()
					var err error
					switch wl {
					case "action":
						a := warden.MitigationAction{Name: name, ID: warden.NewUUID(), RoleArn: "arn:aws:iam::123456789012:role/warden-bench",
							Params:       warden.MitigationActionParams{UpdateDeviceCertificateParams: &warden.UpdateCertificateParams{Action: "DEACTIVATE"}},
							CreationDate: now, LastModifiedDate: now}
						if _, _, err = db.CreateMitigationAction(ctx, thingsBenchScope, a, nil); err == nil {
							err = db.DeleteMitigationAction(ctx, thingsBenchScope, name)
						}
					case "thing":
						t := warden.Thing{Name: name, ID: warden.NewUUID(), CreationDate: now, LastModifiedDate: now}
						if _, _, err = db.CreateThing(ctx, thingsBenchScope, t); err == nil {
							err = db.DeleteThing(ctx, thingsBenchScope, name, nil, now)
						}
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
