package main

import (
	"io"
	"net/http"
	"time"
)

// Defaults of the connection settings; a zero Config field means these.
const (
	defaultReadTimeout  = 20 * time.Second
	defaultWriteTimeout = 30 * time.Second
	// maxHeaderTimeout bounds the request line and headers: they are small,
	// and an unauthenticated client holds a connection until they are in.
	maxHeaderTimeout = 10 * time.Second
	// maxDefaultConnections caps the derived connection limit; each open
	// connection costs a goroutine and its buffers (tens of KiB).
	maxDefaultConnections = 4096
	// minReservedFiles are file descriptors kept from the connection limit
	// for the store, SNS deliveries, CRL fetches and logs.
	minReservedFiles = 64
)

// maxConnectionsFor derives the connection limit from the open-file limit
// (0: unknown): a quarter of the descriptors, at least minReservedFiles, are
// left for the store and outbound requests, so that held connections can
// never make accept (or the store) fail with "too many open files".
func maxConnectionsFor(fileLimit uint64) int {
	if fileLimit == 0 || fileLimit > 1<<30 {
		return maxDefaultConnections
	}
	reserve := max(fileLimit/4, minReservedFiles)
	if fileLimit <= reserve {
		return 1
	}
	return int(min(fileLimit-reserve, maxDefaultConnections))
}

// withDeadlines bounds how long a client may take to send a request body
// and to take in a response, without bounding how long the handler works:
// http.Server's ReadTimeout would also cancel the context of a request
// whose handler outlasts it, and its WriteTimeout counts the handler's time.
// Connections that answer 403 (a failed signature) are closed, so an
// unauthenticated client cannot park idle keep-alive connections.
func withDeadlines(next http.Handler, body, write time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		// A keep-alive connection still has the previous response's deadline.
		_ = rc.SetWriteDeadline(time.Time{})
		if r.Body != nil && r.Body != http.NoBody {
			_ = rc.SetReadDeadline(time.Now().Add(body))
			r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
		}
		next.ServeHTTP(&deadlineWriter{ResponseWriter: w, rc: rc, timeout: write}, r)
	})
}

// deadlineBody lifts the read deadline once the whole body is in: the
// server's background read that watches for a closed connection runs under
// it, and timing out there would cancel the request's context.
type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.done {
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// deadlineWriter starts the write deadline when the response starts.
type deadlineWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	started bool
}

func (w *deadlineWriter) start(status int) {
	if w.started {
		return
	}
	w.started = true
	if status == http.StatusForbidden {
		w.Header().Set("Connection", "close")
	}
	_ = w.rc.SetWriteDeadline(time.Now().Add(w.timeout))
}

func (w *deadlineWriter) WriteHeader(status int) {
	w.start(status)
	w.ResponseWriter.WriteHeader(status)
}

func (w *deadlineWriter) Write(p []byte) (int, error) {
	w.start(http.StatusOK)
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *deadlineWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
