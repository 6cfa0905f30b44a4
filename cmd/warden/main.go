// Command warden is a self-hosted server that speaks the AWS IoT Device
// Defender API. See README.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/alecthomas/kong"
	"github.com/warden-iot/warden/internal/sqlstore"
)

// version may be set at build time with -ldflags "-X main.version=..."; left
// at "dev", the module version in the build info stands in.
var version = "dev"

// cli is the command line; every flag also reads a WARDEN_* variable.
type cli struct {
	Serve       serveCmd       `cmd:"" help:"Run the server."`
	Credentials credentialsCmd `cmd:"" help:"List, create, deactivate and delete access keys."`
	History     historyCmd     `cmd:"" help:"Print the registry change log."`
	Logs        logsCmd        `cmd:"" help:"Print the devices' V2 log entries (logs tail)."`
	SNS         snsCmd         `cmd:"" name:"sns" help:"Inspect SNS topics."`
	Fleet       fleetCmd       `cmd:"" help:"Generate a fleet of things, certificates and policies."`
	Migrate     migrateCmd     `cmd:"" help:"Copy an embedded SQLite store into PostgreSQL."`
	Check       checkCmd       `cmd:"" help:"Check the store for damage (SQLite integrity check; exits non-zero on damage)."`
	CA          caCmd          `cmd:"" name:"ca" help:"Print the CA certificate (PEM) devices must trust to connect to the device endpoint."`
	Version     versionCmd     `cmd:"" help:"Print the version."`
}

type storeFlags struct {
	DataDir     string `name:"data-dir" default:"./warden-data" env:"WARDEN_DATA_DIR" help:"Directory of the embedded SQLite store and the credentials file."`
	Synchronous string `name:"sync" default:"normal" enum:"full,normal" env:"WARDEN_SYNC" help:"SQLite durability of an answered write: normal survives a killed process (kill -9); full also an OS crash or power loss (an fsync, shared by concurrent writes, before every answer)."`
	Database    string `name:"database" env:"WARDEN_DATABASE" help:"PostgreSQL URL (postgres://user@host:5432/db) to keep the store in instead of SQLite; several nodes may share one."`
}

// readStoreFlags are the store flags of the commands that only read: no
// --sync, which only matters to writes.
type readStoreFlags struct {
	DataDir  string `name:"data-dir" default:"./warden-data" env:"WARDEN_DATA_DIR" help:"Directory of the embedded SQLite store and the credentials file."`
	Database string `name:"database" env:"WARDEN_DATABASE" help:"PostgreSQL URL (postgres://user@host:5432/db) of the store instead of SQLite."`
}

// read is f without the write-only flags.
func (f storeFlags) read() readStoreFlags {
	return readStoreFlags{DataDir: f.DataDir, Database: f.Database}
}

// storeOptions are the flags' store; reads need no --sync.
func (f readStoreFlags) storeOptions() sqlstore.Options {
	return storeFlags{DataDir: f.DataDir, Database: f.Database, Synchronous: "normal"}.storeOptions()
}

// open opens an existing store. It refuses to make a new one: a read-only
// command run outside the data directory would otherwise leave an empty
// ./warden-data behind and print nothing, as if the store were empty.
func (f readStoreFlags) open(ctx context.Context) (*sqlstore.DB, error) {
	opt := f.storeOptions()
	if opt.Database == "" {
		if _, err := os.Stat(filepath.Join(opt.DataDir, sqlstore.SQLiteFile)); err != nil {
			return nil, fmt.Errorf("no Warden data in %s; pass --data-dir (or --database) to name the store warden serve uses", opt.DataDir)
		}
	}
	return openStore(ctx, opt)
}

// envMasterKey names the variable holding the master key that seals the
// secrets in the store. It is read from the environment only: a flag's
// value would show in the process list.
const envMasterKey = "WARDEN_MASTER_KEY"

// storeOptions are the flags' store.
func (f storeFlags) storeOptions() sqlstore.Options {
	return sqlstore.Options{Database: f.Database, DataDir: f.DataDir, Synchronous: strings.ToUpper(f.Synchronous),
		MasterKey: os.Getenv(envMasterKey)}
}

type versionCmd struct{}

func (versionCmd) Run() error {
	info, _ := debug.ReadBuildInfo()
	fmt.Println(versionLine(version, info))
	return nil
}

// versionLine says which build this is: the version, then what the Go
// toolchain recorded (commit, whether the tree had uncommitted changes, the
// commit's time, the Go version), e.g.
// "warden v1.2.0 (commit 5da11cb, 2026-12-08T01:02:03Z, go1.24.1)".
func versionLine(version string, info *debug.BuildInfo) string {
	if info == nil {
		return "warden " + version
	}
	if version == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		version = info.Main.Version
	}
	var details []string
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if settings["vcs.modified"] == "true" {
			rev += "-modified"
		}
		details = append(details, "commit "+rev)
	}
	if t := settings["vcs.time"]; t != "" {
		details = append(details, t)
	}
	details = append(details, info.GoVersion)
	return "warden " + version + " (" + strings.Join(details, ", ") + ")"
}

func main() {
	var c cli
	k := kong.Parse(&c, kong.Name("warden"),
		kong.Description("Warden: the AWS IoT Device Defender API, self-hosted."),
		kong.UsageOnError())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	k.BindTo(ctx, (*context.Context)(nil))
	err := k.Run()
	stop()
	k.FatalIfErrorf(err)
}
