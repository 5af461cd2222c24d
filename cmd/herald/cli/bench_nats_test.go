package cli

import (
	"testing"
	"time"
)

// A pause is counted in the window it ends in, so that the pause of a
// stopped server (which begins in the step-down's window, with its last
// acknowledgement) is not the step-down's too.
func TestAckLog_PauseOfItsWindow(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	var a ackLog
	for _, ms := range []int{0, 10, 20, 150, 160, 170, 5190, 5200} {
		a.at = append(a.at, at(ms))
	}
	step, stop, end := at(15), at(175), at(6000)
	if got, want := a.pause(step, stop), 130*time.Millisecond; got != want {
		t.Errorf("step-down window: %v; want %v", got, want)
	}
	if got, want := a.pause(stop, end), 5020*time.Millisecond; got != want {
		t.Errorf("stop window: %v; want %v", got, want)
	}
}
