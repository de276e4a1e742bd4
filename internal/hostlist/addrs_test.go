package hostlist

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestAddrs(t *testing.T) {
	tests := []struct {
		prefix      string
		n           int
		first, last string
	}{
		{"10.0.1.0/24", 3, "10.0.1.1", "10.0.1.3"},
		{"10.0.1.0/24", 254, "10.0.1.1", "10.0.1.254"},
		{"10.0.1.10/24", 5, "10.0.1.10", "10.0.1.14"},
		{"10.0.0.0/23", 510, "10.0.0.1", "10.0.1.254"},
		{"10.0.0.250/23", 10, "10.0.0.250", "10.0.1.3"},
		{"10.0.0.0/31", 2, "10.0.0.0", "10.0.0.1"},
		{"10.0.0.7/32", 1, "10.0.0.7", "10.0.0.7"},
		{"fd00::/64", 3, "fd00::1", "fd00::3"},
		{"fd00::ff/120", 1, "fd00::ff", "fd00::ff"},
		{"fd00::/127", 2, "fd00::", "fd00::1"},
		{"10.0.0.0/24", 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			got, err := Addrs(tt.prefix, tt.n)
			if err != nil || len(got) != tt.n {
				t.Fatalf("Addrs(%q, %d) = %d addresses, %v", tt.prefix, tt.n, len(got), err)
			}
			if tt.n == 0 {
				return
			}
			if got[0].String() != tt.first || got[tt.n-1].String() != tt.last {
				t.Errorf("Addrs(%q, %d) = %s .. %s, want %s .. %s", tt.prefix, tt.n, got[0], got[tt.n-1], tt.first, tt.last)
			}
			for i := 1; i < len(got); i++ {
				if got[i] != got[i-1].Next() {
					t.Fatalf("address %d: %s does not follow %s", i, got[i], got[i-1])
				}
			}
		})
	}
}

func TestAddrsRejects(t *testing.T) {
	tests := []struct {
		prefix  string
		n       int
		errPart string
	}{
		{"10.0.1.0/24", 255, "254 addresses from 10.0.1.1 to 10.0.1.254, 255 needed"},
		{"10.0.1.250/24", 6, "5 addresses"},
		{"10.0.0.0/23", 512, "510 addresses"},
		{"10.0.1.255/24", 1, "broadcast"},
		{"fd00::fe/120", 3, "2 addresses"},
		{"10.0.1.0", 1, "want a prefix"},
		{"10.0.1.0/33", 1, "want a prefix"},
		{"node07/24", 1, "want a prefix"},
		{"fe80::%eth0/64", 1, "want a prefix"},
		{"::ffff:10.0.0.0/120", 1, "plain IPv4"},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			_, err := Addrs(tt.prefix, tt.n)
			if !errors.Is(err, ErrRange) || !strings.Contains(err.Error(), tt.errPart) {
				t.Errorf("Addrs(%q, %d) error = %v, want ErrRange containing %q", tt.prefix, tt.n, err, tt.errPart)
			}
		})
	}
}

func FuzzAddrs(f *testing.F) {
	f.Add("10.0.1.0/24", 3)
	f.Add("fd00::/64", 2)
	f.Add("10.0.0.0/31", 2)
	f.Fuzz(func(t *testing.T, prefix string, n int) {
		n %= 4096
		got, err := Addrs(prefix, n)
		if err != nil {
			return
		}
		p := netip.MustParsePrefix(prefix)
		for i, a := range got {
			if !p.Masked().Contains(a) {
				t.Fatalf("Addrs(%q, %d)[%d] = %s is outside the prefix", prefix, n, i, a)
			}
			if i > 0 && a != got[i-1].Next() {
				t.Fatalf("Addrs(%q, %d) not consecutive at %d", prefix, n, i)
			}
		}
	})
}
