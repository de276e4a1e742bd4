package daskconfig

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// The address schemes daskca speaks. Dask knows more (inproc, ucx, ws,
// wss); ParseAddr names them as unsupported rather than unknown.
const (
	SchemeTCP = "tcp"
	SchemeTLS = "tls"
)

// daskOnlySchemes are schemes real Dask accepts that daskca does not.
var daskOnlySchemes = map[string]bool{"inproc": true, "ucx": true, "ws": true, "wss": true}

// Addr is a parsed Dask comm address such as tls://10.0.0.5:8786.
//
// Host is a DNS name, an IPv4 address, an IPv6 address without brackets
// (with an optional %zone), or empty, meaning every interface when
// listening. Port 0 asks the system for a free port when listening.
type Addr struct {
	Scheme string
	Host   string
	Port   int
}

// ParseAddr parses a Dask address: scheme://host:port, or a bare host:port
// that takes defaultScheme ("tcp" when defaultScheme is empty, as in Dask's
// distributed.comm.default-scheme). IPv6 hosts need brackets: [::1]:8786.
//
// The errors follow Dask's: a missing port, an unbracketed IPv6 address and an
// unknown scheme are each refused with a message saying what to write
// instead. Every error wraps ErrBadAddress.
func ParseAddr(s, defaultScheme string) (Addr, error) {
	scheme, loc, found := strings.Cut(s, "://")
	if !found {
		scheme, loc = defaultScheme, s
		if scheme == "" {
			scheme = SchemeTCP
		}
	}
	if err := checkScheme(scheme); err != nil {
		return Addr{}, fmt.Errorf("address %q: %w", s, err)
	}
	host, port, err := splitHostPort(loc)
	if err != nil {
		return Addr{}, fmt.Errorf("address %q: %w", s, err)
	}
	return Addr{Scheme: scheme, Host: host, Port: port}, nil
}

func checkScheme(scheme string) error {
	switch {
	case scheme == SchemeTCP || scheme == SchemeTLS:
		return nil
	case daskOnlySchemes[scheme]:
		return fmt.Errorf("%w: scheme %q is not supported here (use tls:// or tcp://)", ErrBadAddress, scheme)
	default:
		return fmt.Errorf("%w: unknown address scheme %q (known schemes: tcp, tls)", ErrBadAddress, scheme)
	}
}

// splitHostPort follows Dask's parse_host_port: a leading '[' starts an IPv6
// literal, otherwise the last ':' separates the port.
func splitHostPort(loc string) (string, int, error) {
	var host, port string
	if rest, ok := strings.CutPrefix(loc, "["); ok {
		h, tail, closed := strings.Cut(rest, "]")
		if !closed {
			return "", 0, fmt.Errorf("%w: unclosed '[' (IPv6 needs brackets like [::1]:8786)", ErrBadAddress)
		}
		if tail == "" {
			return "", 0, fmt.Errorf("%w: missing port number (write [%s]:8786)", ErrBadAddress, h)
		}
		p, ok := strings.CutPrefix(tail, ":")
		if !ok {
			return "", 0, fmt.Errorf("%w: %q after ']' is not :port", ErrBadAddress, tail)
		}
		ip, err := netip.ParseAddr(h)
		if err != nil || !ip.Is6() {
			return "", 0, fmt.Errorf("%w: %q in brackets is not an IPv6 address", ErrBadAddress, h)
		}
		host, port = h, p
	} else {
		i := strings.LastIndexByte(loc, ':')
		if i < 0 {
			return "", 0, fmt.Errorf("%w: missing port number (write %s:8786)", ErrBadAddress, loc)
		}
		host, port = loc[:i], loc[i+1:]
		if strings.Contains(host, ":") {
			return "", 0, fmt.Errorf("%w: IPv6 needs brackets like [::1]:8786", ErrBadAddress)
		}
		if err := checkHostChars(host); err != nil {
			return "", 0, err
		}
	}
	n, err := parsePort(port)
	if err != nil {
		return "", 0, err
	}
	return host, n, nil
}

func checkHostChars(host string) error {
	for _, r := range host {
		if r <= ' ' || r == 0x7f || strings.ContainsRune("/?#@[]\\%", r) {
			return fmt.Errorf("%w: host %q contains %q", ErrBadAddress, host, r)
		}
	}
	return nil
}

func parsePort(p string) (int, error) {
	if p == "" {
		return 0, fmt.Errorf("%w: missing port number after ':'", ErrBadAddress)
	}
	for _, r := range p {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("%w: port %q is not a number", ErrBadAddress, p)
		}
	}
	n, err := strconv.Atoi(p)
	if err != nil || n > 65535 {
		return 0, fmt.Errorf("%w: port %q is out of range 0-65535", ErrBadAddress, p)
	}
	return n, nil
}

// HostPort returns host:port, bracketing IPv6 hosts: [::1]:8786. It is the
// form net.Dial and net.Listen take.
func (a Addr) HostPort() string {
	return net.JoinHostPort(a.Host, strconv.Itoa(a.Port))
}

// String returns the address in Dask's canonical scheme://host:port form.
func (a Addr) String() string {
	return a.Scheme + "://" + a.HostPort()
}

// Encrypted reports whether the address uses TLS.
func (a Addr) Encrypted() bool { return a.Scheme == SchemeTLS }
