package access

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// KeyPrefix starts every key Herald makes, so that a leaked one is easy to
// recognise (secret scanners, logs).
const KeyPrefix = "hk_"

// AdminName is the principal name of the bootstrap admin key
// (HERALD_ADMIN_KEY); no stored key may take it.
const AdminName = "admin"

// A Key is a stored key: everything but the secret, of which only the hash
// is kept.
type Key struct {
	// ID is random and never reused: the owner recorded on the key's
	// subscriptions.
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Role    Role      `json:"role"`
	Topics  []Pattern `json:"topics,omitempty"`
	Hash    []byte    `json:"hash"`
	Created time.Time `json:"created"`
}

// Principal returns the key's principal.
func (k *Key) Principal() *Principal {
	id := k.ID
	if id == "" {
		id = "key:" + k.Name
	}
	return &Principal{Name: k.Name, ID: id, Role: k.Role, Topics: slices.Clone(k.Topics)}
}

// ErrKeyExists is returned by KeyStore.CreateKey for a name already used.
var ErrKeyExists = errors.New("a key with this name exists")

// ErrNoKey is returned (wrapped) for a key name that is not known.
var ErrNoKey = errors.New("no such key")

// A KeyStore persists keys (store.DB implements it on bbolt).
type KeyStore interface {
	// Keys returns every stored key.
	Keys(ctx context.Context) ([]*Key, error)
	// CreateKey stores k; ErrKeyExists if its name is taken.
	CreateKey(ctx context.Context, k *Key) error
	// DeleteKey removes the key named name; ErrNoKey if there is none.
	DeleteKey(ctx context.Context, name string) error
}

// Hash returns the stored form of a key.
func Hash(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

// NewKey returns a new random key.
func NewKey() string {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return KeyPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// CheckName checks a key name: 1 to 64 letters, digits, '.', '_' or '-',
// starting with a letter or digit.
func CheckName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("key name %q: use 1 to 64 letters, digits, '.', '_' or '-'", name)
	}
	return nil
}

// A Keyring authenticates keys: the stored ones, through an in-memory
// index by hash that creation and revocation keep current (a revoked key
// is refused from the next request on), and the bootstrap admin key.
type Keyring struct {
	store KeyStore
	admin []byte // hash of the bootstrap admin key; nil for none
	now   func() time.Time

	mu     sync.RWMutex
	byHash map[[sha256.Size]byte]*Principal
	byName map[string]*Key
}

// NewKeyring loads the stored keys. adminKey, when not empty, is the
// bootstrap admin key (kept only as its hash). now is the clock (time.Now
// when nil).
func NewKeyring(ctx context.Context, st KeyStore, adminKey string, now func() time.Time) (*Keyring, error) {
	if now == nil {
		now = time.Now
	}
	kr := &Keyring{store: st, now: now, byHash: map[[sha256.Size]byte]*Principal{}, byName: map[string]*Key{}}
	if adminKey != "" {
		if len(adminKey) < 16 {
			return nil, errors.New("the admin key is shorter than 16 characters; use a random one (openssl rand -base64 32)")
		}
		kr.admin = Hash(adminKey)
	}
	keys, err := st.Keys(ctx)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		kr.add(k)
	}
	return kr, nil
}

func (kr *Keyring) add(k *Key) {
	var h [sha256.Size]byte
	copy(h[:], k.Hash)
	kr.byHash[h] = k.Principal()
	kr.byName[k.Name] = k
}

// HasAdmin reports whether a bootstrap admin key is configured.
func (kr *Keyring) HasAdmin() bool { return kr.admin != nil }

// Authenticate returns the principal of key, or ErrUnauthenticated.
func (kr *Keyring) Authenticate(key string) (*Principal, error) {
	if key == "" {
		return nil, ErrUnauthenticated
	}
	h := sha256.Sum256([]byte(key))
	if kr.admin != nil && subtle.ConstantTimeCompare(h[:], kr.admin) == 1 {
		return &Principal{Name: AdminName, ID: AdminName, Role: Admin}, nil
	}
	kr.mu.RLock()
	p := kr.byHash[h]
	kr.mu.RUnlock()
	if p == nil {
		return nil, ErrUnauthenticated
	}
	return p, nil
}

// Principal returns the principal of the stored key named name (a client
// certificate's subject maps to it), or nil.
func (kr *Keyring) Principal(name string) *Principal {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	if k := kr.byName[name]; k != nil {
		return k.Principal()
	}
	return nil
}

// Create makes a new key and returns it with its secret, which is shown
// this once. An empty name gets a generated one.
func (kr *Keyring) Create(ctx context.Context, name string, role Role, topics []Pattern) (*Key, string, error) {
	if name == "" {
		var b [4]byte
		rand.Read(b[:])
		name = "key-" + hex.EncodeToString(b[:])
	}
	if err := CheckName(name); err != nil {
		return nil, "", err
	}
	if name == AdminName {
		return nil, "", fmt.Errorf("the name %q is the bootstrap admin key's", AdminName)
	}
	if _, err := ParseRole(string(role)); err != nil {
		return nil, "", err
	}
	if role == Admin && len(topics) > 0 {
		return nil, "", errors.New("an admin key cannot be limited to topics")
	}
	secret := NewKey()
	var idb [16]byte
	rand.Read(idb[:])
	k := &Key{ID: hex.EncodeToString(idb[:]), Name: name, Role: role, Topics: topics, Hash: Hash(secret), Created: kr.now().UTC()}
	kr.mu.Lock()
	defer kr.mu.Unlock()
	if _, dup := kr.byName[name]; dup {
		return nil, "", fmt.Errorf("%w: %s", ErrKeyExists, name)
	}
	if err := kr.store.CreateKey(ctx, k); err != nil {
		return nil, "", err
	}
	kr.add(k)
	return k, secret, nil
}

// Revoke deletes the key named name; it is refused from now on.
func (kr *Keyring) Revoke(ctx context.Context, name string) error {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	k := kr.byName[name]
	if k == nil {
		return fmt.Errorf("%w: %s", ErrNoKey, name)
	}
	if err := kr.store.DeleteKey(ctx, name); err != nil && !errors.Is(err, ErrNoKey) {
		return err
	}
	var h [sha256.Size]byte
	copy(h[:], k.Hash)
	delete(kr.byHash, h)
	delete(kr.byName, name)
	return nil
}

// Keys returns the stored keys, by name.
func (kr *Keyring) Keys() []*Key {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	out := make([]*Key, 0, len(kr.byName))
	for _, k := range kr.byName {
		c := *k
		c.Hash = nil
		out = append(out, &c)
	}
	slices.SortFunc(out, func(a, b *Key) int { return strings.Compare(a.Name, b.Name) })
	return out
}
