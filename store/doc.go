// Package store persists Herald in one bbolt file: subscriptions (by id;
// their identity keys are indexed in memory, see keyindex.go), settings,
// the event log with its topic index, per-subscription delivery state and
// dead letters. It implements eventing.Store.
//
// # Layout
//
// schema.go declares every bucket and key; the meta bucket records the
// schema version, which Open checks.
//
// # Durability
//
// Every write is a bbolt transaction committed with fsync. Appends to the
// event log go through one writer goroutine that drains the waiting
// appends into a single transaction, so many concurrent publishers share
// one disk flush (group commit) without the delay bbolt's Batch adds.
//
// # Compaction
//
// bbolt reuses the pages freed by trimmed events, so under steady load the
// file stops growing, but it never shrinks. To give space back, stop
// Herald and run `herald compact --data DIR`, which copies the live data
// into a fresh file and swaps it in.
package store
