package sim

import (
	"strconv"
	"unicode/utf8"
)

// appendEvent appends p as Mailjet's JSON: the common fields in the order
// of Mailjet's documentation samples, then the type's own.
func appendEvent(b []byte, p *pending) []byte {
	m := p.msg
	b = append(b, `{"event":`...)
	b = appendString(b, p.typ)
	b = append(b, `,"time":`...)
	b = strconv.AppendInt(b, p.unix, 10)
	b = append(b, `,"MessageID":`...)
	b = strconv.AppendInt(b, m.id, 10)
	b = append(b, `,"Message_GUID":`...)
	b = appendString(b, m.guid)
	b = append(b, `,"email":`...)
	b = appendString(b, m.rcpt.email)
	b = append(b, `,"mj_campaign_id":`...)
	b = strconv.AppendInt(b, m.campaignID, 10)
	b = append(b, `,"mj_contact_id":`...)
	b = strconv.AppendInt(b, m.rcpt.contactID, 10)
	b = append(b, `,"customcampaign":`...)
	b = appendString(b, "campaign-"+strconv.Itoa(m.campaign+1))
	if p.typ == "sent" {
		b = append(b, `,"mj_message_id":"`...)
		b = strconv.AppendInt(b, m.id, 10)
		b = append(b, `","smtp_reply":`...)
		b = appendString(b, p.f.smtpReply)
	}
	b = append(b, `,"CustomID":`...)
	b = appendString(b, m.customID)
	b = append(b, `,"Payload":`...)
	b = appendString(b, m.payload)
	f := &p.f
	switch p.typ {
	case "click":
		b = append(b, `,"url":`...)
		b = appendString(b, f.url)
		b = appendSeen(b, f)
	case "open":
		b = appendSeen(b, f)
	case "unsub":
		b = append(b, `,"mj_list_id":`...)
		b = strconv.AppendInt(b, f.listID, 10)
		b = appendSeen(b, f)
	case "bounce":
		b = append(b, `,"blocked":false,"hard_bounce":`...)
		b = strconv.AppendBool(b, f.hard)
		b = appendErr(b, f)
		b = append(b, `,"comment":`...)
		b = appendString(b, f.comment)
	case "blocked":
		b = appendErr(b, f)
	case "spam":
		b = append(b, `,"source":`...)
		b = appendString(b, f.source)
	}
	return append(b, '}')
}

func appendSeen(b []byte, f *fields) []byte {
	b = append(b, `,"ip":`...)
	b = appendString(b, f.ip)
	b = append(b, `,"geo":`...)
	b = appendString(b, f.geo)
	b = append(b, `,"agent":`...)
	return appendString(b, f.agent)
}

func appendErr(b []byte, f *fields) []byte {
	b = append(b, `,"error_related_to":`...)
	b = appendString(b, f.relatedTo)
	b = append(b, `,"error":`...)
	return appendString(b, f.error)
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		case c < utf8.RuneSelf:
			b = append(b, c)
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			b = utf8.AppendRune(b, r) // invalid bytes become U+FFFD
			i += size
			continue
		}
		i++
	}
	return append(b, '"')
}
