package eventing

import (
	"errors"
	"fmt"
	"time"
)

// probeEvent is the costliest message a filter can meet: every element of
// the message schema present. A filter's step count depends on the
// message's nodes, not on the length of their text, so a filter that fits
// its budget on this message fits it on every message.
var probeEvent = NewEvent(1, time.Unix(0, 0).UTC(), Message{
	Topic: "herald.probe", InstanceID: "i-probe", Timestamp: "2026-01-01T00:00:00Z",
	Text: "probe", Info: "probe",
})

// ProbeFilter evaluates f once on the costliest message shape and refuses
// (an ErrInvalidFilter naming the budget) a filter that runs out of its
// evaluation budget there: it would on every full message.
func ProbeFilter(f Filter) error {
	if !FilterEvaluates(f) {
		return nil
	}
	if _, err := f.Match(probeEvent); errors.Is(err, ErrFilterBudget) {
		return invalidFilter(fmt.Sprintf("the filter needs more than %d evaluation steps on a full message (the evaluation budget, DefaultFilterBudget): simplify it", DefaultFilterBudget))
	}
	return nil
}
