package engine

import (
	"strings"
	"time"
)

// Event is one Mailjet event as herald sees it. Fields keep Mailjet's names
// in expressions (the expr tags); Extra holds the fields herald does not know.
// Domain, PayloadMap and Received are derived when the event is decoded.
type Event struct {
	Type           string `expr:"event"`
	Time           int64  `expr:"time"` // Unix seconds, as Mailjet sends it
	MessageID      int64  `expr:"MessageID"`
	MessageGUID    string `expr:"Message_GUID"`
	Email          string `expr:"email"`
	CampaignID     int64  `expr:"mj_campaign_id"`
	ContactID      int64  `expr:"mj_contact_id"`
	CustomCampaign string `expr:"customcampaign"`
	CustomID       string `expr:"CustomID"`
	Payload        string `expr:"Payload"`
	MjMessageID    string `expr:"mj_message_id"`
	SMTPReply      string `expr:"smtp_reply"`
	IP             string `expr:"ip"`
	Geo            string `expr:"geo"`
	Agent          string `expr:"agent"`
	URL            string `expr:"url"`
	Blocked        bool   `expr:"blocked"`
	HardBounce     bool   `expr:"hard_bounce"`
	ErrorRelatedTo string `expr:"error_related_to"`
	Error          string `expr:"error"`
	Comment        string `expr:"comment"`
	Source         string `expr:"source"`
	ListID         int64  `expr:"mj_list_id"`

	// Extra holds fields herald does not know, decoded as JSON values
	// (numbers as json.Number so big ids stay exact).
	Extra map[string]any `expr:"extra"`

	// Domain is the lower-cased part of Email after the last '@'.
	Domain string `expr:"domain"`
	// PayloadMap is Payload parsed as a JSON object, or an empty map.
	PayloadMap map[string]any `expr:"payload"`
	// Received is when herald received the event (the engine's clock).
	Received time.Time `expr:"received"`
}

// Event types Mailjet sends.
const (
	TypeSent    = "sent"
	TypeOpen    = "open"
	TypeClick   = "click"
	TypeBounce  = "bounce"
	TypeBlocked = "blocked"
	TypeSpam    = "spam"
	TypeUnsub   = "unsub"
)

// mailjetTypes are the event types Mailjet sends, numbered by typeNumber.
var mailjetTypes = [...]string{TypeSent, TypeOpen, TypeClick, TypeBounce, TypeBlocked, TypeSpam, TypeUnsub}

// typeNumber returns t's index in mailjetTypes, or -1 for another type:
// a switch on a few strings is cheaper than a map look-up.
func typeNumber(t string) int {
	switch t {
	case TypeSent:
		return 0
	case TypeOpen:
		return 1
	case TypeClick:
		return 2
	case TypeBounce:
		return 3
	case TypeBlocked:
		return 4
	case TypeSpam:
		return 5
	case TypeUnsub:
		return 6
	}
	return -1
}

// IsSendTest reports whether e is a dashboard "Send test" event (MessageID 0
// and no email). Such events are stored and shown but match no rule.
func (e *Event) IsSendTest() bool { return e.MessageID == 0 && e.Email == "" }

// SuppressReason says why an event means its recipient must get no more
// Mailjet follow-ups (unsub, spam, hard_bounce, blocked), or "".
func SuppressReason(ev *Event) string {
	switch {
	case ev.Email == "":
		return ""
	case ev.Type == TypeUnsub, ev.Type == TypeSpam, ev.Type == TypeBlocked:
		return ev.Type
	case ev.Type == TypeBounce && ev.HardBounce:
		return "hard_bounce"
	}
	return ""
}

// DomainOf returns the lower-cased part of an address after its last '@',
// or "" when there is none.
func DomainOf(email string) string {
	i := strings.LastIndexByte(email, '@')
	if i < 0 || i == len(email)-1 {
		return ""
	}
	return strings.ToLower(email[i+1:])
}

// DedupKey identifies e for duplicate detection (DESIGN §5): event type,
// MessageID (Message_GUID when MessageID is 0) and email; for open and click
// also time and url. Two events with the same key are the same event. The
// key is a 64-bit FNV-1a hash, stable across processes so it can be kept in
// snapshots.
func (e *Event) DedupKey() uint64 {
	h := newHash()
	h = h.str(e.Type).u64(uint64(e.MessageID))
	if e.MessageID == 0 {
		h = h.str(e.MessageGUID)
	}
	h = h.str(e.Email)
	if e.Type == TypeOpen || e.Type == TypeClick {
		h = h.u64(uint64(e.Time)).str(e.URL)
	}
	return uint64(h)
}

// hash64 is FNV-1a, 64 bits: small, allocation-free and stable across
// processes and versions, which snapshots and firing ids rely on.
type hash64 uint64

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func newHash() hash64 { return fnvOffset }

func (h hash64) str(s string) hash64 {
	for i := 0; i < len(s); i++ {
		h = (h ^ hash64(s[i])) * fnvPrime
	}
	return (h ^ 0xff) * fnvPrime // terminator: "ab","c" differs from "a","bc"
}

func (h hash64) u64(v uint64) hash64 {
	for i := 0; i < 8; i++ {
		h = (h ^ hash64(byte(v>>(8*i)))) * fnvPrime
	}
	return h
}
