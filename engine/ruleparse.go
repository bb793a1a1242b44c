package engine

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

var ruleKeys = []string{"name", "description", "enabled", "mode", "on", "if", "after", "unless",
	"group_by", "window", "when", "resolve_when", "repeat", "every", "limit", "do", "on_resolve"}

// statefulKeys define a rule's state: when none of them changes across a
// reload, the rule keeps its state.
var statefulKeys = []string{"on", "if", "after", "unless", "group_by", "window", "when", "resolve_when", "repeat", "every", "limit"}

var ruleName = regexp.MustCompile(`^[a-z0-9-]+$`)

// knownTypes are the event types Mailjet sends.
var knownTypes = map[string]bool{TypeSent: true, TypeOpen: true, TypeClick: true, TypeBounce: true,
	TypeBlocked: true, TypeSpam: true, TypeUnsub: true}

// ruleParser compiles one rule.
type ruleParser struct {
	*errs
	opt  ParseOptions
	vars map[string]any
	name string
	c    *exprCompiler
	keys map[string]*yaml.Node
}

func (p *ruleParser) parse(n *yaml.Node) *Rule {
	p.name = peekName(n)
	keys := mappingKeys(p.errs, n, p.name, "", ruleKeys...)
	if keys == nil {
		return nil
	}
	p.keys = keys
	r := &Rule{Enabled: true, Line: n.Line}
	p.parseName(n, r)
	p.c = &exprCompiler{errs: p.errs, vars: p.vars, rule: p.name}
	if v := keys["description"]; v != nil {
		r.Description = p.scalarString(v, "description")
	}
	if v := keys["enabled"]; v != nil {
		r.Enabled = p.boolean(v, "enabled")
	}
	if v := keys["mode"]; v != nil {
		switch v.Value {
		case "live":
		case "shadow":
			r.Shadow = true
		default:
			p.at(v, p.name, "mode", "unknown mode %q (want live or shadow)", v.Value)
		}
	}
	p.parseOn(n, r)
	r.Kind = p.kind(n)
	p.parseKind(r)
	p.parseCommon(n, r)
	r.onOther = r.matches(r.other)
	r.otherType = typeNumber(r.other)
	r.fields, r.prevFields = collectFields(r)
	r.condPrev = readsPrev(r.cond)
	r.whenNow = readsNow(r.when) || readsNow(r.resolveWhen)
	r.stateHash = p.stateHash(r)
	return r
}

// peekName returns the rule's name before its keys are checked, so every
// error can name the rule.
func peekName(n *yaml.Node) string {
	if n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "name" && n.Content[i+1].Kind == yaml.ScalarNode {
			return n.Content[i+1].Value
		}
	}
	return ""
}

func (p *ruleParser) parseName(n *yaml.Node, r *Rule) {
	v := p.keys["name"]
	if v == nil {
		p.at(n, "", "name", "missing: every rule needs a name")
		return
	}
	r.Name = v.Value
	p.name = r.Name
	if !ruleName.MatchString(r.Name) {
		p.at(v, r.Name, "name", "use lower-case letters, digits and dashes only")
	}
}

func (p *ruleParser) parseOn(n *yaml.Node, r *Rule) {
	v := p.keys["on"]
	if v == nil {
		p.at(n, p.name, "on", "missing: which event types does the rule look at? e.g. on: open")
		return
	}
	switch v.Kind {
	case yaml.ScalarNode:
		r.On = []string{v.Value}
	case yaml.SequenceNode:
		for _, item := range v.Content {
			r.On = append(r.On, p.scalarString(item, "on"))
		}
	default:
		p.at(v, p.name, "on", "must be an event type or a list of them")
	}
	if len(r.On) == 0 {
		p.at(v, p.name, "on", "must name at least one event type")
	}
	r.on = map[string]bool{}
	for _, t := range r.On {
		if t == "*" {
			r.onAll = true
		}
		if t == "" {
			p.at(v, p.name, "on", "empty event type")
		}
		p.checkType(v, "on", t)
		r.on[t] = true
	}
}

// kind picks the rule kind from its keys, reporting combinations that mix
// kinds.
func (p *ruleParser) kind(n *yaml.Node) Kind {
	var found []string
	kind := KindPlain
	for _, k := range []struct {
		key  string
		kind Kind
	}{{"after", KindSequence}, {"unless", KindAbsence}, {"window", KindWindow}, {"every", KindEvery}} {
		if p.keys[k.key] != nil {
			found = append(found, k.key)
			kind = k.kind
		}
	}
	if len(found) > 1 {
		p.at(n, p.name, found[1], "a rule has one kind: %s cannot be combined", strings.Join(found, " and "))
	}
	only := map[string][]Kind{
		"when": {KindWindow}, "resolve_when": {KindWindow}, "repeat": {KindWindow}, "on_resolve": {KindWindow},
		"group_by": {KindWindow, KindEvery},
	}
	for _, key := range []string{"when", "resolve_when", "repeat", "on_resolve", "group_by"} {
		if v := p.keys[key]; v != nil && !kindIn(kind, only[key]) {
			p.at(v, p.name, key, "%s only applies to %s rules", key, kindList(only[key]))
		}
	}
	if kind == KindWindow && p.keys["when"] == nil {
		p.at(n, p.name, "when", "missing: a window rule needs a when condition, e.g. when: count() >= 100")
	}
	return kind
}

func kindIn(k Kind, list []Kind) bool {
	for _, x := range list {
		if x == k {
			return true
		}
	}
	return false
}

func kindList(list []Kind) string {
	names := make([]string, len(list))
	for i, k := range list {
		names[i] = k.String()
	}
	return strings.Join(names, " and ")
}

// parseKind reads the keys of the rule's kind.
func (p *ruleParser) parseKind(r *Rule) {
	switch r.Kind {
	case KindSequence:
		p.parseLink(r, "after")
	case KindAbsence:
		p.parseLink(r, "unless")
	case KindWindow:
		p.parseWindow(r)
	case KindEvery:
		v := p.keys["every"]
		n, err := strconv.ParseInt(v.Value, 10, 64)
		if err != nil || n < 1 || v.Kind != yaml.ScalarNode {
			p.at(v, p.name, "every", "must be a whole number of events, at least 1")
		}
		r.every = n
	}
}

// parseLink reads after: or unless: {event, within, by}.
func (p *ruleParser) parseLink(r *Rule, key string) {
	keys := mappingKeys(p.errs, p.keys[key], p.name, key, "event", "within", "by")
	if keys == nil {
		return
	}
	if v := keys["event"]; v == nil {
		p.at(p.keys[key], p.name, key+".event", "missing: which event type? e.g. event: sent")
	} else {
		r.other = p.scalarString(v, key+".event")
		p.checkType(v, key+".event", r.other)
	}
	if v := keys["within"]; v == nil {
		p.at(p.keys[key], p.name, key+".within", "missing: how long? e.g. within: 24h")
	} else {
		r.within = p.duration(v, key+".within")
	}
	if v := keys["by"]; v != nil {
		r.by = p.c.compileExpr(v, key+".by", v.Value, 0, scopeEvent, false)
	} else {
		r.by = p.c.compileExpr(p.keys[key], key+".by", "MessageID", 0, scopeEvent, false)
	}
}

func (p *ruleParser) parseWindow(r *Rule) {
	r.window = p.duration(p.keys["window"], "window")
	// At most 60 buckets of at least a second: a 30s window has 30.
	r.bucket = max(r.window/windowBuckets, time.Second)
	r.buckets = int(max(min(r.window/r.bucket, windowBuckets), 1))
	if v := p.keys["repeat"]; v != nil {
		r.repeat = p.duration(v, "repeat")
	}
	p.c.aggs = &r.aggs
	if v := p.keys["when"]; v != nil {
		r.when = p.c.compileExpr(v, "when", v.Value, 0, scopeWindow, true)
	}
	if v := p.keys["resolve_when"]; v != nil {
		r.resolveWhen = p.c.compileExpr(v, "resolve_when", v.Value, 0, scopeWindow, true)
	}
}

// parseCommon reads if, group_by, limit, do and on_resolve.
func (p *ruleParser) parseCommon(n *yaml.Node, r *Rule) {
	if v := p.keys["if"]; v != nil {
		sc := scopeEvent
		if r.Kind == KindSequence {
			sc = scopeSequence
		}
		r.cond = p.c.compileExpr(v, "if", v.Value, 0, sc, true)
	}
	if v := p.keys["group_by"]; v != nil {
		r.groupBy = p.c.compileExpr(v, "group_by", v.Value, 0, scopeEvent, false)
	}
	sc := map[Kind]scope{KindPlain: scopeEvent, KindSequence: scopeSequence, KindAbsence: scopeEvent,
		KindWindow: scopeWindow, KindEvery: scopeEvery}[r.Kind]
	if v := p.keys["limit"]; v != nil {
		r.limit = p.parseLimit(v, sc)
	}
	if v := p.keys["do"]; v == nil {
		p.at(n, p.name, "do", "missing: what should the rule do? e.g. do: [slack: {text: ...}]")
	} else {
		r.do = p.compileActions(v, "do", sc)
	}
	if v := p.keys["on_resolve"]; v != nil && r.Kind == KindWindow {
		r.onResolve = p.compileActions(v, "on_resolve", scopeWindow)
	}
}

func (p *ruleParser) parseLimit(n *yaml.Node, sc scope) *limit {
	keys := mappingKeys(p.errs, n, p.name, "limit", "by", "max", "per")
	if keys == nil {
		return nil
	}
	l := &limit{max: 1}
	if v := keys["by"]; v != nil {
		l.by = p.c.compileExpr(v, "limit.by", v.Value, 0, sc, false)
	}
	if v := keys["max"]; v != nil {
		m, err := strconv.Atoi(v.Value)
		if err != nil || m < 1 {
			p.at(v, p.name, "limit.max", "must be a whole number, at least 1")
		}
		l.max = m
	}
	if v := keys["per"]; v == nil {
		p.at(n, p.name, "limit.per", "missing: the period, e.g. per: 24h")
	} else {
		l.per = p.duration(v, "limit.per")
	}
	return l
}

func (p *ruleParser) scalarString(n *yaml.Node, key string) string {
	if n.Kind != yaml.ScalarNode {
		p.at(n, p.name, key, "must be a single value")
		return ""
	}
	return n.Value
}

func (p *ruleParser) boolean(n *yaml.Node, key string) bool {
	var b bool
	if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
		p.at(n, p.name, key, "must be true or false")
	}
	return b
}

func (p *ruleParser) duration(n *yaml.Node, key string) time.Duration {
	if n.Kind != yaml.ScalarNode {
		p.at(n, p.name, key, "must be a duration, e.g. 15m, 24h, 7d")
		return 0
	}
	d, err := ParseDuration(n.Value)
	if err != nil {
		p.at(n, p.name, key, "%v", err)
		return 0
	}
	if d <= 0 {
		p.at(n, p.name, key, "must be positive")
	}
	return d
}

// stateHash hashes what defines the rule's state: its kind, types, keys,
// periods and the compiled form of its stateful expressions (which includes
// the values of the vars they use). Actions, description and mode are not
// part of it (changing a message keeps a window's state) unless they read
// event fields the stored events do not keep.
func (p *ruleParser) stateHash(r *Rule) uint64 {
	h := newHash().str(r.Name).str(r.Kind.String()).str(strings.Join(r.On, ",")).str(r.other)
	h = h.u64(uint64(r.within)).u64(uint64(r.window)).u64(uint64(r.repeat)).u64(uint64(r.every))
	// Sequences and absences store events packed with only the fields the
	// rule reads: when that set changes, they cannot be read back. Other
	// kinds store no events.
	if r.Kind == KindSequence || r.Kind == KindAbsence {
		h = h.u64(uint64(r.fields)).u64(uint64(r.prevFields))
	}
	progs := []*program{r.cond, r.by, r.groupBy, r.when, r.resolveWhen}
	if r.limit != nil {
		h = h.u64(uint64(r.limit.max)).u64(uint64(r.limit.per))
		progs = append(progs, r.limit.by)
	}
	// when's compiled form reads aggregates by slot: hash what each slot
	// holds, including aggregates only the actions use.
	for _, a := range r.aggs {
		h = h.str(a.src)
	}
	for _, pr := range progs {
		if pr == nil {
			h = h.str("")
			continue
		}
		h = h.str(pr.prog.Node().String())
	}
	return uint64(h)
}

// checkType warns about an event type Mailjet does not send: the rule loads
// (herald keeps unknown types) but most likely has a typo.
func (p *ruleParser) checkType(n *yaml.Node, key, t string) {
	if t == "" || t == "*" || knownTypes[t] {
		return
	}
	p.warn(n, p.name, key, "%q is not a Mailjet event type (sent, open, click, bounce, blocked, spam, unsub)%s", t,
		suggest(t, []string{TypeSent, TypeOpen, TypeClick, TypeBounce, TypeBlocked, TypeSpam, TypeUnsub}))
}
