package dispatch

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldmail/herald/internal/pipeline"
)

// bookkeeping bounds the status, dead-letter and ack calls around an
// attempt. They run even after Run's context ended, so that a finished
// attempt is always recorded.
const bookkeeping = 10 * time.Second

// delivery is one job being worked on.
type delivery struct {
	msg  jetstream.Msg
	job  pipeline.Job
	kind string
	conn string
	st   Status
	// params are what this attempt sends; narrowed says they differ from
	// the job's (a partial delivery or suppressed recipients).
	params   map[string]any
	narrowed bool
	requeues int
}

// handle works one message of the action queue. Attempts run under run;
// see the package doc for the steps.
func (d *Dispatcher) handle(run context.Context, msg jetstream.Msg) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(run), bookkeeping)
	defer cancel()
	dv, ok := d.decode(msg)
	if !ok {
		return
	}
	st, _, err := d.getStatus(ctx, dv.job.ID)
	if err != nil {
		d.later(ctx, dv, err)
		return
	}
	if st.final() {
		_ = msg.Ack()
		return
	}
	dv.st = st
	switch {
	case dv.job.Shadow:
		d.settle(ctx, dv, StatusShadow, outShadow)
		return
	case dv.kind == "":
		_ = msg.Ack() // a firing without actions, queued to be recorded
		return
	}
	runner, dry, why := d.runner(dv.kind, dv.conn)
	if runner == nil && !dry {
		d.deadLetter(ctx, dv, fmt.Sprintf("no connection %q is configured", dv.conn), outFailed)
		return
	}
	if len(st.Remaining) > 0 {
		dv.params, dv.narrowed = st.Remaining, true
	}
	if dv.kind == kindMailjet && !dv.job.Action.IgnoreSuppression && d.opt.Suppress != nil {
		if !d.suppress(ctx, dv) {
			return
		}
	}
	if dry {
		d.dryRun(ctx, dv, why)
		return
	}
	d.attempt(run, ctx, dv, runner)
}

// decode reads the job of msg. A message that is not a job can never be
// run: it is terminated.
func (d *Dispatcher) decode(msg jetstream.Msg) (*delivery, bool) {
	dv := &delivery{msg: msg}
	if err := pipeline.UnmarshalExact(msg.Data(), &dv.job); err != nil || dv.job.ID == "" {
		d.log.Error("dispatch: not a job; dropped", "subject", msg.Subject(), "err", err)
		_ = msg.Term()
		return nil, false
	}
	dv.kind = dv.job.Action.Kind
	dv.conn = dv.job.Action.Connection
	if dv.conn == "" {
		dv.conn = dv.kind
	}
	params, err := dv.job.Action.ParamsMap()
	if err != nil {
		d.log.Error("dispatch: a job whose params are not a JSON object; dropped", "job", dv.job.ID, "err", err)
		_ = msg.Term()
		return nil, false
	}
	dv.params = params
	dv.requeues, _ = strconv.Atoi(msg.Headers().Get(HeaderRequeue))
	return dv, true
}

// runner returns the connection's runner, or whether it is dry and why.
func (d *Dispatcher) runner(kind, conn string) (r Runner, dry bool, why string) {
	r = d.opt.Runners[conn]
	if dr, ok := r.(DryRunner); ok {
		return nil, true, dr.Reason
	}
	switch {
	case d.opt.Dry[conn]:
		return nil, true, "dry connection"
	case r == nil && (conn == kind || d.opt.AllDry):
		// The default connection is optional: without it actions run dry.
		return nil, true, "connection not configured"
	}
	return r, false, ""
}

// suppress drops suppressed recipients from a mailjet action's params. It
// reports whether anyone is left to send to; when not, the job is settled.
func (d *Dispatcher) suppress(ctx context.Context, dv *delivery) bool {
	kept, dropped, err := filterSuppressed(ctx, d.opt.Suppress, dv.params)
	if err != nil {
		d.later(ctx, dv, err)
		return false
	}
	if len(dropped) == 0 {
		return true
	}
	d.log.Info("suppressed recipients skipped", "job", dv.job.ID, "rule", dv.job.Rule, "skipped", len(dropped), "reasons", dropped)
	if kept == nil {
		d.settle(ctx, dv, StatusSuppressed, outSuppressed)
		return false
	}
	dv.params, dv.narrowed = kept, true
	return true
}

// dryRun logs the action as it would be sent. Params come from rules,
// never from connections, so the line holds no secret.
func (d *Dispatcher) dryRun(ctx context.Context, dv *delivery, why string) {
	params, err := json.Marshal(dv.params)
	if err != nil {
		params = []byte(fmt.Sprintf("%q", fmt.Sprint(dv.params)))
	}
	d.log.Info("dry-run", "job", dv.job.ID, "rule", dv.job.Rule, "kind", dv.kind, "connection", dv.conn,
		"reason", why, "params", string(params))
	d.settle(ctx, dv, StatusDryRun, outDryRun)
}

// attempt runs the action once and acts on its outcome.
func (d *Dispatcher) attempt(run, ctx context.Context, dv *delivery, r Runner) {
	now := d.opt.Now()
	dv.st.Attempts++
	if dv.st.FirstAttempt.IsZero() {
		dv.st.FirstAttempt = now.UTC()
	}
	actx, cancel := context.WithTimeout(run, d.opt.Timeout)
	err := r.Do(actx, dv.job.ID, dv.params)
	cancel()
	o := classify(run, err)
	if o.remaining != nil {
		dv.params, dv.narrowed = o.remaining, true
	}
	switch o.result {
	case delivered:
		d.m.latency(dv.kind, d.opt.Now().Sub(dv.job.At))
		d.settle(ctx, dv, StatusSent, outSent)
	case interrupted:
		d.interrupted(ctx, dv, o)
	case retry:
		d.retry(ctx, dv, o)
	case permanent:
		d.deadLetter(ctx, dv, o.err.Error(), outFailed)
	}
}

// retry schedules the next attempt, or dead-letters the job when it has
// had its attempts or its time.
func (d *Dispatcher) retry(ctx context.Context, dv *delivery, o outcome) {
	now := d.opt.Now()
	delay := d.retryDelay(dv.st.Attempts, o.after)
	switch {
	case dv.st.Attempts >= d.opt.MaxAttempts:
		d.deadLetter(ctx, dv, fmt.Sprintf("gave up after %d attempts: %v", dv.st.Attempts, o.err), outGaveUp)
		return
	case now.Add(delay).Sub(dv.st.FirstAttempt) > d.opt.MaxAge:
		d.deadLetter(ctx, dv, fmt.Sprintf("gave up: the next attempt (in %v) would come more than %v after the first: %v",
			delay.Round(time.Millisecond), d.opt.MaxAge, o.err), outGaveUp)
		return
	}
	dv.st.Status = StatusRetrying
	dv.st.LastError = o.err.Error()
	dv.st.Updated = now.UTC()
	dv.st.NextAttempt = now.Add(delay).UTC()
	dv.st.Remaining = dv.remaining()
	// Metrics are counted before the status is stored, so that whoever
	// sees the status sees the counts.
	d.m.count(dv.kind, dv.conn, outRetried)
	if err := d.putStatus(ctx, dv.job.ID, &dv.st); err != nil {
		// The attempt count is lost, not the job: it is retried anyway.
		d.log.Warn("dispatch: store status", "job", dv.job.ID, "err", err)
	}
	d.log.Info("action retrying", "job", dv.job.ID, "rule", dv.job.Rule, "kind", dv.kind, "connection", dv.conn,
		"attempt", dv.st.Attempts, "delay", delay, "err", o.err)
	_ = dv.msg.NakWithDelay(delay)
}

// interrupted leaves a job whose attempt was cancelled by shutdown to be
// delivered again, keeping what a partial delivery narrowed.
func (d *Dispatcher) interrupted(ctx context.Context, dv *delivery, o outcome) {
	if o.remaining != nil {
		dv.st.Status = StatusRetrying
		dv.st.LastError = o.err.Error()
		dv.st.Updated = d.opt.Now().UTC()
		dv.st.Remaining = dv.remaining()
		if err := d.putStatus(ctx, dv.job.ID, &dv.st); err != nil {
			d.log.Error("dispatch: store the undelivered part of an interrupted job", "job", dv.job.ID, "err", err)
		}
	}
	_ = dv.msg.Nak()
}

// deadLetter moves the job, with the params of its last attempt, to dead
// letters. If that fails the job stays queued and comes back.
func (d *Dispatcher) deadLetter(ctx context.Context, dv *delivery, reason, out string) {
	now := d.opt.Now().UTC()
	job := dv.job
	if dv.narrowed { // the params of the last attempt, when not the job's
		if p, err := json.Marshal(dv.params); err == nil {
			job.Action.Params = p
		}
	}
	dl := &DeadLetter{ID: job.ID, Job: job, Error: reason, Attempts: dv.st.Attempts,
		FirstAttempt: dv.st.FirstAttempt, LastAttempt: now, Requeues: dv.requeues}
	if dl.FirstAttempt.IsZero() {
		dl.FirstAttempt = now
	}
	if err := d.putDead(ctx, dl); err != nil {
		d.later(ctx, dv, err)
		return
	}
	if out == outFailed {
		d.m.count(dv.kind, dv.conn, outFailed)
	}
	d.m.count(dv.kind, dv.conn, outDeadLettered)
	dv.st = Status{Status: StatusDead, Attempts: dv.st.Attempts, LastError: reason, Updated: now,
		FirstAttempt: dv.st.FirstAttempt, Requeues: dv.requeues}
	if err := d.putStatus(ctx, job.ID, &dv.st); err != nil {
		d.log.Warn("dispatch: store status", "job", job.ID, "err", err)
	}
	d.log.Warn("action dead-lettered", "job", job.ID, "rule", job.Rule, "kind", dv.kind, "connection", dv.conn,
		"attempts", dv.st.Attempts, "err", reason)
	_ = dv.msg.Term()
}

// settle records a final status that needs no dead letter and
// acknowledges the job.
func (d *Dispatcher) settle(ctx context.Context, dv *delivery, status, out string) {
	dv.st.Status = status
	dv.st.Updated = d.opt.Now().UTC()
	dv.st.NextAttempt = time.Time{}
	dv.st.Remaining = nil
	if status == StatusSent {
		dv.st.LastError = ""
	}
	dv.st.Requeues = dv.requeues
	d.m.count(dv.kind, dv.conn, out)
	if err := d.putStatus(ctx, dv.job.ID, &dv.st); err != nil {
		d.log.Warn("dispatch: store status", "job", dv.job.ID, "err", err)
	}
	_ = dv.msg.Ack()
}

// later puts the job back after a failure of herald's own storage (not of
// the action): nothing is counted as an attempt.
func (d *Dispatcher) later(ctx context.Context, dv *delivery, err error) {
	n := 1
	if md, merr := dv.msg.Metadata(); merr == nil {
		n = int(min(md.NumDelivered, 30))
	}
	delay := d.backoff(n)
	d.log.Warn("dispatch: job put back", "job", dv.job.ID, "delay", delay, "err", err)
	_ = dv.msg.NakWithDelay(delay)
}

// remaining returns the params to keep for the next attempt: nil when
// they are the job's own.
func (dv *delivery) remaining() map[string]any {
	if dv.narrowed {
		return dv.params
	}
	return nil
}
