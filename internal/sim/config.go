package sim

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Config describes the simulated traffic. DefaultConfig gives realistic
// values; a zero probability turns that outcome off.
type Config struct {
	// Seed makes the traffic: the same Config gives the same events.
	Seed uint64
	// Start is the simulated time of the first send.
	Start time.Time
	// Horizon, when not zero, drops events later than Start+Horizon.
	Horizon time.Duration
	// MaxEvents, when not zero, ends the traffic after that many events.
	MaxEvents int
	// Campaigns is how many campaigns are sent (0: no end), each to every
	// recipient, starting CampaignEvery apart.
	Campaigns     int
	CampaignEvery time.Duration
	// Recipients is the size of the list.
	Recipients int
	// SendOver spreads the sends of one campaign evenly over this time.
	SendOver time.Duration

	// Block is the share of messages Mailjet blocks, on any domain;
	// BlockDomains overrides it for some domains (a provider refusing the
	// sender).
	Block        float64
	BlockDomains map[string]float64
	// Bounce is the share of the messages not blocked that bounce, and
	// HardBounce the share of those bounces that are hard.
	Bounce, HardBounce float64
	// Open is the share of sent messages opened; Reopen the chance that an
	// opener opens again (each time); Click the chance that an open leads
	// to a click; Unsub the chance that an opener unsubscribes; Spam the
	// share of sent messages reported as spam.
	Open, Reopen, Click, Unsub, Spam float64
	// Dup is the share of events Mailjet sends twice.
	Dup float64

	// Delays after the send (Sent, Blocked, Bounce, Spam) or after the
	// open (Click, Unsub, Reopen) or the first open (Open, after the sent).
	SentDelay, BlockedDelay, BounceDelay, OpenDelay, ReopenDelay,
	ClickDelay, UnsubDelay, SpamDelay, DupDelay Delay

	// CustomIDPrefix, when set, gives each message the CustomID
	// PREFIX<campaign>-<n>; when empty CustomID is "".
	CustomIDPrefix string
	// Payload is the share of messages that carry an EventPayload.
	Payload float64
}

// DefaultConfig returns the traffic of one campaign of 1,000 messages sent
// over 2 hours, a day long, in which gmail.com blocks 70% of the mail.
func DefaultConfig() Config {
	return Config{
		Seed:           1,
		Start:          time.Date(2025, 6, 2, 8, 0, 0, 0, time.UTC),
		Horizon:        24 * time.Hour,
		Campaigns:      1,
		CampaignEvery:  24 * time.Hour,
		Recipients:     1000,
		SendOver:       2 * time.Hour,
		Block:          0.005,
		BlockDomains:   map[string]float64{"gmail.com": 0.7},
		Bounce:         0.02,
		HardBounce:     0.4,
		Open:           0.25,
		Reopen:         0.3,
		Click:          0.15,
		Unsub:          0.02,
		Spam:           0.001,
		Dup:            0.005,
		SentDelay:      Delay{Median: 2 * time.Second, Sigma: 0.5},
		BlockedDelay:   Delay{Median: time.Second, Sigma: 0.3},
		BounceDelay:    Delay{Median: 30 * time.Second, Sigma: 1.5},
		OpenDelay:      Delay{Median: time.Hour, Sigma: 1.5},
		ReopenDelay:    Delay{Median: 3 * time.Hour, Sigma: 1.5},
		ClickDelay:     Delay{Median: 30 * time.Second, Sigma: 1.2},
		UnsubDelay:     Delay{Median: time.Minute, Sigma: 1},
		SpamDelay:      Delay{Median: 2 * time.Hour, Sigma: 1.5},
		DupDelay:       Delay{Median: time.Minute, Sigma: 1},
		CustomIDPrefix: "promo-",
		Payload:        0.2,
	}
}

// Validate reports the first setting out of range.
func (c *Config) Validate() error {
	if c.Recipients < 1 {
		return errors.New("recipients: want at least 1")
	}
	if c.Campaigns < 0 || c.MaxEvents < 0 || c.CampaignEvery < 0 || c.SendOver < 0 || c.Horizon < 0 {
		return errors.New("campaigns, campaign-every, send-over, duration and events must not be negative")
	}
	if c.Campaigns != 1 && c.CampaignEvery == 0 {
		return errors.New("campaign-every: want more than 0 with several campaigns")
	}
	probs := []struct {
		name string
		p    float64
	}{{"block", c.Block}, {"bounce", c.Bounce}, {"hard-bounce", c.HardBounce}, {"open", c.Open},
		{"reopen", c.Reopen}, {"click", c.Click}, {"unsub", c.Unsub}, {"spam", c.Spam}, {"dup", c.Dup}, {"payload", c.Payload}}
	for _, p := range probs {
		if !(p.p >= 0 && p.p <= 1) {
			return fmt.Errorf("%s: %v is not a probability (0 to 1)", p.name, p.p)
		}
	}
	if c.Reopen > 0.95 {
		return errors.New("reopen: want at most 0.95 (each open may be followed by another)")
	}
	for d, p := range c.BlockDomains {
		if !(p >= 0 && p <= 1) {
			return fmt.Errorf("block-domain %s: %v is not a probability (0 to 1)", d, p)
		}
	}
	return nil
}

// Delay is a log-normal distribution of delays: half are below Median,
// and Sigma (the standard deviation of the logarithm) sets the spread; 0
// means always Median.
type Delay struct {
	Median time.Duration
	Sigma  float64
}

// ParseDelay reads "MEDIAN" or "MEDIAN,SIGMA", e.g. "1h,1.5".
func ParseDelay(s string) (Delay, error) {
	med, sig, hasSigma := strings.Cut(s, ",")
	var d Delay
	var err error
	if d.Median, err = time.ParseDuration(med); err != nil || d.Median < 0 {
		return d, fmt.Errorf("%q: want a median duration and an optional sigma, e.g. 1h,1.5", s)
	}
	if hasSigma {
		if d.Sigma, err = strconv.ParseFloat(sig, 64); err != nil || d.Sigma < 0 || d.Sigma > 5 || math.IsNaN(d.Sigma) {
			return d, fmt.Errorf("%q: sigma must be a number from 0 to 5", s)
		}
	}
	return d, nil
}

func (d Delay) String() string { return fmt.Sprintf("%s,%g", d.Median, d.Sigma) }

// ParseBlockDomain reads "DOMAIN:P", e.g. "gmail.com:0.7".
func ParseBlockDomain(s string) (domain string, p float64, err error) {
	domain, prob, ok := strings.Cut(s, ":")
	domain = strings.ToLower(strings.TrimSpace(domain))
	if ok {
		p, err = strconv.ParseFloat(prob, 64)
	}
	if !ok || err != nil || domain == "" || !(p >= 0 && p <= 1) {
		return "", 0, fmt.Errorf("%q: want DOMAIN:PROBABILITY, e.g. gmail.com:0.7", s)
	}
	return domain, p, nil
}
