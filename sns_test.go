package warden

import "testing"

func TestMaskEndpointPassword(t *testing.T) {
	for in, want := range map[string]string{
		"https://user:pass@127.0.0.1:8443/x":         "https://user:****@127.0.0.1:8443/x",
		"http://user:p%40ss:w@127.0.0.1/x?a=b@c#d@e": "http://user:****@127.0.0.1/x?a=b@c#d@e",
		"http://u:@127.0.0.1/":                       "http://u:****@127.0.0.1/",
		"HTTPS://a:b@[::1]:9/":                       "HTTPS://a:****@[::1]:9/",
		"http://user@127.0.0.1/x":                    "http://user@127.0.0.1/x",
		"http://127.0.0.1/x?u=a:b@c":                 "http://127.0.0.1/x?u=a:b@c",
		"http://127.0.0.1:80/a:b@c":                  "http://127.0.0.1:80/a:b@c",
		"mailto:a:b@example.com":                     "mailto:a:b@example.com",
		"":                                           "",
	} {
		if got := MaskEndpointPassword(in); got != want {
			t.Errorf("MaskEndpointPassword(%q) = %q, want %q", in, got, want)
		}
	}
}
