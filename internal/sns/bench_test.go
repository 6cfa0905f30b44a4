package sns_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/warden-iot/warden/internal/sns"
)

// The SNS benchmarks run the whole stack: the aws-sdk-go-v2 SNS client
// publishing over HTTP to the API server, SQLite (synchronous=FULL, as
// `warden serve` runs, unless WARDEN_BENCH_SYNC=NORMAL), the background
// deliverer, and httptest subscribers on loopback.
//
//	go test ./internal/sns -run '^$' -bench BenchmarkSNS -benchtime 1x
//
// BenchmarkSNSPublishToDelivery reports the latency from calling Publish
// until the subscriber has the message (p50, p99 over 500 messages sent one
// at a time). BenchmarkSNSFanout reports the throughput of 10,000 messages
// to 3 subscribers: published by 16 concurrent clients while the deliverer
// runs (end to end), and drained from a full outbox (deliverer only).

// countingSubscriber counts messages and records when each arrived.
type countingSubscriber struct {
	srv   *httptest.Server
	count atomic.Int64
	mu    sync.Mutex
	at    map[string]time.Time // MessageId → first arrival
	done  chan struct{}
	want  int64
}

func newCountingSubscriber(b *testing.B, want int64) *countingSubscriber {
	s := &countingSubscriber{at: map[string]time.Time{}, done: make(chan struct{}), want: want}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("x-amz-sns-message-id")
		now := time.Now()
		if r.Header.Get("x-amz-sns-message-type") == "SubscriptionConfirmation" {
			var env struct{ SubscribeURL string }
			if err := decodeJSON(r, &env); err == nil {
				go func() {
					if resp, err := http.Get(env.SubscribeURL); err == nil {
						resp.Body.Close()
					}
				}()
			}
			return
		}
		s.mu.Lock()
		if _, seen := s.at[id]; !seen {
			s.at[id] = now
		}
		s.mu.Unlock()
		if s.count.Add(1) == s.want {
			close(s.done)
		}
	}))
	b.Cleanup(s.srv.Close)
	return s
}

func decodeJSON(r *http.Request, v any) error { return json.NewDecoder(r.Body).Decode(v) }

func benchSync() string {
	if v := os.Getenv("WARDEN_BENCH_SYNC"); v != "" {
		return strings.ToUpper(v)
	}
	return "FULL"
}

// newBenchEnv is a real-clock env on the store's durability setting of the
// benchmark, with the deliverer's defaults.
func newBenchEnv(b *testing.B) *snsEnv {
	return newSNSEnvSync(b, nil, sns.DeliveryOptions{Owner: "bench", Timeout: 5 * time.Second}, benchSync())
}

func subscribeAll(b *testing.B, e *snsEnv, topic string, subs ...*countingSubscriber) {
	for _, s := range subs {
		if _, err := e.a.Subscribe(e.ctx, &awssns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("http"), Endpoint: aws.String(s.srv.URL)}); err != nil {
			b.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		attrs, err := e.a.GetTopicAttributes(e.ctx, &awssns.GetTopicAttributesInput{TopicArn: aws.String(topic)})
		if err == nil && attrs.Attributes["SubscriptionsConfirmed"] == fmt.Sprint(len(subs)) {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("subscriptions not confirmed: %v %v", attrs, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func BenchmarkSNSPublishToDelivery(b *testing.B) {
	const n = 500
	for b.Loop() {
		e := newBenchEnv(b)
		e.deliverer.Start()
		topic := e.createTopic("latency")
		sub := newCountingSubscriber(b, n)
		subscribeAll(b, e, topic, sub)
		lat := make([]time.Duration, 0, n)
		for i := range n {
			start := time.Now()
			out, err := e.a.Publish(e.ctx, &awssns.PublishInput{TopicArn: aws.String(topic), Message: aws.String(fmt.Sprint("finding ", i))})
			if err != nil {
				b.Fatal(err)
			}
			id := aws.ToString(out.MessageId)
			for {
				sub.mu.Lock()
				at, ok := sub.at[id]
				sub.mu.Unlock()
				if ok {
					lat = append(lat, at.Sub(start))
					break
				}
				time.Sleep(20 * time.Microsecond)
			}
		}
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		e.Close()
	}
}

func BenchmarkSNSFanout(b *testing.B) {
	const subscribers, publishers = 3, 16
	messages := 10000
	if v, err := strconv.Atoi(os.Getenv("WARDEN_BENCH_MESSAGES")); err == nil && v > 0 {
		messages = v
	}
	for b.Loop() {
		for _, mode := range []string{"end-to-end", "drain"} {
			e := newBenchEnv(b)
			e.deliverer.Start()
			topic := e.createTopic("fanout")
			var subs []*countingSubscriber
			for range subscribers {
				subs = append(subs, newCountingSubscriber(b, int64(messages)))
			}
			subscribeAll(b, e, topic, subs...)
			if mode == "drain" {
				e.deliverer.Stop()
			}
			start := time.Now()
			var next atomic.Int64
			var wg sync.WaitGroup
			for range publishers {
				wg.Go(func() {
					for next.Add(1) <= int64(messages) {
						if _, err := e.a.Publish(e.ctx, &awssns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("finding")}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			published := time.Since(start)
			if mode == "drain" {
				start = time.Now()
				e.deliverer.Start()
			}
			for _, s := range subs {
				select {
				case <-s.done:
				case <-time.After(5 * time.Minute):
					b.Fatalf("%s: only %d of %d delivered", mode, s.count.Load(), messages)
				}
			}
			elapsed := time.Since(start)
			deliveries := float64(messages * subscribers)
			if mode == "end-to-end" {
				b.ReportMetric(float64(messages)/published.Seconds(), "e2e-publish/s")
				b.ReportMetric(deliveries/elapsed.Seconds(), "e2e-deliveries/s")
				b.ReportMetric(elapsed.Seconds(), "e2e-total-s")
			} else {
				b.ReportMetric(deliveries/elapsed.Seconds(), "drain-deliveries/s")
				b.ReportMetric(elapsed.Seconds(), "drain-total-s")
			}
			e.Close()
		}
	}
}
