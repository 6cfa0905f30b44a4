package audit

import (
	"strings"
	"testing"

	"github.com/warden-iot/warden"
)

// The misconfiguration check on one policy of the attack (issue 14 #6) and
// on a benign one of the same size and shape:
//
//	go test -run '^$' -bench PolicyMisconfigured ./internal/audit/
func BenchmarkPolicyMisconfigured(b *testing.B) {
	const short = "arn:aws:iot:*:*:"
	denied := short + "topicfilter/" + strings.Repeat("a/", 680)
	for _, c := range []struct{ name, allowed string }{
		{"hostile", short + "topicfilter/*" + strings.Repeat("?", 440) + "z"},
		{"benign", short + "topicfilter/" + strings.Repeat("b", 442)},
	} {
		d, err := warden.ParsePolicyDocument(`{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":"iot:Subscribe","Resource":"` + c.allowed + `"},
			{"Effect":"Deny","Action":"iot:Subscribe","Resource":"` + denied + `"}]}`)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				PolicyMisconfigured(d, testScope)
			}
		})
	}
}
