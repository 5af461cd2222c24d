package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"

	"github.com/herald-eventing/herald/eventing"
)

// Delivery states are JSON, but for the commonest: a cursor, pending or
// not (until schema version 3 every new subscription was stored with one,
// {"cursor":N,"pending":true,"log":null}, 41 bytes). Its short form takes
// a tag byte and the cursor as a uvarint (schema version 3). A state that
// holds nothing but a cursor and the pending mark is stored in the short
// form; JSON records begin with '{', which no tag is.
const (
	stateCursor        = 0x01 // the cursor, not pending
	stateCursorPending = 0x02 // the cursor, pending
)

var errCorruptState = errors.New("store: corrupt delivery state")

// encodeState returns the stored form of st.
func encodeState(st *eventing.DeliveryState) ([]byte, error) {
	if st.Attempts == 0 && st.NextAttempt.IsZero() && st.ReplaySeq == 0 && st.ReplayAttempts == 0 &&
		st.ReplayNext.IsZero() && st.Failures == 0 && st.FailingSince.IsZero() && len(st.Log) == 0 {
		tag := byte(stateCursor)
		if st.Pending {
			tag = stateCursorPending
		}
		return binary.AppendUvarint([]byte{tag}, st.Cursor), nil
	}
	return json.Marshal(st)
}

// decodeState reads a stored state (either form) into st.
func decodeState(v []byte, st *eventing.DeliveryState) error {
	if len(v) > 0 && (v[0] == stateCursor || v[0] == stateCursorPending) {
		c, n := binary.Uvarint(v[1:])
		if n <= 0 || n != len(v)-1 {
			return errCorruptState
		}
		*st = eventing.DeliveryState{Cursor: c, Pending: v[0] == stateCursorPending}
		return nil
	}
	return json.Unmarshal(v, st)
}
