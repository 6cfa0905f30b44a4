package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/warden-iot/warden"
	"github.com/warden-iot/warden/internal/awsmodel"
)

// alwaysAllowed are the codes any restJson1 operation may answer with
// besides the model's list: a failure of the service itself.
var alwaysAllowed = map[warden.Code]bool{
	warden.CodeInternalFailure: true, warden.CodeServiceUnavailable: true, warden.CodeThrottling: true,
}

// HoldToModel returns err, or an internal error naming how a restJson1
// answer (body, or err) departs from op's model: an error code op does not
// declare, or an output member or type its output shape lacks. Servers run
// it in tests.
func HoldToModel(op *awsmodel.Operation, body []byte, err error) error {
	if err != nil {
		var e *warden.Error
		if errors.As(err, &e) && !op.HasError(string(e.Code)) && !alwaysAllowed[e.Code] {
			return fmt.Errorf("model check: %s answered %s, which is not among its errors in the model (%s)", op.Name, e.Code, e.Message)
		}
		return err
	}
	if op.Output == nil {
		return nil
	}
	var out any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		return fmt.Errorf("model check: %s answered a body that is not JSON: %w", op.Name, err)
	}
	if problems := op.Output.CheckOutput("", out); len(problems) > 0 {
		return fmt.Errorf("model check: %s answered %s", op.Name, strings.Join(problems, "; "))
	}
	return nil
}
