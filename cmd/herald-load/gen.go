package main

import (
	"fmt"
	"math/rand/v2"
	"strconv"
)

// Event generation: Mailjet-shaped events of every type, with ids above
// 2^53 (as real MessageIDs are), recipients over a skewed set of domains
// and about 360 bytes of JSON each, as in production traffic.

// baseMessageID is a real-looking MessageID, far above 2^53.
const baseMessageID = 576460765503091475

// weighted is a choice and how often it is made, relative to the others.
type weighted struct {
	name   string
	weight int
}

var domains = []weighted{
	{"gmail.com", 40}, {"yahoo.com", 15}, {"hotmail.com", 12}, {"outlook.com", 10},
	{"orange.fr", 8}, {"gmx.de", 6}, {"example.com", 5}, {"mail.ru", 4},
}

var agents = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0 Safari/537.36",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) Mobile/15E148",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) Version/17.1 Safari/605.1.15",
}

// eventTypes is the mix of event types, by weight.
var eventTypes = []weighted{{"sent", 50}, {"open", 25}, {"click", 10}, {"bounce", 5}, {"blocked", 5}, {"spam", 2}, {"unsub", 3}}

// pick returns the name of one of items, chosen by weight.
func pick(r *rand.Rand, items []weighted) string {
	total := 0
	for _, it := range items {
		total += it.weight
	}
	n := r.IntN(total)
	for _, it := range items {
		if n -= it.weight; n < 0 {
			return it.name
		}
	}
	return items[len(items)-1].name
}

// event returns one Mailjet event as JSON, the i-th of the generator.
func event(r *rand.Rand, i int) []byte {
	typ := pick(r, eventTypes)
	dom := pick(r, domains)
	id := uint64(baseMessageID) + uint64(i)
	b := make([]byte, 0, 512)
	b = fmt.Appendf(b, `{"event":%q,"time":%d,"MessageID":%d,"Message_GUID":"%08x-%04x-%04x-%04x-%012x",`,
		typ, 1733000000+i/100, id, r.Uint32(), r.Uint32()&0xffff, r.Uint32()&0xffff, r.Uint32()&0xffff, r.Uint64()&0xffffffffffff)
	b = fmt.Appendf(b, `"email":"user%d@%s","mj_campaign_id":%d,"mj_contact_id":%d,"customcampaign":"",`,
		r.IntN(1_000_000), dom, 7_000_000_000+r.IntN(1000), 3_000_000_000+r.IntN(1_000_000))
	b = fmt.Appendf(b, `"CustomID":"promo-%d","Payload":`, r.IntN(100_000))
	if r.IntN(10) == 0 { // a few messages carry an EventPayload
		b = fmt.Appendf(b, `"{\"segment\":%d}"`, r.IntN(10))
	} else {
		b = append(b, `""`...)
	}
	switch typ {
	case "sent":
		b = fmt.Appendf(b, `,"mj_message_id":"%d","smtp_reply":"sent (250 2.0.0 OK %x)"`, id, r.Uint32())
	case "open", "click", "unsub":
		if typ == "click" {
			b = fmt.Appendf(b, `,"url":"https://shop.example.com/winter?utm_source=mailjet&p=%d"`, r.IntN(500))
		}
		if typ == "unsub" {
			b = append(b, `,"mj_list_id":`...)
			b = strconv.AppendInt(b, int64(r.IntN(100)), 10)
		}
		b = fmt.Appendf(b, `,"ip":"192.0.2.%d","geo":"FR","agent":%q`, r.IntN(255), agents[r.IntN(len(agents))])
	case "bounce":
		b = append(b, `,"blocked":false,"hard_bounce":true,"error_related_to":"recipient","error":"user unknown","comment":"550 5.1.1 mailbox does not exist"`...)
	case "blocked":
		b = append(b, `,"error_related_to":"recipient","error":"user unknown"`...)
	case "spam":
		b = append(b, `,"source":"JMRPP"`...)
	}
	return append(b, '}')
}

// bodies returns count webhook bodies of perBody events each: bare objects
// (Version 1) when perBody is 1 and array is false, else arrays (Version 2).
func bodies(seed uint64, count, perBody int, array bool) [][]byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([][]byte, count)
	i := 0
	for n := range out {
		if perBody == 1 && !array {
			out[n] = event(r, i)
			i++
			continue
		}
		b := []byte{'['}
		for k := 0; k < perBody; k++ {
			if k > 0 {
				b = append(b, ',')
			}
			b = append(b, event(r, i)...)
			i++
		}
		out[n] = append(b, ']')
	}
	return out
}
