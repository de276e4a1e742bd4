// Package hostlist reads the ways HPC and cloud operators name many hosts at
// once: Slurm hostlist expressions, IP ranges given as a CIDR prefix, and
// hosts files.
//
// A hostlist is what Slurm prints in SLURM_JOB_NODELIST and accepts
// everywhere a node list goes: comma-separated host expressions, each of
// which may hold bracketed ranges, as in "node[001-128,200].dask.internal"
// or "rack[1-2]-gpu[01-04]". A range keeps the zero padding of its lower
// bound ("001-128" gives "001" ... "128"); several bracket groups in one
// expression multiply out, the left-most group varying slowest, as Slurm
// does. Expansion is bounded (MaxHosts) so that a typo such as
// "n[1-999999999]" fails at once instead of exhausting memory.
//
// An IP range assigns consecutive addresses, in order, from a prefix such as
// 10.0.1.0/24; see Addrs.
//
// A hosts file has one host per line, "NAME [dns ...] [ip ...]", with '#'
// starting a comment; see ParseHosts.
//
// Every function here is a pure parser of untrusted text: none touches the
// network or the file system.
package hostlist
