package webhook

import (
	"bytes"
	"encoding/binary"
	"slices"
)

// fieldID names a field of engine.Event that decodeEvent sets from a key.
type fieldID uint8

const (
	fieldUnknown fieldID = iota
	fieldEvent
	fieldTime
	fieldMessageID
	fieldMessageGUID
	fieldEmail
	fieldCampaignID
	fieldContactID
	fieldCustomCampaign
	fieldCustomID
	fieldPayload
	fieldMjMessageID
	fieldSMTPReply
	fieldIP
	fieldGeo
	fieldAgent
	fieldURL
	fieldBlocked
	fieldHardBounce
	fieldErrorRelatedTo
	fieldError
	fieldComment
	fieldSource
	fieldListID
	// domain, payload and received are skipped: Decode derives them.
	fieldDomain
	fieldPayloadMap
	fieldReceived
	fieldCount
)

// fieldNames maps Mailjet's field names (and the derived ones) to fields.
var fieldNames = map[string]fieldID{
	"event": fieldEvent, "time": fieldTime, "MessageID": fieldMessageID,
	"Message_GUID": fieldMessageGUID, "email": fieldEmail,
	"mj_campaign_id": fieldCampaignID, "mj_contact_id": fieldContactID,
	"customcampaign": fieldCustomCampaign, "CustomID": fieldCustomID,
	"Payload": fieldPayload, "mj_message_id": fieldMjMessageID,
	"smtp_reply": fieldSMTPReply, "ip": fieldIP, "geo": fieldGeo,
	"agent": fieldAgent, "url": fieldURL, "blocked": fieldBlocked,
	"hard_bounce": fieldHardBounce, "error_related_to": fieldErrorRelatedTo,
	"error": fieldError, "comment": fieldComment, "source": fieldSource,
	"mj_list_id": fieldListID,
	"domain":     fieldDomain, "payload": fieldPayloadMap, "received": fieldReceived,
}

// knownKey is a field name as it appears in a body, the name and its
// closing quote, as three little-endian words (zero-padded) and the masks
// that keep its bytes in each.
type knownKey struct {
	word, mask [3]uint64
	size       int // bytes, the quote included
	field      fieldID
}

// matches reports whether w, the 24 bytes after a key's opening quote,
// start with k.
func (k *knownKey) matches(w *[3]uint64) bool {
	return w[0]&k.mask[0] == k.word[0] && w[1]&k.mask[1] == k.word[1] && w[2]&k.mask[2] == k.word[2]
}

// keysByFirst lists the field names by their first byte, for knownKey.
var keysByFirst = func() (t [128][]knownKey) {
	for name, f := range fieldNames {
		var text, ones [24]byte
		k := knownKey{size: copy(text[:], name+`"`), field: f}
		copy(ones[:k.size], bytes.Repeat([]byte{0xff}, k.size))
		for w := range k.word {
			k.word[w] = binary.LittleEndian.Uint64(text[8*w:])
			k.mask[w] = binary.LittleEndian.Uint64(ones[8*w:])
		}
		t[name[0]] = append(t[name[0]], k)
	}
	for _, ks := range t { // in fieldID order: the common fields first
		slices.SortFunc(ks, func(a, b knownKey) int { return int(a.field) - int(b.field) })
	}
	return t
}()

// knownKey reads the key at d.i when it is one of fieldNames written
// without escapes, as Mailjet writes them, moves to the start of its value
// and returns its field. Otherwise it returns fieldUnknown and leaves d.i
// where it is.
func (d *decoder) knownKey() fieldID {
	k := matchKey(d.b, d.i)
	if k == nil {
		return fieldUnknown
	}
	d.i += 1 + k.size
	d.space()
	d.i++ // ':'
	d.space()
	return k.field
}

// matchKey returns the field name that the string at b[i] (its opening
// quote) holds when it is one of fieldNames written without escapes, or
// nil; a name matched is a valid JSON string. It compares the string's
// first 24 bytes, three words, with the few names that start with the same
// byte, rather than finding the string's end: no loop whose length
// depends on the text, so no branch to mispredict where the name ends.
func matchKey(b []byte, i int) *knownKey {
	i++ // past the opening quote
	if len(b)-i < 24 || b[i] >= 128 {
		return nil // near the object's end: the caller's general way
	}
	w := [3]uint64{binary.LittleEndian.Uint64(b[i:]), binary.LittleEndian.Uint64(b[i+8:]), binary.LittleEndian.Uint64(b[i+16:])}
	cands := keysByFirst[b[i]]
	for j := range cands {
		if k := &cands[j]; k.matches(&w) {
			return k
		}
	}
	return nil
}
