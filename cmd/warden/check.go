package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/warden-iot/warden/internal/sqlstore"
)

type checkCmd struct {
	readStoreFlags
}

// Run checks the store and exits non-zero when it is damaged.
func (c *checkCmd) Run(ctx context.Context) error {
	return runCheck(ctx, c.storeOptions(), os.Stdout)
}

func runCheck(ctx context.Context, opt sqlstore.Options, out io.Writer) error {
	rep, err := sqlstore.Check(ctx, opt)
	for _, p := range rep.Problems {
		fmt.Fprintln(out, p)
	}
	if errors.Is(err, sqlstore.ErrDamaged) {
		return fmt.Errorf("%s: %w. Stop the server and restore the store from a backup made before the damage", rep.Store, err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s: ok (schema version %d of %d; the master key opens its secrets)\n", rep.Store, rep.Schema, rep.Want)
	return nil
}
