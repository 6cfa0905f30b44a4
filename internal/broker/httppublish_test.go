package broker_test

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// The aws CLI's `iot-data publish` (SigV4 service "iotdata") reaches the
// devices subscribed on the endpoint, with its MQTT 5 properties.
func TestIoTDataPublishWithAWSCLI(t *testing.T) {
	const cli = "/usr/bin/aws"
	if _, err := os.Stat(cli); err != nil {
		t.Skip("the aws CLI is not installed at " + cli)
	}
	e := newEnv(t)
	d := e.newDevice(allowAll)
	sub := e.mustConnect5(d, "listener")
	sub.subscribe(t, "cli/+/in", 1)
	run := func(args ...string) ([]byte, error) {
		cmd := exec.Command(cli, append([]string{"iot-data", "publish", "--endpoint-url", e.server.URL, "--region", region}, args...)...)
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+keyID, "AWS_SECRET_ACCESS_KEY="+secret, "AWS_CONFIG_FILE=/dev/null",
			"AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PAGER=", "AWS_EC2_METADATA_DISABLED=true")
		return cmd.CombinedOutput()
	}
	if out, err := run("--topic", "cli/dev/in", "--qos", "1", "--payload", "hello", "--cli-binary-format", "raw-in-base64-out",
		"--user-properties", `[{"deviceName":"alpha"},{"deviceCnt":"45"}]`, "--content-type", "text/plain"); err != nil {
		t.Fatalf("aws iot-data publish: %v\n%s", err, out)
	}
	m := receive5(t, sub, 5*time.Second)
	if m.Topic != "cli/dev/in" || string(m.Payload) != "hello" {
		t.Fatalf("got %q on %s", m.Payload, m.Topic)
	}
	if m.Properties == nil || m.Properties.ContentType != "text/plain" || len(m.Properties.User) != 2 ||
		m.Properties.User[0].Key != "deviceName" || m.Properties.User[0].Value != "alpha" {
		t.Fatalf("properties %+v", m.Properties)
	}
	e.events.wait(t, "HTTP Publish-In event", func(ev eventT) bool {
		return ev.Type == "Publish-In" && ev.Protocol == "HTTP" && ev.Topic == "cli/dev/in"
	})
	// $aws/events is the broker's own, over HTTP too.
	if _, err := run("--topic", "$aws/events/presence/connected/x", "--payload", "x", "--cli-binary-format", "raw-in-base64-out"); err == nil {
		t.Fatal("publishing to $aws/events over HTTP succeeded")
	}
}
