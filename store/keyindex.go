package store

import (
	"encoding/hex"
	"hash/maphash"

	bolt "go.etcd.io/bbolt"

	"github.com/herald-eventing/herald/eventing"
)

// The identity keys of subscriptions (eventing.Subscription.Key, which
// CreateSubscription deduplicates by) are indexed in memory, not in the
// file. Up to schema version 2 a subscriptions_by_key bucket mapped each
// key to its id; the keys are SHA-256 sums, so every subscribe wrote a
// random page of it (and its branch), which was about half of a commit's
// pages and of its garbage, and about 180 bytes of the file (and of its
// mapped pages) per subscription. Open builds the index from the records,
// which hold their key, and every write transaction keeps it: its changes
// are undone when the transaction does not commit.

// keyIndex maps identity keys to subscription ids. Its methods run inside
// write transactions, under DB.keysMu.
type keyIndex struct {
	seed maphash.Seed
	// hash is the key's hash (a field so that tests can make keys collide).
	hash func(seed maphash.Seed, key string) uint64
	// byHash maps a key's hash to the UUID of its subscription's
	// "uuid:…" id: 24 bytes an entry, without the key.
	byHash map[uint64][16]byte
	// byKey maps a key to its id when byHash cannot: an id of another
	// form, or a key whose hash another key holds in byHash.
	byKey map[string]string
	// undo reverts the changes of the transaction in progress.
	undo []func()
}

func newKeyIndex() *keyIndex {
	return &keyIndex{seed: maphash.MakeSeed(), hash: maphash.String, byHash: map[uint64][16]byte{}, byKey: map[string]string{}}
}

// lookup returns the stored subscription whose key is key, nil if none.
// A candidate is read back and its key compared, so a hash shared by two
// keys, or an entry whose record is gone, finds nothing.
func (ix *keyIndex) lookup(tx *bolt.Tx, key string) (*eventing.Subscription, error) {
	if u, ok := ix.byHash[ix.hash(ix.seed, key)]; ok {
		s, err := recordWithKey(tx, formatID(u), key)
		if s != nil || err != nil {
			return s, err
		}
	}
	if id, ok := ix.byKey[key]; ok {
		return recordWithKey(tx, id, key)
	}
	return nil, nil
}

// recordWithKey returns subscription id if it is stored with key.
func recordWithKey(tx *bolt.Tx, id, key string) (*eventing.Subscription, error) {
	v := tx.Bucket(bucketSubscriptions).Get([]byte(id))
	if v == nil {
		return nil, nil
	}
	s, err := decodeSub([]byte(id), v, nil)
	if err != nil {
		return nil, err
	}
	if s.Key != key {
		return nil, nil
	}
	return s, nil
}

// put records that key belongs to subscription id, in place of any other
// subscription (as a Put in the bucket did).
func (ix *keyIndex) put(tx *bolt.Tx, key, id string) error {
	h := ix.hash(ix.seed, key)
	u, isUUID := parseID(id)
	if cur, ok := ix.byHash[h]; ok && !(isUUID && cur == u) {
		holder, err := recordWithKey(tx, formatID(cur), key)
		if err != nil {
			return err
		}
		if holder == nil && tx.Bucket(bucketSubscriptions).Get([]byte(formatID(cur))) != nil {
			// Another key holds the hash.
			ix.setKey(key, id)
			return nil
		}
		// The hash's holder is this key's earlier subscription, or gone.
		ix.delHash(h)
	}
	if isUUID {
		ix.setHash(h, u)
		ix.delKey(key)
	} else {
		ix.setKey(key, id)
	}
	return nil
}

// remove forgets key if it belongs to subscription id.
func (ix *keyIndex) remove(key, id string) {
	h := ix.hash(ix.seed, key)
	if u, ok := parseID(id); ok {
		if cur, found := ix.byHash[h]; found && cur == u {
			ix.delHash(h)
		}
	}
	if cur, ok := ix.byKey[key]; ok && cur == id {
		ix.delKey(key)
	}
}

func (ix *keyIndex) setHash(h uint64, u [16]byte) { setUndo(&ix.undo, ix.byHash, h, u) }
func (ix *keyIndex) delHash(h uint64)             { delUndo(&ix.undo, ix.byHash, h) }
func (ix *keyIndex) setKey(key, id string)        { setUndo(&ix.undo, ix.byKey, key, id) }
func (ix *keyIndex) delKey(key string)            { delUndo(&ix.undo, ix.byKey, key) }

// setUndo sets m[k] to v, and appends to undo what puts m[k] back.
func setUndo[K comparable, V any](undo *[]func(), m map[K]V, k K, v V) {
	old, had := m[k]
	m[k] = v
	*undo = append(*undo, func() {
		if had {
			m[k] = old
		} else {
			delete(m, k)
		}
	})
}

// delUndo deletes m[k], and appends to undo what puts it back.
func delUndo[K comparable, V any](undo *[]func(), m map[K]V, k K) {
	old, had := m[k]
	if !had {
		return
	}
	delete(m, k)
	*undo = append(*undo, func() { m[k] = old })
}

// settle ends a transaction: its changes stay if it committed, and are
// undone if not.
func (ix *keyIndex) settle(committed bool) {
	if !committed {
		for i := len(ix.undo) - 1; i >= 0; i-- {
			ix.undo[i]()
		}
	}
	clear(ix.undo)
	ix.undo = ix.undo[:0]
}

// load indexes the key of every stored subscription (at Open).
func (ix *keyIndex) load(tx *bolt.Tx) error {
	var buf []byte
	return tx.Bucket(bucketSubscriptions).ForEach(func(k, v []byte) error {
		key, hexed, err := recordKey(k, v)
		if err != nil {
			return err
		}
		if len(key) == 0 {
			return nil
		}
		if hexed {
			buf = hex.AppendEncode(buf[:0], key)
			key = buf
		}
		h := ix.hash(ix.seed, string(key))
		if u, ok := parseID(string(k)); ok {
			if _, taken := ix.byHash[h]; !taken {
				ix.byHash[h] = u
				return nil
			}
		}
		ix.byKey[string(key)] = string(k)
		return nil
	})
}

// recordKey returns the key of the subscription record v stored under k,
// without decoding the rest of a subRecordV2 record; hexed reports a key
// stored as the bytes its hexadecimal spells. The bytes are bbolt's.
func recordKey(k, v []byte) (key []byte, hexed bool, err error) {
	if len(v) == 0 || v[0] != subRecordV2 {
		s, err := decodeSub(k, v, nil)
		if err != nil {
			return nil, false, err
		}
		return []byte(s.Key), false, nil
	}
	d := subDecoder{b: v[1:]}
	d.skip(3) // Processor, Message, Secret
	if d.byte() == 1 {
		d.skip(2) // Dialect, Expression
		n := d.uvarint()
		for i := uint64(0); i < n && !d.bad; i++ {
			d.skip(2)
		}
	}
	d.skip(4) // EndTo, Manager, AddressingNS, EventingNS
	d.time()  // Expires
	d.time()  // Created
	d.uvarint()
	h := d.uvarint()
	n := h >> 2
	if d.bad || n > uint64(len(d.b)) || h&3 == strPacked {
		return nil, false, errCorruptSub
	}
	return d.b[:n], h&3 == strHex, nil
}

// skip passes over the next n fields of a subRecordV2 record.
func (d *subDecoder) skip(n int) {
	for range n {
		h := d.uvarint()
		if d.bad || h>>2 > uint64(len(d.b)) {
			d.bad = true
			return
		}
		d.b = d.b[h>>2:]
	}
}

// parseID returns the UUID of an id of the form Herald gives
// ("uuid:" and the UUID's lowercase canonical text).
func parseID(id string) (u [16]byte, ok bool) {
	if len(id) != 41 || id[:5] != "uuid:" {
		return u, false
	}
	s := id[5:]
	j := 0
	for i := 0; i < 36; {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if s[i] != '-' {
				return u, false
			}
			i++
			continue
		}
		a, b := s[i], s[i+1]
		if !isLowerHex(a) || !isLowerHex(b) {
			return u, false
		}
		u[j] = unhex(a)<<4 | unhex(b)
		j++
		i += 2
	}
	return u, true
}

func isLowerHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }

// formatID is the inverse of parseID.
func formatID(u [16]byte) string {
	var b [41]byte
	copy(b[:], "uuid:")
	j := 5
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b[j] = '-'
			j++
		}
		hex.Encode(b[j:j+2], []byte{c})
		j += 2
	}
	return string(b[:])
}
