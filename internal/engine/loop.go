package engine

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// looper runs a step function in the background, as the mitigation engine
// and the Detect runner do: again at once after a step that worked, after a
// growing backoff after an error, else when woken (Notify or the store's
// work signal) or after the poll interval.
type looper struct {
	name string
	log  *slog.Logger
	poll time.Duration
	step func(ctx context.Context) (worked bool, err error)
	work func() <-chan struct{}
	wake chan struct{}

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

func newLooper(name string, log *slog.Logger, poll time.Duration, step func(context.Context) (bool, error), work func() <-chan struct{}) *looper {
	return &looper{name: name, log: log, poll: poll, step: step, work: work, wake: make(chan struct{}, 1)}
}

// Notify wakes the loop to look for work now. It never blocks.
func (l *looper) Notify() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Start runs the loop in a goroutine until Stop. Starting a started loop
// does nothing.
func (l *looper) Start() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel, l.done = cancel, make(chan struct{})
	go l.run(ctx, l.done)
}

// Stop ends the loop and waits for the step in hand to commit or roll back.
func (l *looper) Stop() {
	l.mu.Lock()
	cancel, done := l.cancel, l.done
	l.cancel, l.done = nil, nil
	l.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

func (l *looper) run(ctx context.Context, done chan struct{}) {
	defer close(done)
	l.log.Info(l.name + " started")
	defer l.log.Info(l.name + " stopped")
	backoff := 100 * time.Millisecond
	for {
		worked, err := l.step(ctx)
		if ctx.Err() != nil {
			return
		}
		wait := l.poll
		switch {
		case err != nil:
			l.log.Error(l.name, "err", err.Error())
			wait, backoff = backoff, min(backoff*2, 10*time.Second)
		case worked:
			backoff = 100 * time.Millisecond
			continue
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-l.wake:
		case <-l.work():
		case <-timer.C:
		}
		timer.Stop()
	}
}
