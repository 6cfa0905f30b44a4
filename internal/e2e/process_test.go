package e2e_test

import (
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/warden-iot/warden/internal/wardentest"
)

// wardenProcess is a `warden serve` a test started; done is closed when it
// has exited, addr is where it listens.
type wardenProcess struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{}
}

// clients are IoT and SNS clients of the process signing with key.
// They have the SDK's own HTTP client and retries, as a user's would.
func (p *wardenProcess) clients(key, secret string) (*iot.Client, *sns.Client) {
	cfg := wardentest.AWSConfig("http://"+p.addr, key, secret, wardentest.Region)
	cfg.HTTPClient, cfg.Retryer = nil, nil
	return iot.NewFromConfig(cfg), sns.NewFromConfig(cfg)
}

func (p *wardenProcess) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
}

// stop ends the process as an operator would (SIGTERM) and waits for it.
func (p *wardenProcess) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Errorf("warden serve (pid %d) did not stop within 20 s of SIGTERM", p.cmd.Process.Pid)
	}
}

// buildWarden builds the warden command into a temporary directory.
func buildWarden(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "warden")
	build := exec.Command("go", "build", "-o", bin, "github.com/warden-iot/warden/cmd/warden")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("go build: %v", err)
	}
	return bin
}

// counter returns a function that runs a COUNT query on db, failing t on error.
func counter(t *testing.T, db *sql.DB) func(query string, args ...any) int {
	return func(query string, args ...any) int {
		t.Helper()
		var c int
		if err := db.QueryRow(query, args...).Scan(&c); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return c
	}
}
