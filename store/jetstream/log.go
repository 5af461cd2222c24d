package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"github.com/herald-eventing/herald/eventing"
	"github.com/herald-eventing/herald/store/eventcodec"
)

// The event log is one stream. An event is one message on the subject
// <prefix>.ev.<escaped topic>; the stream's sequence number is the event's
// sequence number, so it is the same on every node and after a restart,
// and so are the MessageIDs derived from it.

// requestTimeout bounds one request when the caller's context has no
// deadline.
const requestTimeout = 5 * time.Second

// retryFor is how long Append keeps retrying a publish that got no answer.
// It stays well inside the stream's 2-minute duplicate window, so that a
// retry of a publish the stream did store is recognised by its
// Nats-Msg-Id and not stored twice.
const retryFor = 60 * time.Second

func (s *Store) subject(topic string) string { return s.subjPrefix + token(topic) }

// Append implements eventing.EventLog. It publishes the event with a
// fresh Nats-Msg-Id and returns once the stream acknowledged it: then it
// is stored on a majority of the stream's replicas (how durably depends
// on the servers' sync_interval, see the package documentation). A
// publish that gets no answer (a leader election, a lost connection) is
// retried with the same id until ctx ends or a minute has passed; the
// stream's duplicate window makes the retry return the sequence number
// of the first copy if it was stored after all.
//
// Concurrent Appends are pipelined on one connection, and the servers
// batch them into their replication and disk writes: the group commit of
// the bbolt store happens server side.
func (s *Store) Append(ctx context.Context, m *eventing.Message, received time.Time) (*eventing.Event, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	msg := &nats.Msg{Subject: s.subject(m.Topic), Data: eventcodec.Encode(received, m), Header: nats.Header{}}
	opts := []natsjs.PublishOpt{natsjs.WithMsgID(nuid.Next()), natsjs.WithExpectStream(s.streamName)}
	began := time.Now()
	giveUp := began.Add(retryFor)
	wait := 25 * time.Millisecond
	for {
		ack, err := s.js.PublishMsg(ctx, msg, opts...)
		if err == nil {
			s.advanceHead(ack.Sequence)
			if s.onCommit != nil {
				s.onCommit(1, time.Since(began))
			}
			return eventing.NewEvent(ack.Sequence, received.UTC(), *m), nil
		}
		if ctx.Err() != nil || s.closed.Load() || !retryable(err) || time.Now().After(giveUp) {
			return nil, fmt.Errorf("jetstream: append: %w", err)
		}
		s.logger.Warn("append unanswered; retrying", slog.Any("err", err), slog.Duration("wait", wait))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("jetstream: append: %w", ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, time.Second)
	}
}

// retryable reports whether a publish error leaves the outcome unknown or
// is transient: no answer in time, no stream leader yet.
func retryable(err error) bool {
	if errors.Is(err, natsjs.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var apiErr *natsjs.APIError
	return errors.As(err, &apiErr) && apiErr.Code == 503
}

// advanceHead raises the known head to seq. The stream acknowledges (and
// the ordered consumer delivers) a sequence number only when every
// earlier one is stored, so every event up to the head can be read.
func (s *Store) advanceHead(seq uint64) {
	for {
		h := s.head.Load()
		if seq <= h || s.head.CompareAndSwap(h, seq) {
			return
		}
	}
}

// Head implements eventing.EventLog: the last sequence number this node
// knows of, from its own appends and from the events its watcher has seen
// (other nodes' appends reach it a moment later).
func (s *Store) Head() uint64 { return s.head.Load() }

// readBatchMax caps one batch get.
const readBatchMax = 1024

// ReadEvents implements eventing.EventLog with batch direct gets by
// sequence and subject (one subject per topic, so the server's subject
// index finds a topic's events without reading the others).
//
// A direct get may be answered by a follower that has not applied the
// newest events yet. Its answer is a correct prefix of the log, but its
// end is not the log's end, and claiming the head as through would skip
// events. So when a read seems to reach the end before the head, the
// stream leader is asked for the next matching event (one message get);
// only its "none" lets through be the head.
func (s *Store) ReadEvents(ctx context.Context, after uint64, max int, topic string) ([]*eventing.Event, uint64, error) {
	if err := s.check(ctx); err != nil {
		return nil, after, err
	}
	if max <= 0 {
		return nil, after, nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, requestTimeout)
		defer cancel()
	}
	// Every event up to limit is stored: a read may stop there and call
	// it the head.
	limit := s.head.Load()
	filter := s.subjPrefix + ">"
	if topic != "" {
		filter = s.subject(topic)
	}
	var out []*eventing.Event
	keep := func(ev *eventing.Event) bool {
		if ev.Seq > limit {
			return false
		}
		if topic == "" || ev.Topic == topic { // a hashed token could be shared
			out = append(out, ev)
		}
		return true
	}
	// A follower that has not applied this Store's last purge yet would
	// still answer the events it removed.
	next := maxU64(after+1, s.trimmed.Load())
read:
	for len(out) < max && next <= limit {
		want := min(max-len(out), readBatchMax)
		got, err := s.getBatch(ctx, next, want, filter)
		if err != nil {
			if len(out) > 0 {
				// What was read stands, as when the leader does not
				// answer (below).
				return out, out[len(out)-1].Seq, nil
			}
			return nil, after, fmt.Errorf("jetstream: read events: direct get of %d from %d: %w", want, next, err)
		}
		for _, ev := range got {
			if !keep(ev) {
				break read
			}
			next = ev.Seq + 1
		}
		if len(got) == want {
			continue
		}
		// The server that answered had nothing more (or reached its
		// byte limit): ask the leader.
		var ev *eventing.Event
		if s.leaderDeaf.Load() {
			err = fmt.Errorf("the leader is deaf (a test): %w", context.DeadlineExceeded)
		} else {
			ev, err = s.leaderNext(ctx, next, filter)
		}
		if err != nil {
			if len(out) > 0 {
				// The events read are a prefix of the log: they stand,
				// through the last of them, and the caller reads on
				// from there (the leader's answer decides the end
				// later). While the stream's leader does not answer the
				// API (an election, an overloaded API queue: seconds,
				// once over 20 s in the failover test), catching up
				// goes on rather than failing every read whole.
				return out, out[len(out)-1].Seq, nil
			}
			return nil, after, fmt.Errorf("jetstream: read events: the leader's next from %d: %w", next, err)
		}
		if ev == nil || !keep(ev) {
			break
		}
		next = ev.Seq + 1
	}
	if len(out) >= max {
		out = out[:max]
		return out, out[max-1].Seq, nil
	}
	return out, maxU64(after, limit), nil
}

func maxU64(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

// getBatch returns up to n events from seq on, on subjects matching filter.
func (s *Store) getBatch(ctx context.Context, seq uint64, n int, filter string) ([]*eventing.Event, error) {
	it, err := jetstreamext.GetBatch(ctx, s.js, s.streamName, n, jetstreamext.GetBatchSeq(seq), jetstreamext.GetBatchSubject(filter))
	if err != nil {
		return nil, err
	}
	var out []*eventing.Event
	for m, err := range it {
		if errors.Is(err, jetstreamext.ErrNoMessages) {
			break
		}
		if err != nil {
			return nil, err
		}
		ev, err := eventcodec.Decode(m.Sequence, m.Data)
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", m.Sequence, err)
		}
		out = append(out, ev)
	}
	return out, nil
}

// leaderNext returns the first event from seq on with a subject matching
// filter, asked of the stream leader through the JetStream API (not a
// direct get, which a follower may answer); nil when there is none.
func (s *Store) leaderNext(ctx context.Context, seq uint64, filter string) (*eventing.Event, error) {
	m, err := s.leaderGet(ctx, s.streamName, seq, filter)
	if m == nil || err != nil {
		return nil, err
	}
	ev, err := eventcodec.Decode(m.Seq, m.Data)
	if err != nil {
		return nil, fmt.Errorf("event %d: %w", m.Seq, err)
	}
	return ev, nil
}

type storedMsg struct {
	Subject string    `json:"subject"`
	Seq     uint64    `json:"seq"`
	Header  []byte    `json:"hdrs"`
	Data    []byte    `json:"data"`
	Time    time.Time `json:"time"`
}

// leaderGet is the JetStream API's message get ($JS.API.STREAM.MSG.GET),
// which only the stream leader answers: the first message from seq on
// with a subject matching filter, nil when there is none.
func (s *Store) leaderGet(ctx context.Context, stream string, seq uint64, filter string) (*storedMsg, error) {
	req, _ := json.Marshal(struct {
		Seq     uint64 `json:"seq"`
		NextFor string `json:"next_by_subj,omitempty"`
	}{seq, filter})
	reply, err := s.nc.RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET."+stream, req)
	if err != nil {
		return nil, err
	}
	var resp struct {
		Error   *natsjs.APIError `json:"error"`
		Message *storedMsg       `json:"message"`
	}
	if err := json.Unmarshal(reply.Data, &resp); err != nil {
		return nil, fmt.Errorf("message get: %w", err)
	}
	if resp.Error != nil {
		if resp.Error.ErrorCode == natsjs.JSErrCodeMessageNotFound {
			return nil, nil
		}
		return nil, resp.Error
	}
	if resp.Message == nil {
		return nil, errors.New("message get: empty answer")
	}
	return resp.Message, nil
}

// Trim implements eventing.EventLog. The stream is purged below the first
// event that must stay (the first after through, or the first received
// after before), found by reading from the start of the log; the purge
// keeps the stream's last sequence number, so numbering continues after
// every event is gone.
func (s *Store) Trim(ctx context.Context, through uint64, before time.Time) (int, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Minute)
		defer cancel()
	}
	// Read the candidates from the leader's first message on (a follower
	// could miss a message the leader still has only if it were behind,
	// and then it has not got the later ones either: each batch is a
	// prefix of the log).
	n := 0
	var cut uint64 // purge below this sequence
	seq := uint64(1)
	all := s.subjPrefix + ">"
scan:
	for seq <= through {
		got, err := s.getBatch(ctx, seq, min(readBatchMax, int(min(through-seq+1, readBatchMax))), all)
		if err != nil {
			return 0, fmt.Errorf("jetstream: trim: %w", err)
		}
		if len(got) == 0 {
			break
		}
		for _, ev := range got {
			if ev.Seq > through || ev.Received.After(before) {
				break scan
			}
			n++
			cut = ev.Seq + 1
			seq = ev.Seq + 1
		}
	}
	if n == 0 {
		return 0, nil
	}
	if err := s.events.Purge(ctx, natsjs.WithPurgeSequence(cut)); err != nil {
		return 0, fmt.Errorf("jetstream: trim below %d: %w", cut, err)
	}
	raise(&s.trimmed, cut)
	return n, nil
}

// raise moves v up to seq (never down).
func raise(v *atomic.Uint64, seq uint64) {
	for {
		h := v.Load()
		if seq <= h || v.CompareAndSwap(h, seq) {
			return
		}
	}
}
