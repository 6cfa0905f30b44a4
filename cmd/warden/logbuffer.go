package main

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// logBuffer batches the log's writes: at info level the server logs a line
// per request, and a write system call per line cost as much as a tenth of
// a small write request's CPU. A line reaches the output at most
// logFlushDelay after it was logged, once logBufferSize bytes are waiting,
// right after any warning or error (see flushingHandler), and on Close. What
// is lost if the process is killed is the info lines of its last moments.
type logBuffer struct {
	out   io.Writer
	delay time.Duration // logFlushDelay but in tests

	mu     sync.Mutex
	buf    []byte
	timer  *time.Timer // pending flush; nil when buf is empty
	closed bool
}

const (
	logFlushDelay = 100 * time.Millisecond
	logBufferSize = 32 << 10
)

func newLogBuffer(out io.Writer, delay time.Duration) *logBuffer {
	return &logBuffer{out: out, delay: delay}
}

// Write keeps p (one log line: slog writes each record in one call).
func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return b.out.Write(p)
	}
	b.buf = append(b.buf, p...)
	switch {
	case len(b.buf) >= logBufferSize:
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
	case b.timer == nil:
		b.timer = time.AfterFunc(b.delay, func() { _ = b.Flush() })
	}
	return len(p), nil
}

// Flush writes out what is waiting.
func (b *logBuffer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flushLocked()
}

func (b *logBuffer) flushLocked() error {
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.out.Write(b.buf)
	b.buf = b.buf[:0]
	return err
}

// Close flushes, and later lines are written at once.
func (b *logBuffer) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	return b.flushLocked()
}

// flushingHandler flushes the buffer after every record of level warn and
// above, so that they (and the lines before them) are out at once.
type flushingHandler struct {
	slog.Handler
	buf *logBuffer
}

func (h flushingHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		if ferr := h.buf.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (h flushingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return flushingHandler{h.Handler.WithAttrs(attrs), h.buf}
}

func (h flushingHandler) WithGroup(name string) slog.Handler {
	return flushingHandler{h.Handler.WithGroup(name), h.buf}
}
