package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/warden-iot/warden"
)

type historyCmd struct {
	readStoreFlags
	Resource    string `help:"Only changes of this resource ARN (scans the whole log: about 0.3 s per million rows)."`
	Limit       int    `default:"0" help:"At most this many rows (0: all); with --newest-first the newest ones."`
	NewestFirst bool   `name:"newest-first" short:"r" help:"Print the newest change first."`

	out io.Writer // os.Stdout unless a test sets it
}

// historyHeader names the columns of warden history.
const historyHeader = "SEQ\tTIME\tACTOR\tOPERATION\tRESOURCE\tBEFORE -> AFTER"

// Run prints the registry change log, oldest first unless --newest-first.
func (c *historyCmd) Run(ctx context.Context) error {
	out := c.out
	if out == nil {
		out = os.Stdout
	}
	store, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	f := warden.ChangeFilter{ResourceArn: c.Resource, Limit: c.Limit}
	if c.NewestFirst {
		f.Limit = 0 // the log is read oldest first: the newest rows are its tail
	}
	changes, err := store.Changes(ctx, f)
	if err != nil {
		return err
	}
	if c.NewestFirst {
		slices.Reverse(changes)
		if c.Limit > 0 && len(changes) > c.Limit {
			changes = changes[:c.Limit]
		}
	}
	if len(changes) == 0 {
		if c.Resource != "" {
			_, err = fmt.Fprintf(out, "No changes of %s in the change log. It records changes of the registry and of "+
				"Detect, audit and IAM configuration (things, groups, certificates, policies, logging, security profiles, "+
				"custom metrics, dimensions, audit configuration and suppressions, scheduled audits, roles, subscriptions); "+
				"other kinds, such as mitigation actions and tasks, findings and violations, are not in it.\n", c.Resource)
		} else {
			_, err = fmt.Fprintln(out, "The change log is empty.")
		}
		return err
	}
	fmt.Fprintln(out, historyHeader)
	for _, ch := range changes {
		before, after := ch.Before, ch.After
		if before == "" {
			before = "-"
		}
		if after == "" {
			after = "-"
		}
		fmt.Fprintf(out, "%d\t%s\t%s\t%s\t%s\t%s -> %s\n", ch.Seq, ch.At.Format(time.RFC3339Nano), ch.Actor,
			ch.Operation, ch.ResourceArn, maskEndpoint(before), maskEndpoint(after))
	}
	return nil
}

// maskEndpoint masks the password of a subscription endpoint in a change
// document. Warden masks it when writing the entry; this covers entries
// written by versions before that.
func maskEndpoint(doc string) string {
	if !strings.Contains(doc, `"Endpoint"`) {
		return doc
	}
	var m map[string]any
	if json.Unmarshal([]byte(doc), &m) != nil {
		return doc
	}
	e, ok := m["Endpoint"].(string)
	if !ok || warden.MaskEndpointPassword(e) == e {
		return doc
	}
	m["Endpoint"] = warden.MaskEndpointPassword(e)
	b, err := json.Marshal(m)
	if err != nil {
		return doc
	}
	return string(b)
}
