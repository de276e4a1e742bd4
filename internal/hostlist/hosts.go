package hostlist

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
)

// maxLine bounds one hosts-file line; real lines are a few hundred bytes.
const maxLine = 64 << 10

// Host is one line of a hosts file.
type Host struct {
	Name string   // the endpoint name, the first field
	DNS  []string // further fields that are not IP addresses, as written
	IPs  []string // further fields that parse as IP addresses, as written
	Line int      // 1-based line number, for error messages
}

// ParseHosts reads a hosts file: one host per line, "NAME [dns ...] [ip ...]",
// fields separated by white space; '#' starts a comment that runs to the end
// of the line; blank lines are skipped. Every field after NAME that parses
// as an IP address is an IP, every other one a DNS name, in any order. NAME
// is returned as written (callers validate it); a NAME that is an IP
// address is refused, since that is the /etc/hosts order. At most MaxHosts
// hosts are read. Errors wrap ErrSyntax (or ErrTooMany) and name the line
// by its number, never by its contents.
func ParseHosts(r io.Reader) ([]Host, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	var out []Host
	line := 0
	for sc.Scan() {
		line++
		text, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(text)
		if len(fields) == 0 {
			continue
		}
		if len(out) == MaxHosts {
			return nil, fmt.Errorf("%w: more than %d lines of hosts", ErrTooMany, MaxHosts)
		}
		h, err := parseHost(fields, line)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%w: line %d: longer than %d bytes", ErrSyntax, line+1, maxLine)
		}
		return nil, fmt.Errorf("reading hosts: %w", err)
	}
	return out, nil
}

func parseHost(fields []string, line int) (Host, error) {
	h := Host{Name: fields[0], Line: line}
	if _, err := netip.ParseAddr(h.Name); err == nil {
		return h, fmt.Errorf("%w: line %d: the name is an IP address; each line is NAME [dns ...] [ip ...] (not the /etc/hosts order)",
			ErrSyntax, line)
	}
	for _, f := range fields[1:] {
		if _, err := netip.ParseAddr(f); err == nil {
			h.IPs = append(h.IPs, f)
		} else {
			h.DNS = append(h.DNS, f)
		}
	}
	return h, nil
}
