package eventing

// Temporary: replaced by the xpath branch's FilterTopic and FilterEvaluates.

// FilterTopic returns the topic every event f matches must have.
func FilterTopic(f Filter) string {
	if t, ok := f.(topicFilter); ok {
		return string(t)
	}
	return ""
}

// FilterEvaluates reports whether f must be evaluated per event.
func FilterEvaluates(f Filter) bool {
	switch f.(type) {
	case topicFilter, matchAll:
		return false
	}
	return true
}
