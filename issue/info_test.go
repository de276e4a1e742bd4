package issue

import "testing"

func TestNormalizeSerial(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"3f2a", "3f2a", true},
		{"0x3F2A", "3f2a", true},
		{"3F:2A", "3f2a", true},
		{"003f2a", "3f2a", true},
		{"node07", "", false},
		{"", "", false},
		{"0", "", false},
	}
	for _, tt := range tests {
		got, ok := normalizeSerial(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("normalizeSerial(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
