// Package httpapitest starts a whole Herald for tests: a real bbolt file,
// the Service and every URL on an httptest server.
package httpapitest

import (
	"context"
	"sync"
	"testing"
	"time"

	"net/http/httptest"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/eventing/access"
	"github.com/herald-eventing/herald/eventing/presence"
	"github.com/herald-eventing/herald/store"
	"github.com/herald-eventing/herald/transports/httpapi"
	"github.com/herald-eventing/herald/transports/metrics"
	"github.com/herald-eventing/herald/transports/soap"
)

// Herald is a running Herald.
type Herald struct {
	*httptest.Server
	Service *eventing.Service
	DB      *store.DB
	// Dir is the data directory (start another Herald on it to restart).
	Dir string
	// Keyring holds the API keys (with StartAuth, the admin key too).
	Keyring *access.Keyring
	// Presence is the presence tracker (StartPresence), nil otherwise.
	Presence *presence.Tracker

	once sync.Once
}

// Start starts Herald on the bbolt file in dir (a fresh temporary one when
// empty) with o (its Store set here, SOAP SubscriptionEnd sent by default,
// cursors flushed every 10 ms unless o says otherwise). It stops in
// t.Cleanup.
func Start(t testing.TB, dir string, o eventing.Options) *Herald {
	t.Helper()
	return start(t, dir, o, httpapi.Options{}, "", nil)
}

// StartPresence starts Herald as Start does, with a presence tracker fed
// by its log, publishing through the Service and shown at /ui (po's Log,
// Publisher and Clock are set here).
func StartPresence(t testing.TB, dir string, o eventing.Options, po presence.Options) *Herald {
	t.Helper()
	return start(t, dir, o, httpapi.Options{}, "", &po)
}

// StartOptions starts Herald as Start does, with hopts for the HTTP
// options (AllowOrigins); its Service, Logger and Keyring are set here.
func StartOptions(t testing.TB, dir string, o eventing.Options, hopts httpapi.Options) *Herald {
	t.Helper()
	return start(t, dir, o, hopts, "", nil)
}

// StartAuth starts Herald as Start does, with authorization on and
// adminKey as the bootstrap admin key; hopts sets the rest of the HTTP
// options (rate limiters).
func StartAuth(t testing.TB, dir string, o eventing.Options, adminKey string, hopts httpapi.Options) *Herald {
	t.Helper()
	o.Authorize = true
	hopts.Authorize = true
	return start(t, dir, o, hopts, adminKey, nil)
}

func start(t testing.TB, dir string, o eventing.Options, hopts httpapi.Options, adminKey string, po *presence.Options) *Herald {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	m := metrics.New()
	db, err := store.Open(dir, store.Options{NoSync: true, OnCommit: m.Committed})
	if err != nil {
		t.Fatal(err)
	}
	o.Store = db
	if o.Ender == nil {
		o.Ender = &soap.Ender{}
	}
	if o.Dispatcher.FlushInterval == 0 {
		o.Dispatcher.FlushInterval = 10 * time.Millisecond
	}
	if o.Dispatcher.Observer == nil {
		o.Dispatcher.Observer = m
	}
	svc, err := eventing.NewService(t.Context(), o)
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	if err := svc.Start(t.Context()); err != nil {
		db.Close()
		t.Fatal(err)
	}
	kr, err := access.NewKeyring(t.Context(), db, adminKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.Watch(metrics.Options{Service: svc, DBPath: db.Path()})
	var tracker *presence.Tracker
	if po != nil {
		po.Log, po.Publisher, po.Clock = db, svc, svc.Clock()
		if tracker, err = presence.New(*po); err != nil {
			t.Fatal(err)
		}
	}
	hopts.Service, hopts.Logger, hopts.Keyring, hopts.Presence, hopts.Metrics = svc, o.Logger, kr, tracker, m
	h, err := httpapi.New(hopts)
	if err != nil {
		t.Fatal(err)
	}
	hd := &Herald{Server: httptest.NewServer(h), Service: svc, DB: db, Dir: dir, Keyring: kr, Presence: tracker}
	t.Cleanup(hd.Stop)
	return hd
}

// Stop stops Herald (once): the HTTP server, delivery, the file.
func (h *Herald) Stop() {
	h.once.Do(func() {
		h.Service.Drain() // streams and long polls end, so that Close does not wait for them
		h.Server.Close()
		if h.Presence != nil {
			h.Presence.Close()
		}
		h.Service.Shutdown(context.Background())
		h.DB.Close()
	})
}

// Settings returns an eventing.Options.Setting function over a map.
func Settings(m map[string]string) func(string) string {
	return func(name string) string { return m[name] }
}
