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
