package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/herald-eventing/herald/eventing/access"
)

// Setting implements eventing.SettingStore.
func (s *Store) Setting(ctx context.Context, key string) (string, error) {
	if err := s.check(ctx); err != nil {
		return "", err
	}
	e, err := s.settings.kv.Get(ctx, token(key))
	if isNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("jetstream: setting %s: %w", key, err)
	}
	return string(e.Value()), nil
}

// SetSetting implements eventing.SettingStore.
func (s *Store) SetSetting(ctx context.Context, key, value string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if _, err := s.settings.kv.Put(ctx, token(key), []byte(value)); err != nil {
		return fmt.Errorf("jetstream: set setting %s: %w", key, err)
	}
	return nil
}

// Keys implements access.KeyStore.
func (s *Store) Keys(ctx context.Context) ([]*access.Key, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	var out []*access.Key
	err := s.keys.list(ctx, s, ">", func(e entry) error {
		var k access.Key
		if err := json.Unmarshal(e.value, &k); err != nil {
			return fmt.Errorf("jetstream: key %q: %w", e.key, err)
		}
		out = append(out, &k)
		return nil
	})
	return out, err
}

// CreateKey implements access.KeyStore.
func (s *Store) CreateKey(ctx context.Context, k *access.Key) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	v, err := json.Marshal(k)
	if err != nil {
		return err
	}
	if _, err := s.keys.kv.Create(ctx, token(k.Name), v); err != nil {
		if errors.Is(err, natsjs.ErrKeyExists) {
			return fmt.Errorf("%w: %s", access.ErrKeyExists, k.Name)
		}
		return fmt.Errorf("jetstream: create key %s: %w", k.Name, err)
	}
	return nil
}

// DeleteKey implements access.KeyStore.
func (s *Store) DeleteKey(ctx context.Context, name string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	e, err := s.keys.kv.Get(ctx, token(name))
	if isNotFound(err) {
		return fmt.Errorf("%w: %s", access.ErrNoKey, name)
	}
	if err != nil {
		return fmt.Errorf("jetstream: delete key %s: %w", name, err)
	}
	if err := s.keys.purge(ctx, token(name), e.Revision()); err != nil {
		return fmt.Errorf("jetstream: delete key %s: %w", name, err)
	}
	return nil
}
