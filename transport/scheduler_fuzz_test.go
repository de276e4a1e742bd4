package transport

import (
	"testing"

	"github.com/daskca/daskca/transport/wire"
)

// FuzzRegistration feeds arbitrary msgpack to what the scheduler reads
// from a register-worker request and to what a probe reads from an
// identity reply: both come from peers and must never panic, and decoding
// them must allocate no more than the decode budget allows. (The wire
// package's FuzzDecodeMsg holds decoding to the cost walk's own estimate.)
func FuzzRegistration(f *testing.F) {
	for _, v := range []any{
		map[string]any{"address": "tls://127.0.0.1:1", "name": "w", "nthreads": int64(2), "memory_limit": int64(1 << 30)},
		map[string]any{"address": "[::1]:1", "name": int64(7), "nthreads": 2.5},
		map[string]any{"type": "Scheduler", "id": "Scheduler-1", "workers": map[string]any{"tls://a:1": map[string]any{}}},
		map[string]any{"type": "Scheduler", "n_workers": uint64(1 << 63)},
		wire.Map{{Key: int64(1), Value: "x"}},
		[]any{"address"},
	} {
		frames, err := wire.EncodeMsg(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(frames[0])
	}
	sched := &Scheduler{endpointBase: newEndpointBase(nil, nil, nil)}
	f.Fuzz(func(t *testing.T, b []byte) {
		var v any
		var err error
		// Within the default limits decoding is refused before it would
		// allocate more than DefaultDecodeFactor times the input plus
		// 64 KiB; 4 KiB more are the decoder itself and an error message.
		bound := uint64(wire.DefaultDecodeFactor*len(b)) + 64<<10 + 4<<10
		if grew := allocatedBy(func() { v, err = wire.DecodeValue(b, wire.Limits{}) }); grew > bound {
			if grew = allocatedBy(func() { _, _ = wire.DecodeValue(b, wire.Limits{}) }); grew > bound {
				t.Fatalf("decoding %d bytes allocated %d, estimated at most %d", len(b), grew, bound)
			}
		}
		if err != nil {
			return
		}
		_, _ = identityInfo(v)
		if d, ok := v.(map[string]any); ok {
			if info, err := sched.admit(Peer{}, d); err == nil && info.Address == "" {
				t.Errorf("admitted a worker without an address: %+v", info)
			}
		}
	})
}
