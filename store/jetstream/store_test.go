package jetstream_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/store/jetstream"
	"github.com/herald-eventing/herald/store/storetest"
)

// opener returns an open function for storetest.Run whose every store has
// its own prefix, so one server (or cluster) holds them all.
func opener(urls []string, replicas int) func(t *testing.T) eventing.Store {
	var n atomic.Int64
	return func(t *testing.T) eventing.Store {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		st, err := jetstream.Open(ctx, jetstream.Options{URLs: urls, Replicas: replicas, Prefix: fmt.Sprintf("t%d", n.Add(1))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
}

// reopener is opener for storetest.RunReopen: each storage location is a
// prefix, opened again by a new Store.
func reopener(urls []string, replicas int) func(t *testing.T) func() eventing.Store {
	var n atomic.Int64
	return func(t *testing.T) func() eventing.Store {
		prefix := fmt.Sprintf("r%d", n.Add(1))
		return func() eventing.Store {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			st, err := jetstream.Open(ctx, jetstream.Options{URLs: urls, Replicas: replicas, Prefix: prefix})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		}
	}
}

func TestConformance_Embedded(t *testing.T) {
	s, err := jetstream.Embedded(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	storetest.Run(t, opener([]string{s.URL()}, 0))
	storetest.RunReopen(t, reopener([]string{s.URL()}, 0))
}

func TestConformance_Cluster(t *testing.T) {
	start := time.Now()
	c := cluster(t)
	t.Logf("3-node cluster formed in %v", time.Since(start))
	storetest.Run(t, opener(c.URLs(), 3))
	storetest.RunReopen(t, reopener(c.URLs(), 3))
}

// TestCluster_OpenConcurrently opens three Stores on one fresh cluster at
// once, as three Herald nodes started together do: they race to create
// the same streams and buckets, and all must open.
func TestCluster_OpenConcurrently(t *testing.T) {
	c := cluster(t)
	urls := c.URLs()
	errs := make(chan error, 3)
	for i := range 3 {
		go func() {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			start := time.Now()
			st, err := jetstream.Open(ctx, jetstream.Options{URLs: []string{urls[i]}, Replicas: 3})
			if err == nil {
				t.Logf("node %d opened in %v", i, time.Since(start))
				st.Close()
			}
			errs <- err
		}()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestUnescapeInvertsEscape(t *testing.T) {
	for _, s := range []string{"", "uuid:01a234b7-1e34-71c5-b730-799edda6da1c", "a.b c=d/é", "=", "-_"} {
		got, ok := jetstream.Unescape(jetstream.Escape(s))
		if !ok || got != s {
			t.Errorf("unescape(escape(%q)) = %q, %v", s, got, ok)
		}
	}
	for _, bad := range []string{"=4", "=ZZ", "/abc"} {
		if _, ok := jetstream.Unescape(bad); ok {
			t.Errorf("unescape(%q) decoded", bad)
		}
	}
}
