package store

import (
	"encoding/binary"
	"encoding/json"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/herald-eventing/herald/eventing"
)

// fill sets every field of the struct v points to a value that is not its
// zero value, and fails for a kind it does not know (a new kind of field
// the codec must learn).
func fill(t *testing.T, v reflect.Value, seed int) {
	t.Helper()
	for i := range v.NumField() {
		f, name := v.Field(i), v.Type().Field(i).Name
		switch {
		case f.Type() == reflect.TypeOf(time.Time{}):
			f.Set(reflect.ValueOf(time.Unix(1_800_000_000+int64(seed+i), int64(i)).UTC()))
		case f.Kind() == reflect.String:
			f.SetString(name + "-value")
		case f.Kind() == reflect.Uint64:
			f.SetUint(uint64(1000 + seed + i))
		case f.Kind() == reflect.Map && f.Type().Key().Kind() == reflect.String && f.Type().Elem().Kind() == reflect.String:
			f.Set(reflect.ValueOf(map[string]string{"a": "urn:a", "b": "urn:b"}))
		case f.Kind() == reflect.Pointer && f.Type().Elem().Kind() == reflect.Struct:
			p := reflect.New(f.Type().Elem())
			fill(t, p.Elem(), seed+i)
			f.Set(p)
		default:
			t.Fatalf("field %s.%s (%s): the subscription codec does not know this kind of field", v.Type().Name(), name, f.Type())
		}
	}
}

// Every field of a subscription survives the binary record: this fails
// when eventing.Subscription or FilterSpec gains a field subcodec.go does
// not write.
func TestSubscriptionCodec_EveryField(t *testing.T) {
	var s eventing.Subscription
	fill(t, reflect.ValueOf(&s).Elem(), 0)
	got, err := decodeSub([]byte(s.ID), encodeSub(&s), interner{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, &s) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, &s)
	}
	// Zero values (no filter, no times) too.
	z := &eventing.Subscription{ID: "uuid:z"}
	if got, err := decodeSub([]byte(z.ID), encodeSub(z), nil); err != nil || !reflect.DeepEqual(got, z) {
		t.Fatalf("zero round trip: %+v, %v", got, err)
	}
}

// Records written as JSON by earlier versions are read.
func TestSubscriptionCodec_ReadsJSON(t *testing.T) {
	s := &eventing.Subscription{ID: "uuid:j", Processor: "soap", Message: "<x/>", Filter: eventing.TopicFilter("t"), Start: 7}
	v, _ := json.Marshal(s)
	got, err := decodeSub([]byte(s.ID), v, nil)
	if err != nil || got.ID != s.ID || got.Topic() != "t" || got.Start != 7 {
		t.Fatalf("JSON record: %+v, %v", got, err)
	}
}

func FuzzDecodeSub(f *testing.F) {
	f.Add(encodeSub(&eventing.Subscription{ID: "uuid:f", Filter: &eventing.FilterSpec{Dialect: "d", Expression: "e", Namespaces: map[string]string{"p": "u"}}}))
	f.Add(encodeSubV1ForTest(&eventing.Subscription{ID: "uuid:f", Message: "<x/>"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		decodeSub([]byte("uuid:f"), b, interner{}) // must not panic
		decodeSubTrimmed([]byte("uuid:f"), b, interner{})
	})
}

// Any Message, Manager and EndTo read back as they were written: packed in
// place and moved behind a length of one or more bytes, or stored raw.
func FuzzSubscriptionCodec_RoundTrip(f *testing.F) {
	s := seedSubscription()
	f.Add(s.Message, s.Manager, "")
	f.Add(strings.Repeat(`xmlns:wsa="http://www.w3.org/2005/08/addressing"`, 40), "http://", "\x01")
	f.Fuzz(func(t *testing.T, msg, manager, endTo string) {
		in := &eventing.Subscription{ID: "uuid:f", Processor: "soap", Message: msg, Manager: manager, EndTo: endTo}
		got, err := decodeSub([]byte(in.ID), encodeSub(in), nil)
		if err != nil || got.Message != msg || got.Manager != manager || got.EndTo != endTo {
			t.Fatalf("read back %+v, %v; want Message %q, Manager %q, EndTo %q", got, err, msg, manager, endTo)
		}
	})
}

// A lease may end after 2262, where Unix nanoseconds overflow: the record
// keeps the year 9999 (and the zero time) as they were.
func TestSubscriptionCodec_FarTimes(t *testing.T) {
	far := time.Date(9999, 12, 31, 0, 0, 0, 5, time.UTC)
	s := &eventing.Subscription{ID: "uuid:x", Processor: "soap", Expires: far}
	got, err := decodeSub([]byte(s.ID), encodeSub(s), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Expires.Equal(far) || !got.Created.IsZero() {
		t.Fatalf("Expires %v, Created %v; want %v and zero", got.Expires, got.Created, far)
	}
}

// encodeSubV1ForTest writes s as subRecordV1 (what files of the previous
// version hold).
func encodeSubV1ForTest(s *eventing.Subscription) []byte {
	b := []byte{subRecordV1}
	str := func(v string) {
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	tm := func(t time.Time) {
		if t.IsZero() {
			b = append(b, 0)
			return
		}
		b = append(b, 1)
		b = binary.AppendVarint(b, t.Unix())
		b = binary.AppendUvarint(b, uint64(t.Nanosecond()))
	}
	str(s.ID)
	str(s.Processor)
	str(s.Message)
	str(s.Secret)
	if f := s.Filter; f == nil {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		str(f.Dialect)
		str(f.Expression)
		b = binary.AppendUvarint(b, uint64(len(f.Namespaces)))
		for _, k := range slices.Sorted(maps.Keys(f.Namespaces)) {
			str(k)
			str(f.Namespaces[k])
		}
	}
	str(s.EndTo)
	str(s.Manager)
	str(s.AddressingNS)
	str(s.EventingNS)
	tm(s.Expires)
	tm(s.Created)
	b = binary.AppendUvarint(b, s.Start)
	str(s.Key)
	str(s.Owner)
	return b
}

// Records of the previous binary form (subRecordV1) are read.
func TestSubscriptionCodec_ReadsV1(t *testing.T) {
	var s eventing.Subscription
	fill(t, reflect.ValueOf(&s).Elem(), 3)
	got, err := decodeSub([]byte("ignored: v1 holds its id"), encodeSubV1ForTest(&s), interner{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, &s) {
		t.Fatalf("v1 record:\n got %+v\nwant %+v", got, &s)
	}
}

// decodeSubTrimmed gives every record form (v2, v1, JSON) as decodeSub
// does, without Message, Secret, EndTo and Key.
func TestSubscriptionCodec_Trimmed(t *testing.T) {
	var s eventing.Subscription
	fill(t, reflect.ValueOf(&s).Elem(), 5)
	want := s
	want.Message, want.Secret, want.EndTo, want.Key = "", "", "", ""
	js, _ := json.Marshal(&s)
	for name, v := range map[string][]byte{"v2": encodeSub(&s), "v1": encodeSubV1ForTest(&s), "json": js} {
		got, err := decodeSubTrimmed([]byte(s.ID), v, interner{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !got.Expires.Equal(want.Expires) || !got.Created.Equal(want.Created) {
			t.Fatalf("%s: times %v, %v; want %v, %v", name, got.Expires, got.Created, want.Expires, want.Created)
		}
		got.Expires, got.Created = want.Expires, want.Created
		if !reflect.DeepEqual(got, &want) {
			t.Fatalf("%s trimmed:\n got %+v\nwant %+v", name, got, &want)
		}
	}
}

// seedSubscription is what the Cloud42 seed request's subscription holds
// (a management subscription over SOAP, its identity key a SHA-256).
func seedSubscription() *eventing.Subscription {
	return &eventing.Subscription{
		ID: "uuid:01a234be-f722-7ad2-a074-9bdb1a3809fd", Processor: "soap",
		Message: `<wse:Subscribe xmlns:wse="http://schemas.xmlsoap.org/ws/2004/08/eventing"><wse:Delivery><wse:NotifyTo>` +
			`<wsa:Address xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing">http://127.0.0.1:9/s/98</wsa:Address>` +
			`</wse:NotifyTo></wse:Delivery></wse:Subscribe>`,
		Filter:       eventing.TopicFilter("acc9-98"),
		Manager:      "http://127.0.0.1:23375/subscriptions",
		AddressingNS: "http://schemas.xmlsoap.org/ws/2004/08/addressing",
		Created:      time.Unix(1_800_000_000, 123456789).UTC(), Start: 12345,
		Key: "0faa3b8ac4f352ccf14d3cdaf7d37b808da09f9d8d81569f28850f30d4a7d539",
	}
}

// A subscription's record leaves out its id (the record's key) and packs
// the namespaces, the elements of a wse:Subscribe and its identity key:
// the seed's subscription, 550 bytes as subRecordV1, takes at most 160.
func TestSubscriptionCodec_SeedRecordIsSmall(t *testing.T) {
	s := seedSubscription()
	v := encodeSub(s)
	if len(v) > 160 {
		t.Fatalf("the seed subscription's record is %d bytes (v1: %d); want at most 160", len(v), len(encodeSubV1ForTest(s)))
	}
	got, err := decodeSub([]byte(s.ID), v, nil)
	if err != nil || !reflect.DeepEqual(got, s) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
}

// Strings that hold the bytes the packed form uses as codes, and keys
// that are not lowercase hexadecimal, are stored as they are.
func TestSubscriptionCodec_UnpackableStrings(t *testing.T) {
	s := seedSubscription()
	s.Message = "\x01<wsa:Address \x02http://x"
	s.Manager = "http://h/subscriptions\x1f"
	s.Key = "0FAA3B"
	s.Owner = "abc" // odd length: not hexadecimal bytes
	s.Filter.Namespaces = map[string]string{"p": "http://www.w3.org/2005/08/addressing", "q": "\x00"}
	got, err := decodeSub([]byte(s.ID), encodeSub(s), interner{})
	if err != nil || !reflect.DeepEqual(got, s) {
		t.Fatalf("round trip:\n got %+v, %v\nwant %+v", got, err, s)
	}
}

// A file of schema version 1 opens as the current version, and its
// subRecordV1 records are read beside the new ones, keys included.
func TestOpen_UpgradesSchemaVersion1(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	db, err := Open(dir, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	old := seedSubscription()
	old.ID = "uuid:old"
	if err := ForceSchemaVersionForTest(path, "1"); err != nil {
		t.Fatal(err)
	}
	if err := PutForTest(path, string(bucketSubscriptions), old.ID, string(encodeSubV1ForTest(old))); err != nil {
		t.Fatal(err)
	}
	db, err = Open(dir, Options{NoSync: true})
	if err != nil {
		t.Fatalf("open of a version 1 file: %v", err)
	}
	defer db.Close()
	// The old record's key is indexed: the same key finds it.
	if ex, err := db.CreateSubscription(t.Context(), seedSubscription()); err != nil || ex == nil || ex.ID != old.ID {
		t.Fatalf("create with the old record's key returned %v, %v; want the existing %s", ex, err, old.ID)
	}
	fresh := seedSubscription()
	fresh.Key = "another"
	if ex, err := db.CreateSubscription(t.Context(), fresh); err != nil || ex != nil {
		t.Fatalf("create: %v, %v", ex, err)
	}
	var ids []string
	if err := db.Subscriptions(t.Context(), func(s *eventing.Subscription) error {
		ids = append(ids, s.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got, err := db.Subscription(t.Context(), old.ID); err != nil || got.Message != old.Message || len(ids) != 2 {
		t.Fatalf("after the upgrade: %+v, %v; all: %v", got, err, ids)
	}
	var v string
	db.bolt.View(func(tx *bolt.Tx) error { v = string(tx.Bucket(bucketMeta).Get(keySchemaVersion)); return nil })
	if v != SchemaVersion {
		t.Fatalf("schema version after open %q; want %s", v, SchemaVersion)
	}
}

// appendPacked writes what packer.Replace returns, on strings made of
// packWords, their pieces and other text.
func TestAppendPacked_AsReplacer(t *testing.T) {
	pieces := append(append([]string{}, packWords...), "x", "<", "http", "http:/", "</wse:", " ", "\n  ", "/subscription", "é")
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		var sb strings.Builder
		for range rng.IntN(12) {
			p := pieces[rng.IntN(len(pieces))]
			if rng.IntN(4) == 0 {
				p = p[:rng.IntN(len(p)+1)]
			}
			sb.WriteString(p)
		}
		v := sb.String()
		want := packer.Replace(v)
		if got := string(appendPacked([]byte("pre"), v)); got != "pre"+want {
			t.Fatalf("appendPacked(%q) = %q; want %q", v, got[3:], want)
		}
	}
}

// BenchmarkPack packs the seed subscription's Message: appendPacked
// against the strings.Replacer it replaced.
func BenchmarkPack(b *testing.B) {
	v := seedSubscription().Message
	b.Run("appendPacked", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 512)
		for b.Loop() {
			buf = appendPacked(buf[:0], v)
		}
	})
	b.Run("Replacer", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 512)
		for b.Loop() {
			buf = append(buf[:0], packer.Replace(v)...)
		}
	})
}

// BenchmarkEncodeSub encodes the seed subscription's record, as every
// subscribe does.
func BenchmarkEncodeSub(b *testing.B) {
	s := seedSubscription()
	b.ReportAllocs()
	for b.Loop() {
		encodeSub(s)
	}
}
