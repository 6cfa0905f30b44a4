package awsmodel

import "testing"

func TestModelsLoad(t *testing.T) {
	for _, id := range []string{IoTModel, SNSModel, IAMModel} {
		s := Load(id)
		if len(s.Operations) == 0 || len(s.Shapes) == 0 {
			t.Fatalf("%s: %d operations, %d shapes", id, len(s.Operations), len(s.Shapes))
		}
	}
	op := Load(IoTModel).Operations["ListThings"]
	if op.Method != "GET" || op.Path != "/things" || op.Paginator == nil || op.Paginator.LimitKey != "maxResults" {
		t.Fatalf("ListThings = %+v, paginator %+v", op, op.Paginator)
	}
}
