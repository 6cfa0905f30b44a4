package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/warden-iot/warden/internal/api"
	"github.com/warden-iot/warden/internal/sqlstore"
)

type serveCmd struct {
	storeFlags
	Listen          string        `default:"127.0.0.1:4590" env:"WARDEN_LISTEN" help:"Address to listen on (host:port; port 0 picks a free one)."`
	LogLevel        string        `name:"log-level" default:"info" enum:"debug,info,warn,error" env:"WARDEN_LOG_LEVEL" help:"Least severe log level written (info logs one line per request)."`
	ShutdownTimeout time.Duration `name:"shutdown-timeout" default:"15s" env:"WARDEN_SHUTDOWN_TIMEOUT" help:"How long SIGINT/SIGTERM waits for in-flight requests."`
}

func (c *serveCmd) Run(ctx context.Context) error {
	m := &Main{Config: c.config(), Stdout: os.Stdout, LogOutput: os.Stderr}
	if err := m.Open(ctx); err != nil {
		return err
	}
	defer m.Close()
	return m.Run(ctx)
}

func (c *serveCmd) config() Config {
	return Config{DataDir: c.DataDir, Synchronous: c.Synchronous, Listen: c.Listen,
		LogLevel: c.LogLevel, ShutdownTimeout: c.ShutdownTimeout}
}

// Config is everything the server is started with.
type Config struct {
	DataDir         string
	Synchronous     string
	Listen          string
	LogLevel        string
	ShutdownTimeout time.Duration
}

// Main is the running program: a test boots it on port 0 with a temporary
// data dir exactly as `warden serve` does.
type Main struct {
	Config    Config
	Stdout    io.Writer // where first-start credentials are printed
	LogOutput io.Writer

	store    *sqlstore.DB
	listener net.Listener
	http     *http.Server
	log      *slog.Logger
}

// Open opens the store, creates the first account's credentials on an empty
// store, and starts listening.
func (m *Main) Open(ctx context.Context) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(m.Config.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	m.log = slog.New(slog.NewJSONHandler(m.LogOutput, &slog.HandlerOptions{Level: level}))
	store, err := openStore(ctx, m.Config.DataDir, m.Config.Synchronous)
	if err != nil {
		return err
	}
	m.store = store
	if err := bootstrapCredentials(ctx, store, m.Config.DataDir, m.Stdout); err != nil {
		return err
	}
	handler, err := api.New(ctx, api.Config{Store: store, Logger: m.log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", m.Config.Listen)
	if err != nil {
		return err
	}
	m.listener = ln
	m.http = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(m.log.Handler(), slog.LevelWarn)}
	m.log.Info("listening", "addr", ln.Addr().String(), "data_dir", m.Config.DataDir)
	return nil
}

// Addr is the address the server listens on.
func (m *Main) Addr() string { return m.listener.Addr().String() }

// URL is the endpoint URL clients use.
func (m *Main) URL() string { return "http://" + m.Addr() }

// Run serves until ctx is cancelled, then lets in-flight requests finish.
func (m *Main) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- m.http.Serve(m.listener) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	m.log.Info("shutting down")
	timeout := m.Config.ShutdownTimeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := m.http.Shutdown(sctx)
	if serveErr := <-errc; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	return err
}

// Close releases the listener and the store.
func (m *Main) Close() error {
	var errs []error
	if m.http != nil {
		errs = append(errs, m.http.Close())
	} else if m.listener != nil {
		errs = append(errs, m.listener.Close())
	}
	if m.store != nil {
		errs = append(errs, m.store.Close())
	}
	return errors.Join(errs...)
}

func openStore(ctx context.Context, dataDir, sync string) (*sqlstore.DB, error) {
	store, err := sqlstore.OpenSQLite(ctx, dataDir, sqlstore.SQLiteOptions{Synchronous: strings.ToUpper(sync)})
	if err != nil {
		return nil, fmt.Errorf("open store in %s: %w", dataDir, err)
	}
	return store, nil
}
