package engine_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/heraldmail/herald/engine"
)

// trafficOptions shape a generated event stream.
type trafficOptions struct {
	events     int    // how many events
	perSecond  int    // events per simulated second; a tick starts every second
	recipients int    // distinct addresses
	domains    int    // distinct domains, with a Zipf skew
	seed       uint64 // the same seed gives the same stream
}

var defaultTraffic = trafficOptions{events: 100_000, perSecond: 200, recipients: 5000, domains: 50, seed: 1}

// sentRef is a message that was sent, for the events that follow it.
type sentRef struct {
	id       int64
	email    string
	customID string
}

// traffic builds a realistic Mailjet stream. Per 100 events: 55 sent, 20
// open, 5 click, 3 bounce (1 hard), 10 blocked (on 3 mid-sized domains,
// where they are most of the mail), 1 spam, 2 unsub and 4 duplicates of recent events. Opens,
// clicks, bounces, spam and unsubs refer to recent sends. A tick is
// appended at the start of every simulated second.
func traffic(o trafficOptions) []step {
	rng := rand.New(rand.NewPCG(o.seed, 0x9e3779b97f4a7c15))
	zipf := rand.NewZipf(rng, 1.2, 1, uint64(o.domains-1))
	emails := make([]string, o.recipients)
	for i := range emails {
		emails[i] = fmt.Sprintf("user%d@d%02d.test", i, zipf.Uint64())
	}
	var (
		steps  = make([]step, 0, o.events+o.events/o.perSecond+1)
		sends  []sentRef
		recent []*engine.Event
		nextID = int64(1) << 56 // Mailjet ids exceed 2^53
		second = -1
	)
	recentSend := func() sentRef {
		if len(sends) == 0 {
			return sentRef{id: nextID, email: emails[0], customID: "news-42"}
		}
		return sends[len(sends)-1-rng.IntN(min(len(sends), 5000))]
	}
	for i := range o.events {
		at := time.Duration(i) * time.Second / time.Duration(o.perSecond)
		if s := int(at / time.Second); s != second {
			second = s
			steps = append(steps, step{at: time.Duration(s) * time.Second})
		}
		var e *engine.Event
		switch r := rng.IntN(100); {
		case r < 55:
			nextID++
			ref := sentRef{id: nextID, email: emails[rng.IntN(len(emails))], customID: "news-42"}
			if rng.IntN(10) < 3 {
				ref.customID = "promo-spring"
			}
			sends = append(sends, ref)
			e = &engine.Event{Type: engine.TypeSent, MessageID: ref.id, Email: ref.email, CustomID: ref.customID}
		case r < 86:
			ref := recentSend()
			e = &engine.Event{MessageID: ref.id, Email: ref.email, CustomID: ref.customID}
			switch {
			case r < 75:
				e.Type, e.Agent, e.IP = engine.TypeOpen, "Mozilla/5.0", "192.0.2.1"
			case r < 80:
				e.Type, e.URL = engine.TypeClick, []string{"https://shop.test/", "https://shop.test/sale", "https://blog.test/"}[rng.IntN(3)]
			case r < 83:
				e.Type, e.HardBounce, e.Error, e.ErrorRelatedTo = engine.TypeBounce, r == 80, "user unknown", "recipient"
				if !e.HardBounce {
					e.Error = "mailbox full"
				}
			case r < 84:
				e.Type, e.Source = engine.TypeSpam, "JMRPP"
			default:
				e.Type, e.ListID = engine.TypeUnsub, 77
			}
		case r < 96:
			nextID++
			e = &engine.Event{Type: engine.TypeBlocked, MessageID: nextID, CustomID: "news-42", Blocked: true,
				Email: fmt.Sprintf("user%d@d%02d.test", rng.IntN(o.recipients), 4+rng.IntN(3)), Error: "blocked", ErrorRelatedTo: "domain"}
		default:
			if len(recent) == 0 {
				continue
			}
			dup := *recent[len(recent)-1-rng.IntN(min(len(recent), 100))]
			e = &dup
		}
		e.Received = t0.Add(at)
		if e.Time == 0 {
			e.Time = e.Received.Unix()
		}
		e.Domain = engine.DomainOf(e.Email)
		steps = append(steps, step{at: at, ev: e})
		recent = append(recent, e)
		if len(recent) > 1000 {
			recent = recent[len(recent)-100:]
		}
	}
	return steps
}

// mixedRules generates n rules of every kind, with the selectivity of
// real rules: most plain rules look at one domain or campaign.
func mixedRules(n int) string {
	var b strings.Builder
	b.WriteString("version: 1\nvars: {promo: \"promo-\", minimum: 50}\nrules:\n")
	types := []string{"sent", "open", "click", "bounce", "blocked", "spam", "unsub"}
	for i := range n {
		typ := types[i%len(types)]
		switch i % 10 {
		case 0, 1, 2, 3:
			fmt.Fprintf(&b, `  - name: plain-%d
    on: %s
    if: domain == "d%02d.test" || CustomID == "vip-%d"
    do: [slack: {text: "{{ email }} {{ event }} on {{ domain }} (%d)"}]
`, i, typ, i%50, i, i)
		case 4:
			fmt.Fprintf(&b, `  - name: sequence-%d
    on: open
    if: CustomID startsWith vars.promo
    after: {event: sent, within: 24h}
    limit: {by: email, max: 1, per: 30d}
    do: [mailjet: {to: "{{ email }}", template_id: %d, variables: {campaign: "{{ prev.CustomID }}"}}]
`, i, 1000+i)
		case 5:
			fmt.Fprintf(&b, `  - name: sequence-%d
    on: click
    after: {event: open, within: 1h, by: email}
    do: [http: {path: "/clicked/{{ urlquery(email) }}", json: {url: "{{ url }}"}}]
`, i)
		case 6:
			fmt.Fprintf(&b, `  - name: absence-%d
    on: sent
    if: CustomID startsWith vars.promo
    unless: {event: %s, within: %dh}
    do: [mailjet: {to: "{{ email }}", template_id: %d}]
`, i, []string{"open", "click"}[i%2], 24+i%3*24, 2000+i)
		case 7, 8:
			fmt.Fprintf(&b, `  - name: window-%d
    on: [sent, %s]
    group_by: domain
    window: %dm
    when: count() >= vars.minimum && ratio(event == "%s") >= 0.%d
    do: [slack: {text: "{{ group }}: {{ percent(ratio(event == \"%s\")) }} of {{ count() }}"}]
    on_resolve: [slack: {text: "{{ group }} ok"}]
`, i, []string{"blocked", "bounce"}[i%2], 15+i%4*15, []string{"blocked", "bounce"}[i%2], 3+i%5, []string{"blocked", "bounce"}[i%2])
		case 9:
			group := ""
			if i%20 == 9 {
				group = "\n    group_by: domain"
			}
			fmt.Fprintf(&b, `  - name: every-%d
    on: %s%s
    every: %d
    do: [slack: {text: "{{ count }} {{ event }}"}]
`, i, typ, group, 100*(1+i%7))
		}
	}
	return b.String()
}
