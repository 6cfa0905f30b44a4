//go:build !linux

package sqlstore

import "os"

// fdatasync flushes the file at path to stable storage (fsync where the
// system has no fdatasync). The file is opened anew each time, so the fsync
// reaches the WAL that is current.
func fdatasync(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
