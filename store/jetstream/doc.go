// Package jetstream implements eventing.Store (and access.KeyStore) on
// NATS JetStream, so that several Herald nodes share one store that
// survives the loss of a node or of a replica. The bbolt store (package
// store) stays the default; both pass store/storetest.
//
// # Layout
//
// With the default prefix "herald":
//
//   - the event log is the stream herald_events (file storage, Replicas
//     copies) on the subjects herald.ev.<topic>, one subject per topic
//     (escaped: letters, digits, '-' and '_' as they are, any other byte
//     as '=' and two hex digits; a topic escaping to more than 256 bytes
//     is "/" and its SHA-256). The stream sequence is the event's
//     sequence number: the same on every node and after restarts, so the
//     MessageIDs made from it are stable. The stream's metadata records
//     herald_schema_version, which Open checks;
//   - subscriptions, subscription keys (deduplication of management
//     subscriptions), delivery state, dead letters, settings and API keys
//     are the KV buckets herald_subscriptions, herald_subscription_keys,
//     herald_delivery_state, herald_dead_letters, herald_settings and
//     herald_keys. Each record carries the id it is stored under.
//
// Open creates what is missing and uses what exists as it is (replicas
// included).
//
// # Reads and consistency
//
// KV buckets are created with direct gets off, so every KV read is
// answered by the bucket's stream leader and sees every acknowledged
// write. The event log allows direct gets, which followers answer too,
// and a follower may lag: ReadEvents uses them for its batches and asks
// the leader before it calls a read complete (see ReadEvents). Watch
// reads the log through one ordered consumer per Store, kept on the
// stream leader and replaced when it stalls (watch.go); the watch of the
// subscriptions is guarded the same way (watchsubs.go).
//
// # Transactions
//
// KV has no multi-key transactions. Each call of eventing.Store is a
// sequence of single-key writes ordered so that a crash half way leaves
// nothing a reader mistakes for live data (see subscriptions.go);
// UpdateSubscription, MarkReplay and delivery-state writes are
// compare-and-set on the key's revision. UpdateSubscription's callback may
// therefore run more than once.
//
// # Durability
//
// Append returns only after the stream acknowledged the event: it is then
// stored on a majority of the stream's replicas. When it reaches the disk
// is the servers' JetStream setting sync_interval, which no stream
// setting overrides (the streams Herald creates keep the default persist
// mode, which writes each message through to the operating system at
// once; the async persist mode would not):
//
//   - sync_interval: always (what Embedded and StartCluster run, and what
//     Herald's documentation asks servers to run) fsyncs before the
//     acknowledgement: on one server each write is fsynced; on a cluster
//     the replicated log is fsynced in batches before it is acknowledged.
//     An acknowledged event survives the power loss of every server.
//   - the default, 2 minutes, fsyncs each file at most that long after it
//     was written. A killed process loses nothing (the data is in the page
//     cache), but a machine that loses power or crashes its kernel may lose
//     the last two minutes of acknowledged writes. On R3 those are still on
//     the other replicas, unless they fail together: Jepsen's analysis of
//     NATS 2.12.1 lost acknowledged writes with this default to
//     coordinated power failures, and to a single node's kernel crash
//     combined with network delays or process pauses. The same analysis
//     found writes lost when data files were truncated or corrupted on a
//     minority of nodes, which sync_interval: always does not prevent.
//
// Ingest with sync_interval: always is slower on one server than on a
// cluster: one server fsyncs every message, a cluster fsyncs its raft log
// once per batch of concurrent publishes.
//
// # Delivery state
//
// The delivery_state bucket holds one record per subscription with work
// pending or a delivery log, and the matched-through position under the
// key "=through" (no subscription's key, see escape). SaveDeliveryStates
// writes the states first, concurrently, and raises the position only
// after every one of them succeeded, as a compare-and-set that never
// moves it back; DeliveryStates reads the position before the states, so
// it never pairs a position with states older than the ones it covered.
// CreateSubscription writes the new subscription's pending state at its
// Start before the subscription record, so that no node's position can
// cover events the subscription was not given.
//
// Fencing follows what a Store has seen. A write (or delete) of a state
// this Store read or wrote is a compare-and-set against that revision: a
// Store whose view is out of date (a node that lost the subscription to
// another) is refused with ErrStale instead of writing an older cursor
// over a newer one. A state this Store never saw (another node created
// it, or wrote it since this Store started) is read first, and written
// against the revision read: refusing it would refuse every first save
// of a subscription created on another node. Two nodes that both believe
// they own a subscription are therefore not kept apart by the store alone:
// the partition leases are (lease.go).
//
// # Several nodes
//
// Subscriptions are hashed into partitions (eventing.PartitionOf), and
// each partition is delivered by the one node that leases it (Leases).
// Each partition has its own matched-through position, the key
// "=through.<p>" (partition.go), beside the single-node "=through". Every
// node reads the whole log (one ordered consumer), knows every
// subscription (WatchSubscriptions brings the other nodes' changes), and
// answers every request; only the holder of a subscription's partition
// matches, delivers, retries, ends it and writes its state. A state write
// by a node that lost the partition is refused by revision (ErrStale) and
// dropped (SavePartitionStates).
package jetstream
