package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

const (
	describeActionName = "bench-describe"
	benchRoleArn       = "arn:aws:iam::123456789012:role/warden-bench"
)

type creds struct{ id, secret string }

// newClient is the AWS SDK IoT client the bench measures with: one per
// server, shared by all workers, with enough idle connections that every
// worker keeps its own.
func newClient(addr string, c creds, conns int) *iot.Client {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns * 2,
		MaxIdleConnsPerHost: conns * 2,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   false,
	}
	return iot.New(iot.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String("http://" + addr),
		Credentials:      credentials.NewStaticCredentialsProvider(c.id, c.secret, ""),
		RetryMaxAttempts: 1,
		HTTPClient:       &http.Client{Transport: tr},
	})
}

func describe(ctx context.Context, cl *iot.Client, name string) error {
	out, err := cl.DescribeMitigationAction(ctx, &iot.DescribeMitigationActionInput{ActionName: aws.String(name)})
	if err == nil && aws.ToString(out.ActionName) != name {
		err = fmt.Errorf("DescribeMitigationAction answered action %q, want %q", aws.ToString(out.ActionName), name)
	}
	return err
}

func createAction(ctx context.Context, cl *iot.Client, name string) error {
	out, err := cl.CreateMitigationAction(ctx, &iot.CreateMitigationActionInput{
		ActionName: aws.String(name),
		RoleArn:    aws.String(benchRoleArn),
		ActionParams: &types.MitigationActionParams{
			UpdateDeviceCertificateParams: &types.UpdateDeviceCertificateParams{Action: types.DeviceCertificateUpdateActionDeactivate},
		},
	})
	if err == nil && aws.ToString(out.ActionId) == "" {
		err = fmt.Errorf("CreateMitigationAction answered no actionId")
	}
	return err
}

func deleteAction(ctx context.Context, cl *iot.Client, name string) error {
	_, err := cl.DeleteMitigationAction(ctx, &iot.DeleteMitigationActionInput{ActionName: aws.String(name)})
	return err
}

// Workloads.
const (
	wlDescribe     = "describe"
	wlCreateDelete = "create-delete"
)

// loadResult is what one timed run of a workload measured on the client side.
type loadResult struct {
	elapsed   time.Duration
	latencies map[string][]time.Duration // by operation: describe, create, delete
	errors    int64
	firstErr  string
}

func (r *loadResult) requests() int {
	n := 0
	for _, l := range r.latencies {
		n += len(l)
	}
	return n
}

func (r *loadResult) all() []time.Duration {
	var all []time.Duration
	for _, l := range r.latencies {
		all = append(all, l...)
	}
	slices.Sort(all)
	return all
}

// runLoad runs workload with `workers` concurrent workers until d has passed;
// each worker finishes the call it is in. Create/delete workers each own one
// action name and alternate creating and deleting it; a worker that stops
// with its action created deletes it after the measured span, in cleanup.
func runLoad(ctx context.Context, cl *iot.Client, workload string, workers int, d time.Duration) (*loadResult, func() error) {
	type workerState struct {
		lat     map[string][]time.Duration
		created bool
		name    string
	}
	states := make([]*workerState, workers)
	var errCount atomic.Int64
	var firstErr atomic.Value
	fail := func(op string, err error) {
		errCount.Add(1)
		firstErr.CompareAndSwap(nil, fmt.Sprintf("%s: %v", op, err))
	}
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for i := range workers {
		st := &workerState{lat: map[string][]time.Duration{}, name: fmt.Sprintf("bench-cd-%d", i)}
		states[i] = st
		wg.Go(func() {
			for time.Now().Before(deadline) && ctx.Err() == nil {
				var op string
				var err error
				t0 := time.Now()
				switch {
				case workload == wlDescribe:
					op, err = "describe", describe(ctx, cl, describeActionName)
				case !st.created:
					op, err = "create", createAction(ctx, cl, st.name)
				default:
					op, err = "delete", deleteAction(ctx, cl, st.name)
				}
				lat := time.Since(t0)
				if err != nil {
					fail(op, err)
					if workload == wlCreateDelete {
						// Whatever happened, the next delete makes the state known again.
						st.created = true
					}
					continue
				}
				st.lat[op] = append(st.lat[op], lat)
				switch op {
				case "create":
					st.created = true
				case "delete":
					st.created = false
				}
			}
		})
	}
	wg.Wait()
	res := &loadResult{elapsed: time.Since(start), latencies: map[string][]time.Duration{}, errors: errCount.Load()}
	if v := firstErr.Load(); v != nil {
		res.firstErr = v.(string)
	}
	for _, st := range states {
		for op, l := range st.lat {
			res.latencies[op] = append(res.latencies[op], l...)
		}
	}
	for _, l := range res.latencies {
		slices.Sort(l)
	}
	cleanup := func() error {
		for _, st := range states {
			if st.created {
				if err := deleteAction(ctx, cl, st.name); err != nil {
					return fmt.Errorf("cleanup: delete %s: %w", st.name, err)
				}
			}
		}
		return nil
	}
	return res, cleanup
}

// percentile of sorted latencies, nearest rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p/100*float64(len(sorted))+0.5) - 1
	i = max(0, min(i, len(sorted)-1))
	return sorted[i]
}
