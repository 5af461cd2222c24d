package eventing

import (
	"slices"
	"testing"
)

// check compares what the index files under each topic with want (in any
// order), and each list entry's topicPos with its place.
func (x *topicIndex) check(t *testing.T, want map[string][]*subState) {
	t.Helper()
	got := map[string][]*subState{}
	x.each(func(topic string, subs []*subState) { got[topic] = append([]*subState(nil), subs...) })
	for topic, w := range want {
		g := x.appendTo(nil, topic)
		if !sameSet(g, w) || !sameSet(got[topic], w) {
			t.Errorf("topic %s: appendTo %d, each %d subscriptions; want %d", topic, len(g), len(got[topic]), len(w))
		}
		if len(w) == 0 && (len(got[topic]) > 0 || x.one[topic] != nil) {
			t.Errorf("topic %s is still filed", topic)
		}
	}
	for topic, list := range x.many {
		if len(list) < 2 {
			t.Errorf("topic %s keeps a list of %d", topic, len(list))
		}
		for i, s := range list {
			if int(s.topicPos) != i {
				t.Errorf("topic %s: %s at %d has topicPos %d", topic, s.id, i, s.topicPos)
			}
		}
	}
}

func sameSet(a, b []*subState) bool {
	return len(a) == len(b) && !slices.ContainsFunc(a, func(s *subState) bool { return !slices.Contains(b, s) })
}

func TestTopicIndex_OneThenManyThenOne(t *testing.T) {
	x := newTopicIndex()
	a, b, c, o := &subState{id: "a"}, &subState{id: "b"}, &subState{id: "c"}, &subState{id: "o"}
	x.add("t", a)
	x.add("u", o)
	x.check(t, map[string][]*subState{"t": {a}, "u": {o}})
	x.add("t", b)
	x.add("t", c)
	x.check(t, map[string][]*subState{"t": {a, b, c}, "u": {o}})
	x.remove("t", a)
	x.check(t, map[string][]*subState{"t": {b, c}, "u": {o}})
	x.remove("u", a) // not filed there: nothing changes
	x.remove("t", o)
	x.check(t, map[string][]*subState{"t": {b, c}, "u": {o}})
	x.remove("t", c)
	x.check(t, map[string][]*subState{"t": {b}, "u": {o}})
	x.add("t", a)
	x.check(t, map[string][]*subState{"t": {a, b}, "u": {o}})
	x.remove("t", a)
	x.remove("t", b)
	x.remove("u", o)
	x.check(t, map[string][]*subState{"t": nil, "u": nil})
	if len(x.one) != 0 || len(x.many) != 0 {
		t.Errorf("empty index keeps %d, %d entries", len(x.one), len(x.many))
	}
}
