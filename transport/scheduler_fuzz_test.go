package transport

import (
	"testing"
)

// FuzzRegistration feeds arbitrary msgpack to what the scheduler reads
// from a register-worker request and to what a probe reads from an
// identity reply: both come from peers and must never panic.
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
		v, err := DecodeValue(b, Limits{})
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
