package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/api"
	"github.com/warden-iot/warden/internal/audit"
	"github.com/warden-iot/warden/internal/broker"
	"github.com/warden-iot/warden/internal/connlog"
	"github.com/warden-iot/warden/internal/detect"
	"github.com/warden-iot/warden/internal/engine"
	"github.com/warden-iot/warden/internal/iam"
	"github.com/warden-iot/warden/internal/outbound"
	"github.com/warden-iot/warden/internal/secret"
	"github.com/warden-iot/warden/internal/sigv4"
	"github.com/warden-iot/warden/internal/sns"
	"github.com/warden-iot/warden/internal/sqlstore"
	"github.com/warden-iot/warden/internal/v2log"
	"golang.org/x/net/netutil"
)

type serveCmd struct {
	storeFlags
	Listen            string        `default:"127.0.0.1:4590" env:"WARDEN_LISTEN" help:"Address to listen on (host:port; port 0 picks a free one)."`
	LogLevel          string        `name:"log-level" default:"info" enum:"debug,info,warn,error" env:"WARDEN_LOG_LEVEL" help:"Least severe log level written (info logs one line per request)."`
	ShutdownTimeout   time.Duration `name:"shutdown-timeout" default:"15s" env:"WARDEN_SHUTDOWN_TIMEOUT" help:"How long SIGINT/SIGTERM waits for in-flight requests."`
	PublicURL         string        `name:"public-url" env:"WARDEN_PUBLIC_URL" help:"Base URL SNS subscribers reach Warden at, for SubscribeURL, UnsubscribeURL and SigningCertURL (default: http:// + the listen address)."`
	StrictRoles       bool          `name:"strict-roles" env:"WARDEN_STRICT_ROLES" help:"Mitigation actions need their IAM role to exist and grant their permissions, even in an account with no roles at all (without it such an account trusts its own role ARNs)."`
	MitigationLease   time.Duration `name:"mitigation-lease" default:"30s" env:"WARDEN_MITIGATION_LEASE" help:"How long a batch of mitigation executions claimed by a process that died waits before another claims it."`
	OutboundDeny      []string      `name:"outbound-deny" sep:"," env:"WARDEN_OUTBOUND_DENY" help:"CIDR prefixes (comma-separated) that SNS deliveries and CRL fetches must not connect to, e.g. 127.0.0.0/8,10.0.0.0/8 on a multi-tenant server (loopback and private ranges are allowed by default)."`
	OutboundAllow     []string      `name:"outbound-allow" sep:"," env:"WARDEN_OUTBOUND_ALLOW" help:"CIDR prefixes (comma-separated) that outbound requests may connect to although the defaults refuse them (link-local and metadata addresses) or a shorter --outbound-deny prefix does."`
	CRLCacheSize      byteSize      `name:"crl-cache-size" default:"64MiB" env:"WARDEN_CRL_CACHE_SIZE" help:"Memory the audits' shared CRL cache may take (e.g. 64MiB, 1GiB); least recently used CRLs go first."`
	AuditCheckTimeout time.Duration `name:"audit-check-timeout" default:"10m" env:"WARDEN_AUDIT_CHECK_TIMEOUT" help:"Longest one audit check may run, CRL fetches included; a check that runs longer ends FAILED (AUDIT_CHECK_TIMEOUT)."`
	Regions           []string      `name:"regions" sep:"," env:"WARDEN_REGIONS" help:"Comma-separated AWS regions requests may be signed for (default: any AWS region name)."`
	ReadTimeout       time.Duration `name:"read-timeout" default:"20s" env:"WARDEN_READ_TIMEOUT" help:"How long a client may take to send a request body (and its headers, at most 10s); a slower connection is closed."`
	WriteTimeout      time.Duration `name:"write-timeout" default:"30s" env:"WARDEN_WRITE_TIMEOUT" help:"How long a client may take to receive a response once it is ready."`
	MaxConnections    int           `name:"max-connections" default:"0" env:"WARDEN_MAX_CONNECTIONS" help:"Most client connections open at once; more wait to be accepted (0: a quarter below the open-file limit, at most 4096)."`
	MQTTListen        string        `name:"mqtt-listen" default:"127.0.0.1:8883" env:"WARDEN_MQTT_LISTEN" help:"Address devices connect to with MQTT over TLS (host:port; \"\" or \"off\" disables the device endpoint)."`
	MQTTHostnames     []string      `name:"mqtt-hostnames" sep:"," default:"localhost,127.0.0.1" env:"WARDEN_MQTT_HOSTNAMES" help:"Names and IP addresses (comma-separated) the device endpoint's server certificate is issued for; the first is the endpoint DescribeEndpoint returns."`
	MQTTStrictCA      bool          `name:"mqtt-strict-ca" env:"WARDEN_MQTT_STRICT_CA" help:"Also refuse (and disconnect) devices whose registered CA certificate is not ACTIVE; AWS lets them connect."`
	ReportInterval    time.Duration `name:"mqtt-report-interval" default:"0s" env:"WARDEN_MQTT_REPORT_INTERVAL" help:"Least time between two accepted Device Defender metrics reports of one thing; faster ones are rejected (Throttled). AWS throttles above one per 5m; 0 never throttles."`
	AcceptAnyCreds    bool          `name:"accept-any-credentials" env:"WARDEN_ACCEPT_ANY_CREDENTIALS" help:"Local testing only, as LocalStack does: accept any access key without checking signatures (a stored key signs for its account, another 12-digit key id for that account, any other for the default one). Refused unless --listen is a loopback address."`
	MemoryLimit       byteSize      `name:"memory-limit" default:"512MiB" env:"WARDEN_MEMORY_LIMIT" help:"Soft memory limit of the Go runtime (Go's GOMEMLIMIT, which takes precedence when set; GOMEMLIMIT=off removes it): above it the garbage collector works harder rather than let the heap double."`
}

func (c *serveCmd) Run(ctx context.Context) error {
	// Go's default lets the heap grow to twice what is live (and the stacks)
	// before collecting: with 10,000 devices connected that headroom is most
	// of the process's memory (~690 MiB). A soft limit caps it there without
	// collecting more often while the heap is small, as it is for the API
	// (a lower GOGC instead cost ~10% more CPU per CreateThing in warden-bench).
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(int64(c.MemoryLimit))
	}
	m := &Main{Config: c.config(), Stdout: os.Stdout, LogOutput: os.Stderr}
	if err := m.Open(ctx); err != nil {
		return err
	}
	defer m.Close()
	return m.Run(ctx)
}

func (c *serveCmd) config() Config {
	return Config{Store: c.storeOptions(), Listen: c.Listen,
		LogLevel: c.LogLevel, ShutdownTimeout: c.ShutdownTimeout, PublicURL: c.PublicURL,
		StrictRoles: c.StrictRoles, MitigationLease: c.MitigationLease, AuditCheckTimeout: c.AuditCheckTimeout,
		OutboundDeny: c.OutboundDeny, OutboundAllow: c.OutboundAllow, CRLCacheSize: int64(c.CRLCacheSize),
		Regions: c.Regions, ReadTimeout: c.ReadTimeout, WriteTimeout: c.WriteTimeout, MaxConnections: c.MaxConnections,
		MQTTListen: c.MQTTListen, MQTTHostnames: c.MQTTHostnames, MQTTStrictCA: c.MQTTStrictCA,
		MQTTReportInterval: c.ReportInterval, AcceptAnyCredentials: c.AcceptAnyCreds,
		FirstAccessKeyID: os.Getenv(envAccessKeyID), FirstSecretAccessKey: os.Getenv(envSecretAccessKey)}
}

// The first start's access key, from the environment only (like the
// master key): a flag's value would show in the process list.
const (
	envAccessKeyID     = "WARDEN_ACCESS_KEY_ID"
	envSecretAccessKey = "WARDEN_SECRET_ACCESS_KEY"
)

// byteSize is a number of bytes written as 67108864, 64MiB, 64MB, 512KiB...
type byteSize int64

// UnmarshalText parses a size with an optional unit (KiB, MiB, GiB or KB,
// MB, GB, all binary).
func (b *byteSize) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	units := []struct {
		suffix string
		mul    int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}}
	mul := int64(1)
	for _, u := range units {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mul = strings.TrimSpace(rest), u.mul
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64/mul {
		return fmt.Errorf("%q is not a size such as 64MiB", text)
	}
	*b = byteSize(n * mul)
	return nil
}

// Config is everything the server is started with.
type Config struct {
	// Store chooses the database; its DataDir also holds the credentials
	// file of the first start.
	Store           sqlstore.Options
	Listen          string
	LogLevel        string
	ShutdownTimeout time.Duration
	// PublicURL is the base of the URLs in SNS messages; "" means
	// "http://" + the address listened on.
	PublicURL string
	// StrictRoles and MitigationLease configure the mitigation engine.
	StrictRoles     bool
	MitigationLease time.Duration
	// AuditCheckTimeout bounds each audit check; 0 means audit.DefaultCheckTimeout.
	AuditCheckTimeout time.Duration
	// OutboundDeny and OutboundAllow are the CIDR lists of the outbound
	// address policy (see internal/outbound).
	OutboundDeny, OutboundAllow []string
	// CRLCacheSize bounds the audits' CRL cache in bytes; 0 is the default.
	CRLCacheSize int64
	// Regions, when not empty, are the only regions requests may be signed
	// for.
	Regions []string
	// ReadTimeout bounds the sending of a request body, WriteTimeout the
	// receiving of a response; zero means 20 s and 30 s.
	ReadTimeout, WriteTimeout time.Duration
	// MaxConnections bounds the client connections open at once; zero
	// derives it from the open-file limit. The device endpoint has the same
	// limit of its own.
	MaxConnections int
	// MQTTListen is the device endpoint's address; "" or "off" disables it.
	MQTTListen string
	// MQTTHostnames are the names its server certificate is issued for.
	MQTTHostnames []string
	// MQTTStrictCA refuses devices whose CA certificate is not ACTIVE.
	MQTTStrictCA bool
	// MQTTReportInterval throttles each thing's metrics reports (0: never).
	MQTTReportInterval time.Duration
	// FirstAccessKeyID and FirstSecretAccessKey, both or neither, are the
	// key an empty store starts with instead of a generated one.
	FirstAccessKeyID, FirstSecretAccessKey string
	// AcceptAnyCredentials accepts any access key unchecked; only with a
	// loopback Listen address.
	AcceptAnyCredentials bool
	// Observers receive the device endpoint's events.
	Observers []warden.DataPlaneObserver
}

// Main is the running program: a test boots it on port 0 with a temporary
// data dir exactly as `warden serve` does.
type Main struct {
	Config    Config
	Stdout    io.Writer // where first-start credentials are printed
	LogOutput io.Writer

	store    *sqlstore.DB
	listener net.Listener
	// deliverer sends the SNS outbox; Run starts it and stops it after the
	// HTTP server has shut down.
	deliverer *sns.Deliverer
	audits    *audit.Runner // runs audit tasks and fires scheduled audits
	http      *http.Server
	log       *slog.Logger
	logBuf    *logBuffer // under log

	// mitigation applies audit mitigation actions tasks; Run starts it and
	// stops it before the deliverer (it enqueues SNS messages).
	mitigation *engine.Engine
	// detectTasks applies Detect mitigation actions tasks.
	detectTasks *engine.DetectRunner

	// devices is the MQTT device endpoint; nil when it is off.
	devices *broker.Broker
	// iotLog writes the devices' V2 log entries; Run starts it and stops it
	// after the device endpoint has closed.
	iotLog *v2log.Observer
	// connLog records the devices' connects and disconnects for the
	// connection audit checks; Run starts it and closes it after the device
	// endpoint has closed.
	connLog *connlog.Log
	// detect evaluates the devices' traffic and metrics reports against
	// the security profiles; Run starts it and stops it after the device
	// endpoint has closed.
	detect *detect.Evaluator
	// violations prunes Detect violations past their retention.
	violations *violationPruner
}

// Open opens the store, creates the first account's credentials on an empty
// store, and starts listening.
func (m *Main) Open(ctx context.Context) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(m.Config.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	m.logBuf = newLogBuffer(m.LogOutput, logFlushDelay)
	m.log = slog.New(flushingHandler{slog.NewJSONHandler(m.logBuf, &slog.HandlerOptions{Level: level}), m.logBuf})
	fileLimit, err := raiseFileLimit()
	if err != nil {
		m.log.Warn("could not raise the open-file limit", "limit", fileLimit, "err", err.Error())
	}
	for _, r := range m.Config.Regions {
		if !sigv4.ValidRegion(r) {
			return fmt.Errorf("--regions: %q is not an AWS region name (e.g. us-east-1)", r)
		}
	}
	firstKey, err := m.Config.firstAccessKey()
	if err != nil {
		return err
	}
	if m.Config.AcceptAnyCredentials {
		if !isLoopbackListen(m.Config.Listen) {
			return fmt.Errorf("--accept-any-credentials accepts requests without checking their signatures, so it needs a "+
				"loopback --listen address (127.0.0.1, ::1 or localhost), not %q", m.Config.Listen)
		}
		m.log.Warn("accepting any access key without checking signatures (--accept-any-credentials): for local testing only")
	}
	store, err := openStore(ctx, m.Config.Store)
	if err != nil {
		return err
	}
	m.store = store
	// Dynamic groups whose members a stopped process was still computing.
	if err := store.ResumeDynamicGroupFills(ctx); err != nil {
		return fmt.Errorf("resume dynamic thing groups: %w", err)
	}
	if err := bootstrapCredentials(ctx, store, m.Config.Store.DataDir, firstKey, m.Stdout, m.log); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", m.Config.Listen)
	if err != nil {
		return err
	}
	maxConns := m.Config.MaxConnections
	if maxConns <= 0 {
		maxConns = maxConnectionsFor(fileLimit)
	}
	// Beyond the limit, connections wait in the kernel's accept queue
	// rather than failing accept with "too many open files".
	ln = netutil.LimitListener(ln, maxConns)
	m.listener = ln
	publicURL := m.Config.PublicURL
	if publicURL == "" {
		publicURL = "http://" + ln.Addr().String()
	}
	// The one client of every request Warden makes to the outside.
	policy, err := outbound.NewPolicy(m.Config.OutboundAllow, m.Config.OutboundDeny)
	if err != nil {
		return err
	}
	client := outbound.New(outbound.Options{Policy: policy})
	snsCfg := sns.Config{Store: store, PublicURL: publicURL, Logger: m.log}
	if m.deliverer, err = sns.NewDeliverer(ctx, snsCfg, sns.DeliveryOptions{Client: client}); err != nil {
		return err
	}
	snsCfg.Notify = m.deliverer.Notify
	if m.audits, err = audit.New(audit.Options{Store: store, Logger: m.log, OnPublish: m.deliverer.Notify,
		CheckTimeout: m.Config.AuditCheckTimeout, CRL: audit.CRLOptions{Client: client, CacheBytes: m.Config.CRLCacheSize}}); err != nil {
		return err
	}
	m.mitigation = engine.New(store, engine.Options{Lease: m.Config.MitigationLease, StrictRoles: m.Config.StrictRoles,
		Logger: m.log, OnPublished: m.deliverer.Notify})
	m.violations = newViolationPruner(store, m.log)
	m.detectTasks = engine.NewDetect(store, engine.DetectOptions{StrictRoles: m.Config.StrictRoles, Logger: m.log})
	snsHandler, err := sns.NewHandler(ctx, snsCfg)
	if err != nil {
		return err
	}
	iamHandler, err := iam.NewHandler(ctx, iam.Config{Store: store, Logger: m.log})
	if err != nil {
		return err
	}
	apiCfg := api.Config{Store: store, Logger: m.log, SNS: snsHandler, IAM: iamHandler, Regions: m.Config.Regions,
		AcceptAnyCredentials: m.Config.AcceptAnyCredentials}
	if l := m.Config.MQTTListen; l != "" && l != "off" {
		m.iotLog = v2log.New(v2log.Options{Store: store, Logger: m.log})
		m.connLog = connlog.New(connlog.Options{Store: store, Log: m.log})
		// The broker is made next, with the evaluator as its observer: the
		// exports reach it through m.devices when they are published.
		m.detect = detect.New(detect.Options{Store: store, Logger: m.log, StrictRoles: m.Config.StrictRoles,
			Publish: func(ctx context.Context, s warden.Scope, msg warden.DataMessage) error {
				return m.devices.PublishData(ctx, s, msg)
			},
			OnEvents: m.deliverer.Notify})
		observers := append(slices.Clip(m.Config.Observers), m.iotLog, m.connLog, m.detect)
		if m.devices, err = broker.New(ctx, broker.Config{Store: store, Logger: m.log, Hostnames: m.Config.MQTTHostnames,
			StrictCA: m.Config.MQTTStrictCA, MaxConnections: maxConns, Observers: observers,
			Reports: m.detect, ReportInterval: m.Config.MQTTReportInterval}); err != nil {
			return err
		}
		if err := m.devices.Listen(l); err != nil {
			return fmt.Errorf("--mqtt-listen: %w", err)
		}
		apiCfg.Devices = m.devices
		m.log.Info("device endpoint listening", "addr", m.devices.Addr(), "endpoint", m.devices.EndpointAddress(),
			"strict_ca", m.Config.MQTTStrictCA)
	}
	handler, err := api.New(ctx, apiCfg)
	if err != nil {
		return err
	}
	readTimeout, writeTimeout := m.Config.ReadTimeout, m.Config.WriteTimeout
	if readTimeout <= 0 {
		readTimeout = defaultReadTimeout
	}
	if writeTimeout <= 0 {
		writeTimeout = defaultWriteTimeout
	}
	// The probes come ahead of the signature check but behind the deadlines.
	m.http = &http.Server{Handler: withDeadlines(withHealth(handler, m.healthChecks()), readTimeout, writeTimeout),
		ReadHeaderTimeout: min(readTimeout, maxHeaderTimeout), IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(m.log.Handler(), slog.LevelWarn)}
	m.log.Info("listening", "addr", ln.Addr().String(), "store", m.Config.Store.Describe(),
		"open_files_limit", fileLimit, "max_connections", maxConns)
	// At once: whoever started the server may be waiting for this line.
	return m.logBuf.Flush()
}

// firstAccessKey is the key of FirstAccessKeyID and FirstSecretAccessKey
// for the default account, or nil when neither is set.
func (c Config) firstAccessKey() (*warden.AccessKey, error) {
	id, secret := c.FirstAccessKeyID, c.FirstSecretAccessKey
	switch {
	case id == "" && secret == "":
		return nil, nil
	case id == "" || secret == "":
		return nil, fmt.Errorf("%s and %s go together: set both (the first start's access key) or neither (a generated one)",
			envAccessKeyID, envSecretAccessKey)
	}
	if err := validateGivenKey(id, secret); err != nil {
		return nil, fmt.Errorf("%s/%s: %w", envAccessKeyID, envSecretAccessKey, err)
	}
	return &warden.AccessKey{ID: id, Secret: secret, Account: warden.DefaultAccount, CreatedAt: time.Now().UTC()}, nil
}

// isLoopbackListen reports whether the listen address host:port only
// accepts connections from this machine.
func isLoopbackListen(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Addr is the address the server listens on.
func (m *Main) Addr() string { return m.listener.Addr().String() }

// URL is the endpoint URL clients use.
func (m *Main) URL() string { return "http://" + m.Addr() }

// Run serves until ctx is cancelled, then lets in-flight requests finish.
func (m *Main) Run(ctx context.Context) error {
	m.deliverer.Start()
	defer m.deliverer.Stop() // after the HTTP server: requests may still publish
	m.audits.Start()
	defer m.audits.Stop() // before the deliverer: a finishing audit may publish
	m.mitigation.Start()
	defer m.mitigation.Stop() // before the deliverer: a batch may publish
	m.violations.Start()
	defer m.violations.Stop()
	m.detectTasks.Start()
	defer m.detectTasks.Stop()
	if m.iotLog != nil {
		m.iotLog.Start()
		defer m.iotLog.Stop() // after the device endpoint has closed: it logs to the last event
	}
	if m.detect != nil {
		m.detect.Start()
		defer m.detect.Stop() // after the device endpoint has closed: it judges the last events
	}
	if m.connLog != nil {
		m.connLog.Start()
		defer m.connLog.Close() // after the device endpoint has closed: it records the last disconnects
	}
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
	if m.devices != nil {
		_ = m.devices.Close()
	}
	err := m.http.Shutdown(sctx)
	if serveErr := <-errc; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	return err
}

// Close releases the listener, the deliverer and the store.
func (m *Main) Close() error {
	var errs []error
	if m.http != nil {
		errs = append(errs, m.http.Close())
	} else if m.listener != nil {
		errs = append(errs, m.listener.Close())
	}
	if m.devices != nil {
		errs = append(errs, m.devices.Close())
	}
	if m.iotLog != nil {
		m.iotLog.Stop() // before the store closes
	}
	if m.connLog != nil {
		_ = m.connLog.Close() // before the store closes
	}
	if m.audits != nil {
		m.audits.Stop()
	}
	if m.mitigation != nil {
		m.mitigation.Stop()
	}
	if m.detectTasks != nil {
		m.detectTasks.Stop()
	}
	if m.deliverer != nil {
		m.deliverer.Stop()
	}
	if m.store != nil {
		errs = append(errs, m.store.Close())
	}
	if m.logBuf != nil {
		errs = append(errs, m.logBuf.Close())
	}
	return errors.Join(errs...)
}

func openStore(ctx context.Context, opt sqlstore.Options) (*sqlstore.DB, error) {
	if opt.Database != "" && opt.MasterKey == "" {
		return nil, fmt.Errorf("%s is not set: the secrets in a PostgreSQL store are sealed with a master key that every node "+
			"must be given. For a new database make one (openssl rand -base64 32) and keep it safe; for a store moved with "+
			"warden migrate it is the content of <data-dir>/%s", envMasterKey, secret.KeyFile)
	}
	if opt.Database == "" {
		if err := refuseLostStore(opt.DataDir); err != nil {
			return nil, err
		}
	}
	store, err := sqlstore.Open(ctx, opt)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", opt.Describe(), err)
	}
	return store, nil
}

// refuseLostStore refuses to start a new embedded store where the credentials
// file shows that one existed: an emptied or deleted database would
// otherwise come up fresh, with a new key, and serve an empty registry as if
// nothing had happened.
func refuseLostStore(dataDir string) error {
	db := filepath.Join(dataDir, sqlstore.SQLiteFile)
	for _, f := range []string{db, db + "-wal"} {
		if st, err := os.Stat(f); err == nil && st.Size() > 0 {
			return nil
		}
	}
	creds := filepath.Join(dataDir, credentialsFileName)
	if _, err := os.Stat(creds); err != nil {
		return nil
	}
	return fmt.Errorf("%w: %s is missing or empty, but the credentials file %s exists: the store was lost (deleted, truncated, "+
		"or the data dir restored incompletely). Restore %s from a backup; or, to start a new empty store, remove %s (and %s if present)",
		sqlstore.ErrLostStore, db, creds, sqlstore.SQLiteFile, creds, secret.KeyFile)
}
