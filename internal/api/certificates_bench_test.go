package api_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// End-to-end costs through the SDK, HTTP, SigV4 and SQLite (synchronous=NORMAL).

func BenchmarkCertCreateKeysAndCertificate(b *testing.B) {
	e := newEnv(b)
	certCreate(b, e.a, false) // the issuing CA is made once, outside the loop
	b.ResetTimer()
	for b.Loop() {
		if _, err := e.a.CreateKeysAndCertificate(certCtx, &iot.CreateKeysAndCertificateInput{SetAsActive: true}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCertRegisterCertificate(b *testing.B) {
	e := newEnv(b)
	ca := certNewCA(b, "Bench Root")
	certRegisterCA(b, e.a, ca, true)
	pems := make([]string, 0, 4096)
	for range cap(pems) {
		pems = append(pems, ca.leaf(b, "bench"))
	}
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if i == len(pems) {
			b.StopTimer()
			pems = append(pems[:0], ca.leaf(b, "bench"))
			for range 4095 {
				pems = append(pems, ca.leaf(b, "bench"))
			}
			i = 0
			b.StartTimer()
		}
		if _, err := e.a.RegisterCertificate(certCtx, &iot.RegisterCertificateInput{CertificatePem: aws.String(pems[i])}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkCertUpdateCertificate(b *testing.B) {
	e := newEnv(b)
	id := aws.ToString(certCreate(b, e.a, false).CertificateId)
	status := []string{"ACTIVE", "INACTIVE"}
	b.ResetTimer()
	i := 0
	for b.Loop() {
		certSetStatus(b, e.a, id, types.CertificateStatus(status[i%2]))
		i++
	}
}

func BenchmarkCertListCertificates(b *testing.B) {
	e := newEnv(b)
	for range 300 {
		certCreate(b, e.a, false)
	}
	b.ResetTimer()
	for b.Loop() {
		out, err := e.a.ListCertificates(certCtx, &iot.ListCertificatesInput{PageSize: aws.Int32(250)})
		if err != nil || len(out.Certificates) != 250 {
			b.Fatal(err)
		}
	}
}
