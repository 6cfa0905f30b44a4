package main

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is an io.Writer safe for the flush timer's goroutine.
type lockedBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (w *lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes++
	return w.b.Write(p)
}

func (w *lockedBuffer) snapshot() (string, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String(), w.writes
}

func TestLogBufferBatchesInfoAndFlushesWarnings(t *testing.T) {
	out := &lockedBuffer{}
	buf := newLogBuffer(out, time.Hour) // no timer flush but where the test waits for one
	log := slog.New(flushingHandler{slog.NewJSONHandler(buf, nil), buf})

	for i := range 3 {
		log.Info("request", "n", i)
	}
	if got, _ := out.snapshot(); got != "" {
		t.Fatalf("info lines written before the flush delay: %q", got)
	}
	// A warning goes out at once, after the lines logged before it.
	log.Warn("slow")
	got, writes := out.snapshot()
	if strings.Count(got, "\n") != 4 || !strings.Contains(got, `"n":2`) || !strings.HasSuffix(got, "\"msg\":\"slow\"}\n") {
		t.Fatalf("after a warning: %q", got)
	}
	if writes != 1 {
		t.Errorf("%d writes for 4 lines, want 1", writes)
	}

	// Info lines alone go out within the flush delay, in one write.
	buf.delay = 50 * time.Millisecond
	log.Info("request", "n", 3)
	log.Info("request", "n", 4)
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, writes = out.snapshot()
		if strings.Count(got, "\n") == 6 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if strings.Count(got, "\n") != 6 || writes != 2 {
		t.Fatalf("%d lines in %d writes after the flush delay, want 6 in 2: %q", strings.Count(got, "\n"), writes, got)
	}

	// A full buffer is written without waiting.
	buf.delay = time.Hour
	line := strings.Repeat("x", 1000)
	for range logBufferSize/1000 + 1 {
		log.Info(line)
	}
	// Each line is 1,000 bytes and some 60 of JSON around them.
	if got, _ := out.snapshot(); strings.Count(got, line) < logBufferSize/1100 {
		t.Errorf("a full buffer was not written: %d of %d lines out", strings.Count(got, line), logBufferSize/1000+1)
	}

	// Close writes the rest, and later lines go out at once.
	log.Info("last buffered")
	if err := buf.Close(); err != nil {
		t.Fatal(err)
	}
	log.Info("after close")
	if got, _ := out.snapshot(); !strings.Contains(got, "last buffered") || !strings.Contains(got, "after close") {
		t.Errorf("after Close: %q", got[max(0, len(got)-300):])
	}
}
