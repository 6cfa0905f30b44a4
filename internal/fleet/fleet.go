// Package fleet generates a registry fleet for demos, tests and benchmarks:
// things with attributes in static thing groups, a registered CA certificate,
// real X.509 device certificates it signed (some expiring, expired, old or
// with weak keys), each attached to its thing, and policies (some overly
// permissive) attached to the certificates. It writes through the store's
// BulkInsert, one transaction per batch, so that the rows are exactly those
// the API would have written, change log included.
package fleet

import (
	"cmp"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/sqlstore"
)

// Actor is the change-log actor of everything the generator writes.
const Actor = "fleet-generator"

// Store is what the generator needs of the store; *sqlstore.DB has it.
type Store interface {
	Thing(ctx context.Context, s warden.Scope, name string) (warden.Thing, error)
	ThingGroups(ctx context.Context, s warden.Scope, f warden.ThingGroupFilter, p warden.Page) ([]string, string, error)
	Policy(ctx context.Context, s warden.Scope, name string) (warden.Policy, error)
	RegistrationCode(ctx context.Context, s warden.Scope, generate func() string) (string, error)
	RegisterCACertificate(ctx context.Context, s warden.Scope, ca warden.CACertificate, verificationCN *string, tags []warden.Tag) error
	BulkInsert(ctx context.Context, s warden.Scope, b *warden.BulkBatch, now time.Time) (int, error)
}

var _ Store = (*sqlstore.DB)(nil)

// Options describe the fleet to generate. Shares are fractions of the
// things (certificate kinds) or of the policies (permissive ones); the
// certificate kinds are disjoint, so their shares add up to at most 1.
type Options struct {
	Scope  warden.Scope
	Things int
	// Groups is the number of static thing groups (0: Things/1000, at least 1).
	Groups int
	// Policies is the number of policies (0: Things/10, at least 1).
	Policies int

	ExpiringShare         float64 // certificates expiring within 30 days
	ExpiredShare          float64 // certificates already expired
	OldShare              float64 // certificates whose notBefore is over 365 days ago
	WeakKeyShare          float64 // certificates with RSA 1024-bit keys
	PermissivePolicyShare float64 // policies allowing iot:* or iot:Publish on *

	// Seed decides names, attributes, dates and which resource gets which
	// kind; certificates, keys and ids are random whatever the seed.
	Seed uint64
	// Prefix starts every generated name (default: DefaultPrefix(Seed)).
	Prefix string
	// BatchSize is the number of things written per transaction (default 1000).
	BatchSize int
	// Workers sign certificates in parallel (default: GOMAXPROCS).
	Workers int
	// KeyPool > 0 reuses that many ECDSA P-256 keys for the device
	// certificates; 0 (default) makes a fresh key per certificate.
	KeyPool int
	// WeakKeyPool is how many RSA 1024-bit keys the weak certificates share
	// (default 16): RSA key generation takes milliseconds.
	WeakKeyPool int
	// Now is the generation time (default time.Now()).
	Now time.Time
	// Progress, if set, is called after each batch of things is committed.
	Progress func(done, total int, elapsed time.Duration)
}

// Result summarises what was generated.
type Result struct {
	Prefix          string
	Seed            uint64
	CACertificateID string
	// CACertificatePEM and CAKeyPEM (PKCS #8) are the generated CA, for
	// signing further device certificates.
	CACertificatePEM, CAKeyPEM string

	Things, Groups, Certificates           int
	Expiring, Expired, Old, WeakKey        int
	Policies, PermissivePolicies, Attached int
	ChangeLogRows                          int
	// KeyPool and WeakKeyPool are the key pool sizes used (KeyPool 0: a fresh
	// key per certificate); Workers the signing goroutines.
	KeyPool, WeakKeyPool, Workers int
	Elapsed                       time.Duration
}

// Certificate kinds.
const (
	kindNormal uint8 = iota
	kindExpiring
	kindExpired
	kindOld
	kindWeak
)

// DefaultPrefix is the name prefix of a seed: "fleet-" and the seed in base 36.
func DefaultPrefix(seed uint64) string { return "fleet-" + strconv.FormatUint(seed, 36) }

// ThingName, GroupName and PolicyName are the names of the i-th (from 0)
// generated resource of a fleet of the given size and prefix.
func ThingName(prefix string, i, total int) string  { return name(prefix, "device", i, total) }
func GroupName(prefix string, i, total int) string  { return name(prefix, "group", i, total) }
func PolicyName(prefix string, i, total int) string { return name(prefix, "policy", i, total) }

func name(prefix, kind string, i, total int) string {
	width := len(strconv.Itoa(total))
	return fmt.Sprintf("%s-%s-%0*d", prefix, kind, width, i+1)
}

func (o *Options) defaults() error {
	if o.Things < 1 {
		return errors.New("the number of things must be at least 1")
	}
	if o.Groups == 0 {
		o.Groups = max(1, o.Things/1000)
	}
	if o.Policies == 0 {
		o.Policies = max(1, o.Things/10)
	}
	if o.Groups < 1 || o.Policies < 1 {
		return errors.New("the numbers of groups and policies must be at least 1")
	}
	shares := []float64{o.ExpiringShare, o.ExpiredShare, o.OldShare, o.WeakKeyShare, o.PermissivePolicyShare}
	for _, s := range shares {
		if s < 0 || s > 1 {
			return fmt.Errorf("a share must be between 0 and 1, not %g", s)
		}
	}
	if sum := o.ExpiringShare + o.ExpiredShare + o.OldShare + o.WeakKeyShare; sum > 1+1e-9 {
		return fmt.Errorf("the certificate shares (expiring, expired, old, weak key) are disjoint and add up to %g, over 1", sum)
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix(o.Seed)
	}
	// The prefix must keep thing, group and policy names valid: [a-zA-Z0-9_-].
	for _, r := range o.Prefix {
		if !warden.IsNameChar(r) {
			return fmt.Errorf("the prefix %q may hold only letters, digits, _ and -", o.Prefix)
		}
	}
	if len(GroupName(o.Prefix, 0, o.Groups)) > 128 || len(ThingName(o.Prefix, 0, o.Things)) > 128 ||
		len(PolicyName(o.Prefix, 0, o.Policies)) > 128 {
		return fmt.Errorf("the prefix %q is too long for names of at most 128 characters", o.Prefix)
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 1000
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.KeyPool < 0 {
		o.KeyPool = 0
	}
	if o.WeakKeyPool <= 0 {
		o.WeakKeyPool = 16
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	o.Now = o.Now.UTC()
	return nil
}

// count is share of n, rounded.
func count(share float64, n int) int {
	return min(n, int(share*float64(n)+0.5))
}

// plan is what the seed decides for the whole fleet.
type plan struct {
	kinds      []uint8 // per thing
	permissive []bool  // per policy
	policyOf   []int32 // per thing: the policy attached to its certificate
}

func newPlan(o *Options) *plan {
	rng := mrand.New(mrand.NewPCG(o.Seed, 0x666c656574)) // "fleet"
	p := &plan{kinds: make([]uint8, o.Things), permissive: make([]bool, o.Policies), policyOf: make([]int32, o.Things)}
	i := 0
	for _, k := range []struct {
		kind  uint8
		share float64
	}{{kindExpiring, o.ExpiringShare}, {kindExpired, o.ExpiredShare}, {kindOld, o.OldShare}, {kindWeak, o.WeakKeyShare}} {
		for n := count(k.share, o.Things); n > 0 && i < o.Things; n-- {
			p.kinds[i] = k.kind
			i++
		}
	}
	rng.Shuffle(len(p.kinds), func(a, b int) { p.kinds[a], p.kinds[b] = p.kinds[b], p.kinds[a] })
	for j := range count(o.PermissivePolicyShare, o.Policies) {
		p.permissive[j] = true
	}
	rng.Shuffle(len(p.permissive), func(a, b int) { p.permissive[a], p.permissive[b] = p.permissive[b], p.permissive[a] })
	// Every policy gets certificates in turn, in a shuffled order, so each
	// has Things/Policies of them (give or take one).
	order := rng.Perm(o.Policies)
	for t := range p.policyOf {
		p.policyOf[t] = int32(order[t%o.Policies])
	}
	return p
}

// Policy documents. Scoped ones use the thing-name policy variable, as AWS's
// examples recommend; permissive ones are what the overly-permissive audit
// check looks for.
func policyDocuments(s warden.Scope) (scoped, permissive []string) {
	arn := "arn:aws:iot:" + s.Region + ":" + s.Account + ":"
	scoped = []string{
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"` + arn +
			`client/${iot:Connection.Thing.ThingName}"},{"Effect":"Allow","Action":"iot:Publish","Resource":"` + arn +
			`topic/${iot:Connection.Thing.ThingName}"}]}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"` + arn +
			`client/${iot:Connection.Thing.ThingName}"},{"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":"` + arn +
			`topic/devices/${iot:Connection.Thing.ThingName}/*"},{"Effect":"Allow","Action":"iot:Subscribe","Resource":"` + arn +
			`topicfilter/devices/${iot:Connection.Thing.ThingName}/*"}]}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"` + arn +
			`client/${iot:Connection.Thing.ThingName}"},{"Effect":"Allow","Action":["iot:GetThingShadow","iot:UpdateThingShadow"],"Resource":"` + arn +
			`thing/${iot:Connection.Thing.ThingName}"}]}`,
	}
	permissive = []string{
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"` + arn +
			`client/${iot:Connection.Thing.ThingName}"},{"Effect":"Allow","Action":"iot:Publish","Resource":"*"}]}`,
	}
	return scoped, permissive
}

var (
	models = []string{"sensor-a1", "sensor-a2", "gateway-g1", "camera-c3", "meter-m4", "tracker-t2"}
	sites  = 50
)

// Generate writes the fleet o describes into st and reports what it wrote.
// It writes nothing when a thing group named with the prefix exists (a
// previous run used it) or its first thing or policy name is taken. Batches
// are committed as they are made, so a failure or cancellation midway (a
// later name taken by hand, say) leaves the batches already committed, each
// whole, and the result counts them.
func Generate(ctx context.Context, st Store, o Options) (Result, error) {
	start := time.Now()
	if err := o.defaults(); err != nil {
		return Result{}, err
	}
	ctx = warden.WithActor(ctx, Actor)
	s, now := o.Scope, o.Now
	res := Result{Prefix: o.Prefix, Seed: o.Seed, KeyPool: o.KeyPool, Workers: o.Workers}

	// Every run that wrote anything made a thing group first, so a group
	// named with the prefix means it was used; the first thing and policy
	// names are probed too, in case they were made by hand.
	groupPrefix := o.Prefix + "-group-"
	used, _, err := st.ThingGroups(ctx, s, warden.ThingGroupFilter{NamePrefix: groupPrefix}, warden.Page{Limit: 100})
	if err != nil {
		return res, err
	}
	for _, g := range used {
		if n := strings.TrimPrefix(g, groupPrefix); strings.Trim(n, "0123456789") == "" {
			return res, fmt.Errorf("thing group %s exists already: prefix %q was used, choose another --prefix or --seed", g, o.Prefix)
		}
	}
	for _, probe := range []struct {
		kind, name string
		get        func(string) error
	}{
		{"thing", ThingName(o.Prefix, 0, o.Things), func(n string) error { _, err := st.Thing(ctx, s, n); return err }},
		{"policy", PolicyName(o.Prefix, 0, o.Policies), func(n string) error { _, err := st.Policy(ctx, s, n); return err }},
	} {
		err := probe.get(probe.name)
		if err == nil {
			return res, fmt.Errorf("%s %s exists already: choose another --prefix or --seed", probe.kind, probe.name)
		}
		if warden.ErrorCode(err) != warden.CodeResourceNotFound {
			return res, err
		}
	}
	p := newPlan(&o)

	// Thing groups.
	groups := make([]warden.ThingGroup, o.Groups)
	for i := range groups {
		groups[i] = warden.ThingGroup{Name: GroupName(o.Prefix, i, o.Groups), ID: warden.NewUUID(),
			Description: "Generated by warden fleet generate (" + o.Prefix + ")",
			Attributes:  map[string]string{"fleet": o.Prefix}, CreationDate: now, LastModifiedDate: now}
	}
	for i := 0; i < len(groups); i += o.BatchSize {
		n, err := st.BulkInsert(ctx, s, &warden.BulkBatch{ThingGroups: groups[i:min(len(groups), i+o.BatchSize)]}, now)
		res.ChangeLogRows += n
		if err != nil {
			return res, fmt.Errorf("thing groups: %w", err)
		}
	}
	res.Groups = len(groups)

	// The CA, registered and ACTIVE, as RegisterCACertificate with a
	// verification certificate would have left it.
	ca, caKey, err := newCA(o.Prefix, now)
	if err != nil {
		return res, err
	}
	code, err := st.RegistrationCode(ctx, s, warden.NewRegistrationCode)
	if err != nil {
		return res, err
	}
	caCert := warden.NewCACertificateFrom(ca, warden.CertActive, warden.ModeDefault, now)
	if err := st.RegisterCACertificate(ctx, s, caCert, &code, nil); err != nil {
		return res, fmt.Errorf("register the CA certificate: %w", err)
	}
	res.ChangeLogRows++
	res.CACertificateID = caCert.ID
	res.CACertificatePEM = caCert.PEM
	keyDER, err := x509.MarshalPKCS8PrivateKey(caKey)
	if err != nil {
		return res, err
	}
	res.CAKeyPEM = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))

	// Policies.
	scoped, permissive := policyDocuments(s)
	policies := make([]warden.Policy, o.Policies)
	for i := range policies {
		doc := scoped[i%len(scoped)]
		if p.permissive[i] {
			doc = permissive[i%len(permissive)]
			res.PermissivePolicies++
		}
		policies[i] = warden.Policy{Name: PolicyName(o.Prefix, i, o.Policies), Document: doc, CreationDate: now, LastModifiedDate: now}
	}
	for i := 0; i < len(policies); i += o.BatchSize {
		n, err := st.BulkInsert(ctx, s, &warden.BulkBatch{Policies: policies[i:min(len(policies), i+o.BatchSize)]}, now)
		res.ChangeLogRows += n
		if err != nil {
			return res, fmt.Errorf("policies: %w", err)
		}
	}
	res.Policies = len(policies)

	// Keys.
	keys, err := newKeyPools(ctx, &o, p)
	if err != nil {
		return res, err
	}
	res.WeakKeyPool = len(keys.weak)

	// Things with their certificates: workers build batches, this goroutine
	// commits them in order.
	g := &gen{o: &o, p: p, ca: ca, caKey: caKey, caID: caCert.ID, keys: keys}
	err = g.run(ctx, func(b *built) error {
		n, err := st.BulkInsert(ctx, s, &b.batch, now)
		if err != nil {
			return err
		}
		res.ChangeLogRows += n
		res.Things += len(b.batch.Things)
		res.Certificates += len(b.batch.Certificates)
		res.Attached += len(b.batch.PolicyTargets)
		res.Expiring += b.kinds[kindExpiring]
		res.Expired += b.kinds[kindExpired]
		res.Old += b.kinds[kindOld]
		res.WeakKey += b.kinds[kindWeak]
		if o.Progress != nil {
			o.Progress(res.Things, o.Things, time.Since(start))
		}
		return nil
	})
	res.Elapsed = time.Since(start)
	return res, err
}

// newCA makes the fleet's self-signed ECDSA P-256 CA, valid from five years
// ago (before the oldest device certificate) for twenty years.
func newCA(prefix string, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	subject := pkix.Name{CommonName: "Warden Fleet CA " + prefix, Organization: []string{"Warden fleet generator"}}
	return warden.NewSelfSignedCA(subject, now.AddDate(-5, 0, 0).Truncate(time.Second), now.AddDate(20, 0, 0).Truncate(time.Second))
}

func randomSerial() *big.Int {
	n, err := warden.NewSerialNumber()
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return n
}

type keyPools struct {
	ec   []*ecdsa.PrivateKey // empty: a fresh key per certificate
	weak []*rsa.PrivateKey
}

// newKeyPools makes the key pools in parallel; RSA keys are made only when
// some certificate needs one.
func newKeyPools(ctx context.Context, o *Options, p *plan) (*keyPools, error) {
	weak := 0
	for _, k := range p.kinds {
		if k == kindWeak {
			weak++
		}
	}
	k := &keyPools{ec: make([]*ecdsa.PrivateKey, o.KeyPool), weak: make([]*rsa.PrivateKey, min(weak, o.WeakKeyPool))}
	jobs := make(chan int)
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for range o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				var err error
				if j < len(k.ec) {
					k.ec[j], err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
				} else {
					// 1024 bits is the least crypto/rsa makes; it is weak by
					// any current standard, not a key with a known flaw.
					k.weak[j-len(k.ec)], err = rsa.GenerateKey(rand.Reader, 1024)
				}
				if err != nil {
					mu.Lock()
					firstErr = cmp.Or(firstErr, err)
					mu.Unlock()
				}
			}
		}()
	}
	for j := 0; j < len(k.ec)+len(k.weak) && ctx.Err() == nil; j++ {
		jobs <- j
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return k, ctx.Err()
}

type gen struct {
	o     *Options
	p     *plan
	ca    *x509.Certificate
	caKey crypto.Signer
	caID  string
	keys  *keyPools
}

// built is one batch of things ready to write.
type built struct {
	batch warden.BulkBatch
	kinds [5]int
	err   error
}

// run builds the batches of things on o.Workers goroutines and hands them
// to commit in order, one at a time. It stops at the first error.
func (g *gen) run(ctx context.Context, commit func(*built) error) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	// Cancel first, so that the producer and the workers stop, then wait.
	defer func() {
		cancel()
		wg.Wait()
	}()
	nb := (g.o.Things + g.o.BatchSize - 1) / g.o.BatchSize
	type job struct {
		index int
		out   chan *built
	}
	jobs := make(chan job)
	order := make(chan chan *built, g.o.Workers+1)
	go func() {
		defer close(jobs)
		defer close(order)
		for i := range nb {
			out := make(chan *built, 1)
			select {
			case order <- out:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- job{i, out}:
			case <-ctx.Done():
				return
			}
		}
	}()
	for range g.o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				j.out <- g.build(ctx, j.index)
			}
		}()
	}
	for out := range order {
		var b *built
		select {
		case b = <-out:
		case <-ctx.Done():
			return ctx.Err()
		}
		if b.err != nil {
			return b.err
		}
		if err := commit(b); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// build makes batch bi: its things, their group memberships, certificates
// and policy attachments. Its randomness comes from the seed and bi only.
func (g *gen) build(ctx context.Context, bi int) *built {
	o := g.o
	rng := mrand.New(mrand.NewPCG(o.Seed, uint64(bi)+1))
	first := bi * o.BatchSize
	last := min(o.Things, first+o.BatchSize)
	n := last - first
	out := &built{}
	b := &out.batch
	b.Things = make([]warden.Thing, 0, n)
	b.Memberships = make([]warden.BulkMembership, 0, n)
	b.Certificates = make([]warden.Certificate, 0, n)
	b.Principals = make([]warden.BulkPrincipal, 0, n)
	b.PolicyTargets = make([]warden.BulkPolicyTarget, 0, n)
	now := o.Now
	day := 24 * time.Hour
	between := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(rng.Int64N(int64(hi-lo))) }
	for i := first; i < last; i++ {
		if i%64 == 0 && ctx.Err() != nil {
			out.err = ctx.Err()
			return out
		}
		name := ThingName(o.Prefix, i, o.Things)
		b.Things = append(b.Things, warden.Thing{Name: name, ID: warden.NewUUID(), Attributes: map[string]string{
			"model":    models[rng.IntN(len(models))],
			"firmware": fmt.Sprintf("%d.%d.%d", 1+rng.IntN(3), rng.IntN(10), rng.IntN(20)),
			"site":     fmt.Sprintf("site-%03d", 1+rng.IntN(sites)),
		}, CreationDate: now, LastModifiedDate: now})
		b.Memberships = append(b.Memberships, warden.BulkMembership{Thing: name, Group: GroupName(o.Prefix, i%o.Groups, o.Groups)})

		kind := g.p.kinds[i]
		out.kinds[kind]++
		var notBefore, notAfter time.Time
		switch kind {
		case kindExpiring:
			notBefore = now.Add(-between(30*day, 300*day))
			notAfter = now.Add(between(time.Hour, 30*day-time.Hour))
		case kindExpired:
			notAfter = now.Add(-between(day, 90*day))
			notBefore = notAfter.Add(-between(30*day, 200*day))
		case kindOld:
			notBefore = now.Add(-between(366*day, 1460*day))
			notAfter = notBefore.AddDate(10, 0, 0)
		default:
			notBefore = now.Add(-between(time.Hour, 300*day))
			notAfter = notBefore.AddDate(10, 0, 0)
		}
		var pub crypto.PublicKey
		switch {
		case kind == kindWeak:
			pub = &g.keys.weak[rng.IntN(len(g.keys.weak))].PublicKey
		case len(g.keys.ec) > 0:
			pub = &g.keys.ec[rng.IntN(len(g.keys.ec))].PublicKey
		default:
			key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				out.err = err
				return out
			}
			pub = &key.PublicKey
		}
		tmpl := &x509.Certificate{
			SerialNumber: randomSerial(),
			Subject:      pkix.Name{CommonName: name, Organization: []string{"Warden fleet generator"}},
			NotBefore:    notBefore.Truncate(time.Second),
			NotAfter:     notAfter.Truncate(time.Second),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, g.ca, pub, g.caKey)
		if err != nil {
			out.err = fmt.Errorf("sign the certificate of %s: %w", name, err)
			return out
		}
		parsed, err := x509.ParseCertificate(der)
		if err != nil {
			out.err = err
			return out
		}
		// An expired or old certificate was registered back when it was
		// issued: the API refuses expired ones, and an age check may go by
		// the creation date.
		created := now
		if kind == kindExpired || kind == kindOld {
			created = parsed.NotBefore.Add(time.Minute)
		}
		c := warden.NewCertificateFrom(parsed, warden.CertActive, warden.ModeDefault, created)
		c.CACertificateID = g.caID
		b.Certificates = append(b.Certificates, c)
		b.Principals = append(b.Principals, warden.BulkPrincipal{Thing: name, CertificateID: c.ID})
		b.PolicyTargets = append(b.PolicyTargets, warden.BulkPolicyTarget{
			Policy: PolicyName(o.Prefix, int(g.p.policyOf[i]), o.Policies), CertificateID: c.ID})
	}
	return out
}
