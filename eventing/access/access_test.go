package access_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/herald-eventing/herald/eventing/access"
)

func TestPattern_Match(t *testing.T) {
	tests := []struct {
		pattern, topic string
		want           bool
	}{
		{"acc.*", "acc.x", true}, {"acc.*", "acc", false}, {"acc.*", "acc.x.y", false}, {"acc.*", "other.x", false},
		{"acc.>", "acc.x", true}, {"acc.>", "acc.x.y", true}, {"acc.>", "acc", false},
		{">", "anything.at.all", true}, {"*", "one", true}, {"*", "one.two", false},
		{"a.*.c", "a.b.c", true}, {"a.*.c", "a.b.d", false}, {"acc.*", "acc.", false}, {"acc.x", "acc.x", true},
		{"acc.x", "acc.xy", false}, {"*.x", ".x", false},
	}
	for _, tt := range tests {
		p, err := access.ParsePattern(tt.pattern)
		if err != nil {
			t.Fatalf("%s: %v", tt.pattern, err)
		}
		if got := p.Match(tt.topic); got != tt.want {
			t.Errorf("%s matches %q: %v; want %v", tt.pattern, tt.topic, got, tt.want)
		}
	}
	for _, bad := range []string{"", "a..b", "a.>.b", "a*", "a.b>", " . "} {
		if _, err := access.ParsePattern(bad); err == nil {
			t.Errorf("pattern %q accepted", bad)
		}
	}
}

func FuzzPattern_Match(f *testing.F) {
	f.Add("acc.*", "acc.x")
	f.Add("a.>", "a.b.c")
	f.Fuzz(func(t *testing.T, pattern, topic string) {
		p, err := access.ParsePattern(pattern)
		if err != nil {
			return
		}
		if p.Match(topic) && !strings.ContainsAny(pattern, "*>") && string(p) != topic {
			t.Fatalf("literal pattern %q matches %q", p, topic)
		}
	})
}

type memKeys struct {
	mu   sync.Mutex
	keys map[string]*access.Key
}

func (m *memKeys) Keys(context.Context) ([]*access.Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*access.Key
	for _, k := range m.keys {
		out = append(out, k)
	}
	return out, nil
}
func (m *memKeys) CreateKey(_ context.Context, k *access.Key) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.keys[k.Name] != nil {
		return access.ErrKeyExists
	}
	m.keys[k.Name] = k
	return nil
}
func (m *memKeys) DeleteKey(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.keys, name)
	return nil
}

func TestKeyring(t *testing.T) {
	st := &memKeys{keys: map[string]*access.Key{}}
	kr, err := access.NewKeyring(t.Context(), st, "bootstrap-admin-key-1234", nil)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := kr.Authenticate("bootstrap-admin-key-1234"); err != nil || !p.IsAdmin() {
		t.Fatalf("bootstrap admin: %v %v", p, err)
	}
	pats, _ := access.ParsePatterns("acc.*")
	k, secret, err := kr.Create(t.Context(), "pub", access.Publisher, pats)
	if err != nil {
		t.Fatal(err)
	}
	if len(secret) < 22 || strings.Contains(string(st.keys["pub"].Hash), secret) || k.Name != "pub" {
		t.Fatalf("key %q, stored %+v", secret, st.keys["pub"])
	}
	p, err := kr.Authenticate(secret)
	if err != nil || p.Name != "pub" || p.CanPublish("acc.x") != nil || p.CanPublish("b.x") == nil || p.CanSubscribe("acc.x") == nil {
		t.Fatalf("principal %+v, %v", p, err)
	}
	// A second keyring over the same store knows the key: it is persisted.
	kr2, _ := access.NewKeyring(t.Context(), st, "", nil)
	if _, err := kr2.Authenticate(secret); err != nil {
		t.Fatalf("a reloaded keyring refuses the key: %v", err)
	}
	if _, _, err := kr.Create(t.Context(), "pub", access.Subscriber, nil); !errors.Is(err, access.ErrKeyExists) {
		t.Fatalf("duplicate name: %v", err)
	}
	if _, _, err := kr.Create(t.Context(), access.AdminName, access.Admin, nil); err == nil {
		t.Fatal("a stored key took the bootstrap admin's name")
	}
	if err := kr.Revoke(t.Context(), "pub"); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Authenticate(secret); !errors.Is(err, access.ErrUnauthenticated) {
		t.Fatalf("revoked key: %v", err)
	}
	if _, err := access.NewKeyring(t.Context(), st, "short", nil); err == nil {
		t.Fatal("a 5-character admin key accepted")
	}
}
