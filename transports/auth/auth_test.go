package auth_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/herald-eventing/herald/eventing/access"
	"github.com/herald-eventing/herald/transports/auth"
)

type keys struct {
	mu sync.Mutex
	m  map[string]*access.Key
}

func (k *keys) Keys(context.Context) ([]*access.Key, error) { return nil, nil }
func (k *keys) CreateKey(_ context.Context, key *access.Key) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.m[key.Name] = key
	return nil
}
func (k *keys) DeleteKey(context.Context, string) error { return nil }

func TestFromRequest(t *testing.T) {
	kr, err := access.NewKeyring(t.Context(), &keys{m: map[string]*access.Key{}}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, secret, err := kr.Create(t.Context(), "ops", access.Subscriber, nil)
	if err != nil {
		t.Fatal(err)
	}
	cn := ""
	a := &auth.Authenticator{Keyring: kr, ClientSubject: func(*http.Request) (string, bool) { return cn, cn != "" }}
	req := func(authz string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		return r
	}
	basic := func(user, pw string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw)) }
	for _, tt := range []struct {
		name, authz, cn, want string
		err                   bool
	}{
		{name: "bearer", authz: "Bearer " + secret, want: "ops"},
		{name: "bearer, lower-case scheme", authz: "bearer " + secret, want: "ops"},
		{name: "basic, any user", authz: basic("someone", secret), want: "ops"},
		{name: "basic without a colon", authz: "Basic " + base64.StdEncoding.EncodeToString([]byte(secret)), err: true},
		{name: "wrong bearer", authz: "Bearer hk_nope", err: true},
		{name: "unknown scheme", authz: "Negotiate abc", err: true},
		{name: "client certificate naming a key", cn: "ops", want: "ops"},
		{name: "client certificate naming no key", cn: "stranger", err: true},
		{name: "nothing"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cn = tt.cn
			p, err := a.FromRequest(req(tt.authz))
			switch {
			case tt.err:
				if !errors.Is(err, access.ErrUnauthenticated) {
					t.Fatalf("got %v, %v; want ErrUnauthenticated", p, err)
				}
			case tt.want == "":
				if p != nil || err != nil {
					t.Fatalf("got %v, %v; want no principal and no error", p, err)
				}
			case err != nil || p == nil || p.Name != tt.want:
				t.Fatalf("got %v, %v; want %s", p, err, tt.want)
			}
		})
	}
}
