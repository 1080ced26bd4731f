package reference

import (
	"math/rand"
	"regexp"
	"strings"
	"testing"
)

// The grammar as regular expressions (docker's distribution/reference
// grammar), the oracle for the hand-written matchers.
var oracles = []struct {
	name  string
	re    *regexp.Regexp
	match func(string) bool
}{
	{"component", regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`), isComponent},
	{"tag", regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`), isTag},
	{"digest", regexp.MustCompile(`^sha256:[a-f0-9]{64}$|^sha512:[a-f0-9]{128}$`), isDigest},
	{"domain", regexp.MustCompile(`^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:]+\])(?::[0-9]{1,5})?$`), isDomain},
}

func TestMatchersAgreeWithGrammar(t *testing.T) {
	fixed := []string{
		"", "a", "A", "-", ".", "_", "__", "a_b", "a__b", "a___b", "a.b", "a..b", "a-b", "a---b", "a-", "-a", "a.", ".a",
		"latest", "v1.2.3", strings.Repeat("x", 128), strings.Repeat("x", 129), "_x", ".x", "-x",
		"sha256:" + strings.Repeat("a", 64), "sha256:" + strings.Repeat("a", 63), "sha256:" + strings.Repeat("A", 64),
		"sha512:" + strings.Repeat("0", 128), "sha384:" + strings.Repeat("0", 96), "sha256:",
		"localhost", "localhost:5000", "127.0.0.1:5000", "[::1]", "[::1]:5000", "[]", "[::1", "::1", "a:", "a:123456",
		"registry-1.docker.io", "-a.io", "a-.io", "a..io", ".io", "io.", "A.B.C:1", "[fe80::1%eth0]", "a:b:1",
	}
	for _, o := range oracles {
		for _, s := range fixed {
			if got, want := o.match(s), o.re.MatchString(s); got != want {
				t.Errorf("%s(%q) = %v, the grammar says %v", o.name, s, got, want)
			}
		}
	}
	// Random strings over each matcher's interesting alphabet, with
	// lengths that cross the limits.
	rng := rand.New(rand.NewSource(1))
	alphabets := map[string]string{
		"component": "ab09._-A/",
		"tag":       "aZ09._-:",
		"digest":    "sha256:512af0G",
		"domain":    "aZ09.-:[]f",
	}
	for _, o := range oracles {
		alpha := alphabets[o.name]
		for i := 0; i < 100000; i++ {
			n := rng.Intn(12)
			if o.name == "digest" && i%2 == 0 {
				n = 71 + rng.Intn(3)
			}
			if o.name == "tag" && i%10 == 0 {
				n = 126 + rng.Intn(4)
			}
			b := make([]byte, n)
			for j := range b {
				b[j] = alpha[rng.Intn(len(alpha))]
			}
			s := string(b)
			if o.name == "digest" && i%2 == 0 && n > 7 {
				s = []string{"sha256:", "sha512:"}[rng.Intn(2)] + strings.Repeat("0", n-7-1) + string(alpha[rng.Intn(len(alpha))])
				if rng.Intn(2) == 0 {
					s = "sha512:" + strings.Repeat("f", 128)
				}
			}
			if got, want := o.match(s), o.re.MatchString(s); got != want {
				t.Fatalf("%s(%q) = %v, the grammar says %v", o.name, s, got, want)
			}
		}
	}
}
