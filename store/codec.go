package store

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/herald-eventing/herald/eventing"
)

func u64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

func prefixKey(prefix string, seq uint64) []byte {
	k := make([]byte, 0, len(prefix)+9)
	k = append(k, prefix...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, seq)
}

func idKey(prefix, id string) []byte {
	k := make([]byte, 0, len(prefix)+1+len(id))
	k = append(k, prefix...)
	k = append(k, 0)
	return append(k, id...)
}

// encodeEvent writes the received time (unix nanoseconds) and the five
// message fields, each length-prefixed.
func encodeEvent(received time.Time, m *eventing.Message) []byte {
	n := 8 + 5*binary.MaxVarintLen32 + len(m.Topic) + len(m.InstanceID) + len(m.Timestamp) + len(m.Text) + len(m.Info)
	b := make([]byte, 8, n)
	binary.BigEndian.PutUint64(b, uint64(received.UnixNano()))
	for _, f := range []string{m.Topic, m.InstanceID, m.Timestamp, m.Text, m.Info} {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return b
}

var errCorrupt = errors.New("store: corrupt event record")

func decodeEvent(seq uint64, b []byte) (*eventing.Event, error) {
	if len(b) < 8 {
		return nil, errCorrupt
	}
	received := time.Unix(0, int64(binary.BigEndian.Uint64(b))).UTC()
	b = b[8:]
	var f [5]string
	for i := range f {
		l, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < l {
			return nil, errCorrupt
		}
		f[i] = string(b[n : n+int(l)])
		b = b[n+int(l):]
	}
	return eventing.NewEvent(seq, received, eventing.Message{Topic: f[0], InstanceID: f[1], Timestamp: f[2], Text: f[3], Info: f[4]}), nil
}
