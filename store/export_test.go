package store

import bolt "go.etcd.io/bbolt"

// ForceSchemaVersionForTest rewrites the schema version of a closed file.
func ForceSchemaVersionForTest(path, v string) error {
	b, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		return err
	}
	defer b.Close()
	return b.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchemaVersion, []byte(v)) })
}

// SimulateCrashForTest closes the file without flushing the topic index.
func SimulateCrashForTest(db *DB) {
	db.closeMu.Lock()
	db.closed = true
	close(db.stop)
	db.closeMu.Unlock()
	<-db.done
	db.index.mu.Lock()
	db.index.pending = nil
	db.index.mu.Unlock()
	close(db.index.stop)
	<-db.index.done
	db.bolt.Close()
}

// IndexedThroughForTest returns how far the topic index reaches on disk.
func (db *DB) IndexedThroughForTest() (uint64, error) {
	var n uint64
	err := db.bolt.View(func(tx *bolt.Tx) error { n = indexedThrough(tx); return nil })
	return n, err
}

// BucketKeysForTest returns how many keys each top-level bucket of a closed
// file holds.
func BucketKeysForTest(path string) (map[string]int, error) {
	b, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer b.Close()
	out := map[string]int{}
	err = b.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, bk *bolt.Bucket) error {
			out[string(name)] = bk.Stats().KeyN
			return nil
		})
	})
	return out, err
}

// PutForTest writes key=value into bucket (created if needed) of a closed
// file, as an earlier version may have left it.
func PutForTest(path, bucket, key, value string) error {
	b, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		return err
	}
	defer b.Close()
	return b.Update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists([]byte(bucket))
		if err != nil {
			return err
		}
		return bk.Put([]byte(key), []byte(value))
	})
}
