package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/warden-iot/warden"
)

type historyCmd struct {
	storeFlags
	Resource string `help:"Only changes of this resource ARN (scans the whole log: about 0.3 s per million rows)."`
	Limit    int    `default:"0" help:"At most this many rows (0: all)."`
}

// Run prints the registry change log, oldest first.
func (c *historyCmd) Run(ctx context.Context) error {
	store, err := openStore(ctx, c.storeOptions())
	if err != nil {
		return err
	}
	defer store.Close()
	changes, err := store.Changes(ctx, warden.ChangeFilter{ResourceArn: c.Resource, Limit: c.Limit})
	if err != nil {
		return err
	}
	for _, ch := range changes {
		before, after := ch.Before, ch.After
		if before == "" {
			before = "-"
		}
		if after == "" {
			after = "-"
		}
		fmt.Fprintf(os.Stdout, "%d\t%s\t%s\t%s\t%s\t%s -> %s\n", ch.Seq, ch.At.Format(time.RFC3339Nano), ch.Actor,
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
