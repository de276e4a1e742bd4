package wire

import (
	"testing"
)

// TestRPCPythonErrorShape decodes the reply a Python server sends: a
// pickled exception out of band and the texts in frame 0.
func TestRPCPythonErrorShape(t *testing.T) {
	frames := [][]byte{
		mustMarshal(t, map[string]any{
			"status": "uncaught-error", "exception": map[string]any{"__Serialized__": 1},
			"traceback": nil, "exception_text": "KeyError('x')", "traceback_text": "  File ...",
		}),
		mustMarshal(t, map[string]any{"serializer": "pickle", "num-sub-frames": 1}),
		[]byte("\x80\x05pickled KeyError"),
	}
	m, err := DecodeMsg(frames, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	rerr := asRemoteError("get_data", m.Value)
	if rerr == nil || rerr.ExceptionText != "KeyError('x')" || rerr.TracebackText != "  File ..." {
		t.Fatalf("remote error %+v", rerr)
	}
	if s, ok := rerr.Exception.(*Serialized); !ok || string(s.Frames[0]) != "\x80\x05pickled KeyError" {
		t.Fatalf("exception %#v", rerr.Exception)
	}
	if rerr.Error() != "remote get_data failed: KeyError('x')" {
		t.Fatalf("Error() = %q", rerr.Error())
	}
}
