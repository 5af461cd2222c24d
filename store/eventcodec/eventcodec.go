// Package eventcodec is the binary form of an event record, the same in
// every store backend (the bbolt log's values, the JetStream stream's
// message data): the received time as big-endian Unix nanoseconds, then
// the message's topic, instanceId, timestamp, text and info, each a
// uvarint length and its bytes.
package eventcodec

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/herald-eventing/herald/eventing"
)

// ErrCorrupt is returned by Decode for a record that is not one.
var ErrCorrupt = errors.New("store: corrupt event record")

// Encode returns the record of a message received at received.
func Encode(received time.Time, m *eventing.Message) []byte {
	n := 8 + 5*binary.MaxVarintLen32 + len(m.Topic) + len(m.InstanceID) + len(m.Timestamp) + len(m.Text) + len(m.Info)
	b := make([]byte, 8, n)
	binary.BigEndian.PutUint64(b, uint64(received.UnixNano()))
	for _, f := range [...]string{m.Topic, m.InstanceID, m.Timestamp, m.Text, m.Info} {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return b
}

// Decode returns the event seq whose record is b. The strings are copies
// (b may be reused), all made in one: a field keeps the record's other
// fields alive, which are the same event's.
func Decode(seq uint64, b []byte) (*eventing.Event, error) {
	if len(b) < 8 {
		return nil, ErrCorrupt
	}
	received := time.Unix(0, int64(binary.BigEndian.Uint64(b))).UTC()
	b = b[8:]
	all := string(b)
	var f [5]string
	off := 0
	for i := range f {
		l, n := binary.Uvarint(b[off:])
		if n <= 0 || uint64(len(b)-off-n) < l {
			return nil, ErrCorrupt
		}
		off += n
		f[i] = all[off : off+int(l)]
		off += int(l)
	}
	return eventing.NewEvent(seq, received, eventing.Message{Topic: f[0], InstanceID: f[1], Timestamp: f[2], Text: f[3], Info: f[4]}), nil
}
