package issue

import (
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/daskca/daskca/internal/hostlist"
)

// HostRequests makes one request per host of a Slurm hostlist such as
// "node[001-512].dask.internal" (see package internal/hostlist). Each
// request copies base (role, validity, key type, force) and is named after
// the host's first label ("node001") with the whole host name as its DNS
// SAN. With ipRange (a prefix, see hostlist.Addrs) every host also gets
// the next address of the range as an IP SAN, in order. Names and SANs are
// validated by Plan, which also refuses two hosts with the same first label.
func HostRequests(base Request, list, ipRange string) ([]Request, error) {
	hosts, err := hostlist.Expand(list)
	if err != nil {
		return nil, err
	}
	out := make([]Request, len(hosts))
	for i, h := range hosts {
		if _, err := netip.ParseAddr(h); err == nil {
			return nil, fmt.Errorf("%w: host %q is an IP address; list host names and give addresses with an IP range", hostlist.ErrSyntax, h)
		}
		name, _, _ := strings.Cut(h, ".")
		out[i] = hostRequest(base, name, []string{h}, nil)
	}
	return out, assignIPs(out, ipRange)
}

// HostsFileRequests makes one request per line of a hosts file, "NAME [dns
// ...] [ip ...]" (see hostlist.ParseHosts), copying base for the rest. With
// ipRange every line also gets the next address of the range, in order,
// after the addresses it lists.
func HostsFileRequests(base Request, r io.Reader, ipRange string) ([]Request, error) {
	hosts, err := hostlist.ParseHosts(r)
	if err != nil {
		return nil, err
	}
	out := make([]Request, len(hosts))
	for i, h := range hosts {
		out[i] = hostRequest(base, h.Name, h.DNS, h.IPs)
		out[i].Origin = fmt.Sprintf("line %d", h.Line)
	}
	return out, assignIPs(out, ipRange)
}

// NameRequests makes one request per name, copying base, with IP SANs from
// ipRange if it is not empty.
func NameRequests(base Request, names []string, ipRange string) ([]Request, error) {
	out := make([]Request, len(names))
	for i, n := range names {
		out[i] = hostRequest(base, n, nil, nil)
	}
	return out, assignIPs(out, ipRange)
}

func hostRequest(base Request, name string, dns, ips []string) Request {
	r := base
	r.Name, r.DNS, r.IPs = name, dns, ips
	return r
}

// assignIPs gives each request the next address of ipRange, if any.
func assignIPs(reqs []Request, ipRange string) error {
	if ipRange == "" {
		return nil
	}
	addrs, err := hostlist.Addrs(ipRange, len(reqs))
	if err != nil {
		return err
	}
	for i := range reqs {
		reqs[i].IPs = append(reqs[i].IPs[:len(reqs[i].IPs):len(reqs[i].IPs)], addrs[i].String())
	}
	return nil
}
