package sim

import (
	"container/heap"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// baseMessageID is 2^59: Mailjet's MessageIDs are of this size (real ones
// look like 576460765503091475), far above 2^53.
const baseMessageID int64 = 1 << 59

// Event is one generated Mailjet event.
type Event struct {
	// At is when Mailjet emits it, in simulated time. Its `time` field is
	// At in Unix seconds, except for some re-sent copies (Dup), which keep
	// the original's.
	At        time.Time
	Type      string
	MessageID int64
	Email     string
	// Dup marks a re-sent copy of an earlier event.
	Dup bool
	// JSON is the event as Mailjet posts it: one JSON object.
	JSON []byte
}

// Generator produces the events of Config in simulated-time order.
type Generator struct {
	cfg     Config
	r       *rand.Rand
	list    []recipient
	order   []int // the current campaign's sending order
	horizon time.Time

	campaign, sendIdx int
	campaignID        int64 // mj_campaign_id of campaign 0
	nextID            int64
	queue             pendingQueue
	seq               uint64
	emitted           int
}

// message is what every event of one sent message shares.
type message struct {
	id         int64
	guid       string
	rcpt       *recipient
	campaign   int
	campaignID int64 // mj_campaign_id
	customID   string
	payload    string
}

// pending is an event waiting for its time.
type pending struct {
	at   time.Time // when it is emitted
	unix int64     // its `time` field
	seq  uint64    // creation order, for ties
	typ  string
	msg  *message
	dup  bool
	f    fields
}

// fields are the type-specific fields of an event.
type fields struct {
	smtpReply                 string
	url, ip, geo, agent       string
	hard                      bool
	relatedTo, error, comment string
	source                    string
	listID                    int64
}

// NewGenerator checks cfg and returns its generator.
func NewGenerator(cfg Config) (*Generator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	g := &Generator{cfg: cfg, r: r}
	if cfg.Horizon > 0 {
		g.horizon = cfg.Start.Add(cfg.Horizon)
	}
	g.list = newList(r, cfg.Recipients, 3_000_000_000+r.Int64N(1_000_000_000))
	g.campaignID = 7_000_000_000 + r.Int64N(1_000_000_000)
	g.nextID = baseMessageID + r.Int64N(1<<50)
	g.order = r.Perm(len(g.list))
	return g, nil
}

// Next returns the next event, or false when the traffic is over.
func (g *Generator) Next() (Event, bool) {
	if g.cfg.MaxEvents > 0 && g.emitted >= g.cfg.MaxEvents {
		return Event{}, false
	}
	for {
		ts, sending := g.nextSend()
		if g.queue.Len() > 0 && (!sending || !g.queue[0].at.After(ts)) {
			p := heap.Pop(&g.queue).(*pending)
			if !p.dup && g.r.Float64() < g.cfg.Dup {
				g.resend(p)
			}
			g.emitted++
			return Event{At: p.at, Type: p.typ, MessageID: p.msg.id, Email: p.msg.rcpt.email, Dup: p.dup,
				JSON: appendEvent(make([]byte, 0, 512), p)}, true
		}
		if !sending {
			return Event{}, false
		}
		g.send(ts)
	}
}

// nextSend returns the time of the next send, or false when the campaigns
// are all sent.
func (g *Generator) nextSend() (time.Time, bool) {
	if g.cfg.Campaigns > 0 && g.campaign >= g.cfg.Campaigns {
		return time.Time{}, false
	}
	ts := g.cfg.Start.Add(time.Duration(g.campaign)*g.cfg.CampaignEvery +
		time.Duration(float64(g.cfg.SendOver)*float64(g.sendIdx)/float64(len(g.list))))
	if !g.horizon.IsZero() && ts.After(g.horizon) {
		return time.Time{}, false
	}
	return ts, true
}

// send sends the next message at ts and schedules everything that will
// become of it.
func (g *Generator) send(ts time.Time) {
	rc := &g.list[g.order[g.sendIdx]]
	g.nextID += 1 + g.r.Int64N(16) // Mailjet's ids grow with gaps
	m := &message{id: g.nextID, guid: g.uuid(), rcpt: rc, campaign: g.campaign, campaignID: g.campaignID + int64(g.campaign)}
	if g.cfg.CustomIDPrefix != "" {
		m.customID = fmt.Sprintf("%s%d-%d", g.cfg.CustomIDPrefix, g.campaign+1, g.sendIdx+1)
	}
	if g.r.Float64() < g.cfg.Payload {
		m.payload = fmt.Sprintf(`{"segment":%q,"campaign":%d}`, []string{"vip", "new", "dormant"}[g.r.IntN(3)], g.campaign+1)
	}
	if g.sendIdx++; g.sendIdx == len(g.list) {
		g.campaign, g.sendIdx = g.campaign+1, 0
		g.order = g.r.Perm(len(g.list))
	}

	block, ok := g.cfg.BlockDomains[rc.domain]
	if !ok {
		block = g.cfg.Block
	}
	switch {
	case g.r.Float64() < block:
		g.push(m, "blocked", ts.Add(g.delay(g.cfg.BlockedDelay)), g.blocked(ok))
	case g.r.Float64() < g.cfg.Bounce:
		g.push(m, "bounce", ts.Add(g.delay(g.cfg.BounceDelay)), g.bounce())
	default:
		g.delivered(m, ts.Add(g.delay(g.cfg.SentDelay)))
	}
}

// delivered schedules a sent message's events.
func (g *Generator) delivered(m *message, at time.Time) {
	dom := m.rcpt.domain
	g.push(m, "sent", at, fields{smtpReply: smtpReply(g.r, dom, at.Unix())})
	if g.r.Float64() < g.cfg.Spam {
		src := "FBL"
		switch dom { // JMRPP is Microsoft's feedback loop (Mailjet's docs' example)
		case "hotmail.com", "outlook.com", "hotmail.fr", "live.com", "msn.com":
			src = "JMRPP"
		}
		g.push(m, "spam", at.Add(g.delay(g.cfg.SpamDelay)), fields{source: src})
	}
	if g.r.Float64() >= g.cfg.Open {
		return
	}
	ip, geo, agent := ipFor(g.r), geoFor(g.r, dom), agentFor(g.r, dom)
	seen := fields{ip: ip, geo: geo, agent: agent}
	open := at.Add(g.delay(g.cfg.OpenDelay))
	g.push(m, "open", open, seen)
	if g.r.Float64() < g.cfg.Unsub {
		f := seen
		f.listID = 10_000 + int64(m.campaign)
		if g.r.IntN(3) == 0 { // the mail client's unsubscribe button
			f.agent = "List-Unsubscribe"
		}
		g.push(m, "unsub", open.Add(g.delay(g.cfg.UnsubDelay)), f)
	}
	for n := 0; n < 10; n++ {
		if g.r.Float64() < g.cfg.Click {
			f := seen
			f.url = linkFor(g.r)
			g.push(m, "click", open.Add(g.delay(g.cfg.ClickDelay)), f)
		}
		if g.r.Float64() >= g.cfg.Reopen {
			break
		}
		open = open.Add(g.delay(g.cfg.ReopenDelay))
		g.push(m, "open", open, seen)
	}
}

// blocked returns the fields of a blocked event: the sender refused by the
// domain (byDomain), or one of Mailjet's own reasons.
func (g *Generator) blocked(byDomain bool) fields {
	if byDomain {
		return fields{relatedTo: "spam", error: "sender blocked"}
	}
	reasons := [][2]string{{"mailjet", "preblocked"}, {"mailjet", "duplicate in campaign"},
		{"recipient", "blacklisted"}, {"recipient", "spam reporter"}, {"spam", "content blocked"}}
	x := reasons[g.r.IntN(len(reasons))]
	return fields{relatedTo: x[0], error: x[1]}
}

// bounce returns the fields of a soft or hard bounce.
func (g *Generator) bounce() fields {
	if g.r.Float64() < g.cfg.HardBounce {
		hard := []fields{
			{relatedTo: "recipient", error: "user unknown", comment: "550 5.1.1 The email account that you tried to reach does not exist"},
			{relatedTo: "domain", error: "invalid domain", comment: "Host or domain name not found"},
			{relatedTo: "domain", error: "no mail host", comment: "No MX or A record for domain"},
		}
		f := hard[g.r.IntN(len(hard))]
		f.hard = true
		return f
	}
	soft := []fields{
		{relatedTo: "recipient", error: "quota exceeded", comment: "452 4.2.2 The email account that you tried to reach is over quota"},
		{relatedTo: "recipient", error: "mailbox inactive", comment: "550 5.2.1 The email account that you tried to reach is disabled"},
		{relatedTo: "domain", error: "greylisted", comment: "451 4.7.1 Greylisted, please try again later"},
		{relatedTo: "system", error: "connection issue", comment: "Connection timed out"},
	}
	return soft[g.r.IntN(len(soft))]
}

// push schedules an event unless it falls after the horizon.
func (g *Generator) push(m *message, typ string, at time.Time, f fields) {
	if !g.horizon.IsZero() && at.After(g.horizon) {
		return
	}
	g.seq++
	heap.Push(&g.queue, &pending{at: at, unix: at.Unix(), seq: g.seq, typ: typ, msg: m, f: f})
}

// resend schedules a copy of p, as Mailjet re-sends an event now and then:
// the same JSON, except that an unsub copy has its own time.
func (g *Generator) resend(p *pending) {
	at := p.at.Add(g.delay(g.cfg.DupDelay))
	if !g.horizon.IsZero() && at.After(g.horizon) {
		return
	}
	c := *p
	c.at, c.dup = at, true
	if c.typ == "unsub" {
		c.unix = at.Unix()
	}
	g.seq++
	c.seq = g.seq
	heap.Push(&g.queue, &c)
}

// delay draws from d.
func (g *Generator) delay(d Delay) time.Duration {
	if d.Sigma == 0 {
		return d.Median
	}
	x := float64(d.Median) * math.Exp(d.Sigma*g.r.NormFloat64())
	return time.Duration(min(x, float64(365*24*time.Hour)))
}

// uuid returns a random version 4 UUID.
func (g *Generator) uuid() string { return newUUID(g.r) }

// newUUID returns a version 4 UUID drawn from r.
func newUUID(r *rand.Rand) string {
	hi, lo := r.Uint64(), r.Uint64()
	hi = hi&^0xf000 | 0x4000
	lo = lo&^(0xc<<60) | 0x8<<60
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", hi>>32, hi>>16&0xffff, hi&0xffff, lo>>48, lo&0xffffffffffff)
}

// pendingQueue is a min-heap of pending events by time, then creation.
type pendingQueue []*pending

func (q pendingQueue) Len() int { return len(q) }
func (q pendingQueue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q pendingQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *pendingQueue) Push(x any)   { *q = append(*q, x.(*pending)) }
func (q *pendingQueue) Pop() any {
	old := *q
	p := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return p
}
