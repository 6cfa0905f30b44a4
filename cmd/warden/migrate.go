package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/warden-iot/warden/internal/secret"
	"github.com/warden-iot/warden/internal/sqlstore"
)

type migrateCmd struct {
	From string `name:"from" required:"" placeholder:"DATA-DIR" help:"Data dir of the embedded SQLite store to copy (stop its server first; only its schema may be brought up to date)."`
	To   string `name:"to" required:"" env:"WARDEN_DATABASE" placeholder:"URL" help:"PostgreSQL URL (postgres://user@host:5432/db) to copy into; its Warden tables must be empty."`
}

// Run copies the store and prints each table's row counts on both sides.
func (c *migrateCmd) Run(ctx context.Context) error {
	var key []byte
	if env := os.Getenv(envMasterKey); env != "" {
		var err error
		if key, err = secret.ParseKey(env); err != nil {
			return fmt.Errorf("%s: %w", envMasterKey, err)
		}
	}
	rep, err := sqlstore.CopySQLiteToPostgres(ctx, c.From, c.To, key, os.Stdout)
	if err != nil {
		return fmt.Errorf("migrate: %w (nothing was copied)", err)
	}
	fmt.Printf("Copied %d rows in %d tables from %s to %s in %.1fs; every table has as many rows in PostgreSQL as in SQLite.\n",
		rep.Rows, len(rep.Tables), rep.From, rep.To, rep.Elapsed.Seconds())
	// Access keys are rows: they moved with the data.
	fmt.Printf("The access keys moved too: the credentials file %s still works.\n",
		filepath.Join(c.From, credentialsFileName))
	// The secrets moved sealed: every node needs the key they were sealed with.
	keyHint := "export " + envMasterKey + "=\"$(cat " + filepath.Join(c.From, secret.KeyFile) + ")\""
	if key != nil {
		keyHint = "keep " + envMasterKey + " as it is set now"
	}
	fmt.Printf("The secrets moved sealed with the store's master key; every node needs it: %s\n"+
		"Start the server on PostgreSQL with: warden serve --database '<the --to URL>'\n", keyHint)
	return nil
}
