package store

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

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
	got, err := decodeSub(encodeSub(&s), interner{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, &s) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, &s)
	}
	// Zero values (no filter, no times) too.
	z := &eventing.Subscription{ID: "uuid:z"}
	if got, err := decodeSub(encodeSub(z), nil); err != nil || !reflect.DeepEqual(got, z) {
		t.Fatalf("zero round trip: %+v, %v", got, err)
	}
}

// Records written as JSON by earlier versions are read.
func TestSubscriptionCodec_ReadsJSON(t *testing.T) {
	s := &eventing.Subscription{ID: "uuid:j", Processor: "soap", Message: "<x/>", Filter: eventing.TopicFilter("t"), Start: 7}
	v, _ := json.Marshal(s)
	got, err := decodeSub(v, nil)
	if err != nil || got.ID != s.ID || got.Topic() != "t" || got.Start != 7 {
		t.Fatalf("JSON record: %+v, %v", got, err)
	}
}

func FuzzDecodeSub(f *testing.F) {
	f.Add(encodeSub(&eventing.Subscription{ID: "uuid:f", Filter: &eventing.FilterSpec{Dialect: "d", Expression: "e", Namespaces: map[string]string{"p": "u"}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		decodeSub(b, interner{}) // must not panic
	})
}

// A lease may end after 2262, where Unix nanoseconds overflow: the record
// keeps the year 9999 (and the zero time) as they were.
func TestSubscriptionCodec_FarTimes(t *testing.T) {
	far := time.Date(9999, 12, 31, 0, 0, 0, 5, time.UTC)
	s := &eventing.Subscription{ID: "uuid:x", Processor: "soap", Expires: far}
	got, err := decodeSub(encodeSub(s), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Expires.Equal(far) || !got.Created.IsZero() {
		t.Fatalf("Expires %v, Created %v; want %v and zero", got.Expires, got.Created, far)
	}
}
