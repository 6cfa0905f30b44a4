package warden

import (
	"reflect"
	"testing"
)

func TestPageOf(t *testing.T) {
	items := []int{1, 2, 3, 4, 5}
	var got []int
	p := Page{Limit: 2}
	for {
		page, next, err := PageOf(items, p)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page...)
		if next == "" {
			break
		}
		p.After = next
	}
	if !reflect.DeepEqual(got, items) {
		t.Errorf("pages joined: got %v, want %v", got, items)
	}
	for _, bad := range []string{"x", "-1", "6"} {
		if _, _, err := PageOf(items, Page{After: bad, Limit: 2}); ErrorCode(err) != CodeInvalidRequest {
			t.Errorf("cursor %q: got %v, want InvalidRequest", bad, err)
		}
	}
	if page, next, err := PageOf([]int{}, Page{Limit: 2}); err != nil || len(page) != 0 || next != "" {
		t.Errorf("empty: got %v %q %v", page, next, err)
	}
}
