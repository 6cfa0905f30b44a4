package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/warden-iot/warden/internal/broker"
	"github.com/warden-iot/warden/internal/sqlstore"
)

type caCmd struct {
	storeFlags
}

// Run prints the Warden CA certificate, making the CA on an empty store.
func (c *caCmd) Run(ctx context.Context) error {
	return printCA(ctx, c.storeOptions(), os.Stdout)
}

func printCA(ctx context.Context, opt sqlstore.Options, out io.Writer) error {
	store, err := openStore(ctx, opt)
	if err != nil {
		return err
	}
	defer store.Close()
	ca, err := broker.LoadCA(ctx, store)
	if err != nil {
		return err
	}
	_, err = fmt.Fprint(out, ca.CertPEM)
	return err
}
