package store

// SchemaVersion is the on-disk layout version written to the meta bucket.
// Version 2 writes subscription records as subRecordV2, which version 1
// cannot read; version 3 has no subscriptions_by_key bucket (the index of
// identity keys is built in memory from the records, see keyindex.go), so
// a version 2 Herald would find no subscription by its key, and it stores
// most delivery states in a short form (statecodec.go). Open upgrades
// a file of an earlier version (whose records it reads) by dropping what
// the new version does not keep and writing the new version.
const SchemaVersion = "3"

// upgradable lists the earlier versions Open upgrades to SchemaVersion.
var upgradable = []string{"1", "2"}

// FileName is the name of the database file inside the data directory.
const FileName = "herald.db"

// Buckets. Every bucket Herald uses is declared here and created by Open.
var (
	// bucketMeta holds keySchemaVersion, keyLastSeq, keyIndexedThrough and
	// keyMatchedThrough.
	bucketMeta = []byte("meta")
	// bucketSubscriptions maps a subscription id to its record (the
	// binary form of subcodec.go; JSON in files written before it).
	bucketSubscriptions = []byte("subscriptions")
	// bucketSettings maps a setting name to its value.
	bucketSettings = []byte("settings")
	// bucketEvents maps a big-endian sequence number to an encoded event.
	bucketEvents = []byte("events")
	// bucketEventsByTopic maps topic 0x00 big-endian sequence to nothing;
	// written behind the log by the indexer (see log.go).
	bucketEventsByTopic = []byte("events_by_topic")
	// bucketDeliveryState maps a subscription id to its delivery state
	// (JSON, or from version 3 the short form of statecodec.go).
	bucketDeliveryState = []byte("delivery_state")
	// bucketDeadLetters maps id 0x00 big-endian sequence to a JSON dead letter.
	bucketDeadLetters = []byte("dead_letters")
	// bucketKeys maps an API key's name to its JSON record (role, topic
	// patterns, the SHA-256 of the key; never the key itself).
	bucketKeys = []byte("keys")
)

// allBuckets lists the buckets Open creates.
var allBuckets = [][]byte{
	bucketMeta, bucketSubscriptions,
	bucketSettings, bucketEvents, bucketEventsByTopic, bucketDeliveryState, bucketDeadLetters, bucketKeys,
}

// droppedBuckets lists the buckets of earlier versions that Open deletes:
//   - subscriptions_by_topic mapped topic 0x00 id to nothing. Nothing read
//     it but tests, while every subscribe wrote a random page of it (a
//     third of a subscription's share of the file and of its commit).
//   - subscriptions_by_key (up to version 2) mapped an identity key to the
//     id; the keys are hashes, so every subscribe wrote a random page of it
//     (see keyindex.go, which replaces it).
var droppedBuckets = [][]byte{[]byte("subscriptions_by_topic"), []byte("subscriptions_by_key")}

// Keys in bucketMeta.
var (
	keySchemaVersion = []byte("schema_version")
	// keyLastSeq records the last sequence number when Trim runs, so that
	// the sequence continues after every event was trimmed (otherwise the
	// last key of the events bucket is the head).
	keyLastSeq = []byte("last_seq")
	// keyIndexedThrough is the last sequence number the topic index
	// covers; events after it are found by scanning the log.
	keyIndexedThrough = []byte("indexed_through")
	// keyMatchedThrough is the dispatcher's matched-through position: the
	// delivery position of every subscription without a pending state
	// (eventing.StateStore).
	keyMatchedThrough = []byte("matched_through")
)
