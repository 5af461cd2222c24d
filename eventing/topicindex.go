package eventing

// A topicIndex files the subscriptions with a topic filter by topic, for
// the matcher. Most topics have one subscription (a subscriber per topic,
// as the Cloud42 flood of issue 12 makes them): those take a map entry of
// one pointer, 24 bytes, where a list took 40 and a backing array. A topic
// with more keeps a list, and subState.topicPos is each one's place in
// it. The Dispatcher's mu guards it.
type topicIndex struct {
	one  map[string]*subState
	many map[string][]*subState
}

func newTopicIndex() topicIndex {
	return topicIndex{one: map[string]*subState{}, many: map[string][]*subState{}}
}

// add files s under topic.
func (x *topicIndex) add(topic string, s *subState) {
	if list, ok := x.many[topic]; ok {
		s.topicPos = int32(len(list))
		x.many[topic] = append(list, s)
		return
	}
	first, ok := x.one[topic]
	if !ok {
		x.one[topic] = s
		return
	}
	delete(x.one, topic)
	first.topicPos, s.topicPos = 0, 1
	x.many[topic] = []*subState{first, s}
}

// remove takes s, if filed under topic, out of the index.
func (x *topicIndex) remove(topic string, s *subState) {
	if x.one[topic] == s {
		delete(x.one, topic)
		return
	}
	list := x.many[topic]
	if int(s.topicPos) >= len(list) || list[s.topicPos] != s {
		return
	}
	last := len(list) - 1
	list[s.topicPos] = list[last]
	list[s.topicPos].topicPos = s.topicPos
	list[last] = nil
	switch last {
	case 1:
		delete(x.many, topic)
		x.one[topic] = list[0]
	default:
		x.many[topic] = list[:last]
	}
}

// appendTo appends the subscriptions filed under topic to dst.
func (x *topicIndex) appendTo(dst []*subState, topic string) []*subState {
	if s, ok := x.one[topic]; ok {
		return append(dst, s)
	}
	return append(dst, x.many[topic]...)
}

// each calls fn with every topic and its subscriptions, in a slice fn
// must not keep.
func (x *topicIndex) each(fn func(topic string, subs []*subState)) {
	one := make([]*subState, 1)
	for t, s := range x.one {
		one[0] = s
		fn(t, one)
	}
	for t, list := range x.many {
		fn(t, list)
	}
}
