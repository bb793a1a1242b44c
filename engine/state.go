package engine

import "math"

// expiry is one entry of a time-ordered queue: key expires at at.
type expiry struct {
	key uint64
	at  int64
}

func (x expiry) when() int64 { return x.at }

// fifo is a queue of entries pushed with non-decreasing times (the engine
// clock never goes back and each queue has one period), so the oldest is
// always at the head: no heap needed. It is kept in blocks of fifoBlock
// entries, so a queue of millions of pending timers costs its entries and
// no spare half-slice from append's doubling.
type fifo[T interface{ when() int64 }] struct {
	blocks [][]T
	head   int // next entry of blocks[0]
	n      int
}

const fifoBlock = 4096

// next returns when the head is due, math.MaxInt64 when the queue is empty.
func (q *fifo[T]) next() int64 {
	if q.n == 0 {
		return math.MaxInt64
	}
	return q.blocks[0][q.head].when()
}

func (q *fifo[T]) push(x T) {
	last := len(q.blocks) - 1
	if last < 0 || len(q.blocks[last]) == fifoBlock {
		q.blocks = append(q.blocks, make([]T, 0, fifoBlock))
		last++
	}
	q.blocks[last] = append(q.blocks[last], x)
	q.n++
}

// due pops and returns the head when it is due at or before now.
func (q *fifo[T]) due(now int64) (T, bool) {
	var zero T
	if q.n == 0 || q.blocks[0][q.head].when() > now {
		return zero, false
	}
	x := q.blocks[0][q.head]
	q.blocks[0][q.head] = zero // let the GC have what the entry held
	q.head++
	q.n--
	if q.head == len(q.blocks[0]) {
		if len(q.blocks) == 1 {
			q.blocks[0], q.head = q.blocks[0][:0], 0
		} else if q.head == fifoBlock {
			q.blocks[0] = nil
			q.blocks, q.head = q.blocks[1:], 0
		}
	}
	return x, true
}

// live returns the queued entries in order (a copy).
func (q *fifo[T]) live() []T {
	out := make([]T, 0, q.n)
	for i, b := range q.blocks {
		if i == 0 {
			b = b[q.head:]
		}
		out = append(out, b...)
	}
	return out
}

// dedupSet remembers event identities for the dedup horizon.
type dedupSet struct {
	horizon int64
	ids     table[struct{}] // the identities; when each expires is in queue
	queue   fifo[expiry]
}

// seen records key at now and reports whether it was already there.
func (d *dedupSet) seen(key uint64, now int64) bool {
	if d.ids.add(key, struct{}{}) {
		return true
	}
	d.queue.push(expiry{key, now + d.horizon})
	return false
}

func (d *dedupSet) expire(now int64) {
	for {
		x, ok := d.queue.due(now)
		if !ok {
			return
		}
		d.ids.delete(x.key)
	}
}

// limiter caps firings per key and period: a sliding log of firing times
// per key. The usual limit, one firing per key and period, keeps one time
// per key in a table (last) rather than a list in a map.
type limiter struct {
	max   int
	per   int64
	times map[uint64][]int64 // max > 1: the firing times within per, oldest first
	last  table[int64]       // max == 1: the firing time within per
	queue fifo[expiry]
}

func newLimiter(l *limit) *limiter {
	if l == nil {
		return nil
	}
	return &limiter{max: l.max, per: int64(l.per), times: map[uint64][]int64{}}
}

// allow records a firing for key at now unless max firings already happened
// within the period.
func (l *limiter) allow(key uint64, now int64) bool {
	if l.max == 1 {
		p, present := l.last.ref(key)
		if present && *p > now-l.per {
			return false
		}
		*p = now
		l.queue.push(expiry{key, now + l.per})
		return true
	}
	ts := l.times[key]
	for len(ts) > 0 && ts[0] <= now-l.per {
		ts = ts[1:]
	}
	if len(ts) >= l.max {
		l.times[key] = ts
		return false
	}
	l.times[key] = append(ts, now)
	l.queue.push(expiry{key, now + l.per})
	return true
}

// keys returns how many keys the limiter remembers.
func (l *limiter) keys() int {
	if l.max == 1 {
		return l.last.len()
	}
	return len(l.times)
}

// sorted returns the keys and their firing times in key order (snapshots).
func (l *limiter) sorted() ([]uint64, [][]int64) {
	if l.max == 1 {
		all := l.last.sorted()
		keys, times := make([]uint64, len(all)), make([][]int64, len(all))
		for i, s := range all {
			keys[i], times[i] = s.k, []int64{s.v}
		}
		return keys, times
	}
	keys := sortedKeys64(l.times)
	times := make([][]int64, len(keys))
	for i, k := range keys {
		times[i] = l.times[k]
	}
	return keys, times
}

// load puts back a key's firing times from a snapshot.
func (l *limiter) load(k uint64, ts []int64) {
	switch {
	case l.max != 1:
		l.times[k] = ts
	case len(ts) > 0:
		l.last.set(k, ts[len(ts)-1])
	}
}

func (l *limiter) expire(now int64) {
	for {
		x, ok := l.queue.due(now)
		if !ok {
			return
		}
		if l.max == 1 {
			if t, ok := l.last.get(x.key); ok && t <= now-l.per {
				l.last.delete(x.key)
			}
			continue
		}
		ts := l.times[x.key]
		for len(ts) > 0 && ts[0] <= now-l.per {
			ts = ts[1:]
		}
		if len(ts) == 0 {
			delete(l.times, x.key)
		} else {
			l.times[x.key] = ts
		}
	}
}

// base is what every runner has: its rule, its limiter, and a count of
// its firings at the current instant, which keeps ids unique when a rule
// fires twice at one time.
type base struct {
	r      *Rule
	st     RuleStats // the rule's counters: kept with its state
	lim    *limiter
	lastAt int64
	nAt    uint64
}

// instant numbers the rule's firings at time now: 1, 2, … per instant.
func (b *base) instant(now int64) uint64 {
	if now != b.lastAt {
		b.lastAt, b.nAt = now, 0
	}
	b.nAt++
	return b.nAt
}

func (b *base) rule() *Rule     { return b.r }
func (b *base) state() *base    { return b }
func (b *base) setRule(r *Rule) { b.r = r }

// expireLimit forgets firings older than the limit's period.
func (b *base) expireLimit(e *Engine) {
	if b.lim != nil {
		b.lim.expire(e.now)
		e.wakeAt(b.lim.queue.next())
	}
}

func newRunner(r *Rule) runner {
	b := base{r: r, lim: newLimiter(r.limit)}
	switch r.Kind {
	case KindSequence:
		return &sequence{base: b, waiting: map[uint64][]stored{}}
	case KindAbsence:
		return &absence{base: b}
	case KindWindow:
		return &window{base: b, index: map[string]int{}}
	case KindEvery:
		return &every{base: b, counts: map[string]*int64{}}
	}
	return &plain{base: b}
}

// rebind points a kept runner at the reloaded rule (same state, new
// actions and descriptions).
func rebind(run runner, r *Rule) runner {
	run.(interface{ setRule(*Rule) }).setRule(r)
	return run
}

// allow applies the rule's limit to a firing.
func (e *Engine) allow(r *Rule, lim *limiter, env *env) bool {
	key, ok := e.keyFor(r, r.limit.by, env)
	if !ok {
		return false
	}
	if !lim.allow(key.hash(), e.now) {
		return false
	}
	e.wakeAt(e.now + lim.per)
	return true
}
