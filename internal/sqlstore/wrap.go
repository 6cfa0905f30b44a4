package sqlstore

import (
	"errors"
	"fmt"

	"github.com/warden-iot/warden"
)

// wrap says what the store was doing in an error that leaves the package
// ("update thing group: …"). A *warden.Error passes unchanged: it is the
// answer the API sends, its message already what the client reads.
func wrap(err error, doing string) error {
	var werr *warden.Error
	if err == nil || errors.As(err, &werr) {
		return err
	}
	return fmt.Errorf("%s: %w", doing, err)
}
