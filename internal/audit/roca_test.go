package audit

import (
	"crypto/rand"
	"crypto/rsa"
	"math/big"
	mrand "math/rand/v2"
	"testing"
)

func TestROCASubgroups(t *testing.T) {
	// 65537 ≡ 10 (mod 11) and 10² ≡ 1, so the subgroup mod 11 is {1, 10};
	// 65537 ≡ 2 (mod 3), so mod 3 it is {1, 2}.
	for _, tc := range []struct {
		p    uint64
		want []uint64
	}{{11, []uint64{1, 10}}, {3, []uint64{1, 2}}} {
		var got []uint64
		for _, g := range rocaGroups {
			for j, p := range g.primes {
				if p != tc.p {
					continue
				}
				for x := range p {
					if g.subgroup[j][x/64]&(1<<(x%64)) != 0 {
						got = append(got, x)
					}
				}
			}
		}
		if len(got) != len(tc.want) || got[0] != tc.want[0] || got[1] != tc.want[1] {
			t.Errorf("subgroup of 65537 mod %d = %v, want %v", tc.p, got, tc.want)
		}
	}
	n := 0
	for _, g := range rocaGroups {
		n += len(g.primes)
	}
	if n != len(rocaPrimes) {
		t.Fatalf("groups hold %d primes, want %d", n, len(rocaPrimes))
	}
}

func TestIsROCAModulus(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(7, 7))
	key := rocaKey(t, 1024)
	if !IsROCAModulus(key.N) {
		t.Error("a real key made of RSALib-structured primes: got not ROCA, want ROCA")
	}
	for i := range 20 {
		if n := rocaModulus(rng, 2048); !IsROCAModulus(n) {
			t.Fatalf("fingerprinted modulus %d: got not ROCA, want ROCA", i)
		}
	}
	// No false positives: real keys from crypto/rsa, and random odd numbers.
	for i := range 3 {
		k, err := rsa.GenerateKey(rand.Reader, 1024)
		if err != nil {
			t.Fatal(err)
		}
		if IsROCAModulus(k.N) {
			t.Errorf("crypto/rsa key %d: got ROCA, want not", i)
		}
	}
	for i := range 2000 {
		n := randBits(rng, 2048)
		n.SetBit(n, 0, 1)
		if IsROCAModulus(n) {
			t.Fatalf("random modulus %d: got ROCA, want not", i)
		}
	}
	for _, n := range []*big.Int{nil, big.NewInt(0), big.NewInt(-5)} {
		if IsROCAModulus(n) {
			t.Errorf("IsROCAModulus(%v) = true, want false", n)
		}
	}
}

func BenchmarkIsROCAModulus(b *testing.B) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		IsROCAModulus(k.N)
	}
}
