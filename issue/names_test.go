package issue

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in string
		ok bool
	}{
		{"node07", true}, {"sched-01.dc1", true}, {"a_b", true}, {"N", true},
		{"", false}, {"-x", false}, {".x", false}, {"a/b", false}, {"../etc", false},
		{"a..b", false}, {"a b", false}, {"nodé", false}, {"a\x00b", false},
		{strings.Repeat("a", 64), true}, {strings.Repeat("a", 65), false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			err := ValidateName(tt.in)
			if tt.ok && err != nil || !tt.ok && !errors.Is(err, ErrInvalidName) {
				t.Errorf("ValidateName(%q) = %v, want ok=%v", tt.in, err, tt.ok)
			}
		})
	}
}

func TestNormalizeDNS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		errPart  string
	}{
		{"node07.dask.internal", "node07.dask.internal", ""},
		{"Node07.Dask.Internal", "node07.dask.internal", ""},
		{"localhost", "localhost", ""},
		{"*.dask.internal", "*.dask.internal", ""},
		{"xn--nde-7ma.example", "xn--nde-7ma.example", ""},
		{"10.0.0.5", "", "an IP address (pass it with --ip)"},
		{"::1", "", "an IP address"},
		{"node:8786", "", "contains a port"},
		{"*.internal", "", "at least two labels"},
		{"*", "", "at least two labels"},
		{"a.*.internal", "", "wildcard allowed only"},
		{"*x.dask.internal", "", "wildcard allowed only"},
		{"-a.internal", "", "starts or ends with '-'"},
		{"a..internal", "", "empty label"},
		{"node.", "", "trailing dot"},
		{"nоde.internal", "", "non-ASCII"}, // Cyrillic 'о'
		{"a_b.internal", "", "not allowed"},
		{"", "", "empty"},
		{strings.Repeat("a", 64) + ".x", "", "longer than 63"},
		{strings.Repeat("a.", 127) + "aa", "", "longer than 253"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := NormalizeDNS(tt.in)
			if tt.errPart == "" {
				if err != nil || got != tt.want {
					t.Errorf("NormalizeDNS(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
				}
				return
			}
			if !errors.Is(err, ErrInvalidDNS) || !strings.Contains(err.Error(), tt.errPart) {
				t.Errorf("NormalizeDNS(%q) error = %v; want one containing %q", tt.in, err, tt.errPart)
			}
		})
	}
}

func TestParseIP(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want, errPart string
	}{
		{"10.0.0.5", "10.0.0.5", ""},
		{"::1", "::1", ""},
		{"fd00::5", "fd00::5", ""},
		{"::ffff:10.0.0.5", "10.0.0.5", ""},
		{"10.0.0.0/8", "", "a range"},
		{"fe80::1%eth0", "", "zone"},
		{"10.0.0.5:8786", "", "contains a port"},
		{"[::1]:8786", "", "contains a port"},
		{"node07", "", "want e.g."},
		{"10.0.0.256", "", "want e.g."},
		{"", "", "want e.g."},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			ip, err := ParseIP(tt.in)
			if tt.errPart == "" {
				if err != nil || ip.String() != tt.want {
					t.Errorf("ParseIP(%q) = %v, %v; want %s", tt.in, ip, err, tt.want)
				}
				if tt.want == "10.0.0.5" && len(ip) != 4 {
					t.Errorf("ParseIP(%q) is %d bytes, want 4", tt.in, len(ip))
				}
				return
			}
			if !errors.Is(err, ErrInvalidIP) || !strings.Contains(err.Error(), tt.errPart) {
				t.Errorf("ParseIP(%q) error = %v; want one containing %q", tt.in, err, tt.errPart)
			}
		})
	}
}

func FuzzNormalizeDNS(f *testing.F) {
	for _, s := range []string{"node07.dask.internal", "*.a.b", "10.0.0.1", "a..b", "xn--x.y", "nоde"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := NormalizeDNS(s)
		if err != nil {
			return
		}
		if len(n) > 253 || n != strings.ToLower(n) {
			t.Fatalf("NormalizeDNS(%q) = %q", s, n)
		}
		for _, c := range n {
			if c > 0x7f {
				t.Fatalf("NormalizeDNS(%q) kept non-ASCII %q", s, n)
			}
		}
		if again, err := NormalizeDNS(n); err != nil || again != n {
			t.Fatalf("not idempotent: %q -> %q, %v", n, again, err)
		}
		if _, err := ParseIP(n); err == nil {
			t.Fatalf("NormalizeDNS accepted an IP address %q", n)
		}
	})
}

func FuzzParseIP(f *testing.F) {
	for _, s := range []string{"10.0.0.5", "::1", "10.0.0.0/8", "fe80::1%eth0", "::ffff:1.2.3.4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ip, err := ParseIP(s)
		if err != nil {
			return
		}
		if len(ip) != 4 && len(ip) != 16 {
			t.Fatalf("ParseIP(%q) = %d bytes", s, len(ip))
		}
		if again, err := ParseIP(ip.String()); err != nil || !again.Equal(ip) {
			t.Fatalf("round trip of %q: %v, %v", s, again, err)
		}
	})
}

func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"node07", "../x", "a..b", "-a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidateName(s) != nil {
			return
		}
		if strings.ContainsAny(s, "/\\\x00 ") || strings.Contains(s, "..") || s[0] == '.' || s[0] == '-' {
			t.Fatalf("ValidateName accepted %q", s)
		}
	})
}
