package store

import (
	"context"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/herald-eventing/herald/eventing/access"
)

var _ access.KeyStore = (*DB)(nil)

// Keys implements access.KeyStore.
func (db *DB) Keys(ctx context.Context) ([]*access.Key, error) {
	var out []*access.Key
	err := db.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketKeys).ForEach(func(k, v []byte) error {
			var key access.Key
			if err := json.Unmarshal(v, &key); err != nil {
				return fmt.Errorf("store: key %q: %w", k, err)
			}
			out = append(out, &key)
			return nil
		})
	})
	return out, err
}

// CreateKey implements access.KeyStore.
func (db *DB) CreateKey(ctx context.Context, k *access.Key) error {
	v, err := json.Marshal(k)
	if err != nil {
		return err
	}
	return db.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketKeys)
		if b.Get([]byte(k.Name)) != nil {
			return fmt.Errorf("%w: %s", access.ErrKeyExists, k.Name)
		}
		return b.Put([]byte(k.Name), v)
	})
}

// DeleteKey implements access.KeyStore.
func (db *DB) DeleteKey(ctx context.Context, name string) error {
	return db.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketKeys)
		if b.Get([]byte(name)) == nil {
			return fmt.Errorf("%w: %s", access.ErrNoKey, name)
		}
		return b.Delete([]byte(name))
	})
}
