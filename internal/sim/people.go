package sim

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// majorDomains are mailbox providers in roughly the order of their share of
// a European B2C list; the list's tail is company domains. Ranks follow a
// Zipf law (zipfS), so gmail.com holds about a quarter of the addresses.
var majorDomains = []string{
	"gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "orange.fr", "icloud.com",
	"gmx.de", "hotmail.fr", "free.fr", "web.de", "yahoo.fr", "live.com", "laposte.net",
	"aol.com", "sfr.fr", "t-online.de", "wanadoo.fr", "msn.com", "me.com", "proton.me",
}

const (
	tailDomains = 200 // company domains after the providers
	zipfS       = 1.2
)

// domainName returns the domain of the given rank (0 is the largest).
func domainName(rank int) string {
	if rank < len(majorDomains) {
		return majorDomains[rank]
	}
	return fmt.Sprintf("company%03d.example", rank-len(majorDomains)+1)
}

var firstNames = []string{
	"anna", "louis", "emma", "lucas", "julia", "paul", "marie", "thomas", "sofia", "leon",
	"chloe", "hugo", "lena", "noah", "ines", "jonas", "clara", "adam", "alice", "felix",
	"sarah", "nathan", "laura", "max", "eva", "theo", "mia", "arthur", "zoe", "elias",
}

var lastNames = []string{
	"martin", "muller", "bernard", "schmidt", "dubois", "schneider", "thomas", "fischer",
	"robert", "weber", "richard", "meyer", "petit", "wagner", "durand", "becker", "leroy",
	"schulz", "moreau", "hoffmann", "simon", "koch", "laurent", "richter", "lefebvre", "klein",
	"michel", "wolf", "garcia", "smith", "jones", "brown", "wilson", "taylor", "davies", "evans",
}

// recipient is one address of the list.
type recipient struct {
	email     string
	domain    string
	contactID int64
}

// newList returns n recipients with distinct addresses over Zipf-skewed
// domains.
func newList(r *rand.Rand, n int, contactBase int64) []recipient {
	zipf := rand.NewZipf(r, zipfS, 1, uint64(len(majorDomains)+tailDomains-1))
	list := make([]recipient, n)
	for i := range list {
		dom := domainName(int(zipf.Uint64()))
		first, last := firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))]
		var local string
		// The index keeps addresses distinct; the shapes vary as people's do.
		switch r.IntN(4) {
		case 0:
			local = fmt.Sprintf("%s.%s%d", first, last, i)
		case 1:
			local = fmt.Sprintf("%c%s%d", first[0], last, i)
		case 2:
			local = fmt.Sprintf("%s_%s%d", first, last, i)
		default:
			local = fmt.Sprintf("%s%d.%s", first, i, last)
		}
		list[i] = recipient{email: local + "@" + dom, domain: strings.ToLower(dom), contactID: contactBase + int64(i)}
	}
	return list
}

// geoFor returns a plausible country for an opener at domain.
func geoFor(r *rand.Rand, domain string) string {
	switch {
	case strings.HasSuffix(domain, ".fr"):
		return "FR"
	case strings.HasSuffix(domain, ".de"):
		return "DE"
	}
	return []string{"US", "GB", "FR", "DE", "ES", "IT", "NL", "BE", "CA", "CH"}[r.IntN(10)]
}

var agents = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)",
	"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:126.0) Gecko/20100101 Firefox/126.0",
}

// gmailProxyAgent is what Gmail's image proxy sends for every open.
const gmailProxyAgent = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"

// agentFor returns the User-Agent of an open or click at domain.
func agentFor(r *rand.Rand, domain string) string {
	if domain == "gmail.com" {
		return gmailProxyAgent
	}
	return agents[r.IntN(len(agents))]
}

// ipFor returns an address from the documentation ranges (RFC 5737).
func ipFor(r *rand.Rand) string {
	nets := []string{"192.0.2.", "198.51.100.", "203.0.113."}
	return nets[r.IntN(len(nets))] + fmt.Sprint(1+r.IntN(254))
}

// smtpReply is the receiving server's answer to a delivered message.
func smtpReply(r *rand.Rand, domain string, at int64) string {
	switch domain {
	case "gmail.com":
		return fmt.Sprintf("sent (250 2.0.0 OK %d %s.%d - gsmtp)", at, randToken(r, 12), r.IntN(1000))
	case "hotmail.com", "outlook.com", "hotmail.fr", "live.com", "msn.com":
		return "sent (250 2.6.0 <" + randToken(r, 16) + "@mailjet.com> Queued mail for delivery)"
	case "yahoo.com", "yahoo.fr", "aol.com":
		return "sent (250 ok dirdel)"
	}
	return "sent (250 2.0.0 Ok: queued as " + strings.ToUpper(randToken(r, 10)) + ")"
}

func randToken(r *rand.Rand, n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

// links are the campaign's links; the first ones get most clicks.
var links = []struct {
	url    string
	weight int
}{
	{"https://shop.example.com/summer-sale?utm_source=mailjet&utm_medium=email", 50},
	{"https://shop.example.com/new-arrivals?utm_source=mailjet&utm_medium=email", 25},
	{"https://www.example.com/blog/summer-lookbook", 15},
	{"https://shop.example.com/account/preferences", 10},
}

func linkFor(r *rand.Rand) string {
	n := r.IntN(100)
	for _, l := range links {
		if n -= l.weight; n < 0 {
			return l.url
		}
	}
	return links[0].url
}
