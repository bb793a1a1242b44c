package sim

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/heraldmail/herald/engine"
	"github.com/heraldmail/herald/internal/webhook"
)

var received = time.Date(2025, 6, 3, 0, 0, 0, 0, time.UTC)

// all returns every event of cfg.
func all(t *testing.T, cfg Config) []Event {
	t.Helper()
	g, err := NewGenerator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out []Event
	for ev, ok := g.Next(); ok; ev, ok = g.Next() {
		out = append(out, ev)
	}
	return out
}

// errorsByCategory are the error_related_to / error pairs of FACTS.md.
var errorsByCategory = map[string][]string{
	"recipient": {"user unknown", "mailbox inactive", "quota exceeded", "blacklisted", "spam reporter"},
	"domain":    {"invalid domain", "no mail host", "relay/access denied", "greylisted", "typofix"},
	"content":   {"bad or empty template", "error in template language"},
	"spam":      {"sender blocked", "content blocked", "policy issue"},
	"system":    {"system issue", "protocol issue", "connection issue"},
	"mailjet":   {"preblocked", "duplicate in campaign"},
}

// Every event decodes through herald's own decoder into what was
// generated, with the fields FACTS.md lists for its type; each message has
// one id, unique and above 2^53; events come in simulated-time order.
func TestEventsAreMailjetEvents(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Recipients = 3000
	events := all(t, cfg)
	firstOfMessage := map[int64]string{} // MessageID → email
	var prev time.Time
	for _, ev := range events {
		if ev.At.Before(prev) {
			t.Fatalf("%s at %s after an event at %s", ev.Type, ev.At, prev)
		}
		prev = ev.At
		if ev.JSON[0] != '{' || !json.Valid(ev.JSON) {
			t.Fatalf("not a JSON object: %s", ev.JSON)
		}
		decoded, err := webhook.Decode(ev.JSON, received)
		if err != nil || len(decoded) != 1 {
			t.Fatalf("Decode(%s): %d events, %v", ev.JSON, len(decoded), err)
		}
		e := decoded[0]
		if e.Type != ev.Type || e.MessageID != ev.MessageID || e.Email != ev.Email || e.Domain == "" || len(e.Extra) != 0 {
			t.Fatalf("decoded %+v from %s", e, ev.JSON)
		}
		if e.MessageID <= 1<<53 || e.CampaignID <= 1<<31 || e.ContactID <= 1<<31 || e.MessageGUID == "" {
			t.Errorf("ids too small or missing: %s", ev.JSON)
		}
		if email, seen := firstOfMessage[e.MessageID]; seen && email != e.Email {
			t.Errorf("MessageID %d used for %s and %s", e.MessageID, email, e.Email)
		}
		firstOfMessage[e.MessageID] = e.Email
		if !ev.Dup && e.Time != ev.At.Unix() {
			t.Errorf("time %d, emitted at %d", e.Time, ev.At.Unix())
		}
		checkFields(t, &e, ev.JSON)
	}
	starts := 0 // each message starts with exactly one sent, blocked or bounce
	for _, ev := range events {
		if !ev.Dup && (ev.Type == "sent" || ev.Type == "blocked" || ev.Type == "bounce") {
			starts++
		}
	}
	if starts != cfg.Recipients || len(firstOfMessage) != cfg.Recipients {
		t.Errorf("%d first events, %d MessageIDs for %d messages", starts, len(firstOfMessage), cfg.Recipients)
	}
}

func checkFields(t *testing.T, e *engine.Event, raw []byte) {
	t.Helper()
	bad := false
	switch e.Type {
	case "sent":
		bad = e.MjMessageID != strconv.FormatInt(e.MessageID, 10) || e.SMTPReply == ""
	case "open":
		bad = e.IP == "" || e.Geo == "" || e.Agent == ""
	case "click":
		bad = e.URL == "" || e.IP == "" || e.Agent == ""
	case "unsub":
		bad = e.ListID == 0 || e.IP == "" || e.Agent == ""
	case "spam":
		bad = e.Source == ""
	case "bounce":
		bad = e.Blocked || e.Comment == "" || !slices.Contains(errorsByCategory[e.ErrorRelatedTo], e.Error)
	case "blocked":
		bad = !slices.Contains(errorsByCategory[e.ErrorRelatedTo], e.Error)
	default:
		bad = true
	}
	if bad {
		t.Errorf("%s event lacks its fields: %s", e.Type, raw)
	}
	if e.Payload != "" && len(e.PayloadMap) == 0 {
		t.Errorf("Payload is not a JSON object: %s", raw)
	}
}

// The configured probabilities show in the traffic (loose bounds: this is
// a sample), recipients are skewed over domains, and the blocked domain
// blocks about what it was told to.
func TestProbabilities(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Recipients = 20000
	cfg.Horizon = 0 // every open, however late
	cfg.Block, cfg.Bounce, cfg.Open, cfg.Click, cfg.Dup = 0.02, 0.05, 0.3, 0.2, 0.02
	cfg.Reopen = 0
	cfg.BlockDomains = map[string]float64{"yahoo.com": 0.8}
	n := map[string]float64{}
	byDomain := map[string]float64{}
	yahoo := map[string]float64{}
	var dups, total float64
	for _, ev := range all(t, cfg) {
		total++
		if ev.Dup {
			dups++
			continue
		}
		n[ev.Type]++
		dom := engine.DomainOf(ev.Email)
		if ev.Type == "sent" || ev.Type == "blocked" || ev.Type == "bounce" {
			byDomain[dom]++
			if dom == "yahoo.com" {
				yahoo[ev.Type]++
			}
		}
	}
	within := func(name string, got, want float64) {
		t.Helper()
		if got < want*0.8 || got > want*1.2 {
			t.Errorf("%s: %.4f, want about %.4f", name, got, want)
		}
	}
	others := float64(cfg.Recipients) - byDomain["yahoo.com"]
	within("blocked share (other domains)", (n["blocked"]-yahoo["blocked"])/others, cfg.Block)
	within("yahoo.com blocked share", yahoo["blocked"]/byDomain["yahoo.com"], 0.8)
	within("bounce share of the rest", n["bounce"]/(float64(cfg.Recipients)-n["blocked"]), cfg.Bounce)
	within("opens per sent", n["open"]/n["sent"], cfg.Open)
	within("clicks per open", n["click"]/n["open"], cfg.Click)
	within("duplicates", dups/total, cfg.Dup)
	gmail := byDomain["gmail.com"] / float64(cfg.Recipients)
	if gmail < 0.15 || gmail > 0.4 || byDomain["gmail.com"] < 3*byDomain["icloud.com"] || len(byDomain) < 100 {
		t.Errorf("domains not Zipf-skewed: gmail.com %.2f, icloud.com %v, %d domains", gmail, byDomain["icloud.com"], len(byDomain))
	}
	if n["spam"] == 0 || n["unsub"] == 0 {
		t.Errorf("no spam (%v) or unsub (%v) in %v events", n["spam"], n["unsub"], total)
	}
}

// The same Config gives the same events; another seed other events.
func TestDeterministic(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Recipients = 300
	join := func(cfg Config) []byte {
		var b bytes.Buffer
		for _, ev := range all(t, cfg) {
			b.Write(ev.JSON)
			b.WriteByte('\n')
		}
		return b.Bytes()
	}
	a, b := join(cfg), join(cfg)
	if !bytes.Equal(a, b) {
		t.Error("two runs of one Config differ")
	}
	cfg.Seed = 2
	if bytes.Equal(a, join(cfg)) {
		t.Error("seeds 1 and 2 give the same events")
	}
}

// Horizon, MaxEvents and several campaigns bound and shape the traffic.
func TestLimits(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Recipients = 200
	cfg.Horizon = 30 * time.Minute
	for _, ev := range all(t, cfg) {
		if ev.At.After(cfg.Start.Add(cfg.Horizon)) {
			t.Fatalf("event at %s past the horizon", ev.At)
		}
	}
	cfg.Horizon, cfg.MaxEvents = 0, 77
	if got := len(all(t, cfg)); got != 77 {
		t.Errorf("MaxEvents 77: %d events", got)
	}
	cfg.MaxEvents, cfg.Campaigns, cfg.CampaignEvery, cfg.SendOver = 0, 3, 24*time.Hour, time.Hour
	campaigns := map[int64]bool{}
	for _, ev := range all(t, cfg) {
		e, _ := webhook.Decode(ev.JSON, received)
		campaigns[e[0].CampaignID] = true
	}
	if len(campaigns) != 3 {
		t.Errorf("3 campaigns: %d mj_campaign_id values", len(campaigns))
	}
	for _, bad := range []func(*Config){
		func(c *Config) { c.Open = 1.5 },
		func(c *Config) { c.Recipients = 0 },
		func(c *Config) { c.BlockDomains = map[string]float64{"x.com": -1} },
		func(c *Config) { c.Campaigns, c.CampaignEvery = 2, 0 },
	} {
		c := DefaultConfig()
		bad(&c)
		if _, err := NewGenerator(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

func TestParse(t *testing.T) {
	if d, err := ParseDelay("1h,1.5"); err != nil || d != (Delay{time.Hour, 1.5}) {
		t.Errorf("ParseDelay(1h,1.5) = %v, %v", d, err)
	}
	if d, err := ParseDelay("30s"); err != nil || d != (Delay{30 * time.Second, 0}) {
		t.Errorf("ParseDelay(30s) = %v, %v", d, err)
	}
	for _, bad := range []string{"", "1h,", "x", "1h,-1", "-1s"} {
		if _, err := ParseDelay(bad); err == nil {
			t.Errorf("ParseDelay(%q) accepted", bad)
		}
	}
	if d, p, err := ParseBlockDomain("Gmail.com:0.7"); err != nil || d != "gmail.com" || p != 0.7 {
		t.Errorf("ParseBlockDomain = %q %v %v", d, p, err)
	}
	for _, bad := range []string{"gmail.com", "gmail.com:2", ":0.5", "gmail.com:x"} {
		if _, _, err := ParseBlockDomain(bad); err == nil {
			t.Errorf("ParseBlockDomain(%q) accepted", bad)
		}
	}
}
