package e2e_test

import (
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// wardenProcess is a `warden serve` a test started; done is closed when it
// has exited, addr is where it listens.
type wardenProcess struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{}
}

// clients are IoT and SNS clients of the process signing with key.
func (p *wardenProcess) clients(key, secret string) (*iot.Client, *sns.Client) {
	creds := credentials.NewStaticCredentialsProvider(key, secret, "")
	url := aws.String("http://" + p.addr)
	return iot.New(iot.Options{Region: "us-east-1", BaseEndpoint: url, Credentials: creds}),
		sns.New(sns.Options{Region: "us-east-1", BaseEndpoint: url, Credentials: creds})
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
