package wire_test

import (
	"bytes"
	"errors"
	"fmt"
	"log"

	"github.com/daskca/daskca/transport/wire"
)

// A message goes through the three layers a comm uses: msgpack (EncodeMsg),
// framing (WriteFrames) and back (ReadFrames, DecodeMsg), here through a
// buffer instead of a connection.
func ExampleEncodeMsg() {
	frames, err := wire.EncodeMsg(map[string]any{"op": "identity", "reply": true})
	if err != nil {
		log.Fatal(err)
	}
	var conn bytes.Buffer
	n, err := wire.WriteFrames(&conn, frames)
	if err != nil {
		log.Fatal(err)
	}
	// 24 bytes of prelude (total length, frame count, frame length), 20 of msgpack.
	fmt.Printf("%d frame, %d bytes on the wire\n", len(frames), n)

	got, err := wire.ReadFrames(&conn, wire.Limits{})
	if err != nil {
		log.Fatal(err)
	}
	m, err := wire.DecodeMsg(got, wire.Limits{})
	if err != nil {
		log.Fatal(err)
	}
	d, _ := m.Dict()
	fmt.Println(m.Op(), d["reply"])
	// Output:
	// 1 frame, 44 bytes on the wire
	// identity true
}

// Limits bound what a peer may claim before anything is allocated: a header
// announcing more than MaxMessageSize is refused from its first bytes.
func ExampleReadFrames_limits() {
	frames, err := wire.EncodeMsg(map[string]any{"op": "put", "data": bytes.Repeat([]byte("x"), 4096)})
	if err != nil {
		log.Fatal(err)
	}
	var conn bytes.Buffer
	if _, err := wire.WriteFrames(&conn, frames); err != nil {
		log.Fatal(err)
	}
	_, err = wire.ReadFrames(&conn, wire.Limits{MaxMessageSize: 1024})
	fmt.Println(errors.Is(err, wire.ErrFrameLimit))
	// Output: true
}
