package transport

import (
	"testing"
)

// FuzzRegistration feeds arbitrary msgpack to what the scheduler reads
// from a register-worker request and to what a probe reads from an
// identity reply: both come from peers and must never panic, and decoding
// them must allocate no more than the cost walk estimated.
func FuzzRegistration(f *testing.F) {
	for _, v := range []any{
		map[string]any{"address": "tls://127.0.0.1:1", "name": "w", "nthreads": int64(2), "memory_limit": int64(1 << 30)},
		map[string]any{"address": "[::1]:1", "name": int64(7), "nthreads": 2.5},
		map[string]any{"type": "Scheduler", "id": "Scheduler-1", "workers": map[string]any{"tls://a:1": map[string]any{}}},
		map[string]any{"type": "Scheduler", "n_workers": uint64(1 << 63)},
		Map{{Key: int64(1), Value: "x"}},
		[]any{"address"},
	} {
		frames, err := EncodeMsg(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(frames[0])
	}
	sched := &Scheduler{endpointBase: newEndpointBase(nil, nil, nil)}
	f.Fuzz(func(t *testing.T, b []byte) {
		var v any
		var err error
		cost, _ := scanCost(b, Limits{DecodeFactor: 1 << 20}, false)
		bound := uint64(cost) + 4<<10 // the decoder itself, an error message
		if grew := allocated(func() { v, err = DecodeValue(b, Limits{}) }); grew > bound {
			if grew = allocated(func() { _, _ = DecodeValue(b, Limits{}) }); grew > bound {
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
