package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
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
	// describeThingName is the thing describe-thing reads, created with
	// describeThingAttributes before the load.
	describeThingName = "bench-describe-thing"
)

// describeThingAttributes are the 3 attributes of describeThingName.
var describeThingAttributes = map[string]string{"model": "wb-42", "firmware": "1.8.3", "site": "lab-east"}

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

func describeThing(ctx context.Context, cl *iot.Client, name string) error {
	out, err := cl.DescribeThing(ctx, &iot.DescribeThingInput{ThingName: aws.String(name)})
	switch {
	case err != nil:
	case aws.ToString(out.ThingName) != name:
		err = fmt.Errorf("DescribeThing answered thing %q, want %q", aws.ToString(out.ThingName), name)
	case len(out.Attributes) != len(describeThingAttributes):
		err = fmt.Errorf("DescribeThing answered %d attributes, want %d", len(out.Attributes), len(describeThingAttributes))
	}
	return err
}

// createThing creates thing name, with attrs when not nil.
func createThing(ctx context.Context, cl *iot.Client, name string, attrs map[string]string) error {
	in := &iot.CreateThingInput{ThingName: aws.String(name)}
	if attrs != nil {
		in.AttributePayload = &types.AttributePayload{Attributes: attrs}
	}
	out, err := cl.CreateThing(ctx, in)
	if err == nil && aws.ToString(out.ThingId) == "" {
		err = fmt.Errorf("CreateThing answered no thingId")
	}
	return err
}

func deleteThing(ctx context.Context, cl *iot.Client, name string) error {
	_, err := cl.DeleteThing(ctx, &iot.DeleteThingInput{ThingName: aws.String(name)})
	return err
}

// Workloads.
const (
	wlDescribe      = "describe"
	wlCreateDelete  = "create-delete"
	wlDescribeThing = "describe-thing"
	wlCreateThing   = "create-thing"
)

// allWorkloads in the order a round runs them, with their targets (the
// least warden/ceiling ratio of requests/s).
var allWorkloads = []struct {
	name   string
	target float64
}{
	{wlDescribe, targetDescribeRatio},
	{wlCreateDelete, targetCreateRatio},
	{wlDescribeThing, targetDescribeThingRatio},
	{wlCreateThing, targetCreateThingRatio},
}

// parseWorkloads reads --workloads: a comma list of known workloads, run in
// the order of allWorkloads.
func parseWorkloads(list string) ([]string, error) {
	want := map[string]bool{}
	for w := range strings.SplitSeq(list, ",") {
		w = strings.TrimSpace(w)
		if w == "" {
			continue
		}
		if workloadTarget(w) < 0 {
			var names []string
			for _, k := range allWorkloads {
				names = append(names, k.name)
			}
			return nil, fmt.Errorf("unknown workload %q (known: %s)", w, strings.Join(names, ", "))
		}
		want[w] = true
	}
	var out []string
	for _, k := range allWorkloads {
		if want[k.name] {
			out = append(out, k.name)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no workload given")
	}
	return out, nil
}

// workloadTarget is the target ratio of workload w, -1 if w is unknown.
func workloadTarget(w string) float64 {
	for _, k := range allWorkloads {
		if k.name == w {
			return k.target
		}
	}
	return -1
}

// loadRuns numbers the calls of runLoad, so that every create-thing phase
// uses thing names no earlier phase used.
var loadRuns atomic.Int64

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
// action name and alternate creating and deleting it; create-thing workers
// each create a fresh thing name of their own sequence and then delete it.
// A worker that stops with its action or thing created deletes it after the
// measured span, in cleanup.
func runLoad(ctx context.Context, cl *iot.Client, workload string, workers int, d time.Duration) (*loadResult, func() error) {
	type workerState struct {
		lat     map[string][]time.Duration
		created bool
		name    string
		seq     int // create-thing: the number of the worker's current thing
	}
	run := loadRuns.Add(1)
	thingName := func(st *workerState, worker int) string {
		return fmt.Sprintf("bench-ct-%d-%d-%d", run, worker, st.seq)
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
		if workload == wlCreateThing {
			st.name = thingName(st, i)
		}
		states[i] = st
		wg.Go(func() {
			for time.Now().Before(deadline) && ctx.Err() == nil {
				var op string
				var err error
				t0 := time.Now()
				switch {
				case workload == wlDescribe:
					op, err = "describe", describe(ctx, cl, describeActionName)
				case workload == wlDescribeThing:
					op, err = "describe", describeThing(ctx, cl, describeThingName)
				case workload == wlCreateThing && !st.created:
					op, err = "create", createThing(ctx, cl, st.name, nil)
				case workload == wlCreateThing:
					op, err = "delete", deleteThing(ctx, cl, st.name)
				case !st.created:
					op, err = "create", createAction(ctx, cl, st.name)
				default:
					op, err = "delete", deleteAction(ctx, cl, st.name)
				}
				lat := time.Since(t0)
				if err != nil {
					fail(op, err)
					if workload == wlCreateDelete || workload == wlCreateThing {
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
					if workload == wlCreateThing {
						st.seq++
						st.name = thingName(st, i)
					}
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
				del := deleteAction
				if workload == wlCreateThing {
					del = deleteThing
				}
				if err := del(ctx, cl, st.name); err != nil {
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
