package eventing

// Replay: dead letters an operator sends back for delivery.

// Replay queues dead letters of subscription id for delivery ahead of its
// new events (those already queued are skipped), and wakes a subscription
// parked until its next retry: the replayed letters are due now.
func (d *Dispatcher) Replay(id string, dls []*DeadLetter) {
	s := d.state(id)
	if s == nil {
		return
	}
	s.mu.Lock()
	for _, dl := range dls {
		dup := false
		for _, e := range s.replay {
			dup = dup || e.Seq == dl.Seq
		}
		if !dup {
			s.replay = append(s.replay, dl.Event())
		}
	}
	s.mu.Unlock()
	d.wake(s)
}
