package lease

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Run takes part in the election until ctx ends. Each time this replica
// takes the lease, Run calls onAcquire with a context that is cancelled
// as soon as the lease is lost (the local deadline passed, or another
// replica wrote the key) or ctx ends, and waits for onAcquire to return
// before it tries to take the lease again. onAcquire must stop its work
// when its context ends; whatever must not outlive the lease checks Held
// as well, since a paused process sees the cancellation late.
//
// When ctx ends (shutdown) the lease is still renewed while onAcquire
// winds down, and released (the key deleted) once it has returned, so
// another replica takes over at once rather than after the TTL.
func (l *Lease) Run(ctx context.Context, onAcquire func(ctx context.Context)) {
	for {
		rev, ok := l.acquire(ctx)
		if !ok {
			return
		}
		l.lead(ctx, rev, onAcquire)
		// The lease was lost, or onAcquire gave up by itself: let the
		// other replicas try first (this one may be overloaded).
		t := time.NewTimer(l.poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// acquire tries to create the key every poll period, and at once when a
// watch says it was deleted or expired, until it succeeds (true) or ctx
// ends (false).
func (l *Lease) acquire(ctx context.Context) (uint64, bool) {
	var updates <-chan jetstream.KeyValueEntry
	if w, err := l.opt.KV.Watch(ctx, l.opt.Key, jetstream.UpdatesOnly()); err == nil {
		defer w.Stop()
		updates = w.Updates()
	} else if ctx.Err() == nil {
		l.opt.Logger.Debug("lease: no watch on the key; polling only", "err", err)
	}
	poll := time.NewTimer(0)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return 0, false
		case e, open := <-updates:
			if !open {
				updates = nil
				continue
			}
			if e == nil {
				continue // the end of the initial values
			}
			l.observeEntry(e)
			if e.Operation() == jetstream.KeyValuePut {
				continue // renewed by its holder
			}
		case <-poll.C:
		}
		if rev, ok := l.tryCreate(ctx); ok {
			return rev, true
		}
		poll.Reset(l.poll)
	}
}

// tryCreate creates the key with this replica's value.
func (l *Lease) tryCreate(ctx context.Context) (uint64, bool) {
	info := Info{Holder: l.opt.ID, Rules: l.opt.Rules(), Since: l.opt.Now().UTC()}
	rctx, cancel := bounded(ctx, l.opt.TTL-l.opt.Margin)
	defer cancel()
	sent := l.opt.Now()
	rev, err := l.opt.KV.Create(rctx, l.opt.Key, encode(info))
	switch {
	case err == nil:
		l.worked()
		l.extend(sent)
		if !l.Held() { // the answer came after the deadline
			l.drop()
			l.release(rev)
			return 0, false
		}
		l.term = info
		l.metrics.change(changeAcquired)
		l.opt.Logger.Info("lease acquired: the rules engine runs on this replica", "replica", l.opt.ID, "ttl", l.opt.TTL)
		l.observe(info, true)
		return rev, true
	case errors.Is(err, jetstream.ErrKeyExists):
		l.worked()
		l.refresh(ctx)
	case ctx.Err() == nil:
		l.failed("taking the lease", err)
	}
	return 0, false
}

// refresh reads the key to learn who holds the lease. A value of this
// replica's while it does not hold the lease is left over (a create that
// timed out but was applied, or a lease lost to a pause): it is deleted
// so that the lease can be taken now rather than after its TTL.
func (l *Lease) refresh(ctx context.Context) {
	rctx, cancel := bounded(ctx, l.poll)
	defer cancel()
	e, err := l.opt.KV.Get(rctx, l.opt.Key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		l.observe(Info{}, false)
	case err != nil:
		if ctx.Err() == nil {
			l.failed("reading the lease", err)
		}
	default:
		l.observeEntry(e)
		if info, ok := l.Current(); ok && info.Holder == l.opt.ID && !l.Held() {
			l.release(e.Revision())
		}
	}
}

// lead runs onAcquire while the lease is held, renewing it every TTL/3
// (a failed renewal is retried after TTL/12), and returns when onAcquire has returned: after ctx ended or the lease
// was lost, or by itself (then the lease is released).
func (l *Lease) lead(ctx context.Context, rev uint64, onAcquire func(context.Context)) {
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		onAcquire(lctx)
	}()
	renew := time.NewTimer(l.every)
	defer renew.Stop()
	expire := time.NewTimer(l.remaining())
	defer expire.Stop()
	for l.Held() {
		select {
		case <-done:
			l.drop()
			l.metrics.change(changeReleased)
			if l.release(rev) {
				l.opt.Logger.Info("lease released", "replica", l.opt.ID)
			}
			return
		case <-expire.C:
			expire.Reset(max(l.remaining(), time.Millisecond))
		case <-renew.C:
			var ok bool
			rev, ok = l.renew(rev)
			if ok {
				renew.Reset(l.every)
			} else {
				renew.Reset(l.every / 4)
			}
			expire.Reset(max(l.remaining(), time.Millisecond))
		}
	}
	l.drop()
	cancel()
	l.metrics.change(changeLost)
	l.opt.Logger.Warn("lease lost: the rules engine stops on this replica", "replica", l.opt.ID)
	<-done
	// If nobody took the key (this replica could not reach the bucket in
	// time, or was paused), hand it over now rather than after the TTL.
	l.release(rev)
}

// renew rewrites the key if it still holds rev, and extends the deadline
// when that worked. It returns the key's revision and whether the
// deadline was extended; on failure the deadline is left as it was (or
// dropped when another replica holds the key), and the loop in lead
// notices when it passes.
func (l *Lease) renew(rev uint64) (uint64, bool) {
	if l.opt.BeforeRenew != nil {
		l.opt.BeforeRenew()
	}
	left := l.remaining()
	if left <= 0 {
		return rev, false // too late: someone else may hold the lease by now
	}
	info := l.term
	info.Rules = l.opt.Rules()
	ctx, cancel := bounded(context.Background(), left)
	defer cancel()
	sent := l.opt.Now()
	next, err := l.opt.KV.Update(ctx, l.opt.Key, encode(info), rev)
	switch {
	case err == nil:
		l.worked()
		l.extend(sent)
		l.observe(info, true)
		return next, true
	case errors.Is(err, jetstream.ErrKeyRevisionMismatch):
		return l.adopt(rev), false
	default:
		l.failed("renewing the lease", err)
		return rev, false
	}
}

// adopt handles a renewal refused because the key's revision changed:
// either another replica wrote it (the lease is lost), or an earlier
// renewal of this replica's that timed out was applied after all (its
// revision is taken over; the deadline is not extended, the next renewal
// does that).
func (l *Lease) adopt(rev uint64) uint64 {
	ctx, cancel := bounded(context.Background(), l.remaining())
	defer cancel()
	e, err := l.opt.KV.Get(ctx, l.opt.Key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		l.drop()
		l.observe(Info{}, false)
		return rev
	}
	if err != nil {
		l.failed("reading the lease", err)
		return rev
	}
	var info Info
	if e.Operation() == jetstream.KeyValuePut && json.Unmarshal(e.Value(), &info) == nil &&
		info.Holder == l.opt.ID && info.Since.Equal(l.term.Since) {
		return e.Revision()
	}
	l.drop()
	l.observeEntry(e)
	return rev
}

// release deletes the key if it still holds rev, and reports whether it
// did.
func (l *Lease) release(rev uint64) bool {
	ctx, cancel := bounded(context.Background(), l.poll)
	defer cancel()
	if err := l.opt.KV.Delete(ctx, l.opt.Key, jetstream.LastRevision(rev)); err != nil {
		l.opt.Logger.Debug("lease not released", "key", l.opt.Key, "revision", rev, "err", err)
		return false
	}
	l.observe(Info{}, false)
	return true
}
