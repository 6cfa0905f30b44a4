//go:build linux

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
)

// TestHelperServe is not a test: it is `warden serve` in the child process
// of TestSlowBodiesDoNotStarveSignedRequests, run with an open-file limit of
// its own (WARDEN_HELPER_NOFILE, "soft:hard").
func TestHelperServe(t *testing.T) {
	args := os.Getenv("WARDEN_HELPER_SERVE")
	if args == "" {
		t.Skip("the child process of TestSlowBodiesDoNotStarveSignedRequests")
	}
	var soft, hard uint64
	if _, err := fmt.Sscanf(os.Getenv("WARDEN_HELPER_NOFILE"), "%d:%d", &soft, &hard); err != nil {
		fmt.Fprintln(os.Stderr, "WARDEN_HELPER_NOFILE:", err)
		os.Exit(2)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: soft, Max: hard}); err != nil {
		fmt.Fprintln(os.Stderr, "setrlimit:", err)
		os.Exit(2)
	}
	os.Args = append([]string{"warden"}, strings.Fields(args)...)
	main()
	os.Exit(0)
}

// slowServer is the child process serving with a lowered open-file limit.
type slowServer struct {
	cmd                *exec.Cmd
	addr, key, secret  string
	fileLimit, maxConn int64
	mu                 sync.Mutex
	acceptErrors       []string // log lines about failed accepts
	done               chan struct{}
}

// openFiles is the number of file descriptors the child holds.
func (s *slowServer) openFiles(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", s.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func startSlowServer(t *testing.T, nofile string, args ...string) *slowServer {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestHelperServe$")
	cmd.Env = append(os.Environ(), "WARDEN_HELPER_NOFILE="+nofile, "WARDEN_HELPER_SERVE="+strings.Join(append([]string{
		"serve", "--listen", "127.0.0.1:0", "--mqtt-listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--sync", "normal", "--log-level", "info"}, args...), " "))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &slowServer{cmd: cmd, done: make(chan struct{})}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-s.done
	})
	// The first start prints the key before it listens.
	keys := make(chan [2]string, 1)
	go func() {
		found := map[string]string{}
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := exportLine.FindStringSubmatch(sc.Text()); m != nil {
				found[m[1]] = m[2]
			}
			if len(found) == 2 {
				keys <- [2]string{found["AWS_ACCESS_KEY_ID"], found["AWS_SECRET_ACCESS_KEY"]}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	listening := make(chan struct{})
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var line struct {
				Msg, Addr      string
				OpenFiles      int64 `json:"open_files_limit"`
				MaxConnections int64 `json:"max_connections"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				s.addr, s.fileLimit, s.maxConn = line.Addr, line.OpenFiles, line.MaxConnections
				close(listening)
			}
			if strings.Contains(sc.Text(), "Accept error") || strings.Contains(sc.Text(), "too many open files") {
				s.mu.Lock()
				s.acceptErrors = append(s.acceptErrors, sc.Text())
				s.mu.Unlock()
			}
		}
		_ = cmd.Wait()
	}()
	select {
	case <-listening:
	case <-s.done:
		t.Fatal("warden serve exited before listening")
	case <-time.After(30 * time.Second):
		t.Fatal("warden serve logged no listening address within 30 s")
	}
	select {
	case k := <-keys:
		s.key, s.secret = k[0], k[1]
	case <-time.After(10 * time.Second):
		t.Fatal("warden serve printed no access key")
	}
	return s
}

// slowBody opens a connection that sends headers announcing a 1 MB body and
// then one byte of it, and stops.
func slowBody(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	fmt.Fprintf(c, "POST /things/slow HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{", addr)
	return c
}

// closedWithin reads each connection until the server closes it and
// returns how many were still open after d.
func closedWithin(conns []net.Conn, d time.Duration) (open int) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	deadline := time.Now().Add(d)
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.SetReadDeadline(deadline)
			_, err := io.Copy(io.Discard, c)
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				mu.Lock()
				open++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return open
}

// TestSlowBodiesDoNotStarveSignedRequests is the slow-body attack, scaled
// down with a lowered open-file limit (128 soft, 256 hard) in a child
// process: connections that announce a 1 MB body and send one byte once
// held one file descriptor each forever, until accept failed with "too many
// open files" and no signed request got in. Now the soft limit is raised to
// the hard one, connections are limited below it (192 here), a body must
// arrive within --read-timeout (2 s here), and a signed request is answered
// in under a second while 150 such connections are held; when more are
// opened than there are descriptors, they wait for a free slot instead of
// breaking accept.
func TestSlowBodiesDoNotStarveSignedRequests(t *testing.T) {
	if testing.Short() {
		t.Skip("opens hundreds of connections to a child process")
	}
	held, nofile := 150, "128:256"
	if n, _ := strconv.Atoi(os.Getenv("WARDEN_SLOW_BODY_HELD")); n > 0 {
		// e.g. 2000, the number: the child keeps this process's limit.
		var lim syscall.Rlimit
		if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			t.Fatal(err)
		}
		held, nofile = n, fmt.Sprintf("%d:%d", lim.Max, lim.Max)
	}
	const readTimeout = 2 * time.Second
	s := startSlowServer(t, nofile, "--read-timeout", readTimeout.String())
	t.Logf("child: open-file limit %d, connection limit %d", s.fileLimit, s.maxConn)
	if nofile == "128:256" && (s.fileLimit != 256 || s.maxConn != 192) {
		t.Errorf("child logged open-file limit %d and connection limit %d, want 256 (the hard limit) and 192", s.fileLimit, s.maxConn)
	}
	// Every signed request on a new connection, as a new client's would be.
	client := iot.New(iot.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + s.addr), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(s.key, s.secret, ""),
		HTTPClient:  &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}})
	signed := func(within time.Duration) (time.Duration, error) {
		ctx, cancel := context.WithTimeout(context.Background(), within)
		defer cancel()
		start := time.Now()
		_, err := client.ListThings(ctx, &iot.ListThingsInput{})
		return time.Since(start), err
	}
	if _, err := signed(10 * time.Second); err != nil {
		t.Fatalf("signed request before the attack: %v", err)
	}

	conns := make([]net.Conn, 0, held)
	for range held {
		conns = append(conns, slowBody(t, s.addr))
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	// Wait until the child holds them (or cannot hold more).
	for wait := time.Now().Add(10 * time.Second); s.openFiles(t) < held && time.Now().Before(wait); {
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("child holds %d file descriptors with %d slow bodies open", s.openFiles(t), held)
	took, err := signed(5 * time.Second)
	t.Logf("signed request with %d slow bodies held: %v, %v", held, took.Round(time.Millisecond), err)
	if err != nil || took >= time.Second {
		t.Errorf("with %d slow bodies held a signed request took %v (err %v), want an answer in under 1 s", held, took, err)
	}
	start := time.Now()
	if open := closedWithin(conns, readTimeout+10*time.Second); open > 0 {
		t.Errorf("%d of %d slow-body connections still open %v after the %v body deadline", open, held, readTimeout+10*time.Second, readTimeout)
	} else {
		t.Logf("all %d slow-body connections closed by the server within %v", held, time.Since(start).Round(time.Millisecond))
	}
	if t.Failed() || nofile != "128:256" {
		return
	}

	// More slow bodies than the child has file descriptors: they wait for a
	// slot, the deadline sheds them, and the signed request gets its turn.
	flood := make([]net.Conn, 0, 400)
	for range 400 {
		flood = append(flood, slowBody(t, s.addr))
	}
	defer func() {
		for _, c := range flood {
			c.Close()
		}
	}()
	took, err = signed(30 * time.Second)
	t.Logf("signed request behind 400 slow bodies (more than the 256 descriptors): %v, %v", took.Round(time.Millisecond), err)
	if err != nil {
		t.Errorf("behind 400 slow bodies a signed request failed after %v: %v", took, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.acceptErrors) > 0 {
		t.Errorf("the server logged %d accept errors, e.g. %s", len(s.acceptErrors), s.acceptErrors[0])
	}
}
