package audit

import (
	"bufio"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
)

// DefaultWeakKeysDir is where Debian's openssl-blacklist package installed
// the fingerprints of the RSA keys that Debian's broken OpenSSL could make
// (CVE-2008-0166). No Debian release since 2012 ships that package (and no
// other package here carries the lists), so on a current system the
// directory is absent and the CVE-2008-0166 half of the key-quality checks
// finds nothing; see README.md.
const DefaultWeakKeysDir = "/usr/share/openssl-blacklist"

// WeakKeys is a blocklist of RSA moduli in the format of Debian's
// openssl-blacklist package: files named blacklist.RSA-<bits>, one
// fingerprint per line, each the last 20 hex digits of the SHA-1 of
// "Modulus=<upper-case hex modulus>\n" (what openssl-vulnkey compares).
type WeakKeys struct {
	set map[[10]byte]struct{}
	// Files are the files the list was read from.
	Files []string
}

// LoadWeakKeys reads every blacklist.RSA-* file of dir. A missing directory,
// or one without such files, is no error: it returns nil, and a nil
// *WeakKeys contains nothing.
func LoadWeakKeys(dir string) (*WeakKeys, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "blacklist.RSA-*"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, nil
	}
	w := &WeakKeys{set: map[[10]byte]struct{}{}}
	for _, p := range paths {
		if err := w.load(p); err != nil {
			return nil, err
		}
		w.Files = append(w.Files, p)
	}
	return w, nil
}

func (w *WeakKeys) load(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		var fp [10]byte
		if len(text) != 20 {
			return fmt.Errorf("%s:%d: a fingerprint has 20 hex digits, not %q", path, line, text)
		}
		if _, err := hex.Decode(fp[:], []byte(strings.ToLower(text))); err != nil {
			return fmt.Errorf("%s:%d: %w", path, line, err)
		}
		w.set[fp] = struct{}{}
	}
	return sc.Err()
}

// Len is how many fingerprints the list holds.
func (w *WeakKeys) Len() int {
	if w == nil {
		return 0
	}
	return len(w.set)
}

// WeakKeyFingerprint is the blocklist fingerprint of modulus n.
func WeakKeyFingerprint(n *big.Int) [10]byte {
	sum := sha1.Sum([]byte("Modulus=" + strings.ToUpper(n.Text(16)) + "\n"))
	var fp [10]byte
	copy(fp[:], sum[10:])
	return fp
}

// Contains reports whether the modulus n is on the list.
func (w *WeakKeys) Contains(n *big.Int) bool {
	if w == nil || len(w.set) == 0 || n == nil {
		return false
	}
	_, ok := w.set[WeakKeyFingerprint(n)]
	return ok
}
