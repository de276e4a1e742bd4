package transport

import (
	"slices"

	"github.com/daskca/daskca/identity"
	"github.com/daskca/daskca/transport/daskconfig"
)

// Operation is something a peer does that the role policy decides on.
type Operation string

// The operations of the policy table.
const (
	// OpAccept is a listener accepting a peer's connection at all.
	OpAccept Operation = "accept"
	// OpDial is a dialer accepting the server it reached.
	OpDial Operation = "dial"
	// OpDialScheduler is a dialer accepting the server at the address it
	// was given as its scheduler's: a worker registering, a client
	// connecting. Only a scheduler certificate will do, so that no worker
	// or client key can pose as the scheduler.
	OpDialScheduler Operation = "dial-scheduler"
	// OpRegisterWorker is "register-worker" on a scheduler.
	OpRegisterWorker Operation = "register-worker"
	// OpHeartbeatWorker is "heartbeat_worker" on a scheduler; it must come
	// from the certificate that registered the worker.
	OpHeartbeatWorker Operation = "heartbeat_worker"
	// OpUnregister is "unregister" on a scheduler; it must come from the
	// certificate that registered the worker.
	OpUnregister Operation = "unregister"
	// OpRegisterClient is "register-client" on a scheduler (a Client, or a
	// task's get_client() inside a worker, which uses the worker's
	// certificate).
	OpRegisterClient Operation = "register-client"
)

// Rule is one row of the strict role policy: on a Side of role Local, the
// operation Op is allowed to peers of the roles in Peers. SameWorker says
// the peer must also be the certificate that registered the worker the
// operation names.
type Rule struct {
	Local      identity.Role   `json:"local"`
	Op         Operation       `json:"op"`
	Peers      []identity.Role `json:"peers"`
	SameWorker bool            `json:"same_worker,omitempty"`
}

// policyTable is the strict policy. It is the one table the Go transport
// and daskca's Dask plugin both enforce (the plugin receives it as JSON),
// and the one their tests are driven by. Under the "dask" policy every
// operation is allowed to any certificate that chains to the CA.
var policyTable = []Rule{
	{Local: identity.Scheduler, Op: OpAccept, Peers: []identity.Role{identity.Worker, identity.Client}},
	{Local: identity.Scheduler, Op: OpRegisterWorker, Peers: []identity.Role{identity.Worker}},
	{Local: identity.Scheduler, Op: OpHeartbeatWorker, Peers: []identity.Role{identity.Worker}, SameWorker: true},
	{Local: identity.Scheduler, Op: OpUnregister, Peers: []identity.Role{identity.Worker}, SameWorker: true},
	{Local: identity.Scheduler, Op: OpRegisterClient, Peers: []identity.Role{identity.Worker, identity.Client}},
	{Local: identity.Worker, Op: OpAccept, Peers: []identity.Role{identity.Scheduler, identity.Worker, identity.Client}},
	{Local: identity.Scheduler, Op: OpDial, Peers: []identity.Role{identity.Worker}},
	{Local: identity.Worker, Op: OpDial, Peers: []identity.Role{identity.Scheduler, identity.Worker}},
	{Local: identity.Client, Op: OpDial, Peers: []identity.Role{identity.Scheduler, identity.Worker}},
	{Local: identity.Worker, Op: OpDialScheduler, Peers: []identity.Role{identity.Scheduler}},
	{Local: identity.Client, Op: OpDialScheduler, Peers: []identity.Role{identity.Scheduler}},
}

// PolicyTable returns a copy of the strict policy's rules.
func PolicyTable() []Rule {
	out := make([]Rule, len(policyTable))
	for i, r := range policyTable {
		r.Peers = slices.Clone(r.Peers)
		out[i] = r
	}
	return out
}

// rule returns the row of the table for (local, op).
func rule(local identity.Role, op Operation) (Rule, bool) {
	for _, r := range policyTable {
		if r.Local == local && r.Op == op {
			return r, true
		}
	}
	return Rule{}, false
}

// Peers returns the roles of peers the strict policy lets do op on an
// endpoint of role local (none when the table has no such row). The
// caller owns the returned slice.
func Peers(local identity.Role, op Operation) []identity.Role {
	r, _ := rule(local, op)
	return slices.Clone(r.Peers)
}

// Allowed reports whether, under policy (daskconfig.PolicyStrict or
// daskconfig.PolicyDask), a peer of role peer may do op on an endpoint of
// role local. An operation the table does not list is refused under the
// strict policy.
func Allowed(policy string, local identity.Role, op Operation, peer identity.Role) bool {
	if policy == daskconfig.PolicyDask {
		return true
	}
	r, ok := rule(local, op)
	return ok && slices.Contains(r.Peers, peer)
}
