package daskconfig

import (
	"crypto/tls"
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/daskca/daskca/internal/testkit/testtier"
)

func suiteNames(ids []uint16) string {
	var out []string
	for _, id := range ids {
		out = append(out, tls.CipherSuiteName(id))
	}
	return strings.Join(out, " ")
}

func TestParseCiphers(t *testing.T) {
	all := DefaultCipherSuites()
	ecdsaGCM := []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}
	tests := []struct {
		in      string
		want    []uint16
		wantErr string
	}{
		{"ECDHE-ECDSA-AES128-GCM-SHA256", []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}, ""},
		{"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384",
			[]uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384}, ""},
		{"ECDHE-RSA-CHACHA20-POLY1305, ECDHE-ECDSA-CHACHA20-POLY1305",
			[]uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305}, ""},
		{"HIGH:!aNULL:!eNULL:!MD5:!RC4:!3DES", all, ""},
		{"DEFAULT:@SECLEVEL=2", all, ""},
		{"ECDHE+AESGCM:ECDSA+CHACHA20:+AES256", []uint16{all[0], all[1], all[2], all[3], all[4]}, ""},
		{"aECDSA+AESGCM", ecdsaGCM, ""},
		{"HIGH:-aRSA:-CHACHA20", ecdsaGCM, ""},
		// Mozilla "intermediate": the DHE names select nothing in Go.
		{"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:" +
			"ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:" +
			"DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305", all, ""},
		{"RC4-SHA", nil, `"RC4-SHA" is refused: RC4`},
		{"DES-CBC3-SHA", nil, "Sweet32"},
		{"ECDHE-RSA-AES128-SHA", nil, "CBC"},
		{"ECDHE-ECDSA-AES256-SHA384", nil, "CBC"},
		{"AES128-GCM-SHA256", nil, "no forward secrecy"},
		{"NULL-SHA256", nil, "no encryption"},
		{"EXP-RC4-MD5", nil, "export"},
		{"HIGH:RC4", nil, "RC4"},
		{"aNULL", nil, "no authentication"},
		{"ECDHE-ECDSA-AES128-GCM-SHA257", nil, "unknown cipher"},
		{"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", nil, "IANA name"},
		{"DHE-RSA-AES128-GCM-SHA256", nil, "selects no"},
		{"HIGH:!ECDHE", nil, "selects no"},
		{"", nil, "selects no"},
		{"!FOO", nil, "unknown cipher"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, _, err := ParseCiphers(tt.in)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrBadCipher) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want ErrBadCipher mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("ParseCiphers = [%s], %v; want [%s]", suiteNames(got), err, suiteNames(tt.want))
			}
		})
	}
}

// TestCiphersMatchOpenSSL checks our names and aliases against the local
// openssl: for each, the suites it selects that we support must be exactly
// what we select.
func TestCiphersMatchOpenSSL(t *testing.T) {
	testtier.Full(t, "openssl")
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatal("openssl is needed to cross-check cipher strings: apt-get install -y openssl")
	}
	ours := map[string]bool{}
	for _, id := range DefaultCipherSuites() {
		ours[tls.CipherSuiteName(id)] = true
	}
	terms := append([]string{}, allSuiteAliases...)
	for _, st := range tls12Suites {
		terms = append(terms, st.name)
		terms = append(terms, st.tags...)
	}
	terms = append(terms, "ECDHE+AESGCM", "aECDSA+CHACHA20")
	for _, term := range terms {
		out, err := exec.Command(openssl, "ciphers", "-s", "-tls1_2", "-stdname", term).Output()
		if err != nil {
			t.Errorf("openssl ciphers %s: %v", term, err)
			continue
		}
		var want []string
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) > 0 && ours[f[0]] {
				want = append(want, f[0])
			}
		}
		got, _, err := ParseCiphers(term)
		if err != nil {
			t.Errorf("ParseCiphers(%s): %v", term, err)
			continue
		}
		var names []string
		for _, id := range got {
			names = append(names, tls.CipherSuiteName(id))
		}
		slices.Sort(names)
		slices.Sort(want)
		if !slices.Equal(names, want) {
			t.Errorf("%s: we select %v, openssl %v", term, names, want)
		}
	}
}

func FuzzParseCiphers(f *testing.F) {
	f.Add("HIGH:!aNULL")
	f.Add("ECDHE+AESGCM:-aRSA:@STRENGTH")
	f.Fuzz(func(t *testing.T, s string) {
		ids, _, err := ParseCiphers(s)
		if err != nil {
			if !errors.Is(err, ErrBadCipher) {
				t.Fatalf("error %v does not wrap ErrBadCipher", err)
			}
			return
		}
		for _, id := range ids {
			if !slices.Contains(DefaultCipherSuites(), id) {
				t.Fatalf("%q selected %s, which is not an ECDHE AEAD suite", s, tls.CipherSuiteName(id))
			}
		}
	})
}
