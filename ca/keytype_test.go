package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
)

func TestParseKeyType(t *testing.T) {
	t.Parallel()
	for _, kt := range KeyTypes {
		for _, in := range []string{string(kt), strings.ToUpper(string(kt)), " " + string(kt) + "\n"} {
			if got, err := ParseKeyType(in); err != nil || got != kt {
				t.Errorf("ParseKeyType(%q) = %q, %v; want %q", in, got, err, kt)
			}
		}
	}
	for _, in := range []string{"", "p256", "rsa-1024", "ec-p521", "ed448"} {
		_, err := ParseKeyType(in)
		if !errors.Is(err, ErrUnknownKeyType) {
			t.Errorf("ParseKeyType(%q) error = %v, want ErrUnknownKeyType", in, err)
			continue
		}
		for _, kt := range KeyTypes {
			if !strings.Contains(err.Error(), string(kt)) {
				t.Errorf("ParseKeyType(%q) error %q does not list %s", in, err, kt)
			}
		}
	}
}

func TestGenerateKeyAndKeyTypeOf(t *testing.T) {
	t.Parallel()
	for _, kt := range append([]KeyType{""}, KeyTypes...) {
		t.Run(string(kt), func(t *testing.T) {
			key := mustKey(t, kt)
			want := kt.orDefault()
			if got := KeyTypeOf(key.Public()); got != want {
				t.Errorf("KeyTypeOf(public) = %q, want %q", got, want)
			}
			if got := KeyTypeOf(key); got != want {
				t.Errorf("KeyTypeOf(signer) = %q, want %q", got, want)
			}
		})
	}
	if _, err := GenerateKey("dsa"); !errors.Is(err, ErrUnknownKeyType) {
		t.Errorf("GenerateKey(dsa) error = %v, want ErrUnknownKeyType", err)
	}
	p521, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if got := KeyTypeOf(p521.Public()); got != "" {
		t.Errorf("KeyTypeOf(P-521) = %q, want empty", got)
	}
	if got := KeyTypeOf("not a key"); got != "" {
		t.Errorf("KeyTypeOf(string) = %q, want empty", got)
	}
}
