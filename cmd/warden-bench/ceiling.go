package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// The ceiling is the fastest server the SDK client can talk to: plain
// net/http, fixed JSON bodies shaped like Warden's answers, no signature
// check, no store, no log. It runs in a child process, as Warden does, so
// that both servers compete with the client for the same CPUs the same way.

// Bodies mirror what Warden sends for the action the bench creates, so the
// client decodes the same amount of JSON from both servers.
const (
	ceilingDescribeBody = `{"actionName":"` + describeActionName + `","actionType":"UPDATE_DEVICE_CERTIFICATE",` +
		`"actionArn":"arn:aws:iot:us-east-1:123456789012:mitigationaction/` + describeActionName + `",` +
		`"actionId":"5f0c8a4e-6a3b-4c1d-9e2f-0a1b2c3d4e5f","roleArn":"` + benchRoleArn + `",` +
		`"actionParams":{"updateDeviceCertificateParams":{"action":"DEACTIVATE"}},` +
		`"creationDate":1767225600.123,"lastModifiedDate":1767225600.123}`
	ceilingCreateBody = `{"actionArn":"arn:aws:iot:us-east-1:123456789012:mitigationaction/bench-cd-0",` +
		`"actionId":"5f0c8a4e-6a3b-4c1d-9e2f-0a1b2c3d4e5f"}`
	ceilingDeleteBody = `{}`

	// What Warden answers for describeThingName (3 attributes), a CreateThing
	// and a DeleteThing.
	ceilingDescribeThingBody = `{"defaultClientId":"` + describeThingName + `","thingName":"` + describeThingName + `",` +
		`"thingId":"0b6f2c1e-3d4a-4b5c-8d9e-1f2a3b4c5d6e","thingArn":"arn:aws:iot:us-east-1:123456789012:thing/` + describeThingName + `",` +
		`"attributes":{"firmware":"1.8.3","model":"wb-42","site":"lab-east"},"version":1}`
	ceilingCreateThingBody = `{"thingName":"bench-ct-1-0-0","thingArn":"arn:aws:iot:us-east-1:123456789012:thing/bench-ct-1-0-0",` +
		`"thingId":"0b6f2c1e-3d4a-4b5c-8d9e-1f2a3b4c5d6e"}`
	ceilingDeleteThingBody = `{}`
)

// Path prefixes of the operations the ceiling answers.
const (
	mitigationActionsPath = "/mitigationactions/actions/"
	thingsPath            = "/things/"
)

func ceilingHandler() http.Handler {
	describe, create, del := []byte(ceilingDescribeBody), []byte(ceilingCreateBody), []byte(ceilingDeleteBody)
	describeThing, createThing, delThing := []byte(ceilingDescribeThingBody), []byte(ceilingCreateThingBody), []byte(ceilingDeleteThingBody)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read the body as any real server must.
		_, _ = io.Copy(io.Discard, r.Body)
		var body []byte
		switch p := r.URL.Path; {
		case strings.HasPrefix(p, mitigationActionsPath):
			switch r.Method {
			case http.MethodGet:
				body = describe
			case http.MethodPost:
				body = create
			case http.MethodDelete:
				body = del
			}
		case strings.HasPrefix(p, thingsPath):
			switch r.Method {
			case http.MethodGet:
				body = describeThing
			case http.MethodPost:
				body = createThing
			case http.MethodDelete:
				body = delThing
			}
		}
		if body == nil {
			http.Error(w, `{"__type":"UnknownOperationException","message":"no"}`, http.StatusNotFound)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	})
}

// runCeilingServer is the hidden `ceiling-server` subcommand. It prints
// "listening ADDR" on stdout once it accepts connections.
func runCeilingServer(args []string) error {
	fs := flag.NewFlagSet("ceiling-server", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stdout, "listening %s\n", ln.Addr())
	srv := &http.Server{Handler: ceilingHandler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	return srv.Serve(ln)
}
