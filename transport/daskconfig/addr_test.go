package daskconfig

import (
	"errors"
	"strings"
	"testing"
)

func TestParseAddr(t *testing.T) {
	tests := []struct {
		in, def string
		want    Addr
		wantErr string // substring of the error; "" for success
	}{
		{"tls://10.0.0.5:8786", "", Addr{"tls", "10.0.0.5", 8786}, ""},
		{"tcp://sched.example:8786", "tls", Addr{"tcp", "sched.example", 8786}, ""},
		{"sched:8786", "", Addr{"tcp", "sched", 8786}, ""},
		{"sched:8786", "tls", Addr{"tls", "sched", 8786}, ""},
		{"[::1]:8786", "tls", Addr{"tls", "::1", 8786}, ""},
		{"tls://[fe80::1%eth0]:1", "", Addr{"tls", "fe80::1%eth0", 1}, ""},
		{"tls://:0", "", Addr{"tls", "", 0}, ""},
		{"tls://sched", "", Addr{}, "missing port"},
		{"tls://[::1]", "", Addr{}, "missing port"},
		{"tls://sched:", "", Addr{}, "missing port"},
		{"tls://::1:8786", "", Addr{}, "IPv6 needs brackets"},
		{"tls://[::1:8786", "", Addr{}, "IPv6 needs brackets"},
		{"tls://[10.0.0.1]:1", "", Addr{}, "not an IPv6 address"},
		{"tls://[::1]x:1", "", Addr{}, "not :port"},
		{"udp://h:1", "", Addr{}, "unknown address scheme \"udp\""},
		{"ws://h:1", "", Addr{}, "not supported"},
		{"h:1", "inproc", Addr{}, "not supported"},
		{"tls://h:http", "", Addr{}, "not a number"},
		{"tls://h:65536", "", Addr{}, "out of range"},
		{"tls://h:-1", "", Addr{}, "not a number"},
		{"tls://h h:1", "", Addr{}, "contains"},
		{"tls://user@h:1", "", Addr{}, "contains"},
	}
	for _, tt := range tests {
		t.Run(tt.in+"/"+tt.def, func(t *testing.T) {
			got, err := ParseAddr(tt.in, tt.def)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrBadAddress) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseAddr(%q) error = %v, want ErrBadAddress mentioning %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseAddr(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestAddrString(t *testing.T) {
	for _, tt := range []struct {
		a             Addr
		str, hostPort string
	}{
		{Addr{"tls", "10.0.0.5", 8786}, "tls://10.0.0.5:8786", "10.0.0.5:8786"},
		{Addr{"tcp", "::1", 8786}, "tcp://[::1]:8786", "[::1]:8786"},
		{Addr{"tls", "", 0}, "tls://:0", ":0"},
	} {
		if got := tt.a.String(); got != tt.str {
			t.Errorf("String() = %q, want %q", got, tt.str)
		}
		if got := tt.a.HostPort(); got != tt.hostPort {
			t.Errorf("HostPort() = %q, want %q", got, tt.hostPort)
		}
	}
	if !(Addr{Scheme: "tls"}).Encrypted() || (Addr{Scheme: "tcp"}).Encrypted() {
		t.Error("Encrypted: only tls is encrypted")
	}
}

func FuzzParseAddr(f *testing.F) {
	for _, s := range []string{"tls://10.0.0.5:8786", "[::1]:1", "h:1", "tcp://[fe80::1%eth0]:0", "tls://::1:1", "x://y"} {
		f.Add(s, "tls")
	}
	f.Fuzz(func(t *testing.T, s, def string) {
		a, err := ParseAddr(s, def)
		if err != nil {
			if !errors.Is(err, ErrBadAddress) {
				t.Fatalf("error %v does not wrap ErrBadAddress", err)
			}
			return
		}
		again, err := ParseAddr(a.String(), "")
		if err != nil || again != a {
			t.Fatalf("%q → %+v → %q → %+v, %v", s, a, a.String(), again, err)
		}
	})
}
