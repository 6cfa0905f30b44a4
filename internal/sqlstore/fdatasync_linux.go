package sqlstore

import (
	"os"
	"syscall"
)

// syncData is fdatasync(2): the data and only the metadata needed to read it.
func syncData(f *os.File) error {
	for {
		if err := syscall.Fdatasync(int(f.Fd())); err != syscall.EINTR {
			return err
		}
	}
}
