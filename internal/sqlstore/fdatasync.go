package sqlstore

import "os"

// fdatasync flushes the file at path to stable storage. The file is opened
// anew each time, so the fsync reaches the WAL that is current, whatever
// SQLite did with earlier ones; an open costs little next to the fsync.
func fdatasync(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return syncData(f)
}
