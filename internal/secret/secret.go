// Package secret seals secrets at rest with a master key and keeps the
// files that hold keys and credentials private to their owner.
//
// A sealed value is "wenc1:" + base64(nonce ‖ ciphertext), sealed with
// AES-256-GCM. Its additional data (AAD) names the place the value belongs
// to, so that a value moved elsewhere does not open.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// KeyFile is the master key's file in a data directory.
const KeyFile = "master.key"

// KeySize is the length of a master key: AES-256.
const KeySize = 32

// SealedPrefix starts every sealed value.
const SealedPrefix = "wenc1:"

// ParseKey decodes a master key written as base64 (standard or URL
// alphabet, padded or not) or as 64 hex digits.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*KeySize {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != KeySize {
				return nil, fmt.Errorf("master key is %d bytes, want %d (base64 of 32 random bytes: openssl rand -base64 32)", len(b), KeySize)
			}
			return b, nil
		}
	}
	return nil, errors.New("master key is neither base64 nor 64 hex digits (make one with: openssl rand -base64 32)")
}

// Sealer seals and opens secrets with a master key.
type Sealer struct{ aead cipher.AEAD }

// NewSealer makes a Sealer for a KeySize key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("master key is %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Seal returns plain sealed for the place that aad names.
func (s *Sealer) Seal(plain []byte, aad string) string {
	buf := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	_, _ = rand.Read(buf)
	buf = s.aead.Seal(buf, buf, plain, []byte(aad))
	return SealedPrefix + base64.RawStdEncoding.EncodeToString(buf)
}

// Open returns the plaintext of a value Seal made for the same aad.
func (s *Sealer) Open(stored []byte, aad string) ([]byte, error) {
	if !IsSealed(stored) {
		return nil, fmt.Errorf("secret %s is stored unsealed (written by an older Warden while this one ran?); restart the server to seal it", AADName(aad))
	}
	raw, err := base64.RawStdEncoding.DecodeString(string(stored[len(SealedPrefix):]))
	n := s.aead.NonceSize()
	if err != nil || len(raw) < n+s.aead.Overhead() {
		return nil, fmt.Errorf("secret %s: damaged sealed value", AADName(aad))
	}
	plain, err := s.aead.Open(nil, raw[:n], raw[n:], []byte(aad))
	if err != nil {
		return nil, fmt.Errorf("secret %s does not open with the master key (wrong key, or the value belongs to another row)", AADName(aad))
	}
	return plain, nil
}

// IsSealed says whether b is a sealed value.
func IsSealed(b []byte) bool { return strings.HasPrefix(string(b), SealedPrefix) }

// AAD is the additional data of a secret stored at the place parts name
// (e.g. table, column and the row's key), separated by a byte no name
// contains.
func AAD(parts ...string) string { return strings.Join(parts, "\x00") }

// AADName makes additional data readable in an error.
func AADName(aad string) string { return strings.ReplaceAll(aad, "\x00", "/") }

// LoadKeyFile reads dir's master key file. When there is none and
// create is set (the database has no sealed secrets yet) it makes a new
// key and writes the file, readable by its owner only, before any secret
// is sealed with it.
func LoadKeyFile(dir string, create bool) ([]byte, error) {
	path := filepath.Join(dir, KeyFile)
	data, err := os.ReadFile(path)
	if err == nil {
		if err := RestrictFile(path); err != nil {
			return nil, err
		}
		key, err := ParseKey(string(data))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return key, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if !create {
		return nil, fmt.Errorf("this database's secrets are sealed with a master key, but %s is missing: restore it from a backup or set WARDEN_MASTER_KEY to the key", path)
	}
	if err := PrepareDataDir(dir); err != nil {
		return nil, err
	}
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	// Linked into place, not renamed: a process starting at the same moment
	// finds either no file or the whole key, and the second of two fails.
	err = WritePrivateFile(dir, KeyFile, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), false)
	if errors.Is(err, fs.ErrExist) {
		return LoadKeyFile(dir, false)
	}
	if err != nil {
		return nil, err
	}
	return key, nil
}

// PrepareDataDir creates dir, or restricts an existing one, to its owner
// (0700): it holds the database, the master key and the credentials file.
func PrepareDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if st.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("data dir %s is open to other users (mode %04o) and could not be restricted to its owner: %w; "+
				"run warden as the directory's owner or chmod 700 it", dir, st.Mode().Perm(), err)
		}
	}
	return nil
}

// RestrictFile makes an existing file readable and writable by its owner
// only; a missing one is no error.
func RestrictFile(path string) error {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if st.Mode().Perm() != 0o600 {
		if err := os.Chmod(path, 0o600); err != nil {
			return fmt.Errorf("restrict %s to its owner: %w", path, err)
		}
	}
	return nil
}

// WritePrivateFile writes data as dir/name, readable by its owner only,
// whole or not at all: a temporary file in dir is written and fsynced, then
// renamed over name (replace) or linked to it (fs.ErrExist if name exists),
// and dir is fsynced so that the new name lasts.
func WritePrivateFile(dir, name string, data []byte, replace bool) error {
	path := filepath.Join(dir, name)
	tmp, err := os.CreateTemp(dir, "."+name+"-*") // created 0600
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if replace {
			err = os.Rename(tmp.Name(), path)
		} else {
			err = os.Link(tmp.Name(), path)
		}
	}
	if errors.Is(err, fs.ErrExist) {
		return err
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(dir)
}

// syncDir makes a new name in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
