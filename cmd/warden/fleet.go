package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/fleet"
	"github.com/warden-iot/warden/internal/sqlstore"
)

type fleetCmd struct {
	Generate fleetGenerateCmd `cmd:"" help:"Fill a data dir with generated things, thing groups, certificates and policies (for demos, tests and benchmarks)."`
}

type fleetGenerateCmd struct {
	storeFlags
	Account               string  `default:"123456789012" help:"The 12-digit account to fill (an access key is created for it if it has none)."`
	Region                string  `default:"us-east-1" help:"The region to fill."`
	Things                int     `required:"" help:"Number of things, each with a device certificate."`
	Groups                int     `default:"0" help:"Number of static thing groups the things are spread over (0: things/1000, at least 1)."`
	Policies              int     `default:"0" help:"Number of policies, each attached to some certificates (0: things/10, at least 1)."`
	ExpiringShare         float64 `name:"expiring-share" default:"0.05" help:"Share of certificates that expire within 30 days."`
	ExpiredShare          float64 `name:"expired-share" default:"0.01" help:"Share of certificates that have expired."`
	OldShare              float64 `name:"old-share" default:"0.05" help:"Share of certificates issued over 365 days ago."`
	WeakKeyShare          float64 `name:"weak-key-share" default:"0.01" help:"Share of certificates with RSA 1024-bit keys."`
	PermissivePolicyShare float64 `name:"permissive-policy-share" default:"0.1" help:"Share of policies that allow iot:* or iot:Publish on *."`
	Seed                  uint64  `default:"0" help:"Seed of names, attributes, dates and shares (0: a random one, printed)."`
	Prefix                string  `help:"Prefix of every generated name (default: fleet-<seed in base 36>)."`
	BatchSize             int     `name:"batch-size" default:"1000" help:"Things written per transaction."`
	Workers               int     `default:"0" help:"Goroutines signing certificates (0: one per CPU)."`
	KeyPool               int     `name:"key-pool" default:"0" help:"Reuse this many ECDSA P-256 keys for the device certificates (0: a fresh key each; ECDSA keys are cheap)."`
}

var regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)

func (c *fleetGenerateCmd) Run(ctx context.Context) error {
	if !isAccountID(c.Account) {
		return fmt.Errorf("--account must be 12 digits, not %q", c.Account)
	}
	if !regionPattern.MatchString(c.Region) {
		return fmt.Errorf("--region must look like us-east-1, not %q", c.Region)
	}
	if c.Things < 1 {
		return fmt.Errorf("--things must be at least 1")
	}
	if c.Seed == 0 {
		c.Seed = 1 + rand.Uint64N(36*36*36*36*36*36-1) // at most six base-36 digits
	}
	store, err := openStore(ctx, c.storeOptions())
	if err != nil {
		return err
	}
	defer store.Close()
	if err := ensureAccessKey(ctx, store, c.DataDir, c.Account, os.Stdout); err != nil {
		return err
	}
	// A 256 MiB page cache and a checkpoint every 64 MiB of WAL cut the
	// writer's I/O by a third at 100,000 things.
	if err := store.TuneForBulk(ctx, 256, 64); err != nil {
		return err
	}
	if err := c.generate(ctx, store, os.Stdout); err != nil {
		return err
	}
	return store.FinishBulk(ctx)
}

// ensureAccessKey creates and prints an access key for account, as
// `warden credentials create` does, when the store has none for it.
func ensureAccessKey(ctx context.Context, store *sqlstore.DB, dataDir, account string, out io.Writer) error {
	keys, err := store.AccessKeys(ctx)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if k.Account == account {
			return nil
		}
	}
	key := newAccessKey(account)
	if err := store.CreateAccessKey(ctx, key); err != nil {
		return err
	}
	profile := "warden-" + account
	if err := writeCredentialsProfile(dataDir, profile, key); err != nil {
		return err
	}
	printCredentials(out, key, filepath.Join(dataDir, credentialsFileName), profile)
	return nil
}

func (c *fleetGenerateCmd) generate(ctx context.Context, store fleet.Store, out io.Writer) error {
	opt := fleet.Options{
		Scope: warden.Scope{Account: c.Account, Region: c.Region}, Things: c.Things, Groups: c.Groups, Policies: c.Policies,
		ExpiringShare: c.ExpiringShare, ExpiredShare: c.ExpiredShare, OldShare: c.OldShare, WeakKeyShare: c.WeakKeyShare,
		PermissivePolicyShare: c.PermissivePolicyShare, Seed: c.Seed, Prefix: c.Prefix, BatchSize: c.BatchSize,
		Workers: c.Workers, KeyPool: c.KeyPool,
	}
	prefix := c.Prefix
	if prefix == "" {
		prefix = fleet.DefaultPrefix(c.Seed)
	}
	fmt.Fprintf(out, "Generating %d things in account %s, %s, prefix %s (seed %d) into %s\n",
		c.Things, c.Account, c.Region, prefix, c.Seed, c.storeOptions().Describe())
	lastPrint := time.Time{}
	opt.Progress = func(done, total int, elapsed time.Duration) {
		if done < total && time.Since(lastPrint) < time.Second {
			return
		}
		lastPrint = time.Now()
		fmt.Fprintf(out, "  %*d/%d things (%3.0f%%)  %6.1fs  %6.0f things/s\n", len(fmt.Sprint(total)), done, total,
			100*float64(done)/float64(total), elapsed.Seconds(), float64(done)/elapsed.Seconds())
	}
	res, err := fleet.Generate(ctx, store, opt)
	if res.CACertificatePEM != "" {
		if werr := writeFleetCA(c.DataDir, res); werr != nil && err == nil {
			err = werr
		}
	}
	printFleetSummary(out, c.DataDir, res)
	if err != nil {
		return fmt.Errorf("fleet generation stopped after %d things: %w", res.Things, err)
	}
	return nil
}

// writeFleetCA saves the CA certificate and key, so that more device
// certificates can be signed with it (RegisterCertificate).
func writeFleetCA(dataDir string, res fleet.Result) error {
	base := filepath.Join(dataDir, res.Prefix+"-ca")
	if err := os.WriteFile(base+".pem", []byte(res.CACertificatePEM), 0o644); err != nil {
		return err
	}
	return os.WriteFile(base+".key", []byte(res.CAKeyPEM), 0o600)
}

func printFleetSummary(w io.Writer, dataDir string, r fleet.Result) {
	rate := 0.0
	if r.Elapsed > 0 {
		rate = float64(r.Things) / r.Elapsed.Seconds()
	}
	keys := "a fresh ECDSA P-256 key per certificate"
	if r.KeyPool > 0 {
		keys = fmt.Sprintf("ECDSA P-256 keys reused from a pool of %d", r.KeyPool)
	}
	if r.WeakKey > 0 {
		keys += fmt.Sprintf("; weak ones RSA 1024-bit keys reused from a pool of %d", r.WeakKeyPool)
	}
	fmt.Fprintf(w, `Fleet %s (seed %d):
  things          %d, 3 attributes each, spread over %d static thing groups
  CA certificate  %s ACTIVE (certificate and key in %s)
  certificates    %d ACTIVE, each attached to its thing and signed by the CA:
                  %d expiring within 30 days, %d expired, %d issued over 365 days ago, %d with RSA 1024-bit keys
  policies        %d (%d overly permissive), %d attachments to certificates
  change log      %d rows, actor %s
  keys            %s; certificates signed by %d goroutines
  elapsed         %.1fs, %.0f things/s
`, r.Prefix, r.Seed, r.Things, r.Groups, r.CACertificateID, filepath.Join(dataDir, r.Prefix+"-ca.{pem,key}"),
		r.Certificates, r.Expiring, r.Expired, r.Old, r.WeakKey, r.Policies, r.PermissivePolicies, r.Attached,
		r.ChangeLogRows, fleet.Actor, keys, r.Workers, r.Elapsed.Seconds(), rate)
}
