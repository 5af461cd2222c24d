package eventing

import "sync"

// workQueue is an unbounded FIFO of subscriptions waiting for a worker.
// Each subscription is in it at most once (subState.scheduled), so it never
// holds more entries than there are subscriptions.
type workQueue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	items  []*subState
	head   int
	closed bool
}

func (q *workQueue) init() { q.cond = sync.NewCond(&q.mu) }

func (q *workQueue) push(s *subState) {
	q.mu.Lock()
	if !q.closed {
		q.items = append(q.items, s)
		q.cond.Signal()
	}
	q.mu.Unlock()
}

// pop blocks until an entry is available; false after close.
func (q *workQueue) pop() (*subState, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.head == len(q.items) && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		return nil, false
	}
	s := q.items[q.head]
	q.items[q.head] = nil
	q.head++
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	} else if q.head > 1024 && q.head*2 > len(q.items) {
		n := copy(q.items, q.items[q.head:])
		q.items, q.head = q.items[:n], 0
	}
	return s, true
}

func (q *workQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.cond.Broadcast()
	q.mu.Unlock()
}
