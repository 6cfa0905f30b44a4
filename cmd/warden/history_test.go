package main

import "testing"

// TestHistoryMasksEndpoint: a change-log entry written unmasked (before
// Warden masked them at write) is shown masked.
func TestHistoryMasksEndpoint(t *testing.T) {
	for in, want := range map[string]string{
		`{"Endpoint":"https://u:pw@127.0.0.1:8443/x","Protocol":"https"}`: `{"Endpoint":"https://u:****@127.0.0.1:8443/x","Protocol":"https"}`,
		`{"Endpoint":"https://u:****@127.0.0.1:8443/x"}`:                  `{"Endpoint":"https://u:****@127.0.0.1:8443/x"}`,
		`{"Status":"Confirmed"}`:                                          `{"Status":"Confirmed"}`,
		`-`:                                                               `-`,
	} {
		if got := maskEndpoint(in); got != want {
			t.Errorf("maskEndpoint(%s) = %s, want %s", in, got, want)
		}
	}
}
