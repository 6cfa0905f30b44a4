package warden

import (
	"encoding/base64"
	"reflect"
	"testing"
)

func TestSetPublishProperties(t *testing.T) {
	day := int64(24 * 3600)
	long, negative := 30*day, int64(-1)
	var m DataMessage
	props := base64.StdEncoding.EncodeToString([]byte(`[{"a":"1"}]`))
	if err := m.SetPublishProperties(&long, props, "UTF8_DATA", base64.StdEncoding.EncodeToString([]byte("id"))); err != nil {
		t.Fatal(err)
	}
	want := DataMessage{MessageExpiry: uint32(7 * day), UserProperties: [][2]string{{"a", "1"}},
		PayloadFormatSet: true, PayloadFormatUTF8: true, CorrelationData: []byte("id")}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("got %+v\nwant %+v", m, want)
	}
	var plain DataMessage
	if err := plain.SetPublishProperties(nil, `[{"b":"2"}]`, "", ""); err != nil || !reflect.DeepEqual(plain.UserProperties, [][2]string{{"b", "2"}}) {
		t.Errorf("unencoded userProperties: got %v, %v", plain.UserProperties, err)
	}
	for _, bad := range []func(*DataMessage) error{
		func(m *DataMessage) error { return m.SetPublishProperties(&negative, "", "", "") },
		func(m *DataMessage) error { return m.SetPublishProperties(nil, "{not json", "", "") },
		func(m *DataMessage) error { return m.SetPublishProperties(nil, "", "", "!!") },
	} {
		if err := bad(&DataMessage{}); ErrorCode(err) != CodeInvalidRequest {
			t.Errorf("got %v, want InvalidRequest", err)
		}
	}
}
